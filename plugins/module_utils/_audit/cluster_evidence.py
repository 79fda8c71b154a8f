# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the audit reads from the API server, as compact facts.

One LIST per kind, whatever the number of objects. Only names, labels, selectors, probe presence and
environment variable *names* are kept: never a value of a Secret, a ConfigMap or an environment variable.
A kind the cluster does not serve is recorded as not served (the row says so), never as an error.
"""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import (
    KubernetesApiError,
    KubernetesError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# The labels that name an application (Helm charts and operators set one of them).
NAME_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/part-of", "app")
DASHBOARD_LABEL = "grafana_dashboard"  # the label kube-prometheus-stack's Grafana sidecar loads dashboards by
IMAGE_SCAN_POLICY = "verify-image-scan"


class ClusterEvidence:
    """Reads the facts; each method is one or two requests."""

    def __init__(self, objects: KubernetesObjects) -> None:
        self.objects = objects

    def collect(self, drill_namespace: str, drill_results_configmap: str) -> dict[str, Any]:
        return {
            "workloads": self.workloads(),
            "pod_disruption_budgets": self._list_or_none("policy/v1", "PodDisruptionBudget", _pdb),
            "horizontal_pod_autoscalers": self._list_or_none("autoscaling/v2", "HorizontalPodAutoscaler", _hpa),
            "custom_resource_definitions": self._list_or_none(
                "apiextensions.k8s.io/v1", "CustomResourceDefinition", lambda crd: crd["metadata"]["name"]),
            "dashboards": self._list_or_none("v1", "ConfigMap", _dashboard, label_selector=DASHBOARD_LABEL),
            "prometheus_rules": self._list_or_none("monitoring.coreos.com/v1", "PrometheusRule", _rule_names),
            "image_scan_policy": self.image_scan_policy(),
            "cronjobs": self._list_or_none("batch/v1", "CronJob", _cronjob),
            "jobs": self._list_or_none("batch/v1", "Job", _job),
            "drill_results": self.drill_results(drill_namespace, drill_results_configmap),
        }

    def workloads(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for kind in WORKLOAD_KINDS:
            items = self._list_or_none("apps/v1", kind, _workload)
            found.extend(items or [])
        return found

    def image_scan_policy(self) -> dict[str, Any] | None:
        """The gate's ClusterPolicy (mode, overrides), None when Kyverno is not installed at all."""
        try:
            policy = self.objects.get(ObjectRef("kyverno.io/v1", "ClusterPolicy", IMAGE_SCAN_POLICY))
        except KubernetesError:
            return None
        if policy is None:
            return {"exists": False}
        spec = policy.get("spec") or {}
        rules = spec.get("rules") or []
        rule_actions = {rule.get("name", ""): ((rule.get("validate") or {}).get("failureAction")
                                               or spec.get("validationFailureAction") or "Audit") for rule in rules}
        overrides: list[dict[str, Any]] = []
        for rule in rules:
            for override in ((rule.get("validate") or {}).get("failureActionOverrides")
                             or spec.get("validationFailureActionOverrides") or []):
                entry = {"action": override.get("action"), "namespaces": sorted(override.get("namespaces") or [])}
                if entry not in overrides:
                    overrides.append(entry)
        ready = next((c.get("status") for c in (policy.get("status") or {}).get("conditions") or []
                      if c.get("type") == "Ready"), None)
        return {"exists": True, "rule_actions": rule_actions, "overrides": overrides, "rules": len(rules),
                "ready": ready}

    def drill_results(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The drills' outcomes per component (the ConfigMap the drill writes), None when absent."""
        config_map = self.objects.get(ObjectRef("v1", "ConfigMap", name, namespace))
        if config_map is None:
            return None
        results: dict[str, Any] = {}
        for key, text in sorted((config_map.get("data") or {}).items()):
            if not key.endswith(".json"):
                continue
            try:
                results[key[:-len(".json")]] = json.loads(text)
            except ValueError:
                results[key[:-len(".json")]] = {"unreadable": True}
        return results

    def _list_or_none(self, api_version: str, kind: str, project: Any,
                      label_selector: str | None = None) -> list[Any] | None:
        """Projected items of a kind in every namespace, None when the cluster does not serve the kind."""
        try:
            resource = self.objects.resource(api_version, kind)
            items = self.objects.list(resource, label_selector=label_selector)[0]
        except KubernetesApiError as exc:
            if exc.status == 404:  # a built-in kind the resolver knows, not served by this cluster
                return None
            raise
        except KubernetesError:
            return None
        return [project(item) for item in items]


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _workload(obj: dict[str, Any]) -> dict[str, Any]:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    labels = meta.get("labels") or {}
    desired = spec.get("replicas", 1) if obj["kind"] != "DaemonSet" else status.get("desiredNumberScheduled", 0)
    ready = status.get("numberReady" if obj["kind"] == "DaemonSet" else "readyReplicas") or 0
    return {
        "kind": obj["kind"], "namespace": meta.get("namespace"), "name": meta.get("name"),
        "labels": {key: labels[key] for key in NAME_LABELS if key in labels},
        "pod_labels": (template.get("metadata") or {}).get("labels") or {},
        "desired": desired, "ready": ready,
        "containers": [{"name": container.get("name"),
                        "readiness_probe": "readinessProbe" in container,
                        "liveness_probe": "livenessProbe" in container,
                        # Names only: a value may be a credential.
                        "env_names": sorted(item.get("name", "") for item in container.get("env") or []),
                        "env_from": sorted(_env_from_name(source) for source in container.get("envFrom") or [])}
                       for container in pod_spec.get("containers") or []],
    }


def _env_from_name(source: dict[str, Any]) -> str:
    for kind in ("configMapRef", "secretRef"):
        if kind in source:
            return f"{kind[:-3]}/{(source[kind] or {}).get('name', '')}"
    return "unknown"


def _pdb(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector") or {}
    return {"namespace": _meta(obj).get("namespace"), "name": _meta(obj).get("name"),
            "match_labels": selector.get("matchLabels") or {},
            "match_expressions": selector.get("matchExpressions") or [],
            "min_available": spec.get("minAvailable"), "max_unavailable": spec.get("maxUnavailable")}


def _hpa(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    target = spec.get("scaleTargetRef") or {}
    return {"namespace": _meta(obj).get("namespace"), "name": _meta(obj).get("name"),
            "target_kind": target.get("kind"), "target_name": target.get("name"),
            "min_replicas": spec.get("minReplicas", 1), "max_replicas": spec.get("maxReplicas")}


def _dashboard(obj: dict[str, Any]) -> dict[str, Any]:
    meta = _meta(obj)
    return {"namespace": meta.get("namespace"), "name": meta.get("name"),
            "files": sorted((obj.get("data") or {}).keys()),
            "release": (meta.get("labels") or {}).get("release") or (meta.get("labels") or {}).get("app")}


def _rule_names(obj: dict[str, Any]) -> dict[str, Any]:
    records: list[str] = []
    alerts: list[str] = []
    for group in (obj.get("spec") or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            if rule.get("record"):
                records.append(rule["record"])
            if rule.get("alert"):
                alerts.append(rule["alert"])
    return {"namespace": _meta(obj).get("namespace"), "name": _meta(obj).get("name"),
            "records": records, "alerts": alerts}


def _cronjob(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {"namespace": _meta(obj).get("namespace"), "name": _meta(obj).get("name"),
            "schedule": spec.get("schedule"), "suspend": bool(spec.get("suspend")),
            "last_schedule": status.get("lastScheduleTime"), "last_successful": status.get("lastSuccessfulTime")}


def _job(obj: dict[str, Any]) -> dict[str, Any]:
    meta, status = _meta(obj), obj.get("status") or {}
    owner = next((ref.get("name") for ref in meta.get("ownerReferences") or [] if ref.get("kind") == "CronJob"), None)
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    outcome = ("succeeded" if conditions.get("Complete") == "True" or conditions.get("SuccessCriteriaMet") == "True"
               else "failed" if conditions.get("Failed") == "True" else "running")
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "cronjob": owner, "outcome": outcome,
            "started": status.get("startTime") or meta.get("creationTimestamp"),
            "finished": status.get("completionTime")}
