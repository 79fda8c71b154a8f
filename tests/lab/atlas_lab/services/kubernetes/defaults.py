"""Defaulting: the values the real API server fills in (``SetDefaults_*`` and CRD ``default``).

Defaults matter for idempotence checks: a client that compares what it applied with what it reads
back must cope with them, exactly as against a real cluster.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

from atlas_lab.services.kubernetes.schemas import Schema

POD_TEMPLATE_PATHS = {
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
}


def _image_pull_policy(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return "IfNotPresent"
    tag = name.split(":", 1)[1] if ":" in name else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _probe(probe: dict[str, Any]) -> None:
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")


def default_container(container: dict[str, Any]) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    if container.get("image"):
        container.setdefault("imagePullPolicy", _image_pull_policy(container["image"]))
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in container.get("env") or []:
        field_ref = ((env or {}).get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(name), dict):
            _probe(container[name])


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for kind in ("initContainers", "containers"):
        for container in spec.get(kind) or []:
            if isinstance(container, dict):
                default_container(container)
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for source in ("secret", "configMap"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if isinstance(volume.get("projected"), dict):
            volume["projected"].setdefault("defaultMode", 420)


def _template(obj: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = obj
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node if isinstance(node, dict) else None


def _rolling(spec: dict[str, Any], key: str, kind: str, extra: dict[str, Any]) -> None:
    strategy = spec.setdefault(key, {})
    if not isinstance(strategy, dict):
        return
    strategy.setdefault("type", kind)
    if strategy["type"] == kind and kind == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        for name, value in extra.items():
            rolling.setdefault(name, value)


def _job_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("parallelism", 1)
    if "completions" not in spec and spec.get("completionMode", "NonIndexed") == "NonIndexed":
        spec["completions"] = 1
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


def apply_builtin_defaults(obj: dict[str, Any], group: str, kind: str) -> None:
    """Fill the defaults of a built-in object in place."""
    spec = obj.get("spec")
    if (group, kind) in POD_TEMPLATE_PATHS:
        template = _template(obj, POD_TEMPLATE_PATHS[(group, kind)])
        if template is not None and isinstance(template.get("spec"), dict):
            default_pod_spec(template["spec"])
    if (group, kind) == ("", "Namespace"):
        namespace_spec = obj.setdefault("spec", {})
        if isinstance(namespace_spec, dict):
            namespace_spec.setdefault("finalizers", ["kubernetes"])
        meta = obj.setdefault("metadata", {})
        if meta.get("name"):
            # The NamespaceDefaultLabelName feature: always set, whatever the client sent.
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        return
    if not isinstance(spec, dict):
        spec = None
    if (group, kind) == ("", "Pod") and spec is not None:
        default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("priority", 0)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif (group, kind) == ("apps", "Deployment") and spec is not None:
        spec.setdefault("replicas", 1)
        _rolling(spec, "strategy", "RollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif (group, kind) == ("apps", "StatefulSet") and spec is not None:
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        _rolling(spec, "updateStrategy", "RollingUpdate", {"partition": 0})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif (group, kind) == ("apps", "ReplicaSet") and spec is not None:
        spec.setdefault("replicas", 1)
    elif (group, kind) == ("apps", "DaemonSet") and spec is not None:
        _rolling(spec, "updateStrategy", "RollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
        spec.setdefault("revisionHistoryLimit", 10)
    elif (group, kind) == ("batch", "Job") and spec is not None:
        _job_spec(spec)
    elif (group, kind) == ("batch", "CronJob") and spec is not None:
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = (spec.get("jobTemplate") or {}).get("spec")
        if isinstance(job_spec, dict):
            _job_spec(job_spec)
    elif (group, kind) == ("", "Service") and spec is not None:
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
            if not spec.get("clusterIP"):
                meta = obj.get("metadata") or {}
                digest = hashlib.sha256(f"{meta.get('namespace')}/{meta.get('name')}".encode()).digest()
                spec["clusterIP"] = f"10.96.{digest[0]}.{max(digest[1], 1)}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            if spec["clusterIP"] != "None":
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
    elif (group, kind) == ("", "Secret"):
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            # stringData is write-only: merged into data (base64), stringData wins on conflicts.
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
    elif (group, kind) == ("networking.k8s.io", "NetworkPolicy") and spec is not None:
        if "policyTypes" not in spec:
            types = ["Ingress"]
            if spec.get("egress"):
                types.append("Egress")
            spec["policyTypes"] = types
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in (rule or {}).get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")
    elif (group, kind) == ("apiextensions.k8s.io", "CustomResourceDefinition") and spec is not None:
        spec.setdefault("conversion", {"strategy": "None"})
        names = spec.get("names")
        if isinstance(names, dict) and names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")


def apply_schema_defaults(value: Any, schema: Schema) -> Any:
    """Structural-schema defaulting of custom resources (``default`` of absent properties)."""
    if isinstance(value, dict) and schema.is_object:
        for name, child in schema.properties.items():
            if name not in value and "default" in child.raw:
                value[name] = copy.deepcopy(child.raw["default"])
            if name in value:
                value[name] = apply_schema_defaults(value[name], child)
        additional = schema.additional
        if additional is not None:
            for name in list(value):
                if name not in schema.properties:
                    value[name] = apply_schema_defaults(value[name], additional)
    elif isinstance(value, list) and schema.is_array:
        items = schema.items
        return [apply_schema_defaults(item, items) for item in value]
    return value
