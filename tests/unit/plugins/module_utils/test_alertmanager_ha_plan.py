"""The alertmanager_ha role's decisions, in Python: manifests, values, the production guard, the report."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.ha_plan import (
    AlertmanagerPlanError,
    alertmanager_ha_plan,
    min_available,
)
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.ha_report import alertmanager_ha_report


def settings(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "kps-alertmanager", "namespace": "monitoring", "environment": "production", "replicas": "3",
        "anti_affinity": "hard", "anti_affinity_topology_key": "kubernetes.io/hostname",
        "cluster_label": "monitoring/kps-alertmanager", "pdb_enabled": "True", "pdb_name": "kps-alertmanager",
        "pdb_min_available": "", "helm_release": "", "helm_release_namespace": "monitoring",
        "helm_values_file": "/tmp/values.yaml", "verify": True,
    }
    values.update(overrides)
    return values


def test_three_replicas_get_a_majority_pdb_and_hard_anti_affinity() -> None:
    plan = alertmanager_ha_plan(settings())
    alertmanager, pdb = plan["manifests"]
    assert alertmanager["spec"]["replicas"] == 3 and isinstance(alertmanager["spec"]["replicas"], int)
    assert alertmanager["spec"]["clusterLabel"] == "monitoring/kps-alertmanager"
    term = alertmanager["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert pdb["spec"]["minAvailable"] == 2 and pdb["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "alertmanager", "alertmanager": "kps-alertmanager"}
    assert plan["expected_verdict"] == "healthy" and plan["remove_pdb"] is False
    assert plan["helm_values"]["alertmanager"]["podDisruptionBudget"]["minAvailable"] == 2
    assert plan["helm_values"]["alertmanager"]["alertmanagerSpec"]["podAntiAffinity"] == "hard"


def test_one_replica_has_no_pdb_and_expects_not_ha() -> None:
    plan = alertmanager_ha_plan(settings(environment="development", replicas=1, anti_affinity="none",
                                         cluster_label=""))
    assert [m["kind"] for m in plan["manifests"]] == ["Alertmanager"]
    assert "affinity" not in plan["manifests"][0]["spec"] and "clusterLabel" not in plan["manifests"][0]["spec"]
    assert plan["remove_pdb"] is True and plan["expected_verdict"] == "not_ha"


@pytest.mark.parametrize("environment", ["production", "Production", "prod", " PROD "])
def test_production_needs_three_replicas_whatever_it_is_called(environment: str) -> None:
    with pytest.raises(AlertmanagerPlanError, match="production needs at least 3 Alertmanager replicas"):
        alertmanager_ha_plan(settings(environment=environment, replicas=2))


@pytest.mark.parametrize("value, expected", [("", 2), ("3", 3), (1, 1), ("50%", "50%"), ("100%", "100%")])
def test_min_available(value: Any, expected: Any) -> None:
    assert min_available(3, value) == expected


@pytest.mark.parametrize("value", ["200%", "0%", "two", "-1"])
def test_min_available_refuses_what_the_api_server_refuses(value: str) -> None:
    with pytest.raises(AlertmanagerPlanError, match="alertmanager_ha_pdb_min_available"):
        min_available(3, value)


def test_helm_release_ownership_on_the_pdb() -> None:
    pdb = alertmanager_ha_plan(settings(helm_release="kps"))["pdb_manifest"]
    assert pdb["metadata"]["annotations"] == {"meta.helm.sh/release-name": "kps",
                                              "meta.helm.sh/release-namespace": "monitoring"}
    assert pdb["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_bad_replicas_and_anti_affinity_are_refused() -> None:
    with pytest.raises(AlertmanagerPlanError, match="whole number"):
        alertmanager_ha_plan(settings(replicas="three"))
    with pytest.raises(AlertmanagerPlanError, match="use one of hard, soft, none"):
        alertmanager_ha_plan(settings(anti_affinity="strict"))


def report(check_mode: bool = False, changed: bool = True, verdict: str = "healthy") -> dict[str, Any]:
    plan = alertmanager_ha_plan(settings())
    return alertmanager_ha_report(
        plan, settings(), before={"verdict": "not_ha", "summary": "1 replica"}, applied={"changed": changed},
        pdb_removed={"skipped": True, "changed": False}, values={"changed": changed, "changes": ["a", "b"]},
        verification={"verdict": verdict, "summary": "3 ready", "gossip_check": {
            "passed": True, "propagation_seconds": {"a": 0.2, "b": 0.5}}}, check_mode=check_mode)


def test_report_status() -> None:
    assert report()["status"] == "hardened"
    assert report(check_mode=True, verdict="not_ha")["status"] == "would change"
    assert report(changed=False)["status"] == "unchanged"
    assert report(verdict="degraded")["status"] == "degraded"


def test_report_details_name_every_part() -> None:
    details = report()["details"]
    assert details[0] == "before: not_ha (1 replica)"
    assert details[1] == ("Alertmanager monitoring/kps-alertmanager: 3 replicas (production), anti-affinity hard on "
                          "kubernetes.io/hostname, clusterLabel monitoring/kps-alertmanager")
    assert details[2] == "PodDisruptionBudget kps-alertmanager: minAvailable 2"
    assert details[3] == "Helm values /tmp/values.yaml: 2 key(s) updated"
    assert details[4] == "verification: healthy: 3 ready; gossip probe: silence reached every replica in 0.50 s"
