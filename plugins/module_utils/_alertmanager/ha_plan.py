# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the alertmanager_ha role sends to the cluster and to the values file.

One function turns the role's settings into the manifests (Alertmanager fields the role owns,
the PodDisruptionBudget), the kube-prometheus-stack values and the verdict the verification must
reach. It refuses settings that cannot be highly available before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

ANTI_AFFINITY_MODES = ("hard", "soft", "none")
# Names people give their production environment; all get the production guard.
PRODUCTION_NAMES = frozenset(("production", "prod", "prd"))
_PERCENT = re.compile(r"^([0-9]+)%$")


class AlertmanagerPlanError(HardeningError):
    """The role's settings cannot give a highly available Alertmanager."""


def is_production(environment: str) -> bool:
    return environment.strip().lower() in PRODUCTION_NAMES


def min_available(replicas: int, configured: Any) -> int | str:
    """A majority by default (3 -> 2: a drain may take one replica, never two); else the configured
    count, or a percentage from 1% to 100% as the API server accepts it."""
    if configured is None or str(configured).strip() == "":
        return replicas // 2 + 1
    text = str(configured).strip()
    if text.isdigit():
        return int(text)
    match = _PERCENT.match(text)
    if match and 0 < int(match.group(1)) <= 100:
        return text
    raise AlertmanagerPlanError(f"alertmanager_ha_pdb_min_available is {configured!r}: give a number of replicas "
                                "(e.g. 2) or a percentage from 1% to 100%, or leave it empty for a majority.")


def alertmanager_ha_plan(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The role's settings (its variables without the prefix) -> manifests, values, expected verdict."""
    name = str(settings["name"])
    namespace = str(settings["namespace"])
    environment = str(settings["environment"])
    replicas = _replicas(settings["replicas"])
    if is_production(environment) and replicas < 3:
        raise AlertmanagerPlanError(
            f"alertmanager_ha_replicas is {replicas} but alertmanager_ha_environment is {environment}: production "
            "needs at least 3 Alertmanager replicas (one can be drained or crash while the others keep receiving "
            "alerts and deduplicating notifications). Set alertmanager_ha_replicas to 3 or more, or correct "
            "alertmanager_ha_environment.")
    anti_affinity = str(settings["anti_affinity"])
    if anti_affinity not in ANTI_AFFINITY_MODES:
        raise AlertmanagerPlanError(f"alertmanager_ha_anti_affinity is {anti_affinity!r}: use one of "
                                    f"{', '.join(ANTI_AFFINITY_MODES)}.")
    topology_key = str(settings["anti_affinity_topology_key"])
    cluster_label = str(settings.get("cluster_label") or "")
    pdb_enabled = _flag(settings["pdb_enabled"])
    pdb_wanted = pdb_enabled and replicas > 1
    minimum = min_available(replicas, settings.get("pdb_min_available"))
    pod_selector = {"app.kubernetes.io/name": "alertmanager", "alertmanager": name}

    spec: dict[str, Any] = {"replicas": replicas}
    if cluster_label:
        spec["clusterLabel"] = cluster_label
    affinity = _affinity(anti_affinity, topology_key, name)
    if affinity:
        spec["affinity"] = affinity
    alertmanager = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
                    "metadata": {"name": name, "namespace": namespace}, "spec": spec}

    pdb_metadata: dict[str, Any] = {"name": str(settings["pdb_name"]), "namespace": namespace,
                                    "labels": dict(pod_selector)}
    release = str(settings.get("helm_release") or "")
    if release:
        # With Helm's ownership metadata the chart adopts the PDB when its own gets enabled.
        pdb_metadata["labels"]["app.kubernetes.io/managed-by"] = "Helm"
        pdb_metadata["annotations"] = {"meta.helm.sh/release-name": release,
                                       "meta.helm.sh/release-namespace": str(settings["helm_release_namespace"])}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": pdb_metadata,
           "spec": {"minAvailable": minimum, "unhealthyPodEvictionPolicy": "AlwaysAllow",
                    "selector": {"matchLabels": pod_selector}}}

    helm_values = {"alertmanager": {
        "alertmanagerSpec": {
            "replicas": replicas,
            "podAntiAffinity": anti_affinity if anti_affinity in ("hard", "soft") else "",
            "podAntiAffinityTopologyKey": topology_key,
            "clusterLabel": cluster_label or None},
        "podDisruptionBudget": {
            "enabled": pdb_wanted, "minAvailable": minimum, "maxUnavailable": None,
            "unhealthyPodEvictionPolicy": "AlwaysAllow"}}}
    return {
        "replicas": replicas,
        "min_available": minimum,
        "pdb_wanted": pdb_wanted,
        # One replica cannot keep a quorum: a PDB there would only block every drain.
        "remove_pdb": pdb_enabled and not pdb_wanted,
        "expected_verdict": "not_ha" if replicas == 1 else "healthy",
        "manifests": [alertmanager] + ([pdb] if pdb_wanted else []),
        "pdb_manifest": pdb,
        "helm_values": helm_values,
    }


def _flag(value: Any) -> bool:
    return boolean(value, strict=False)


def _replicas(value: Any) -> int:
    try:
        replicas = int(str(value).strip())
    except ValueError:
        raise AlertmanagerPlanError(f"alertmanager_ha_replicas is {value!r}: give a whole number of replicas "
                                    "(3 or more in production).") from None
    if replicas < 1:
        raise AlertmanagerPlanError(f"alertmanager_ha_replicas is {replicas}: at least one replica is needed.")
    return replicas


def _affinity(mode: str, topology_key: str, name: str) -> dict[str, Any]:
    """Rendered as the chart renders alertmanager.alertmanagerSpec.podAntiAffinity."""
    term = {"topologyKey": topology_key, "labelSelector": {"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["alertmanager"]},
        {"key": "alertmanager", "operator": "In", "values": [name]}]}}
    if mode == "hard":
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    if mode == "soft":
        return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": term}]}}
    return {}
