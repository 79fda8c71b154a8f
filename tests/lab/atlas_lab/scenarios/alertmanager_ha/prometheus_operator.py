"""A simulated prometheus-operator for the lab's Kubernetes emulator (Alertmanager resources), and the
kubelet that runs the Alertmanager pods as real ``prometheus-alertmanager`` processes.

The work is split as in a real cluster:

- :class:`PrometheusOperatorController` does what prometheus-operator does with an ``Alertmanager``
  (monitoring.coreos.com/v1; pkg/alertmanager/statefulset.go is the model): the governing headless
  Service ``alertmanager-operated`` (web 9093, tcp-mesh/udp-mesh 9094), and the StatefulSet
  ``alertmanager-<name>`` owned by the resource, whose pod template has the operator's labels,
  ``spec.affinity`` and the container arguments the operator renders: one
  ``--cluster.peer=alertmanager-<name>-<i>.alertmanager-operated:9094`` per replica,
  ``--cluster.listen-address=`` (clustering off) with one replica unless ``forceEnableClusterMode``,
  ``--cluster.label`` only for Alertmanager >= 0.26. It keeps the resource's ``status`` in step with
  the StatefulSet's.
- The emulator's own StatefulSet controller creates, deletes and replaces the pods
  ``alertmanager-<name>-<i>`` from that template, as kube-controller-manager does.
- :class:`AlertmanagerKubelet` plays the kubelet for those pods: it runs each one as a real
  Alertmanager peer started through the lab's :class:`~atlas_lab.services.alertmanager.AlertmanagerCluster`,
  from the pod's own container arguments, on the pod's own loopback address (``status.podIP``, a
  random 127.x.y.z), listening on 9093 and 9094 like a pod. The cluster "DNS" name of a peer,
  ``alertmanager-<name>-<i>.alertmanager-operated``, resolves to that pod's address. A pod is Ready
  once its peer answers, and not Ready while its process is dead (SIGKILL through the lab control
  API, a crash); nothing restarts it behind the test's back. The pod proxy reaches ``<podIP>:9093``.

So scaling 1 -> 3 (the arguments change) makes the StatefulSet replace pod 0 and add pods 1 and 2,
which start as one gossip cluster; 3 -> 1 deletes pods 1 and 2 (SIGTERM: they leave the mesh at
once) and replaces pod 0 with clustering off, whose status API then reports ``disabled``.

Limits: no scheduler (anti-affinity is stored, not enforced); the emulator's StatefulSet controller
replaces outdated pods all at once rather than one by one.
"""

from __future__ import annotations

import logging
import random
import re
import signal
import subprocess
import threading
import time
from typing import Any

from atlas_lab.core.ports import port_is_free
from atlas_lab.services.alertmanager import AlertmanagerCluster
from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerContext, ControllerEvent
from atlas_lab.services.kubernetes.objects import now

LOG = logging.getLogger("atlas_lab.scenarios.alertmanager_ha.prometheus_operator")

GROUP = "monitoring.coreos.com"
API_VERSION = f"{GROUP}/v1"
GOVERNING_SERVICE = "alertmanager-operated"
WEB_PORT = 9093
MESH_PORT = 9094
LIVENESS_INTERVAL = 0.25
START_TIMEOUT = 30.0


def binary_version(binary: str) -> tuple[int, int, int]:
    """The version of an Alertmanager binary (``alertmanager, version 0.25.0 (...)``)."""
    try:
        output = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return (0, 0, 0)
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", output.stdout + output.stderr)
    if not match:
        return (0, 0, 0)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def pod_labels(name: str) -> dict[str, str]:
    """The labels prometheus-operator gives the pods (and the StatefulSet selector) of Alertmanager ``name``."""
    return {"app.kubernetes.io/name": "alertmanager", "app.kubernetes.io/managed-by": "prometheus-operator",
            "app.kubernetes.io/instance": name, "alertmanager": name}


def _controller_owner(obj: dict[str, Any], kind: str) -> str | None:
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("kind") == kind and reference.get("controller"):
            return reference.get("name")
    return None


def _condition(previous: list[dict[str, Any]], kind: str, status: str, reason: str, message: str,
               generation: int) -> dict[str, Any]:
    """A status condition that keeps its lastTransitionTime while its status does not change."""
    for old in previous:
        if old.get("type") == kind and old.get("status") == status:
            stamp = old.get("lastTransitionTime") or now()
            break
    else:
        stamp = now()
    return {"type": kind, "status": status, "lastTransitionTime": stamp, "observedGeneration": generation,
            "reason": reason, "message": message}


class PrometheusOperatorController(Controller):
    """Alertmanager resources -> governing Service + StatefulSet; StatefulSet status -> resource status."""

    name = "prometheus-operator"
    watches = ((GROUP, "Alertmanager"), ("apps", "StatefulSet"))

    def __init__(self, alertmanager_version: tuple[int, int, int]):
        self.alertmanager_version = alertmanager_version

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.kind == "StatefulSet":
            name = _controller_owner(event.object, "Alertmanager")
            if name is not None and event.type != "DELETED":
                resource = ctx.get(API_VERSION, "Alertmanager", name, event.namespace)
                if resource is not None:
                    self.update_status(ctx, resource)
            return
        if event.type == "DELETED":
            self.delete(ctx, event.namespace, event.name)
            return
        resource = ctx.get(API_VERSION, "Alertmanager", event.name, event.namespace)
        if resource is None or (resource.get("spec") or {}).get("paused"):
            return
        self.ensure_service(ctx, resource)
        self.ensure_statefulset(ctx, resource)
        self.update_status(ctx, resource)

    # What the operator renders ----------------------------------------------------------------
    def container_args(self, resource: dict[str, Any]) -> list[str]:
        metadata = resource["metadata"]
        spec = resource.get("spec") or {}
        name, namespace = metadata["name"], metadata["namespace"]
        replicas = self.replicas(resource)
        clustered = replicas > 1 or bool(spec.get("forceEnableClusterMode"))
        args = ["--config.file=/etc/alertmanager/config_out/alertmanager.env.yaml",
                "--storage.path=/alertmanager", f"--data.retention={spec.get('retention') or '120h'}",
                f"--cluster.listen-address=[$(POD_IP)]:{MESH_PORT}" if clustered else "--cluster.listen-address=",
                f"--web.listen-address=:{WEB_PORT}", f"--web.route-prefix={spec.get('routePrefix') or '/'}"]
        if self.alertmanager_version >= (0, 26, 0):
            args.append(f"--cluster.label={spec.get('clusterLabel') or f'{namespace}/{name}'}")
        args += [f"--cluster.peer=alertmanager-{name}-{index}.{GOVERNING_SERVICE}:{MESH_PORT}"
                 for index in range(replicas)]
        args += [f"--cluster.peer={peer}" for peer in spec.get("additionalPeers") or []]
        if spec.get("clusterPeerTimeout"):
            args.append(f"--cluster.peer-timeout={spec['clusterPeerTimeout']}")
        args.append("--cluster.reconnect-timeout=5m")
        return args

    @staticmethod
    def replicas(resource: dict[str, Any]) -> int:
        replicas = (resource.get("spec") or {}).get("replicas")
        return 1 if replicas is None else max(0, int(replicas))  # the operator's default is 1

    def pod_template(self, resource: dict[str, Any]) -> dict[str, Any]:
        spec = resource.get("spec") or {}
        name = resource["metadata"]["name"]
        port_name = spec.get("portName") or "web"
        labels = dict((spec.get("podMetadata") or {}).get("labels") or {})
        labels.update(pod_labels(name))
        version = "v{}.{}.{}".format(*self.alertmanager_version)
        pod_spec: dict[str, Any] = {
            "containers": [{
                "name": "alertmanager",
                "image": spec.get("image") or f"quay.io/prometheus/alertmanager:{version}",
                "args": self.container_args(resource),
                "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "status.podIP"}}}],
                "ports": [{"name": port_name, "containerPort": WEB_PORT, "protocol": "TCP"},
                          {"name": "mesh-tcp", "containerPort": MESH_PORT, "protocol": "TCP"},
                          {"name": "mesh-udp", "containerPort": MESH_PORT, "protocol": "UDP"}],
                "readinessProbe": {"httpGet": {"path": "/-/ready", "port": port_name},
                                   "initialDelaySeconds": 3, "periodSeconds": 5, "timeoutSeconds": 3,
                                   "failureThreshold": 10},
                "resources": spec.get("resources") or {"requests": {"memory": "200Mi"}},
            }],
            "terminationGracePeriodSeconds": 120,
        }
        if spec.get("serviceAccountName"):
            pod_spec["serviceAccountName"] = spec["serviceAccountName"]
        for field in ("affinity", "tolerations", "nodeSelector", "topologySpreadConstraints",
                      "priorityClassName", "securityContext"):
            if spec.get(field):
                pod_spec[field] = spec[field]
        return {"metadata": {"labels": labels}, "spec": pod_spec}

    # Writes (only when something differs, so that its own writes do not loop) -----------------
    def ensure_service(self, ctx: ControllerContext, resource: dict[str, Any]) -> None:
        namespace = resource["metadata"]["namespace"]
        port_name = (resource.get("spec") or {}).get("portName") or "web"
        ports = [{"name": port_name, "port": WEB_PORT, "targetPort": port_name, "protocol": "TCP"},
                 {"name": "tcp-mesh", "port": MESH_PORT, "targetPort": MESH_PORT, "protocol": "TCP"},
                 {"name": "udp-mesh", "port": MESH_PORT, "targetPort": MESH_PORT, "protocol": "UDP"}]
        existing = ctx.get("v1", "Service", GOVERNING_SERVICE, namespace)
        if existing is not None and all(port in (existing.get("spec") or {}).get("ports", []) for port in ports):
            return
        ctx.apply({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": GOVERNING_SERVICE, "namespace": namespace,
                                "labels": {"operated-alertmanager": "true",
                                           "app.kubernetes.io/managed-by": "prometheus-operator"}},
                   "spec": {"clusterIP": "None", "ports": ports,
                            "selector": {"app.kubernetes.io/name": "alertmanager"}}},
                  owner=resource)

    def ensure_statefulset(self, ctx: ControllerContext, resource: dict[str, Any]) -> None:
        metadata = resource["metadata"]
        name = f"alertmanager-{metadata['name']}"
        spec = {"replicas": self.replicas(resource), "serviceName": GOVERNING_SERVICE,
                "podManagementPolicy": "Parallel", "updateStrategy": {"type": "RollingUpdate"},
                "selector": {"matchLabels": pod_labels(metadata["name"])},
                "template": self.pod_template(resource)}
        existing = ctx.get("apps/v1", "StatefulSet", name, metadata["namespace"])
        if existing is not None:
            current = existing.get("spec") or {}
            if current.get("replicas") == spec["replicas"] and _contains(current.get("template"), spec["template"]):
                return
        ctx.apply({"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": {"name": name, "namespace": metadata["namespace"],
                                "labels": {"app.kubernetes.io/managed-by": "prometheus-operator",
                                           "alertmanager": metadata["name"]}},
                   "spec": spec}, owner=resource)

    def update_status(self, ctx: ControllerContext, resource: dict[str, Any]) -> None:
        metadata = resource["metadata"]
        statefulset = ctx.get("apps/v1", "StatefulSet", f"alertmanager-{metadata['name']}", metadata["namespace"])
        sts_status = (statefulset or {}).get("status") or {}
        desired = self.replicas(resource)
        ready = int(sts_status.get("readyReplicas") or 0)
        generation = int(metadata.get("generation") or 0)
        previous = (resource.get("status") or {}).get("conditions") or []
        if ready >= desired:
            available = _condition(previous, "Available", "True", "", "", generation)
        else:
            available = _condition(previous, "Available", "Degraded" if ready else "False", "NoPodReady",
                                   f"{desired - ready}/{desired} pods are not ready", generation)
        status = {"paused": False, "replicas": int(sts_status.get("replicas") or 0),
                  "updatedReplicas": int(sts_status.get("updatedReplicas") or 0), "availableReplicas": ready,
                  "unavailableReplicas": max(0, desired - ready),
                  "selector": ",".join(f"{key}={value}" for key, value in sorted(pod_labels(metadata["name"]).items())),
                  "conditions": [available, _condition(previous, "Reconciled", "True", "", "", generation)]}
        if resource.get("status") != status:
            ctx.patch_status(resource, status)

    def delete(self, ctx: ControllerContext, namespace: str, name: str) -> None:
        """What garbage collection does for the resource's dependents (the emulator has none)."""
        statefulset = f"alertmanager-{name}"
        for pod in ctx.list("v1", "Pod", namespace):
            if _controller_owner(pod, "StatefulSet") == statefulset:
                ctx.delete("v1", "Pod", pod["metadata"]["name"], namespace)
        ctx.delete("apps/v1", "StatefulSet", statefulset, namespace)
        if not ctx.list(API_VERSION, "Alertmanager", namespace):
            ctx.delete("v1", "Service", GOVERNING_SERVICE, namespace)


def _contains(actual: Any, wanted: Any) -> bool:
    """``wanted`` is a subset of ``actual`` (the API server adds defaults to what the operator wrote)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_contains(actual.get(key), value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(actual) == len(wanted) and all(
            _contains(a, w) for a, w in zip(actual, wanted))
    return actual == wanted


class _RunningPod:
    """A pod this kubelet runs: its peer and what its status says."""

    def __init__(self, namespace: str, name: str, uid: str, peer: str, address: str):
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.peer = peer
        self.address = address
        self.ready = False
        self.exit_code: int | None = None
        self.restarts = 0
        self.started_at = time.monotonic()


class AlertmanagerKubelet(Controller):
    """Runs the pods of prometheus-operator's Alertmanager StatefulSets as real Alertmanager peers."""

    name = "alertmanager-kubelet"
    watches = (("", "Pod"),)

    def __init__(self, peers: AlertmanagerCluster):
        self.peers = peers
        self._pods: dict[tuple[str, str], _RunningPod] = {}
        self._addresses: dict[str, str] = {}  # peer name -> its loopback address
        self._lock = threading.RLock()
        self._context: ControllerContext | None = None
        self._stop = threading.Event()
        self._liveness = threading.Thread(target=self._watch_processes, name="lab-alertmanager-kubelet", daemon=True)

    def start(self, ctx: ControllerContext) -> None:
        self._context = ctx
        if not self._liveness.is_alive():
            self._liveness.start()

    @staticmethod
    def is_alertmanager_pod(pod: dict[str, Any]) -> bool:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        owner = _controller_owner(pod, "StatefulSet") or ""
        return (labels.get("app.kubernetes.io/managed-by") == "prometheus-operator"
                and labels.get("app.kubernetes.io/name") == "alertmanager" and owner.startswith("alertmanager-"))

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if not self.is_alertmanager_pod(event.object):
            return
        key = (event.namespace, event.name)
        current = None if event.type == "DELETED" else ctx.get("v1", "Pod", event.name, event.namespace)
        with self._lock:
            running = self._pods.get(key)
        gone = current is None or bool(current["metadata"].get("deletionTimestamp"))
        if running is not None and (gone or running.uid != current["metadata"].get("uid")):
            self._stop_pod(ctx, running)  # deleted, or replaced by a new pod of the same name
            running = None
        if gone:
            return
        if running is None:
            self._start_pod(ctx, current)
        elif (current.get("status") or {}).get("podIP") != running.address:
            # Another writer (the StatefulSet controller's simulated start-up) set a status: ours wins.
            self._patch_status(ctx, current, running)

    # Pods -------------------------------------------------------------------------------------
    def peer_name(self, namespace: str, pod: str) -> str:
        """The lab peer of a pod: unique across namespaces; the lab control API kills it by this name."""
        return f"{pod}.{namespace}"

    def address_of(self, peer: str) -> str:
        """The pod's loopback address, picked once per peer: free on 9093 (TCP) and 9094 (TCP and UDP)."""
        with self._lock:
            if peer in self._addresses:
                return self._addresses[peer]
            taken = set(self._addresses.values())
            for _attempt in range(200):
                address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
                if address not in taken and port_is_free(WEB_PORT, address) and port_is_free(MESH_PORT, address) \
                        and port_is_free(MESH_PORT, address, udp=True):
                    self._addresses[peer] = address
                    self.peers.reserve(peer, WEB_PORT, MESH_PORT, host=address)
                    return address
        raise RuntimeError("no free loopback address for an Alertmanager pod after 200 tries")

    def _start_pod(self, ctx: ControllerContext, pod: dict[str, Any]) -> None:
        metadata = pod["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        container = next((c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == "alertmanager"),
                         {})
        args = container.get("args") or []
        clustered = not any(arg == "--cluster.listen-address=" for arg in args)
        # Cluster DNS: alertmanager-<name>-<i>.alertmanager-operated[.<ns>.svc]:9094 -> that pod's peer.
        peer_pods = [match.group(1) for match in (re.match(r"--cluster\.peer=([^.:]+)\." + GOVERNING_SERVICE, arg)
                                                  for arg in args) if match]
        peer = self.peer_name(namespace, name)
        address = self.address_of(peer)
        peer_names = [self.peer_name(namespace, other) for other in peer_pods]
        for other in peer_names:
            self.address_of(other)
        running = _RunningPod(namespace, name, metadata.get("uid", ""), peer, address)
        with self._lock:
            self._pods[(namespace, name)] = running
        self._patch_status(ctx, pod, running)
        ctx.proxy_targets.set_pod(namespace, name, None, f"{address}:{WEB_PORT}")
        try:
            self.peers.start_peer(peer, peers=peer_names, clustered=clustered, wait=False)
        except Exception as exc:  # pylint: disable=broad-except
            LOG.error("cannot start Alertmanager pod %s/%s: %s", namespace, name, exc)
            running.exit_code = 1
            self._patch_status(ctx, pod, running)
            return
        ctx.after(0.05, lambda: self._await_ready(ctx, running))

    def _await_ready(self, ctx: ControllerContext, running: _RunningPod) -> None:
        """The readiness probe: Ready once the peer answers its API; poll briefly, never block the worker."""
        with self._lock:
            if self._pods.get((running.namespace, running.name)) is not running:
                return
        if not self._alive(running.peer):
            running.exit_code = 1
        else:
            try:
                self.peers.status(running.peer, timeout=0.5)
            except OSError:
                if time.monotonic() - running.started_at < START_TIMEOUT:
                    ctx.after(0.05, lambda: self._await_ready(ctx, running))
                    return
                LOG.error("Alertmanager pod %s/%s did not answer in %.0f s", running.namespace, running.name,
                          START_TIMEOUT)
                return
            running.ready = True
        pod = ctx.get("v1", "Pod", running.name, running.namespace)
        if pod is not None:
            self._patch_status(ctx, pod, running)

    def _stop_pod(self, ctx: ControllerContext, running: _RunningPod) -> None:
        with self._lock:
            self._pods.pop((running.namespace, running.name), None)
        ctx.proxy_targets.remove_pod(running.namespace, running.name)
        try:
            # A pod deletion: SIGTERM, the peer leaves the mesh at once.
            self.peers.stop_peer(running.peer, signal.SIGTERM)
        except KeyError:
            pass

    def _alive(self, peer: str) -> bool:
        try:
            self.peers.peer(peer)
        except KeyError:
            return False
        return True

    @staticmethod
    def _patch_status(ctx: ControllerContext, pod: dict[str, Any], running: _RunningPod) -> None:
        stamp = now()
        ready = "True" if running.ready else "False"
        if running.ready:
            state: dict[str, Any] = {"running": {"startedAt": stamp}}
        elif running.exit_code is not None:
            state = {"terminated": {"exitCode": running.exit_code, "reason": "Error", "finishedAt": stamp}}
        else:
            state = {"waiting": {"reason": "ContainerCreating"}}
        previous = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}

        def condition(kind: str, status: str) -> dict[str, Any]:
            old = previous.get(kind) or {}
            return {"type": kind, "status": status,
                    "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == status else stamp}

        status = {"phase": "Running" if running.ready or running.exit_code is not None else "Pending",
                  "podIP": running.address, "podIPs": [{"ip": running.address}], "hostIP": "127.0.0.1",
                  "conditions": [condition("PodScheduled", "True"), condition("Initialized", "True"),
                                 condition("ContainersReady", ready), condition("Ready", ready)],
                  "containerStatuses": [{"name": "alertmanager", "ready": running.ready,
                                         "restartCount": running.restarts, "state": state,
                                         "image": "prometheus-alertmanager", "imageID": "",
                                         "started": running.ready}]}
        ctx.patch_status(pod, status)

    def _watch_processes(self) -> None:
        """Liveness: a pod whose peer died is not Ready; one whose peer came back (restart) is Ready again."""
        while not self._stop.wait(LIVENESS_INTERVAL):
            ctx = self._context
            with self._lock:
                pods = [pod for pod in self._pods.values() if pod.ready or pod.exit_code is not None]
            for running in pods:
                alive = self._alive(running.peer)
                if alive == running.ready:
                    continue
                if not alive:
                    running.ready = False
                    running.exit_code = 137
                else:
                    try:
                        self.peers.status(running.peer, timeout=0.5)
                    except OSError:
                        continue  # restarted but not answering yet
                    running.ready = True
                    running.exit_code = None
                    running.restarts += 1
                pod = ctx.get("v1", "Pod", running.name, running.namespace) if ctx else None
                if pod is None:
                    continue
                try:
                    self._patch_status(ctx, pod, running)
                except Exception:  # pylint: disable=broad-except
                    LOG.exception("updating the status of pod %s/%s", running.namespace, running.name)

    def reset(self) -> None:
        """The emulator was reset: its pods are gone, so are their peers."""
        with self._lock:
            pods = list(self._pods.values())
            self._pods.clear()
        for running in pods:
            try:
                self.peers.stop_peer(running.peer, signal.SIGTERM)
            except KeyError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self.reset()


class PrometheusOperatorSimulation:
    """Both controllers, registered on one emulator; ``stop()`` stops their peers."""

    def __init__(self, k8s_app: Any, peers: AlertmanagerCluster):
        self.app = k8s_app
        self.operator = PrometheusOperatorController(binary_version(peers.binary))
        self.kubelet = AlertmanagerKubelet(peers)
        k8s_app.add_controller(self.operator)
        k8s_app.add_controller(self.kubelet)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until every event is handled and every started pod is Ready (or failed): the readiness
        checks are scheduled work, hence ``include_delayed``, but only these two controllers' (others
        schedule periodic work that never ends)."""
        return bool(self.app.controllers.wait_idle(timeout=timeout, include_delayed=True,
                                                   controllers=(self.operator, self.kubelet)))

    def reset(self) -> None:
        self.kubelet.reset()

    def stop(self) -> None:
        self.kubelet.stop()


def register_prometheus_operator(k8s_app: Any, peers: AlertmanagerCluster) -> PrometheusOperatorSimulation:
    """Add the simulated prometheus-operator and its kubelet to the lab's Kubernetes emulator."""
    return PrometheusOperatorSimulation(k8s_app, peers)
