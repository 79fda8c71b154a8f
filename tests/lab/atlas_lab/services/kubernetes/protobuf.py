"""Decoding of the protobuf request bodies that kubectl's typed clients send.

``kubectl create namespace|configmap|secret|serviceaccount|deployment|job|cronjob|role|rolebinding|
clusterrole|clusterrolebinding|service clusterip|poddisruptionbudget`` and ``kubectl create job
--from=cronjob/NAME`` build the object in Go and POST it as ``application/vnd.kubernetes.protobuf``:
the ``k8s\\0`` magic, then a ``runtime.Unknown`` envelope (typeMeta, raw) whose ``raw`` is the object
message. The field numbers below are those of k8s.io/api's ``generated.proto`` for the fields these
generators fill, and for the Pod template of a Job made from a CronJob (volumes, mounts, environment,
security contexts, owner references); the lab's tests check them against what kubectl 1.37 sends,
by comparing the decoded object with kubectl's own JSON for the same command (``--dry-run=client -o
json``). A field outside this table that carries a value is refused with 415 (never dropped
silently); zero values of unknown fields carry no information and are skipped, as JSON's
``omitempty`` would.
"""

from __future__ import annotations

import base64
from typing import Any

from atlas_lab.services.kubernetes.errors import ApiError

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"

# message -> {field number: (json name, type, flags)}; type is a scalar kind or a message name.
# Flags: "repeated", "pointer" (a zero value is meaningful: *int32 fields), "inline" (an embedded
# struct whose fields JSON writes at the parent's level: Volume's VolumeSource, the selectors'
# LocalObjectReference). "Quantity" is resource.Quantity, a message whose one string is the JSON value.
Field = tuple[str, str, str]
MESSAGES: dict[str, dict[int, Field]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", ""), 2: ("raw", "bytes", ""), 3: ("contentEncoding", "string", ""),
                4: ("contentType", "string", "")},
    "TypeMeta": {1: ("apiVersion", "string", ""), 2: ("kind", "string", "")},
    "ObjectMeta": {1: ("name", "string", ""), 2: ("generateName", "string", ""), 3: ("namespace", "string", ""),
                   5: ("uid", "ignore", ""), 6: ("resourceVersion", "string", ""), 7: ("generation", "ignore", ""),
                   8: ("creationTimestamp", "ignore", ""), 11: ("labels", "map<string>", ""),
                   12: ("annotations", "map<string>", ""), 13: ("ownerReferences", "OwnerReference", "repeated"),
                   14: ("finalizers", "string", "repeated")},
    "OwnerReference": {1: ("kind", "string", ""), 3: ("name", "string", ""), 4: ("uid", "string", ""),
                       5: ("apiVersion", "string", ""), 6: ("controller", "bool", "pointer"),
                       7: ("blockOwnerDeletion", "bool", "pointer")},
    "Namespace": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "NamespaceSpec", ""), 3: ("status", "ignore", "")},
    "NamespaceSpec": {1: ("finalizers", "string", "repeated")},
    "ConfigMap": {1: ("metadata", "ObjectMeta", ""), 2: ("data", "map<string>", ""),
                  3: ("binaryData", "map<bytes>", ""), 4: ("immutable", "bool", "pointer")},
    "Secret": {1: ("metadata", "ObjectMeta", ""), 2: ("data", "map<bytes>", ""), 3: ("type", "string", ""),
               4: ("stringData", "map<string>", ""), 5: ("immutable", "bool", "pointer")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", ""),
                       3: ("imagePullSecrets", "LocalObjectReference", "repeated"),
                       4: ("automountServiceAccountToken", "bool", "pointer")},
    "LocalObjectReference": {1: ("name", "string", "")},
    "Role": {1: ("metadata", "ObjectMeta", ""), 2: ("rules", "PolicyRule", "repeated")},
    "ClusterRole": {1: ("metadata", "ObjectMeta", ""), 2: ("rules", "PolicyRule", "repeated")},
    "PolicyRule": {1: ("verbs", "string", "repeated"), 2: ("apiGroups", "string", "repeated"),
                   3: ("resources", "string", "repeated"), 4: ("resourceNames", "string", "repeated"),
                   5: ("nonResourceURLs", "string", "repeated")},
    "RoleBinding": {1: ("metadata", "ObjectMeta", ""), 2: ("subjects", "Subject", "repeated"),
                    3: ("roleRef", "RoleRef", "")},
    "ClusterRoleBinding": {1: ("metadata", "ObjectMeta", ""), 2: ("subjects", "Subject", "repeated"),
                           3: ("roleRef", "RoleRef", "")},
    "Subject": {1: ("kind", "string", ""), 2: ("apiGroup", "string", ""), 3: ("name", "string", ""),
                4: ("namespace", "string", "")},
    "RoleRef": {1: ("apiGroup", "string", ""), 2: ("kind", "string", ""), 3: ("name", "string", "")},
    "Service": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "ServiceSpec", ""), 3: ("status", "ignore", "")},
    "ServiceSpec": {1: ("ports", "ServicePort", "repeated"), 2: ("selector", "map<string>", ""),
                    3: ("clusterIP", "string", ""), 4: ("type", "string", "")},
    "ServicePort": {1: ("name", "string", ""), 2: ("protocol", "string", ""), 3: ("port", "int", ""),
                    4: ("targetPort", "IntOrString", ""), 5: ("nodePort", "int", "")},
    "IntOrString": {1: ("type", "int", ""), 2: ("intVal", "int", ""), 3: ("strVal", "string", "")},
    "Deployment": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "DeploymentSpec", ""),
                   3: ("status", "ignore", "")},
    "DeploymentSpec": {1: ("replicas", "int", "pointer"), 2: ("selector", "LabelSelector", ""),
                       3: ("template", "PodTemplateSpec", ""), 4: ("strategy", "DeploymentStrategy", ""),
                       5: ("minReadySeconds", "int", ""), 6: ("revisionHistoryLimit", "int", "pointer"),
                       7: ("paused", "bool", ""), 9: ("progressDeadlineSeconds", "int", "pointer")},
    "DeploymentStrategy": {1: ("type", "string", "")},
    "LabelSelector": {1: ("matchLabels", "map<string>", ""),
                      2: ("matchExpressions", "LabelSelectorRequirement", "repeated")},
    "LabelSelectorRequirement": {1: ("key", "string", ""), 2: ("operator", "string", ""),
                                 3: ("values", "string", "repeated")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "PodSpec", "")},
    "PodSpec": {1: ("volumes", "Volume", "repeated"), 2: ("containers", "Container", "repeated"),
                3: ("restartPolicy", "string", ""), 4: ("terminationGracePeriodSeconds", "int", "pointer"),
                5: ("activeDeadlineSeconds", "int", "pointer"), 6: ("dnsPolicy", "string", ""),
                7: ("nodeSelector", "map<string>", ""), 8: ("serviceAccountName", "string", ""),
                9: ("serviceAccount", "string", ""), 10: ("nodeName", "string", ""),
                11: ("hostNetwork", "bool", ""), 12: ("hostPID", "bool", ""), 13: ("hostIPC", "bool", ""),
                14: ("securityContext", "PodSecurityContext", ""),
                15: ("imagePullSecrets", "LocalObjectReference", "repeated"), 16: ("hostname", "string", ""),
                17: ("subdomain", "string", ""), 19: ("schedulerName", "string", ""),
                20: ("initContainers", "Container", "repeated"),
                21: ("automountServiceAccountToken", "bool", "pointer"),
                22: ("tolerations", "Toleration", "repeated"), 24: ("priorityClassName", "string", ""),
                25: ("priority", "int", "pointer"), 27: ("shareProcessNamespace", "bool", "pointer"),
                29: ("runtimeClassName", "string", "pointer"), 30: ("enableServiceLinks", "bool", "pointer"),
                31: ("preemptionPolicy", "string", "pointer"), 35: ("setHostnameAsFQDN", "bool", "pointer"),
                37: ("hostUsers", "bool", "pointer")},
    "PodSecurityContext": {2: ("runAsUser", "int", "pointer"), 3: ("runAsNonRoot", "bool", "pointer"),
                           4: ("supplementalGroups", "int", "repeated"), 5: ("fsGroup", "int", "pointer"),
                           6: ("runAsGroup", "int", "pointer"), 9: ("fsGroupChangePolicy", "string", "pointer"),
                           10: ("seccompProfile", "SeccompProfile", "")},
    "SecurityContext": {1: ("capabilities", "Capabilities", ""), 2: ("privileged", "bool", "pointer"),
                        4: ("runAsUser", "int", "pointer"), 5: ("runAsNonRoot", "bool", "pointer"),
                        6: ("readOnlyRootFilesystem", "bool", "pointer"),
                        7: ("allowPrivilegeEscalation", "bool", "pointer"), 8: ("runAsGroup", "int", "pointer"),
                        9: ("procMount", "string", "pointer"), 11: ("seccompProfile", "SeccompProfile", "")},
    "SeccompProfile": {1: ("type", "string", ""), 2: ("localhostProfile", "string", "pointer")},
    "Capabilities": {1: ("add", "string", "repeated"), 2: ("drop", "string", "repeated")},
    "Toleration": {1: ("key", "string", ""), 2: ("operator", "string", ""), 3: ("value", "string", ""),
                   4: ("effect", "string", ""), 5: ("tolerationSeconds", "int", "pointer")},
    "Container": {1: ("name", "string", ""), 2: ("image", "string", ""), 3: ("command", "string", "repeated"),
                  4: ("args", "string", "repeated"), 5: ("workingDir", "string", ""),
                  6: ("ports", "ContainerPort", "repeated"), 7: ("env", "EnvVar", "repeated"),
                  8: ("resources", "ResourceRequirements", ""), 9: ("volumeMounts", "VolumeMount", "repeated"),
                  13: ("terminationMessagePath", "string", ""), 14: ("imagePullPolicy", "string", ""),
                  15: ("securityContext", "SecurityContext", ""), 16: ("stdin", "bool", ""),
                  17: ("stdinOnce", "bool", ""), 18: ("tty", "bool", ""),
                  19: ("envFrom", "EnvFromSource", "repeated"), 20: ("terminationMessagePolicy", "string", ""),
                  24: ("restartPolicy", "string", "pointer")},
    "ResourceRequirements": {1: ("limits", "map<Quantity>", ""), 2: ("requests", "map<Quantity>", "")},
    "ContainerPort": {1: ("name", "string", ""), 2: ("hostPort", "int", ""), 3: ("containerPort", "int", ""),
                      4: ("protocol", "string", ""), 5: ("hostIP", "string", "")},
    "EnvVar": {1: ("name", "string", ""), 2: ("value", "string", ""), 3: ("valueFrom", "EnvVarSource", "")},
    "EnvVarSource": {1: ("fieldRef", "ObjectFieldSelector", ""), 2: ("resourceFieldRef", "ResourceFieldSelector", ""),
                     3: ("configMapKeyRef", "KeySelector", ""), 4: ("secretKeyRef", "KeySelector", "")},
    "ObjectFieldSelector": {1: ("apiVersion", "string", ""), 2: ("fieldPath", "string", "")},
    "ResourceFieldSelector": {1: ("containerName", "string", ""), 2: ("resource", "string", ""),
                              3: ("divisor", "Quantity", "")},
    # ConfigMapKeySelector and SecretKeySelector share their layout.
    "KeySelector": {1: ("localObjectReference", "LocalObjectReference", "inline"), 2: ("key", "string", ""),
                    3: ("optional", "bool", "pointer")},
    "EnvFromSource": {1: ("prefix", "string", ""), 2: ("configMapRef", "EnvSource", ""),
                      3: ("secretRef", "EnvSource", "")},
    # ConfigMapEnvSource and SecretEnvSource share their layout.
    "EnvSource": {1: ("localObjectReference", "LocalObjectReference", "inline"), 2: ("optional", "bool", "pointer")},
    "VolumeMount": {1: ("name", "string", ""), 2: ("readOnly", "bool", ""), 3: ("mountPath", "string", ""),
                    4: ("subPath", "string", ""), 5: ("mountPropagation", "string", "pointer"),
                    6: ("subPathExpr", "string", ""), 7: ("recursiveReadOnly", "string", "pointer")},
    "Volume": {1: ("name", "string", ""), 2: ("volumeSource", "VolumeSource", "inline")},
    "VolumeSource": {1: ("hostPath", "HostPathVolumeSource", ""), 2: ("emptyDir", "EmptyDirVolumeSource", ""),
                     6: ("secret", "SecretVolumeSource", ""),
                     10: ("persistentVolumeClaim", "PersistentVolumeClaimVolumeSource", ""),
                     16: ("downwardAPI", "DownwardAPIVolumeSource", ""), 19: ("configMap", "ConfigMapVolumeSource", ""),
                     26: ("projected", "ProjectedVolumeSource", "")},
    "HostPathVolumeSource": {1: ("path", "string", ""), 2: ("type", "string", "pointer")},
    "EmptyDirVolumeSource": {1: ("medium", "string", ""), 2: ("sizeLimit", "Quantity", "")},
    "SecretVolumeSource": {1: ("secretName", "string", ""), 2: ("items", "KeyToPath", "repeated"),
                           3: ("defaultMode", "int", "pointer"), 4: ("optional", "bool", "pointer")},
    "PersistentVolumeClaimVolumeSource": {1: ("claimName", "string", ""), 2: ("readOnly", "bool", "")},
    "ConfigMapVolumeSource": {1: ("localObjectReference", "LocalObjectReference", "inline"),
                              2: ("items", "KeyToPath", "repeated"), 3: ("defaultMode", "int", "pointer"),
                              4: ("optional", "bool", "pointer")},
    "KeyToPath": {1: ("key", "string", ""), 2: ("path", "string", ""), 3: ("mode", "int", "pointer")},
    "DownwardAPIVolumeSource": {1: ("items", "DownwardAPIVolumeFile", "repeated"),
                                2: ("defaultMode", "int", "pointer")},
    "DownwardAPIVolumeFile": {1: ("path", "string", ""), 2: ("fieldRef", "ObjectFieldSelector", ""),
                              3: ("resourceFieldRef", "ResourceFieldSelector", ""), 4: ("mode", "int", "pointer")},
    "ProjectedVolumeSource": {1: ("sources", "VolumeProjection", "repeated"), 2: ("defaultMode", "int", "pointer")},
    "VolumeProjection": {1: ("secret", "ObjectProjection", ""), 2: ("downwardAPI", "DownwardAPIProjection", ""),
                         3: ("configMap", "ObjectProjection", ""),
                         4: ("serviceAccountToken", "ServiceAccountTokenProjection", "")},
    # ConfigMapProjection and SecretProjection share their layout.
    "ObjectProjection": {1: ("localObjectReference", "LocalObjectReference", "inline"),
                         2: ("items", "KeyToPath", "repeated"), 4: ("optional", "bool", "pointer")},
    "DownwardAPIProjection": {1: ("items", "DownwardAPIVolumeFile", "repeated")},
    "ServiceAccountTokenProjection": {1: ("audience", "string", ""), 2: ("expirationSeconds", "int", "pointer"),
                                      3: ("path", "string", "")},
    "Quantity": {1: ("string", "string", "")},
    "Job": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "JobSpec", ""), 3: ("status", "ignore", "")},
    "JobSpec": {1: ("parallelism", "int", "pointer"), 2: ("completions", "int", "pointer"),
                3: ("activeDeadlineSeconds", "int", "pointer"), 4: ("selector", "LabelSelector", ""),
                5: ("manualSelector", "bool", "pointer"), 6: ("template", "PodTemplateSpec", ""),
                7: ("backoffLimit", "int", "pointer"), 8: ("ttlSecondsAfterFinished", "int", "pointer"),
                9: ("completionMode", "string", "pointer"), 10: ("suspend", "bool", "pointer"),
                14: ("podReplacementPolicy", "string", "pointer")},
    "CronJob": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "CronJobSpec", ""), 3: ("status", "ignore", "")},
    "CronJobSpec": {1: ("schedule", "string", ""), 2: ("startingDeadlineSeconds", "int", "pointer"),
                    3: ("concurrencyPolicy", "string", ""), 4: ("suspend", "bool", "pointer"),
                    5: ("jobTemplate", "JobTemplateSpec", ""), 6: ("successfulJobsHistoryLimit", "int", "pointer"),
                    7: ("failedJobsHistoryLimit", "int", "pointer"), 8: ("timeZone", "string", "pointer")},
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "JobSpec", "")},
    "TokenRequest": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "TokenRequestSpec", ""),
                     3: ("status", "ignore", "")},
    "TokenRequestSpec": {1: ("audiences", "string", "repeated"), 4: ("expirationSeconds", "int", "pointer")},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SelfSubjectAccessReviewSpec", ""),
                                3: ("status", "ignore", "")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", ""),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", "")},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SelfSubjectRulesReviewSpec", ""),
                               3: ("status", "ignore", "")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string", "")},
    "ResourceAttributes": {1: ("namespace", "string", ""), 2: ("verb", "string", ""), 3: ("group", "string", ""),
                           4: ("version", "string", ""), 5: ("resource", "string", ""),
                           6: ("subresource", "string", ""), 7: ("name", "string", "")},
    "NonResourceAttributes": {1: ("path", "string", ""), 2: ("verb", "string", "")},
    "PodDisruptionBudget": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "PodDisruptionBudgetSpec", ""),
                            3: ("status", "ignore", "")},
    "PodDisruptionBudgetSpec": {1: ("minAvailable", "IntOrString", ""), 2: ("selector", "LabelSelector", ""),
                                3: ("maxUnavailable", "IntOrString", "")},
}

# (group, kind) served with protobuf bodies -> top-level message.
TOP_LEVEL = {("", "Namespace"), ("", "ConfigMap"), ("", "Secret"), ("", "ServiceAccount"), ("", "Service"),
             ("apps", "Deployment"), ("batch", "Job"), ("batch", "CronJob"), ("policy", "PodDisruptionBudget"),
             ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"),
             ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
             ("authentication.k8s.io", "TokenRequest"), ("authorization.k8s.io", "SelfSubjectAccessReview"),
             ("authorization.k8s.io", "SelfSubjectRulesReview")}


def unsupported(detail: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the lab's Kubernetes emulator cannot decode this protobuf body ({detail}); send JSON "
                    f"(application/json) instead", None)


def _varint(data: bytes, index: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if index >= len(data):
            raise unsupported("truncated varint")
        byte = data[index]
        index += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, index


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    index, fields = 0, []
    while index < len(data):
        key, index = _varint(data, index)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, index = _varint(data, index)
        elif wire == 2:
            length, index = _varint(data, index)
            value = data[index:index + length]
            index += length
        elif wire == 1:
            value, index = data[index:index + 8], index + 8
        elif wire == 5:
            value, index = data[index:index + 4], index + 4
        else:
            raise unsupported(f"wire type {wire}")
        fields.append((number, wire, value))
    return fields


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode("utf-8")
    if kind == "bytes":
        return bytes(value)
    if kind == "int":
        return _signed(value)
    if kind == "bool":
        return bool(value)
    raise unsupported(f"field type {kind}")


def _empty(wire: int, value: Any) -> bool:
    return (wire == 0 and value == 0) or (wire == 2 and len(value) == 0)


def decode_message(data: bytes, message: str) -> dict[str, Any]:
    table = MESSAGES[message]
    result: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        if number not in table:
            if _empty(wire, value):
                continue
            raise unsupported(f"field {number} of {message}")
        name, kind, flags = table[number]
        if kind == "ignore":
            continue
        if kind.startswith("map<"):
            entry = {n: v for n, _wire, v in _fields(value)}
            key = bytes(entry.get(1, b"")).decode("utf-8")
            raw = bytes(entry.get(2, b""))
            if kind == "map<Quantity>":
                mapped: Any = decode_message(raw, "Quantity").get("string", "")
            elif kind == "map<string>":
                mapped = raw.decode("utf-8")
            else:
                mapped = base64.b64encode(raw).decode("ascii")
            result.setdefault(name, {})[key] = mapped
            continue
        if kind in MESSAGES:
            decoded: Any = decode_message(value, kind)
            if kind == "IntOrString":
                decoded = decoded.get("strVal", "") if decoded.get("type") == 1 else decoded.get("intVal", 0)
            elif kind == "Quantity":
                decoded = decoded.get("string", "")
            elif "inline" in flags:
                result.update(decoded)
                continue
        else:
            decoded = _scalar(kind, value)
            if "repeated" not in flags and "pointer" not in flags and _empty(wire, value):
                continue
        if "repeated" in flags:
            result.setdefault(name, []).append(decoded)
        else:
            result[name] = decoded
    return result


def decode_object(body: bytes, group: str, kind: str) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object of ``group``/``kind``."""
    if not body.startswith(MAGIC):
        raise unsupported("missing the k8s protobuf magic")
    envelope = decode_message(body[len(MAGIC):], "Unknown")
    type_meta = envelope.get("typeMeta") or {}
    if (group, kind) not in TOP_LEVEL or type_meta.get("kind") not in (None, kind):
        raise unsupported(f"kind {type_meta.get('kind') or kind}")
    obj = decode_message(envelope.get("raw", b""), kind)
    result = {"apiVersion": type_meta.get("apiVersion"), "kind": type_meta.get("kind") or kind}
    result.update(obj)
    return result
