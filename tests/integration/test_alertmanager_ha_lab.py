"""The lab's simulated prometheus-operator, seen with the real kubectl (an independent client):
an Alertmanager resource becomes the operator's StatefulSet, governing Service and Ready pods, each a
real Alertmanager reachable through the API server's pod proxy; scaling starts and stops real peers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from alertmanager_ha_support import NAME, Release, direct_status, install_release

pytestmark = pytest.mark.timeout(600)


def kubectl(lab: Any, *args: str) -> Any:
    result = lab.run(["kubectl", "--kubeconfig", str(lab.kubeconfig), *args])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "-o" in args or "--raw" in args else result.stdout


def patch_replicas(lab: Any, release: Release, replicas: int) -> None:
    kubectl(lab, "-n", release.namespace, "patch", "alertmanager", NAME, "--type", "merge",
            "-p", json.dumps({"spec": {"replicas": replicas}}))


def settled_with(pod: dict[str, Any], peers: int) -> bool:
    cluster = direct_status(pod)["cluster"]
    return cluster["status"] == "ready" and len(cluster["peers"]) == peers


def wait_until(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OSError, AssertionError, KeyError):
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_operator_objects_pods_and_scaling(lab: Any, tmp_path: Path) -> None:
    release = install_release(lab, tmp_path)
    ns = release.namespace

    sts = kubectl(lab, "-n", ns, "get", "statefulset", f"alertmanager-{NAME}", "-o", "json")
    assert sts["spec"]["serviceName"] == "alertmanager-operated" and sts["spec"]["replicas"] == 1
    assert sts["metadata"]["ownerReferences"][0]["kind"] == "Alertmanager"
    assert sts["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "alertmanager", "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": NAME, "alertmanager": NAME}
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--cluster.listen-address=" in args  # one replica: clustering off, as the operator does
    assert f"--cluster.peer=alertmanager-{NAME}-0.alertmanager-operated:9094" in args
    service = kubectl(lab, "-n", ns, "get", "service", "alertmanager-operated", "-o", "json")
    assert service["spec"]["clusterIP"] == "None"
    assert [(p["name"], p["port"], p["protocol"]) for p in service["spec"]["ports"]] == [
        ("http-web", 9093, "TCP"), ("tcp-mesh", 9094, "TCP"), ("udp-mesh", 9094, "UDP")]

    kubectl(lab, "-n", ns, "wait", "--for=condition=Ready", f"pod/{release.pod(0)}", "--timeout=30s")
    pod = kubectl(lab, "-n", ns, "get", "pod", release.pod(0), "-o", "json")
    assert pod["status"]["podIP"].startswith("127.") and pod["status"]["podIP"] != "127.0.0.1"
    # Through the API server's pod proxy, with kubectl: the real Alertmanager answers.
    status = kubectl(lab, "get", "--raw", f"/api/v1/namespaces/{ns}/pods/{release.pod(0)}:9093/proxy/api/v2/status")
    assert status["cluster"]["status"] == "disabled" and status["versionInfo"]["version"].startswith("0.")

    # 1 -> 3: two more peers start, pod 0 is replaced with clustering on, all three join.
    patch_replicas(lab, release, 3)

    def three_joined() -> list[dict[str, Any]] | None:
        pods = release.pods()  # one read per attempt: pods come and go while the operator works
        return pods if len(pods) == 3 and all(settled_with(p, 3) for p in pods) else None

    pods = wait_until(three_joined, timeout=60)
    assert pods, "the three peers did not join one cluster"
    kubectl(lab, "-n", ns, "wait", "--for=condition=Ready", "pod", "-l", f"alertmanager={NAME}", "--timeout=30s")
    addresses = {f"{p['status']['podIP']}:9094" for p in pods}
    for pod in pods:
        cluster = direct_status(pod)["cluster"]
        assert cluster["status"] == "ready"
        assert {peer["address"] for peer in cluster["peers"]} == addresses  # peers are the three pods
    assert wait_until(lambda: kubectl(lab, "-n", ns, "get", "alertmanager", NAME, "-o", "json")["status"][
        "availableReplicas"] == 3)
    am = kubectl(lab, "-n", ns, "get", "alertmanager", NAME, "-o", "json")
    assert {c["type"]: c["status"] for c in am["status"]["conditions"]}["Available"] == "True"

    # 3 -> 1: pods 1 and 2 go and their processes stop; pod 0 runs again without clustering.
    gone = [p for p in pods if p["metadata"]["name"] != release.pod(0)]
    patch_replicas(lab, release, 1)

    def only_pod0_unclustered() -> bool:
        pods = release.pods()
        return ([p["metadata"]["name"] for p in pods] == [release.pod(0)]
                and direct_status(pods[0])["cluster"]["status"] == "disabled")

    assert wait_until(only_pod0_unclustered, timeout=60)
    for pod in gone:
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://{pod['status']['podIP']}:9093/-/ready", timeout=2)

    # Deleting the resource removes what the operator made, and stops the last peer.
    last = release.pods()[0]
    kubectl(lab, "-n", ns, "delete", "alertmanager", NAME)
    assert wait_until(lambda: release.pods() == [] and release.get("apps/v1", "StatefulSet", f"alertmanager-{NAME}")
                      is None, timeout=30) is not None
    assert wait_until(lambda: _refused(last), timeout=15)


def _refused(pod: dict[str, Any]) -> bool:
    try:
        urllib.request.urlopen(f"http://{pod['status']['podIP']}:9093/-/ready", timeout=2)
    except (urllib.error.URLError, ConnectionError):
        return True
    return False
