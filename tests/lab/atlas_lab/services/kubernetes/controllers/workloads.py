"""Deployment, StatefulSet and namespace controllers: what kube-controller-manager and the kubelet do.

- :class:`DeploymentController`: a ReplicaSet per pod template (``pod-template-hash``), its pods,
  and the Deployment status kubectl waits on (``observedGeneration``, ``replicas``,
  ``updatedReplicas``, ``readyReplicas``, ``availableReplicas``, conditions ``Available`` and
  ``Progressing``).
- :class:`StatefulSetController`: pods ``<name>-<ordinal>`` with the template's labels, recreated on a
  template change, and the status (``readyReplicas``, ``currentReplicas``, ``updatedReplicas``,
  ``currentRevision``/``updateRevision``...).
- Pods are "Running" and "Ready" after ``ready_delay`` seconds (0 by default). An object annotated
  ``atlas-lab.io/simulate: not-ready`` (on the workload or its pod template) never gets ready pods,
  to test timeouts.
- :class:`NamespaceController`: deletes the content of a terminating namespace, then the namespace.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerContext, ControllerEvent, set_owner
from atlas_lab.services.kubernetes.objects import now

SIMULATE_ANNOTATION = "atlas-lab.io/simulate"
NODE_NAME = "atlas-lab-node"
HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: dict[str, Any], collision: int = 0) -> str:
    digest = hashlib.sha256((json.dumps(template, sort_keys=True) + str(collision)).encode()).digest()
    value = int.from_bytes(digest[:8], "big")
    chars = []
    for _position in range(10):
        value, index = divmod(value, len(HASH_ALPHABET))
        chars.append(HASH_ALPHABET[index])
    return "".join(chars)


def _not_ready(*objects: dict[str, Any]) -> bool:
    for obj in objects:
        if ((obj.get("metadata") or {}).get("annotations") or {}).get(SIMULATE_ANNOTATION) == "not-ready":
            return True
    return False


def _pod_ip(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return f"10.244.{digest[0]}.{max(digest[1], 2)}"


def running_status(pod: dict[str, Any], ready: bool) -> dict[str, Any]:
    """A kubelet-like status: Running with every container started (and ready when ``ready``)."""
    stamp = now()
    flag = "True" if ready else "False"
    containers = (pod.get("spec") or {}).get("containers") or []
    ip = _pod_ip(f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}")
    conditions = [{"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": stamp},
                  {"type": "Initialized", "status": "True", "lastTransitionTime": stamp},
                  {"type": "Ready", "status": flag, "lastTransitionTime": stamp},
                  {"type": "ContainersReady", "status": flag, "lastTransitionTime": stamp},
                  {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp}]
    statuses = [{"name": c["name"], "ready": ready, "started": True, "restartCount": 0,
                 "image": c.get("image", ""), "imageID": f"docker.io/library/{c.get('image', '')}@sha256:lab",
                 "containerID": f"containerd://{hashlib.sha256(c['name'].encode()).hexdigest()}",
                 "state": {"running": {"startedAt": stamp}}} for c in containers]
    return {"phase": "Running", "conditions": conditions, "hostIP": "10.0.0.10", "hostIPs": [{"ip": "10.0.0.10"}],
            "podIP": ip, "podIPs": [{"ip": ip}], "startTime": stamp, "qosClass": "BestEffort",
            "containerStatuses": statuses}


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


class _PodManager:
    """Creates pods from a template and brings them up like a scheduler + kubelet would."""

    def __init__(self, ready_delay: float):
        self.ready_delay = ready_delay

    def create_pod(self, ctx: ControllerContext, owner: dict[str, Any], name: str, template: dict[str, Any],
                   extra_labels: dict[str, str], hold: bool) -> dict[str, Any] | None:
        namespace = owner["metadata"]["namespace"]
        if ctx.get("v1", "Pod", name, namespace) is not None:
            return None
        meta = dict(template.get("metadata") or {})
        labels = dict(meta.get("labels") or {})
        labels.update(extra_labels)
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": namespace, "labels": labels,
                            "annotations": dict(meta.get("annotations") or {})},
               "spec": dict(template.get("spec") or {}, nodeName=NODE_NAME)}
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        set_owner(pod, owner)
        created = ctx.create(pod)
        self.start(ctx, created, hold)
        return created

    def start(self, ctx: ControllerContext, pod: dict[str, Any], hold: bool) -> None:
        ready_now = not hold and self.ready_delay <= 0
        ctx.patch_status(pod, running_status(pod, ready_now))
        if not hold and self.ready_delay > 0:
            name, namespace = pod["metadata"]["name"], pod["metadata"]["namespace"]

            def become_ready() -> None:
                current = ctx.get("v1", "Pod", name, namespace)
                if current is not None and not pod_ready(current):
                    ctx.patch_status(current, running_status(current, True))
            ctx.after(self.ready_delay, become_ready)


def _condition(previous: list[dict[str, Any]], kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
    stamp = now()
    for old in previous:
        if old.get("type") == kind:
            transition = old.get("lastTransitionTime", stamp) if old.get("status") == status else stamp
            if old.get("status") == status and old.get("reason") == reason and old.get("message") == message:
                return old
            return {"type": kind, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": transition,
                    "reason": reason, "message": message}
    return {"type": kind, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


class DeploymentController(Controller):
    """Deployments -> ReplicaSets -> Pods, and the Deployment status."""

    name = "deployment-controller"
    watches = (("apps", "Deployment"), ("apps", "ReplicaSet"), ("", "Pod"))

    def __init__(self, ready_delay: float = 0.0, create_pods: bool = True):
        self.pods = _PodManager(ready_delay)
        self.create_pods = create_pods

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.kind == "Deployment":
            if event.type != "DELETED":
                self.sync(ctx, event.namespace, event.name)
            return
        owner = self._owner(event.object, "ReplicaSet" if event.kind == "Pod" else "Deployment")
        if owner is None:
            return
        if event.kind == "Pod":
            replica_set = ctx.get("apps/v1", "ReplicaSet", owner, event.namespace)
            if replica_set is None:
                return
            owner = self._owner(replica_set, "Deployment")
            if owner is None:
                return
        if event.type == "DELETED" and event.kind == "ReplicaSet":
            return
        self.sync(ctx, event.namespace, owner)

    @staticmethod
    def _adopt_orphans(ctx: ControllerContext, owner: dict[str, Any],
                       candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Objects without a controller whose labels match ``owner``'s selector become its own, as
        kube-controller-manager adopts them (a restore, e.g. Velero's, strips owner references)."""
        match = ((owner.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        adopted = []
        for obj in candidates:
            meta = obj.get("metadata") or {}
            if not match or meta.get("deletionTimestamp") or any(
                    r.get("controller") for r in meta.get("ownerReferences") or []):
                continue
            labels = meta.get("labels") or {}
            if all(labels.get(key) == value for key, value in match.items()):
                set_owner(obj, owner)
                adopted.append(ctx.update(obj))
        return adopted

    @staticmethod
    def _owner(obj: dict[str, Any], kind: str) -> str | None:
        for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
            if reference.get("kind") == kind and reference.get("controller"):
                return reference.get("name")
        return None

    def sync(self, ctx: ControllerContext, namespace: str, name: str) -> None:
        deployment = ctx.get("apps/v1", "Deployment", name, namespace)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        spec = deployment.get("spec") or {}
        template = spec.get("template") or {}
        desired = int(spec.get("replicas", 1))
        pod_hash = template_hash(template)
        rs_name = f"{name}-{pod_hash}"
        self._adopt_orphans(ctx, deployment, ctx.list("apps/v1", "ReplicaSet", namespace))
        owned = [rs for rs in ctx.list("apps/v1", "ReplicaSet", namespace)
                 if self._owner(rs, "Deployment") == name]
        revision = max([int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", 0))
                        for rs in owned] or [0])
        current = next((rs for rs in owned if rs["metadata"]["name"] == rs_name), None)
        if current is None:
            revision += 1
            labels = dict((template.get("metadata") or {}).get("labels") or {}, **{"pod-template-hash": pod_hash})
            rs_template = dict(template, metadata=dict(template.get("metadata") or {}, labels=labels))
            selector = dict(spec.get("selector") or {})
            selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{"pod-template-hash": pod_hash})
            current = ctx.create({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": namespace, "labels": labels,
                             "annotations": {"deployment.kubernetes.io/desired-replicas": str(desired),
                                             "deployment.kubernetes.io/max-replicas": str(desired + 1),
                                             "deployment.kubernetes.io/revision": str(revision)}},
                "spec": {"replicas": desired, "selector": selector, "template": rs_template},
            }, owner=deployment)
            if desired:
                ctx.record_event(deployment, "ScalingReplicaSet",
                                 f"Scaled up replica set {rs_name} from 0 to {desired}")
        elif int((current.get("spec") or {}).get("replicas", 0)) != desired:
            before = int((current.get("spec") or {}).get("replicas", 0))
            current["spec"]["replicas"] = desired
            current = ctx.update(current)
            direction = "up" if desired > before else "down"
            ctx.record_event(deployment, "ScalingReplicaSet",
                             f"Scaled {direction} replica set {rs_name} from {before} to {desired}")
        for old in owned:
            replicas = int((old.get("spec") or {}).get("replicas", 0))
            if old["metadata"]["name"] != rs_name and replicas != 0:
                old["spec"]["replicas"] = 0
                ctx.update(old)
                ctx.record_event(deployment, "ScalingReplicaSet",
                                 f"Scaled down replica set {old['metadata']['name']} from {replicas} to 0")
        for replica_set in ctx.list("apps/v1", "ReplicaSet", namespace):
            if self._owner(replica_set, "Deployment") == name:
                self.sync_replica_set(ctx, replica_set, _not_ready(deployment, template))
        self.update_status(ctx, namespace, name, rs_name)

    def sync_replica_set(self, ctx: ControllerContext, replica_set: dict[str, Any], hold: bool) -> None:
        namespace, rs_name = replica_set["metadata"]["namespace"], replica_set["metadata"]["name"]
        desired = int((replica_set.get("spec") or {}).get("replicas", 0))
        for adopted in self._adopt_orphans(ctx, replica_set, ctx.list("v1", "Pod", namespace)):
            if (adopted.get("status") or {}).get("phase") != "Running":
                self.pods.start(ctx, adopted, hold)  # a restored Pod: the kubelet runs it
        pods = [p for p in ctx.list("v1", "Pod", namespace) if self._owner(p, "ReplicaSet") == rs_name]
        if self.create_pods:
            template = (replica_set.get("spec") or {}).get("template") or {}
            for _missing in range(desired - len(pods)):
                suffix = "".join(random.choice(HASH_ALPHABET) for _char in range(5))
                created = self.pods.create_pod(ctx, replica_set, f"{rs_name}-{suffix}", template, {}, hold)
                if created is not None:
                    pods.append(created)
            for extra in sorted(pods, key=lambda p: p["metadata"]["name"])[desired:] if len(pods) > desired else []:
                ctx.delete("v1", "Pod", extra["metadata"]["name"], namespace)
            pods = [p for p in ctx.list("v1", "Pod", namespace) if self._owner(p, "ReplicaSet") == rs_name]
            ready = sum(1 for p in pods if pod_ready(p))
            count = len(pods)
        else:
            count = desired
            ready = 0 if hold else desired
        status = {"replicas": count, "fullyLabeledReplicas": count, "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": replica_set["metadata"].get("generation", 1)}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if (replica_set.get("status") or {}) != status:
            replica_set["status"] = status
            ctx.update_status(replica_set)

    def update_status(self, ctx: ControllerContext, namespace: str, name: str, rs_name: str) -> None:
        deployment = ctx.get("apps/v1", "Deployment", name, namespace)
        if deployment is None:
            return
        desired = int((deployment.get("spec") or {}).get("replicas", 1))
        replica_sets = [rs for rs in ctx.list("apps/v1", "ReplicaSet", namespace)
                        if self._owner(rs, "Deployment") == name]
        total = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in replica_sets)
        available = sum(int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in replica_sets)
        ready = sum(int((rs.get("status") or {}).get("readyReplicas", 0)) for rs in replica_sets)
        updated = next((int((rs.get("status") or {}).get("replicas", 0)) for rs in replica_sets
                        if rs["metadata"]["name"] == rs_name), 0)
        previous = (deployment.get("status") or {}).get("conditions") or []
        max_unavailable = _max_unavailable(deployment, desired)
        if available >= desired - max_unavailable:
            available_condition = _condition(previous, "Available", "True", "MinimumReplicasAvailable",
                                             "Deployment has minimum availability.")
        else:
            available_condition = _condition(previous, "Available", "False", "MinimumReplicasUnavailable",
                                             "Deployment does not have minimum availability.")
        if updated >= desired and available >= desired:
            progressing = _condition(previous, "Progressing", "True", "NewReplicaSetAvailable",
                                     f'ReplicaSet "{rs_name}" has successfully progressed.')
        else:
            progressing = _condition(previous, "Progressing", "True", "ReplicaSetUpdated",
                                     f'ReplicaSet "{rs_name}" is progressing.')
        status: dict[str, Any] = {"observedGeneration": deployment["metadata"].get("generation", 1),
                                  "replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
                                  "availableReplicas": available, "unavailableReplicas": max(total - available, 0),
                                  "conditions": [available_condition, progressing]}
        status = {k: v for k, v in status.items() if v or k in ("observedGeneration", "conditions")}
        if (deployment.get("status") or {}) != status:
            deployment["status"] = status
            ctx.update_status(deployment)


def _max_unavailable(deployment: dict[str, Any], desired: int) -> int:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return int(desired * int(value[:-1]) / 100)
    return int(value)


class StatefulSetController(Controller):
    """StatefulSets -> Pods ``<name>-<i>``, and the StatefulSet status."""

    name = "statefulset-controller"
    watches = (("apps", "StatefulSet"), ("", "Pod"))

    def __init__(self, ready_delay: float = 0.0, create_pods: bool = True):
        self.pods = _PodManager(ready_delay)
        self.create_pods = create_pods

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.kind == "StatefulSet":
            if event.type != "DELETED":
                self.sync(ctx, event.namespace, event.name)
            return
        owner = DeploymentController._owner(event.object, "StatefulSet")  # pylint: disable=protected-access
        if owner is not None:
            self.sync(ctx, event.namespace, owner)

    def sync(self, ctx: ControllerContext, namespace: str, name: str) -> None:
        sts = ctx.get("apps/v1", "StatefulSet", name, namespace)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts.get("spec") or {}
        template = spec.get("template") or {}
        desired = int(spec.get("replicas", 1))
        revision = f"{name}-{template_hash(template)}"
        hold = _not_ready(sts, template)
        start = int((spec.get("ordinals") or {}).get("start", 0))
        wanted = {f"{name}-{start + i}" for i in range(desired)}
        # Orphans the selector matches are adopted, as kube-controller-manager's StatefulSet controller
        # does (a Velero restore brings the Pods back without their owner), and the kubelet runs them.
        for adopted in DeploymentController._adopt_orphans(  # pylint: disable=protected-access
                ctx, sts, [p for p in ctx.list("v1", "Pod", namespace) if p["metadata"]["name"] in wanted]):
            if (adopted.get("status") or {}).get("phase") != "Running":
                self.pods.start(ctx, adopted, hold)
        pods = {p["metadata"]["name"]: p for p in ctx.list("v1", "Pod", namespace)
                if DeploymentController._owner(p, "StatefulSet") == name}  # pylint: disable=protected-access
        if self.create_pods:
            for pod_name, pod in sorted(pods.items(), reverse=True):
                outdated = (pod["metadata"].get("labels") or {}).get("controller-revision-hash") != revision
                if pod_name not in wanted or outdated:
                    ctx.delete("v1", "Pod", pod_name, namespace)
                    pods.pop(pod_name)
            for index in range(desired):
                pod_name = f"{name}-{start + index}"
                if pod_name in pods:
                    continue
                labels = {"controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pod_name,
                          "apps.kubernetes.io/pod-index": str(start + index)}
                created = self.pods.create_pod(ctx, sts, pod_name, template, labels, hold)
                if created is not None:
                    pods[pod_name] = ctx.get("v1", "Pod", pod_name, namespace) or created
            pods = {p["metadata"]["name"]: p for p in ctx.list("v1", "Pod", namespace)
                    if DeploymentController._owner(p, "StatefulSet") == name}  # pylint: disable=protected-access
            count = len(pods)
            ready = sum(1 for p in pods.values() if pod_ready(p))
            updated = sum(1 for p in pods.values()
                          if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == revision)
        else:
            count = desired
            ready = 0 if hold else desired
            updated = desired
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": count,
                  "readyReplicas": ready, "currentReplicas": updated, "updatedReplicas": updated,
                  "availableReplicas": ready, "currentRevision": revision, "updateRevision": revision,
                  "collisionCount": 0}
        kept = ("observedGeneration", "replicas", "collisionCount", "availableReplicas")
        status = {k: v for k, v in status.items() if v or k in kept}
        if (sts.get("status") or {}) != status:
            sts["status"] = status
            ctx.update_status(sts)


class NamespaceController(Controller):
    """Finalizes terminating namespaces: their content goes, then the namespace."""

    name = "namespace-controller"
    watches = (("", "Namespace"),)

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.type == "DELETED":
            return
        if (event.object.get("metadata") or {}).get("deletionTimestamp"):
            ctx.service.finalize_namespace(event.name)
