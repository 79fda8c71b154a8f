"""Alertmanager HA end to end: `harden.yml --tags alertmanager` against the lab.

The lab's simulated prometheus-operator runs each Alertmanager pod as a real prometheus-alertmanager
process (its own loopback address, 9093/9094), so "3 peers see each other" and "the silence reached
every replica" are answers of real Alertmanagers. Idempotence is proven with the Kubernetes
emulator's write counters and the values file's bytes, not only with `changed`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from alertmanager_ha_support import NAME, Release, direct_status, failures, install_release, object_writes, writes

pytestmark = pytest.mark.timeout(900)
HARDEN = "playbooks/harden.yml"


def harden(lab: Any, release: Release, *args: str, check: bool = False, diff: bool = False, **extra: Any) -> Any:
    return lab.ansible_playbook(HARDEN, "--tags", "alertmanager", *args, check=check, diff=diff,
                                extra_vars=release.role_vars(**extra))


def verify(lab: Any, release: Release, **args: Any) -> dict[str, Any]:
    """atlas.hardening.alertmanager_cluster_verify, run by Ansible (ad hoc) against the release."""
    result = lab.ansible("atlas.hardening.alertmanager_cluster_verify",
                         dict({"name": NAME, "namespace": release.namespace,
                               "k8s_kubeconfig": str(lab.kubeconfig)}, **args))
    return result.results["localhost"]


@pytest.fixture(scope="module")
def one_replica(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Release:
    return install_release(lab, tmp_path_factory.mktemp("am-ha"))


def test_one_replica_is_reported_as_not_ha(lab: Any, one_replica: Release) -> None:
    result = verify(lab, one_replica, gossip_check=True)
    assert result["status"] == "SUCCESS", result
    assert result["verdict"] == "not_ha" and result["healthy"] is False
    assert result["summary"] == "1 replica, cluster status disabled: not highly available"
    (replica,) = result["replicas"]
    assert (replica["name"], replica["cluster_status"], replica["peer_count"]) == (
        f"alertmanager-{NAME}-0", "disabled", 0)
    assert result["gossip_check"]["performed"] is False
    assert "single replica" in result["gossip_check"]["reason"]
    # The real process says so too, asked directly at the pod's address.
    assert direct_status(one_replica.pods()[0])["cluster"] == {"peers": [], "status": "disabled"}


def test_check_mode_previews_and_writes_nothing(lab: Any, one_replica: Release) -> None:
    before = one_replica.alertmanager()
    values_before = one_replica.values_file.read_bytes()
    lab.k8s.reset_requests()
    run = harden(lab, one_replica, check=True, diff=True)
    assert run.rc == 0, run
    assert run.changed >= 2, run  # the apply (dry run) and the values file would change
    assert object_writes(lab) == {}
    # Not the resourceVersion: the simulated operator may still be writing the resource's status.
    after = one_replica.alertmanager()
    assert (after["spec"], after["metadata"]["generation"]) == (before["spec"], before["metadata"]["generation"])
    assert one_replica.get("policy/v1", "PodDisruptionBudget", NAME) is None
    assert one_replica.values_file.read_bytes() == values_before
    assert "-    replicas: 1\n+    replicas: 3" in run.stdout  # the values diff
    assert "alertmanager | would change | before: not_ha" in run.stdout


@pytest.mark.compat
def test_scale_to_three_verify_then_second_run_changes_and_writes_nothing(lab: Any, one_replica: Release) -> None:
    release = one_replica
    values_before = release.values_file.read_text()
    lab.k8s.reset_requests()
    started = time.monotonic()
    run = harden(lab, release)
    first_seconds = time.monotonic() - started
    assert run.rc == 0, run
    assert run.changed == 2, run  # one k8s_manifests call (resource + PDB), one values file
    first_writes = object_writes(lab)
    assert first_writes == {"patch alertmanagers": 1, "patch poddisruptionbudgets": 1}, first_writes
    assert "alertmanager | hardened | before: not_ha" in run.stdout
    assert "verification: healthy: 3 replicas ready, each sees all 3 peers" in run.stdout

    spec = release.alertmanager()["spec"]
    assert spec["replicas"] == 3
    assert spec["clusterLabel"] == f"{release.namespace}/{NAME}"
    term = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchExpressions"][1] == {"key": "alertmanager", "operator": "In", "values": [NAME]}
    # Fields the role does not own keep their value and their owner (Helm).
    assert spec["portName"] == "http-web" and spec["retention"] == "120h"
    managers = {entry["manager"]: entry for entry in release.alertmanager()["metadata"]["managedFields"]}
    assert "f:replicas" in json.dumps(managers["atlas-hardening-alertmanager-ha"]["fieldsV1"])
    assert "f:replicas" not in json.dumps(managers["helm"]["fieldsV1"])  # taken over (force)
    pdb = release.get("policy/v1", "PodDisruptionBudget", NAME)
    assert pdb is not None
    assert pdb["spec"]["minAvailable"] == 2 and pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "alertmanager", "alertmanager": NAME}}
    assert pdb["metadata"]["annotations"]["meta.helm.sh/release-name"] == "kube-prometheus-stack"

    # The values file: the chart keys changed, every other line kept.
    values_after = release.values_file.read_text()
    chart = yaml.safe_load(values_after)["alertmanager"]
    assert chart["alertmanagerSpec"]["replicas"] == 3 and chart["alertmanagerSpec"]["podAntiAffinity"] == "hard"
    assert chart["podDisruptionBudget"]["enabled"] is True and chart["podDisruptionBudget"]["minAvailable"] == 2
    kept = [line for line in values_before.splitlines() if line in values_after.splitlines()]
    assert len(values_before.splitlines()) - len(kept) == 4  # replicas, podAntiAffinity, enabled, minAvailable

    # Three real peers, each ready and seeing three; a silence gossips to all.
    result = verify(lab, release, gossip_check=True)
    assert result["verdict"] == "healthy", result["summary"]
    assert [(r["cluster_status"], r["peer_count"], len(r["sees"])) for r in result["replicas"]] == [
        ("ready", 3, 3)] * 3
    assert result["gossip_check"]["passed"] is True and result["gossip_check"]["expired"] is True
    assert sorted(result["gossip_check"]["propagation_seconds"]) == [release.pod(1), release.pod(2)]
    assert result["alert_routing"]["prometheuses"][0]["endpoints"][0]["ok"] is True
    addresses = set()
    for pod in release.pods():
        status = direct_status(pod)
        assert status["cluster"]["status"] == "ready" and len(status["cluster"]["peers"]) == 3
        assert status["versionInfo"]["version"].startswith("0.")
        addresses.add(pod["status"]["podIP"])
    assert len(addresses) == 3

    lab.k8s.reset_requests()
    mtime = release.values_file.stat().st_mtime_ns
    started = time.monotonic()
    run = harden(lab, release)
    second_seconds = time.monotonic() - started
    assert run.rc == 0, run
    assert run.changed == 0, run
    assert object_writes(lab) == {}
    # The only non-read requests: the gossip probe's silence, created and expired through the pod proxy.
    assert writes(lab) == {"create pods/proxy": 1, "delete pods/proxy": 1}
    assert release.values_file.stat().st_mtime_ns == mtime
    assert "alertmanager | unchanged | before: healthy" in run.stdout
    second_requests = sum(lab.k8s.counts().values())
    print(f"\nfirst run {first_seconds:.1f} s, second run {second_seconds:.1f} s, {second_requests} API requests "
          f"({lab.k8s.counts()})")


def test_killed_peer_is_named_then_healthy_after_restart(lab: Any, tmp_path: Path) -> None:
    release = install_release(lab, tmp_path, replicas=3)
    result = release.wait_for(lambda r: r["verdict"] == "healthy", timeout=60)[0]
    assert result["verdict"] == "healthy", result["summary"]

    lab.stop_alertmanager_peer(release.peer(1), "KILL")
    killed_at = time.monotonic()
    result = release.examine()
    detected = time.monotonic() - killed_at
    assert result["verdict"] == "degraded"
    assert failures(result)[release.pod(1)].startswith(
        "unreachable: GET /api/v2/status through the pod proxy answered 503 ServiceUnavailable: error trying to "
        "reach service: dial tcp ")
    assert failures(result)[release.pod(1)].endswith(":9093: connect: connection refused")

    # Through Ansible: one clear reason naming the replica, and the pod no longer Ready.
    module = verify(lab, release)
    assert module["verdict"] == "degraded" and release.pod(1) in module["summary"]
    assert any(f["replica"] == release.pod(1) and "connection refused" in f["reason"] for f in module["failures"])

    # The survivors drop it from their member lists once memberlist declares it dead: each on its own
    # schedule, so wait for both (waiting for one raced the other under load).
    result = release.wait_for(
        lambda r: all(failures(r).get(release.pod(index), "").startswith("sees 2 of 3") for index in (0, 2)),
        timeout=60, routing=False)[0]
    gossip_seconds = time.monotonic() - killed_at
    assert failures(result)[release.pod(0)] == f"sees 2 of 3 peers; missing: {release.pod(1)}"
    assert failures(result)[release.pod(2)] == f"sees 2 of 3 peers; missing: {release.pod(1)}"
    pod = next(p for p in release.pods() if p["metadata"]["name"] == release.pod(1))
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137

    lab.restart_alertmanager_peer(release.peer(1))
    restarted_at = time.monotonic()
    result = release.wait_for(lambda r: r["verdict"] == "healthy", timeout=60, gossip=True)[0]
    recovered = time.monotonic() - restarted_at
    assert result["verdict"] == "healthy", result["summary"]
    assert result["gossip_check"]["passed"] is True
    print(f"\nkilled peer: the first verification after the kill ({detected:.2f} s) says degraded; survivors dropped "
          f"it after {gossip_seconds:.1f} s; healthy {recovered:.1f} s after the restart")


def test_prometheus_that_reaches_one_replica_is_a_failure(lab: Any, tmp_path: Path) -> None:
    release = install_release(lab, tmp_path, replicas=3)
    release.wait_for(lambda r: r["verdict"] == "healthy", timeout=60)
    namespace = release.namespace
    objects = release.objects
    # A Service for one pod (a "VIP" to replica 0) and one without selector, used by two Prometheuses.
    objects.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "am-zero", "namespace": namespace},
                    "spec": {"selector": {"statefulset.kubernetes.io/pod-name": release.pod(0)},
                             "ports": [{"name": "http-web", "port": 9093}]}})
    objects.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "am-vip", "namespace": namespace},
                    "spec": {"ports": [{"name": "http-web", "port": 9093}]}})
    for name, service in (("prom-one", "am-zero"), ("prom-vip", "am-vip")):
        objects.create({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
                        "metadata": {"name": name, "namespace": namespace},
                        "spec": {"alerting": {"alertmanagers": [{"name": service, "namespace": namespace,
                                                                 "port": "http-web"}]}}})
    result = verify(lab, release)
    found = failures(result)
    assert result["verdict"] == "degraded"
    assert found[f"prometheus {namespace}/prom-one"] == (
        f"spec.alerting.alertmanagers[0] (Service {namespace}/am-zero, port http-web) selects only "
        f"{release.pod(0)} (1 of 3 replicas): alerts do not reach {release.pod(1)}, {release.pod(2)}")
    assert found[f"prometheus {namespace}/prom-vip"].startswith(
        f"spec.alerting.alertmanagers[0] (Service {namespace}/am-vip, port http-web) has no pod selector")
    # The chart's own Prometheus is fine and says why.
    chart = next(p for p in result["alert_routing"]["prometheuses"] if p["name"] == "kube-prometheus-stack-prometheus")
    assert chart["endpoints"][0]["reason"] == "endpoint discovery reaches all 3 replicas"
