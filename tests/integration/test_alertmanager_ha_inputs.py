"""Alertmanager HA: bad input ends in one clear message and changes nothing; what the CRD refuses;
what the role does with one replica and without a values file."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from alertmanager_ha_support import NAME, Release, install_release, object_writes

pytestmark = pytest.mark.timeout(600)
HARDEN = "playbooks/harden.yml"


@pytest.fixture(scope="module")
def release(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Release:
    return install_release(lab, tmp_path_factory.mktemp("am-ha-inputs"))


def harden(lab: Any, release: Release, *args: str, **extra: Any) -> Any:
    return lab.ansible_playbook(HARDEN, "--tags", "alertmanager", *args, extra_vars=release.role_vars(**extra))


def fatal_message(run: Any) -> str:
    """The msg of the failed task (ansible prints it on the `fatal:` line)."""
    lines = [line for line in run.stdout.splitlines() if line.startswith("fatal: ")]
    assert len(lines) == 1, run
    return lines[0]


def test_fewer_than_three_replicas_in_production_is_refused_before_any_request(lab: Any, release: Release) -> None:
    lab.k8s.reset_requests()
    run = harden(lab, release, alertmanager_ha_replicas=2)
    assert run.rc == 2, run
    assert ("alertmanager_ha_replicas is 2 but alertmanager_ha_environment is production: production needs at least "
            "3 Alertmanager replicas") in fatal_message(run)
    assert "Traceback" not in run.stdout + run.stderr
    assert lab.k8s.counts() == {}
    assert release.alertmanager()["spec"]["replicas"] == 1


def test_wrong_resource_name_is_one_message_listing_the_alertmanagers_and_creates_nothing(
        lab: Any, release: Release) -> None:
    lab.k8s.reset_requests()
    run = harden(lab, release, alertmanager_ha_name="alertmanager-main")
    assert run.rc == 2, run
    assert (f"Alertmanager {release.namespace}/alertmanager-main not found. Alertmanagers in namespace "
            f"{release.namespace}: {NAME}. Check the resource name and namespace") in fatal_message(run)
    assert "Traceback" not in run.stdout + run.stderr
    assert object_writes(lab) == {}
    assert release.get("monitoring.coreos.com/v1", "Alertmanager", "alertmanager-main") is None
    assert release.values_file.read_text().count("replicas: 1") == 1  # untouched


def test_unreachable_replica_url_is_one_clear_reason(lab: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = lab.ansible("atlas.hardening.alertmanager_cluster_info", {"urls": [url], "request_timeout": 2})
    module = result.results["localhost"]
    assert module["status"] == "SUCCESS" and module["verdict"] == "down"
    assert module["failures"] == [{"replica": url, "reason": module["failures"][0]["reason"]}]
    assert module["failures"][0]["reason"].startswith(f"unreachable: cannot connect to {url}/api/v2/status: ")
    assert "Connection refused" in module["failures"][0]["reason"]


def test_unknown_and_mistyped_fields_are_rejected_by_the_crd_schema(lab: Any, release: Release) -> None:
    """The chart's value names are not CRD fields: the emulator (upstream CRD schema) says so."""
    base = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
            "metadata": {"name": NAME, "namespace": release.namespace}}
    unknown = lab.ansible("atlas.hardening.k8s_manifests", {
        "manifests": [dict(base, spec={"podAntiAffinity": "hard"})], "force_conflicts": True})
    message = unknown.results["localhost"]["msg"]
    assert unknown.rc != 0 and ".spec.podAntiAffinity: field not declared in schema" in message, message
    mistyped = lab.ansible("atlas.hardening.k8s_manifests", {
        "manifests": [dict(base, spec={"replicas": "three"})], "force_conflicts": True})
    message = mistyped.results["localhost"]["msg"]
    assert mistyped.rc != 0 and "spec.replicas in body must be of type integer" in message, message
    assert release.alertmanager()["spec"]["replicas"] == 1


def test_without_values_file_the_role_says_helm_upgrade_reverts_it(lab: Any, tmp_path: Path) -> None:
    other = install_release(lab, tmp_path)
    run = harden(lab, other, alertmanager_ha_helm_values_file="", alertmanager_ha_verify_gossip=False)
    assert run.rc == 0, run
    assert run.changed == 1, run  # the resource only
    assert ("no alertmanager_ha_helm_values_file was given, so the next `helm upgrade` of kube-prometheus-stack "
            "reverts replicas, anti-affinity and clusterLabel") in run.stdout
    assert "Helm values NOT updated (no alertmanager_ha_helm_values_file): the next helm upgrade reverts this" \
        in run.stdout
    assert other.values_file.read_text().count("replicas: 1") == 1


def test_development_scales_down_to_one_replica_removes_the_pdb_and_does_not_fail(lab: Any, tmp_path: Path) -> None:
    other = install_release(lab, tmp_path)
    assert harden(lab, other, alertmanager_ha_verify_gossip=False).rc == 0
    assert other.get("policy/v1", "PodDisruptionBudget", NAME) is not None
    run = harden(lab, other, atlas_hardening_environment="development")
    assert run.rc == 0, run
    assert "alertmanager | hardened" in run.stdout
    assert "no PodDisruptionBudget (one replica cannot keep a quorum)" in run.stdout
    assert "verification: not_ha" in run.stdout
    assert other.alertmanager()["spec"]["replicas"] == 1
    assert other.get("policy/v1", "PodDisruptionBudget", NAME) is None  # it would block every drain
    result = other.wait_for(lambda r: [x["cluster_status"] for x in r["replicas"]] == ["disabled"], timeout=30)[0]
    assert result["verdict"] == "not_ha"


@pytest.mark.parametrize("environment", ["Production", "prod"])
def test_production_by_another_name_still_needs_three_replicas(lab: Any, release: Release, environment: str) -> None:
    lab.k8s.reset_requests()
    run = harden(lab, release, alertmanager_ha_replicas=1, atlas_hardening_environment=environment)
    assert run.rc == 2, run
    assert "production needs at least 3 Alertmanager replicas" in fatal_message(run)
    assert lab.k8s.counts() == {}


def test_skipping_the_read_never_creates_an_alertmanager(lab: Any, release: Release) -> None:
    """--start-at-task past the read that checks the name: the apply itself refuses to create one."""
    lab.k8s.reset_requests()
    run = harden(lab, release, "--start-at-task", "Set replicas*", alertmanager_ha_name="alertmanager-main")
    assert run.rc == 2, run
    assert (f"Alertmanager {release.namespace}/alertmanager-main does not exist, and Alertmanager objects are "
            "only updated here, never created") in fatal_message(run)
    assert object_writes(lab) == {}
    assert release.get("monitoring.coreos.com/v1", "Alertmanager", "alertmanager-main") is None
