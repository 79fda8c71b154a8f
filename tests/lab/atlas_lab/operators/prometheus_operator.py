"""A simulated prometheus-operator for the lab's Kubernetes API emulator: Alertmanager resources only.

What the real operator does with an ``Alertmanager`` (monitoring.coreos.com/v1), this does with real
``prometheus-alertmanager`` processes on loopback (pkg/alertmanager/statefulset.go of
prometheus-operator is the model):

- a governing headless Service ``alertmanager-operated`` (ports web 9093, tcp-mesh/udp-mesh 9094)
  selecting ``app.kubernetes.io/name: alertmanager``;
- a StatefulSet ``alertmanager-<name>`` owned by the resource, whose pod template carries the
  operator's labels, ``spec.affinity`` and the container arguments the operator renders
  (``--cluster.peer=alertmanager-<name>-<i>.alertmanager-operated:9094`` per replica,
  ``--cluster.listen-address=`` with one replica unless ``forceEnableClusterMode``,
  ``--cluster.label`` for Alertmanager >= 0.26 only, as the operator does);
- one Pod ``alertmanager-<name>-<i>`` per replica, each backed by a real Alertmanager peer started
  through the lab's :class:`~atlas_lab.alertmanager.AlertmanagerCluster`; the peers of one resource
  form one gossip cluster (and only with each other). A pod becomes Ready when its peer answers, and
  not Ready when its process dies (SIGKILL through the lab control API, a crash), like a readiness
  probe; nothing restarts it behind the test's back;
- the resource's ``status`` (replicas, availableReplicas, conditions Available and Reconciled).

Scaling 1 -> 3 starts two more peers and restarts replica 0 with clustering on (the operator rolls
the StatefulSet because the arguments change); 3 -> 1 stops replicas 1 and 2 with SIGTERM (a pod
deletion) and restarts replica 0 without clustering, so its status API reports ``disabled``.

Loopback has one IP, so each pod's container ports are the real ports of its peer: ``web`` is the
peer's HTTP port and ``mesh-tcp`` its gossip port, and ``status.podIP`` is 127.0.0.1. Peer addresses
in ``/api/v2/status`` then name the pods exactly as ``<podIP>:9094`` does in a cluster.

The operator talks to the emulator through :class:`ClusterAccess` (get/put/delete objects, status
writes, pod proxy backends); :func:`register_prometheus_operator` connects it to the emulator.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import re
import signal
import subprocess
import threading
import time
from datetime import datetime, timezone
from typing import Any, Protocol

from ..alertmanager import AlertmanagerCluster

LOG = logging.getLogger("atlas_lab.operators.prometheus_operator")

GROUP = "monitoring.coreos.com"
API_VERSION = f"{GROUP}/v1"
GOVERNING_SERVICE = "alertmanager-operated"
MESH_PORT = 9094
WEB_PORT = 9093
OPERATOR_VERSION = "0.80.1"  # the CRDs the emulator serves come from cloudcoil-models-prometheus-operator 0.80.1
LIVENESS_INTERVAL = 0.25


class ClusterAccess(Protocol):
    """What the operator needs from the API server (internal writes, as a controller makes them)."""

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create the object, or replace its metadata.labels/annotations/ownerReferences and spec."""

    def put_status(self, api_version: str, kind: str, namespace: str, name: str,
                   status: dict[str, Any]) -> None: ...

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None: ...

    def register_pod_backend(self, namespace: str, pod: str, base_url: str) -> None: ...

    def unregister_pod_backend(self, namespace: str, pod: str) -> None: ...


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def binary_version(binary: str) -> tuple[int, int, int]:
    """The version of the Alertmanager binary (``alertmanager, version 0.25.0 (...)``)."""
    try:
        output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return (0, 0, 0)
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", output.stdout + output.stderr)
    return tuple(int(part) for part in match.groups()) if match else (0, 0, 0)  # type: ignore[return-value]


class _Replica:
    """One pod of an Alertmanager resource and its peer."""

    def __init__(self, namespace: str, cr_name: str, index: int):
        self.namespace = namespace
        self.cr_name = cr_name
        self.index = index
        self.pod = f"alertmanager-{cr_name}-{index}"
        self.peer = f"{self.pod}.{namespace}"  # unique across namespaces; the lab control API uses it
        self.clustered: bool | None = None
        self.template = ""  # the pod template it runs, as JSON: a change rolls the pod
        self.transition = False  # being stopped or started by the operator: the liveness watch keeps off
        self.ready = False
        self.restarts = 0
        self.exit_code: int | None = None


class PrometheusOperator:
    """Reconciles Alertmanager resources into StatefulSets, Services, Pods and real peers."""

    def __init__(self, access: ClusterAccess, peers: AlertmanagerCluster, start_timeout: float = 30.0):
        self.access = access
        self.peers = peers
        self.start_timeout = start_timeout
        self.version = binary_version(peers.binary)
        self._replicas: dict[tuple[str, str], dict[int, _Replica]] = {}
        self._queue: queue.Queue[tuple[str, str, str] | None] = queue.Queue()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._worker = threading.Thread(target=self._work, name="lab-prometheus-operator", daemon=True)
        self._liveness = threading.Thread(target=self._watch_processes, name="lab-prometheus-operator-liveness",
                                          daemon=True)
        self._worker.start()
        self._liveness.start()

    # Events from the API server ---------------------------------------------------------------
    def on_alertmanager_event(self, event_type: str, obj: dict[str, Any]) -> None:
        """Queue a reconcile for an Alertmanager that was ADDED, MODIFIED or DELETED."""
        metadata = obj.get("metadata") or {}
        self._idle.clear()
        self._queue.put((event_type, metadata.get("namespace") or "default", metadata.get("name") or ""))

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every queued reconcile is done (for tests and the supervisor)."""
        return self._idle.wait(timeout)

    def reset(self) -> None:
        """Forget every Alertmanager (the emulator's state was reset): stop their peers."""
        with self._lock:
            keys = list(self._replicas)
        for namespace, name in keys:
            self._scale(namespace, name, None, [], delete_objects=False)

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._worker.join(timeout=30)
        self._liveness.join(timeout=5)
        self.reset()

    # The reconcile loop -----------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                break
            event_type, namespace, name = item
            try:
                self.reconcile(namespace, name, deleted=(event_type == "DELETED"))
            except Exception:  # pylint: disable=broad-except
                LOG.exception("reconcile of Alertmanager %s/%s failed", namespace, name)
            finally:
                if self._queue.empty():
                    self._idle.set()

    def reconcile(self, namespace: str, name: str, deleted: bool = False) -> None:
        """Make the StatefulSet, Service, Pods and peers match the Alertmanager resource."""
        resource = None if deleted else self.access.get(API_VERSION, "Alertmanager", namespace, name)
        if resource is None:
            self._scale(namespace, name, None, [], delete_objects=True)
            return
        spec = resource.get("spec") or {}
        if spec.get("paused"):
            return
        replicas = spec.get("replicas")
        replicas = 1 if replicas is None else max(0, int(replicas))
        clustered = replicas > 1 or bool(spec.get("forceEnableClusterMode"))
        self._ensure_service(resource)
        self._ensure_statefulset(resource, replicas, clustered)
        self._scale(namespace, name, resource, list(range(replicas)), clustered=clustered)
        self._update_status(namespace, name)

    # Objects ----------------------------------------------------------------------------------
    @staticmethod
    def _owner(obj: dict[str, Any], block: bool = True) -> dict[str, Any]:
        metadata = obj["metadata"]
        return {"apiVersion": obj.get("apiVersion", API_VERSION), "kind": obj.get("kind", "Alertmanager"),
                "name": metadata["name"], "uid": metadata.get("uid", ""), "controller": True,
                "blockOwnerDeletion": block}

    @staticmethod
    def pod_labels(name: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": "alertmanager", "app.kubernetes.io/managed-by": "prometheus-operator",
                "app.kubernetes.io/instance": name, "alertmanager": name}

    def _ensure_service(self, resource: dict[str, Any]) -> None:
        namespace = resource["metadata"]["namespace"]
        port_name = (resource.get("spec") or {}).get("portName") or "web"
        service = {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": GOVERNING_SERVICE, "namespace": namespace,
                         "labels": {"operated-alertmanager": "true",
                                    "app.kubernetes.io/managed-by": "prometheus-operator"},
                         "ownerReferences": [self._owner(resource, block=False)]},
            "spec": {"clusterIP": "None",
                     "ports": [{"name": port_name, "port": WEB_PORT, "targetPort": port_name, "protocol": "TCP"},
                               {"name": "tcp-mesh", "port": MESH_PORT, "targetPort": MESH_PORT, "protocol": "TCP"},
                               {"name": "udp-mesh", "port": MESH_PORT, "targetPort": MESH_PORT, "protocol": "UDP"}],
                     "selector": {"app.kubernetes.io/name": "alertmanager"}},
        }
        existing = self.access.get("v1", "Service", namespace, GOVERNING_SERVICE)
        if existing is None or (existing.get("spec") or {}).get("ports") != service["spec"]["ports"]:
            self.access.put(service)

    def container_args(self, resource: dict[str, Any], replicas: int, clustered: bool) -> list[str]:
        """The arguments prometheus-operator gives the alertmanager container (shown in the StatefulSet)."""
        metadata = resource["metadata"]
        spec = resource.get("spec") or {}
        name, namespace = metadata["name"], metadata["namespace"]
        args = ["--config.file=/etc/alertmanager/config_out/alertmanager.env.yaml",
                "--storage.path=/alertmanager", f"--data.retention={spec.get('retention') or '120h'}",
                f"--cluster.listen-address=[$(POD_IP)]:{MESH_PORT}" if clustered else "--cluster.listen-address=",
                f"--web.listen-address=:{WEB_PORT}", f"--web.route-prefix={spec.get('routePrefix') or '/'}"]
        if self.version >= (0, 26, 0):
            args.append(f"--cluster.label={spec.get('clusterLabel') or f'{namespace}/{name}'}")
        args += [f"--cluster.peer=alertmanager-{name}-{index}.{GOVERNING_SERVICE}:{MESH_PORT}"
                 for index in range(replicas)]
        args += [f"--cluster.peer={peer}" for peer in spec.get("additionalPeers") or []]
        if spec.get("clusterPeerTimeout"):
            args.append(f"--cluster.peer-timeout={spec['clusterPeerTimeout']}")
        args.append("--cluster.reconnect-timeout=5m")
        return args

    def _pod_template(self, resource: dict[str, Any], replicas: int, clustered: bool) -> dict[str, Any]:
        spec = resource.get("spec") or {}
        name = resource["metadata"]["name"]
        port_name = spec.get("portName") or "web"
        labels = dict((spec.get("podMetadata") or {}).get("labels") or {})
        labels.update(self.pod_labels(name))
        pod_spec: dict[str, Any] = {
            "containers": [{
                "name": "alertmanager",
                "image": spec.get("image") or "quay.io/prometheus/alertmanager:v%d.%d.%d" % self.version,
                "args": self.container_args(resource, replicas, clustered),
                "ports": [{"name": port_name, "containerPort": WEB_PORT, "protocol": "TCP"},
                          {"name": "mesh-tcp", "containerPort": MESH_PORT, "protocol": "TCP"},
                          {"name": "mesh-udp", "containerPort": MESH_PORT, "protocol": "UDP"}],
                "readinessProbe": {"httpGet": {"path": "/-/ready", "port": port_name},
                                   "initialDelaySeconds": 3, "periodSeconds": 5, "timeoutSeconds": 3,
                                   "failureThreshold": 10},
            }],
            "serviceAccountName": spec.get("serviceAccountName") or "default",
            "terminationGracePeriodSeconds": 120,
        }
        for field in ("affinity", "tolerations", "nodeSelector", "topologySpreadConstraints", "priorityClassName"):
            if spec.get(field):
                pod_spec[field] = copy.deepcopy(spec[field])
        return {"metadata": {"labels": labels}, "spec": pod_spec}

    def _ensure_statefulset(self, resource: dict[str, Any], replicas: int, clustered: bool) -> None:
        metadata = resource["metadata"]
        statefulset = {
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": f"alertmanager-{metadata['name']}", "namespace": metadata["namespace"],
                         "labels": dict(metadata.get("labels") or {}, **{
                             "app.kubernetes.io/managed-by": "prometheus-operator"}),
                         "ownerReferences": [self._owner(resource)]},
            "spec": {"replicas": replicas, "serviceName": GOVERNING_SERVICE, "podManagementPolicy": "Parallel",
                     "updateStrategy": {"type": "RollingUpdate"},
                     "selector": {"matchLabels": self.pod_labels(metadata["name"])},
                     "template": self._pod_template(resource, replicas, clustered)},
        }
        existing = self.access.get("apps/v1", "StatefulSet", metadata["namespace"], statefulset["metadata"]["name"])
        if existing is None or existing.get("spec", {}).get("replicas") != replicas or \
                existing.get("spec", {}).get("template") != statefulset["spec"]["template"]:
            self.access.put(statefulset)

    def _pod(self, replica: _Replica, statefulset_uid: str) -> dict[str, Any]:
        template = json.loads(replica.template)
        web_url = self.peers.web_url(replica.peer)
        web_port = int(web_url.rsplit(":", 1)[1])
        mesh_port = int(self.peers.cluster_addr(replica.peer).rsplit(":", 1)[1])
        container = template["spec"]["containers"][0]
        # Loopback has one IP: the pod's ports are its peer's real ports (see the module docstring).
        container["ports"][0]["containerPort"] = web_port
        container["ports"][1]["containerPort"] = mesh_port
        container["ports"][2]["containerPort"] = mesh_port
        labels = dict(template["metadata"]["labels"])
        labels.update({"statefulset.kubernetes.io/pod-name": replica.pod,
                       "apps.kubernetes.io/pod-index": str(replica.index)})
        spec = dict(template["spec"], hostname=replica.pod, subdomain=GOVERNING_SERVICE)
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": replica.pod, "namespace": replica.namespace, "labels": labels,
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                  "name": f"alertmanager-{replica.cr_name}", "uid": statefulset_uid,
                                                  "controller": True, "blockOwnerDeletion": True}]},
                "spec": spec}

    def _pod_status(self, replica: _Replica) -> dict[str, Any]:
        now = _now()
        ready = "True" if replica.ready else "False"
        if replica.ready:
            state: dict[str, Any] = {"running": {"startedAt": now}}
        elif replica.exit_code is not None:
            state = {"terminated": {"exitCode": replica.exit_code, "reason": "Error", "finishedAt": now}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        return {"phase": "Running" if replica.ready or replica.exit_code is not None else "Pending",
                "podIP": self.peers.host, "podIPs": [{"ip": self.peers.host}], "hostIP": self.peers.host,
                "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                               {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                               {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
                               {"type": "Ready", "status": ready, "lastTransitionTime": now}],
                "containerStatuses": [{"name": "alertmanager", "ready": replica.ready,
                                       "restartCount": replica.restarts, "state": state,
                                       "image": "prometheus-alertmanager", "started": replica.ready}]}

    # Peers ------------------------------------------------------------------------------------
    def _scale(self, namespace: str, name: str, resource: dict[str, Any] | None, indexes: list[int],
               clustered: bool = False, delete_objects: bool = True) -> None:
        key = (namespace, name)
        with self._lock:
            current = self._replicas.setdefault(key, {})
            removed = [current.pop(index) for index in sorted(current) if index not in indexes]
            for index in indexes:
                current.setdefault(index, _Replica(namespace, name, index))
            wanted = [current[index] for index in indexes]
            if not current:
                self._replicas.pop(key, None)
        # A pod deletion: SIGTERM, the peer leaves the mesh at once.
        for replica in removed:
            replica.transition = True
            self._stop_peer(replica)
            self.access.unregister_pod_backend(namespace, replica.pod)
            if delete_objects:
                self.access.delete("v1", "Pod", namespace, replica.pod)
        if resource is None:
            if delete_objects:
                self.access.delete("apps/v1", "StatefulSet", namespace, f"alertmanager-{name}")
            return
        statefulset = self.access.get("apps/v1", "StatefulSet", namespace, f"alertmanager-{name}") or {}
        statefulset_uid = (statefulset.get("metadata") or {}).get("uid", "")
        template = json.dumps(self._pod_template(resource, len(indexes), clustered), sort_keys=True)
        peer_names = [replica.peer for replica in wanted]
        for replica in wanted:
            self.peers.reserve(replica.peer)
        # New pods start together (podManagementPolicy Parallel) ...
        new = [replica for replica in wanted if not self._alive(replica)]
        for replica in new:
            self._create_pod(replica, statefulset_uid, template, clustered, peer_names)
        for replica in new:
            self._mark_started(replica)
        # ... and running pods whose template changed roll one at a time, highest ordinal first.
        for replica in sorted(wanted, key=lambda item: -item.index):
            if replica in new or replica.template == template:
                continue
            replica.transition = True
            self._stop_peer(replica)
            replica.restarts += 1
            self._create_pod(replica, statefulset_uid, template, clustered, peer_names)
            self._mark_started(replica)

    def _create_pod(self, replica: _Replica, statefulset_uid: str, template: str,
                    clustered: bool, peer_names: list[str]) -> None:
        replica.transition = True
        replica.clustered = clustered
        replica.template = template
        replica.ready = False
        replica.exit_code = None
        self.access.put(self._pod(replica, statefulset_uid))
        self.access.put_status("v1", "Pod", replica.namespace, replica.pod, self._pod_status(replica))
        self.peers.start_peer(replica.peer, peers=peer_names, clustered=clustered, wait=False)

    def _mark_started(self, replica: _Replica) -> None:
        self._wait_started(replica)
        self.access.register_pod_backend(replica.namespace, replica.pod, self.peers.web_url(replica.peer))
        replica.ready = self._alive(replica)
        if not replica.ready:
            replica.exit_code = 1
        self.access.put_status("v1", "Pod", replica.namespace, replica.pod, self._pod_status(replica))
        replica.transition = False

    def _alive(self, replica: _Replica) -> bool:
        try:
            self.peers.peer(replica.peer)
        except KeyError:
            return False
        return True

    def _stop_peer(self, replica: _Replica) -> None:
        try:
            self.peers.stop_peer(replica.peer, signal.SIGTERM)
        except KeyError:
            pass

    def _wait_started(self, replica: _Replica) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                self.peers.status(replica.peer, timeout=1.0)
                return
            except OSError:
                if not self._alive(replica):
                    LOG.error("Alertmanager peer %s exited during start-up", replica.peer)
                    return
                time.sleep(0.05)
        LOG.error("Alertmanager peer %s did not answer within %.0f s", replica.peer, self.start_timeout)

    def _watch_processes(self) -> None:
        """Readiness: a pod whose peer died is not Ready; one whose peer came back is Ready again."""
        while not self._stop.wait(LIVENESS_INTERVAL):
            with self._lock:
                replicas = [replica for group in self._replicas.values() for replica in group.values()]
            changed: set[tuple[str, str]] = set()
            for replica in replicas:
                if replica.clustered is None or replica.transition:
                    continue  # the operator is starting or stopping it
                alive = self._alive(replica)
                if alive == replica.ready:
                    continue
                if not alive:
                    replica.ready = False
                    replica.exit_code = 137
                else:
                    replica.ready = True
                    replica.exit_code = None
                    replica.restarts += 1
                try:
                    self.access.put_status("v1", "Pod", replica.namespace, replica.pod, self._pod_status(replica))
                except Exception:  # pylint: disable=broad-except
                    LOG.exception("updating the status of pod %s/%s", replica.namespace, replica.pod)
                changed.add((replica.namespace, replica.cr_name))
            for namespace, name in changed:
                try:
                    self._update_status(namespace, name)
                except Exception:  # pylint: disable=broad-except
                    LOG.exception("updating the status of Alertmanager %s/%s", namespace, name)

    def _update_status(self, namespace: str, name: str) -> None:
        with self._lock:
            replicas = list(self._replicas.get((namespace, name), {}).values())
        ready = sum(1 for replica in replicas if replica.ready)
        total = len(replicas)
        now = _now()
        self.access.put_status("apps/v1", "StatefulSet", namespace, f"alertmanager-{name}", {
            "replicas": total, "readyReplicas": ready, "availableReplicas": ready, "currentReplicas": total,
            "updatedReplicas": total, "observedGeneration": self._generation("apps/v1", "StatefulSet", namespace,
                                                                             f"alertmanager-{name}")})
        available = "True" if ready == total and total > 0 else ("Degraded" if ready else "False")
        generation = self._generation(API_VERSION, "Alertmanager", namespace, name)
        self.access.put_status(API_VERSION, "Alertmanager", namespace, name, {
            "paused": False, "replicas": total, "updatedReplicas": total, "availableReplicas": ready,
            "unavailableReplicas": total - ready, "selector": ",".join(
                f"{key}={value}" for key, value in sorted(self.pod_labels(name).items())),
            "conditions": [
                {"type": "Available", "status": available, "lastTransitionTime": now,
                 "observedGeneration": generation, "reason": "" if available == "True" else "NoPodReady",
                 "message": "" if available == "True" else f"{total - ready}/{total} pods are not ready"},
                {"type": "Reconciled", "status": "True", "lastTransitionTime": now, "observedGeneration": generation,
                 "reason": "", "message": ""}]})

    def _generation(self, api_version: str, kind: str, namespace: str, name: str) -> int:
        obj = self.access.get(api_version, kind, namespace, name) or {}
        return int((obj.get("metadata") or {}).get("generation") or 0)


def register_prometheus_operator(k8s_app: Any, peers: AlertmanagerCluster) -> PrometheusOperator:
    """Connect a :class:`PrometheusOperator` to the lab's Kubernetes emulator; the caller stops it."""
    from .emulator_access import EmulatorAccess  # pylint: disable=import-outside-toplevel

    access = EmulatorAccess(k8s_app)
    operator = PrometheusOperator(access, peers)
    access.watch(GROUP, "alertmanagers", operator.on_alertmanager_event)
    return operator


__all__ = ["ClusterAccess", "PrometheusOperator", "register_prometheus_operator"]
