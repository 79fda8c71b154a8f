"""Helpers of the Alertmanager HA suites: a kube-prometheus-stack release in its own namespace, read
back with the official Kubernetes client (an independent reader), and the verification in-process
(the same module_utils the module runs) for timing measurements."""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from atlas_lab.pytest_plugin import collections_path
from atlas_lab.scenarios.alertmanager_ha import kube_prometheus_stack as kps

if collections_path() not in sys.path:
    sys.path.insert(0, collections_path())

# pylint: disable=wrong-import-position,wrong-import-order
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager import cluster as am_cluster  # noqa: E402
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager import kubernetes_replicas as amk  # noqa: E402
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager import replicas as am_replicas  # noqa: E402
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import connect
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef  # noqa: E402

NAME = kps.alertmanager_name()
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection", "apply")


@dataclass
class Release:
    """A kube-prometheus-stack release installed (as `helm install` does) in its own namespace."""

    lab: Any
    namespace: str
    values_file: Path
    objects: KubernetesObjects

    @property
    def name(self) -> str:
        return NAME

    def pod(self, index: int) -> str:
        return f"alertmanager-{NAME}-{index}"

    def peer(self, index: int) -> str:
        """The lab control API's name of the peer that runs pod ``index``."""
        return f"{self.pod(index)}.{self.namespace}"

    def get(self, api_version: str, kind: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(ObjectRef(api_version, kind, name, self.namespace))

    def alertmanager(self) -> dict[str, Any]:
        found = self.get("monitoring.coreos.com/v1", "Alertmanager", NAME)
        assert found is not None
        return found

    def pods(self) -> list[dict[str, Any]]:
        items = self.objects.list(self.objects.resource("v1", "Pod"), self.namespace,
                                  label_selector=f"alertmanager={NAME}")[0]
        return sorted(items, key=lambda pod: pod["metadata"]["name"])

    def role_vars(self, **extra: Any) -> dict[str, Any]:
        return dict({"alertmanager_ha_namespace": self.namespace, "alertmanager_ha_name": NAME,
                     "alertmanager_ha_helm_values_file": str(self.values_file),
                     "alertmanager_ha_helm_release": kps.RELEASE, "atlas_hardening_environment": "production"},
                    **extra)

    def examine(self, wait: float = 0.0, gossip: bool = False, routing: bool = True) -> dict[str, Any]:
        """The verification in-process (what alertmanager_cluster_info runs)."""
        found: dict[str, Any] = {}

        def discover() -> tuple[int, list[am_replicas.Replica], list[str]]:
            found["target"] = amk.find_replicas(self.objects, self.namespace, NAME)
            return found["target"].expected, found["target"].replicas, found["target"].missing

        check = (lambda: amk.check_prometheus_alerting(self.objects, found["target"])) if routing else None
        return am_cluster.examine(discover, wait_timeout=wait, interval=0.2, gossip=gossip, routing_check=check)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float, **examine: Any
                 ) -> tuple[dict[str, Any], float]:
        """Examine repeatedly until ``predicate(result)``; return the result and the seconds it took."""
        started = time.monotonic()
        while True:
            result = self.examine(**examine)
            elapsed = time.monotonic() - started
            if predicate(result) or elapsed > timeout:
                return result, elapsed
            time.sleep(0.1)


def install_release(lab: Any, tmp_path: Path, replicas: int = 1) -> Release:
    """A fresh namespace holding the chart's Alertmanager, Service and Prometheus, created with field
    manager ``helm`` (Update operations, as Helm does), and a values file like a team's."""
    namespace = "am-ha-" + secrets.token_hex(3)
    objects = KubernetesObjects(connect({"k8s_kubeconfig": str(lab.kubeconfig)}))
    for obj in kps.objects(namespace=namespace, replicas=replicas):
        objects.create(obj, field_manager=kps.HELM_FIELD_MANAGER)
    values_file = tmp_path / "kube-prometheus-stack.values.yaml"
    values_file.write_text(kps.values_file_text())
    release = Release(lab, namespace, values_file, objects)
    release.wait_for(lambda result: result["verdict"] in ("not_ha", "healthy"), timeout=30)
    return release


def writes(lab: Any) -> dict[str, int]:
    """Write requests the Kubernetes emulator served (dry runs excluded)."""
    return {kind: count for kind, count in lab.k8s.counts().items()
            if kind.split(" ", 1)[0] in WRITE_VERBS and not kind.endswith("(dry-run)")}


def object_writes(lab: Any) -> dict[str, int]:
    """Writes to stored objects: without the pod-proxy requests of the gossip probe (to Alertmanager)."""
    return {kind: count for kind, count in writes(lab).items() if "/proxy" not in kind}


def direct_status(pod: dict[str, Any]) -> dict[str, Any]:
    """``/api/v2/status`` straight from the pod's address (loopback), bypassing the API server."""
    address = pod["status"]["podIP"]
    with urllib.request.urlopen(f"http://{address}:9093/api/v2/status", timeout=5) as response:
        return json.loads(response.read())


def failures(result: dict[str, Any]) -> dict[str, str]:
    return {failure["replica"]: failure["reason"] for failure in result["failures"]}
