"""Go validation rules of the built-in kinds that a schema cannot express.

Messages are those of ``k8s.io/kubernetes/pkg/apis/*/validation`` and
``k8s.io/apimachinery/pkg/util/validation`` for the rules implemented here: object names, label
and annotation syntax, workload selectors matching their template, pod template basics, Secret and
ConfigMap keys, Service ports, RBAC rules and bindings, PodDisruptionBudget, CronJob schedules,
CRD definitions, and the immutable fields the collection is likely to touch.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from typing import Any, Callable

from atlas_lab.services.kubernetes.cron import CronError, parse_standard
from atlas_lab.services.kubernetes.errors import (
    FieldError,
    RawValue,
    duplicate,
    forbidden_field,
    invalid,
    not_supported,
    required,
)

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
CONFIG_KEY = r"[-._a-zA-Z0-9]+"

SUBDOMAIN_MESSAGE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                     "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
                     f"used for validation is '{DNS1123_SUBDOMAIN}')")
LABEL_MESSAGE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                 "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
                 f"used for validation is '{DNS1123_LABEL}')")
DNS1035_MESSAGE = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                   "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
                   f"'abc-123', regex used for validation is '{DNS1035_LABEL}')")
LABEL_VALUE_MESSAGE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                       "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                       f"'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')")
QUALIFIED_NAME_MESSAGE = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
                          "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                          f"'123-abc', regex used for validation is '{QUALIFIED_NAME}')")
CONFIG_KEY_MESSAGE = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                      f"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '{CONFIG_KEY}')")


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def is_dns1123_subdomain(value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append("must be no more than 253 characters")
    if not _matches(DNS1123_SUBDOMAIN, value):
        errors.append(SUBDOMAIN_MESSAGE)
    return errors


def is_dns1123_label(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _matches(DNS1123_LABEL, value):
        errors.append(LABEL_MESSAGE)
    return errors


def is_dns1035_label(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _matches(DNS1035_LABEL, value):
        errors.append(DNS1035_MESSAGE)
    return errors


def is_path_segment_name(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    for char in ("/", "%"):
        if char in value:
            return [f"may not contain '{char}'"]
    return []


def is_qualified_name(value: str) -> list[str]:
    errors = []
    prefix, _slash, name = value.rpartition("/")
    if "/" in value:
        if not prefix:
            errors.append("prefix part must be non-empty")
        elif is_dns1123_subdomain(prefix):
            errors.append("prefix part " + SUBDOMAIN_MESSAGE)
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    elif not _matches(QUALIFIED_NAME, name):
        errors.append(QUALIFIED_NAME_MESSAGE)
    return errors


def is_label_value(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _matches(LABEL_VALUE, value):
        errors.append(LABEL_VALUE_MESSAGE)
    return errors


def go_map(value: dict[str, Any]) -> str:
    """Render like ``%#v`` of a map[string]string."""
    return "map[string]string{" + ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items())) + "}"


def _invalid_raw(path: str, text: str, detail: str) -> FieldError:
    """An Invalid value error whose value is already Go-formatted (maps, structs)."""
    return invalid(path, RawValue(text), detail)


# ObjectMeta ----------------------------------------------------------------------------------

NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    "subdomain": is_dns1123_subdomain,
    "label": is_dns1123_label,
    "dns1035": is_dns1035_label,
    "path": is_path_segment_name,
}

# (group, plural) -> name rule; default "subdomain".
NAME_RULE_BY_RESOURCE = {
    ("", "namespaces"): "label",
    ("", "services"): "dns1035",
    ("rbac.authorization.k8s.io", "roles"): "path",
    ("rbac.authorization.k8s.io", "rolebindings"): "path",
    ("rbac.authorization.k8s.io", "clusterroles"): "path",
    ("rbac.authorization.k8s.io", "clusterrolebindings"): "path",
    ("", "events"): "path",
    ("events.k8s.io", "events"): "path",
}


def validate_metadata(meta: dict[str, Any], group: str, plural: str) -> list[FieldError]:
    errors: list[FieldError] = []
    name = meta.get("name")
    if not name:
        if not meta.get("generateName"):
            errors.append(required("metadata.name", "name or generateName is required"))
    else:
        rule = NAME_RULES[NAME_RULE_BY_RESOURCE.get((group, plural), "subdomain")]
        for message in rule(name):
            errors.append(invalid("metadata.name", name, message))
    for key, value in (meta.get("labels") or {}).items():
        for message in is_qualified_name(key):
            errors.append(invalid("metadata.labels", key, message))
        if isinstance(value, str):
            for message in is_label_value(value):
                errors.append(invalid("metadata.labels", value, message))
    annotations = meta.get("annotations") or {}
    total = 0
    for key, value in annotations.items():
        for message in is_qualified_name(key):
            errors.append(invalid("metadata.annotations", key, message))
        total += len(key) + len(value or "")
    if total > 256 * 1024:
        errors.append(FieldError("metadata.annotations", "Too long", detail="must have at most 262144 bytes"))
    for index, finalizer in enumerate(meta.get("finalizers") or []):
        if "/" not in finalizer and finalizer not in ("kubernetes", "orphan", "foregroundDeletion"):
            errors.append(forbidden_field(f"metadata.finalizers[{index}]",
                                          "name is neither a standard finalizer name nor is it fully "
                                          "qualified"))
    return errors


# Pod templates ---------------------------------------------------------------------------------

def validate_pod_spec(spec: dict[str, Any], path: str, restart_policies: list[str] | None = None) -> list[FieldError]:
    errors: list[FieldError] = []
    containers = spec.get("containers") or []
    if not containers:
        errors.append(required(f"{path}.containers"))
    volumes = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    for index, volume in enumerate(spec.get("volumes") or []):
        volume_name = volume.get("name") or ""
        for message in is_dns1123_label(volume_name) if volume_name else []:
            errors.append(invalid(f"{path}.volumes[{index}].name", volume_name, message))
    names: set[str] = set()
    for kind in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(kind) or []):
            where = f"{path}.{kind}[{index}]"
            name = container.get("name") or ""
            if name:
                for message in is_dns1123_label(name):
                    errors.append(invalid(f"{where}.name", name, message))
                if name in names:
                    errors.append(duplicate(f"{where}.name", name))
                names.add(name)
            if not container.get("image"):
                errors.append(required(f"{where}.image"))
            for port_index, port in enumerate(container.get("ports") or []):
                number = port.get("containerPort")
                if isinstance(number, int) and not 1 <= number <= 65535:
                    errors.append(invalid(f"{where}.ports[{port_index}].containerPort", number,
                                          "must be between 1 and 65535, inclusive"))
                protocol = port.get("protocol")
                if protocol and protocol not in ("TCP", "UDP", "SCTP"):
                    errors.append(not_supported(f"{where}.ports[{port_index}].protocol", protocol,
                                                ["SCTP", "TCP", "UDP"]))
            for env_index, env in enumerate(container.get("env") or []):
                if not env.get("name"):
                    errors.append(required(f"{where}.env[{env_index}].name"))
            for mount_index, mount in enumerate(container.get("volumeMounts") or []):
                if mount.get("name") not in volumes:
                    errors.append(FieldError(f"{where}.volumeMounts[{mount_index}].name", "Not found",
                                             mount.get("name")))
                if not mount.get("mountPath"):
                    errors.append(required(f"{where}.volumeMounts[{mount_index}].mountPath"))
            policy = container.get("imagePullPolicy")
            if policy and policy not in ("Always", "IfNotPresent", "Never"):
                errors.append(not_supported(f"{where}.imagePullPolicy", policy, ["Always", "IfNotPresent", "Never"]))
    policy = spec.get("restartPolicy")
    allowed = restart_policies or ["Always", "OnFailure", "Never"]
    if policy and policy not in allowed:
        errors.append(not_supported(f"{path}.restartPolicy", policy, allowed))
    return errors


def _selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def go_label_selector(selector: dict[str, Any]) -> str:
    labels = selector.get("matchLabels") or {}
    inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(labels.items()))
    return (f"v1.LabelSelector{{MatchLabels:map[string]string{{{inner}}}, "
            f"MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}")


def validate_workload(spec: dict[str, Any], kind: str, restart_policies: list[str] | None = None,
                      selector_required: bool = True) -> list[FieldError]:
    errors: list[FieldError] = []
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        errors.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector is None:
        if selector_required:
            errors.append(required("spec.selector"))
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errors.append(_invalid_raw("spec.selector", go_label_selector(selector),
                                   f"empty selector is invalid for {kind}"))
    elif not _selector_matches(selector, labels):
        errors.append(_invalid_raw("spec.template.metadata.labels", go_map(labels),
                                   "`selector` does not match template `labels`"))
    errors += validate_pod_spec(template.get("spec") or {}, "spec.template.spec", restart_policies)
    return errors


# Kind-specific rules ---------------------------------------------------------------------------

def _deployment(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors = validate_workload(spec, "deployment", ["Always"])
    strategy = (spec.get("strategy") or {}).get("type")
    if strategy and strategy not in ("Recreate", "RollingUpdate"):
        errors.append(not_supported("spec.strategy.type", strategy, ["Recreate", "RollingUpdate"]))
    if old is not None and (old.get("spec") or {}).get("selector") != spec.get("selector"):
        errors.append(_invalid_raw("spec.selector", go_label_selector(spec.get("selector") or {}),
                                   "field is immutable"))
    return errors


STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                       "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _statefulset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors = validate_workload(spec, "statefulset", ["Always"])
    policy = spec.get("podManagementPolicy")
    if policy and policy not in ("OrderedReady", "Parallel"):
        errors.append(not_supported("spec.podManagementPolicy", policy, ["OrderedReady", "Parallel"]))
    if old is not None:
        old_spec = old.get("spec") or {}
        frozen_new = {k: v for k, v in spec.items() if k not in STATEFULSET_MUTABLE}
        frozen_old = {k: v for k, v in old_spec.items() if k not in STATEFULSET_MUTABLE}
        if frozen_new != frozen_old:
            errors.append(forbidden_field("spec", "updates to statefulset spec for fields other than "
                                                  "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                                  "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' "
                                                  "and 'minReadySeconds' are forbidden"))
    return errors


def _replicaset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    return validate_workload(obj.get("spec") or {}, "replicaset", ["Always"])


def _daemonset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    return validate_workload(obj.get("spec") or {}, "daemonset", ["Always"])


def _job_spec(spec: dict[str, Any], prefix: str) -> list[FieldError]:
    errors: list[FieldError] = []
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    policy = pod_spec.get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        if policy:
            errors.append(not_supported(f"{prefix}.template.spec.restartPolicy", policy, ["OnFailure", "Never"]))
        else:
            errors.append(required(f"{prefix}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
    for error in validate_pod_spec(pod_spec, f"{prefix}.template.spec", ["OnFailure", "Never"]):
        if not error.field.endswith("restartPolicy"):
            errors.append(error)
    for name in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"):
        value = spec.get(name)
        if isinstance(value, int) and value < 0:
            errors.append(invalid(f"{prefix}.{name}", value, "must be greater than or equal to 0"))
    return errors


def _job(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors = _job_spec(spec, "spec")
    if old is not None and (old.get("spec") or {}).get("template") != spec.get("template"):
        errors.append(_invalid_raw("spec.template", "core.PodTemplateSpec{...}", "field is immutable"))
    return errors


def time_zone_problem(name: str) -> str:
    """What kube-apiserver says of a CronJob timeZone (pkg/apis/batch/validation validateTimeZone), or ""."""
    if not name:
        return "timeZone must be nil or non-empty string"
    if name.lower() == "local":
        return "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    for part in name.split("/"):
        if part in (".", "..") or not re.fullmatch(r"[A-Za-z0-9_+\-.]+", part):
            return f"unknown time zone {name}"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name}"  # Go's time.LoadLocation error
    return ""


def _cronjob(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors: list[FieldError] = []
    schedule = spec.get("schedule")
    if isinstance(schedule, str):
        try:
            parse_standard(schedule)
        except CronError as exc:
            errors.append(invalid("spec.schedule", schedule, str(exc)))
        if "TZ" in schedule and spec.get("timeZone") is not None:
            errors.append(invalid("spec.schedule", schedule,
                                  "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    time_zone = spec.get("timeZone")
    if isinstance(time_zone, str):
        problem = time_zone_problem(time_zone)
        if problem:
            errors.append(invalid("spec.timeZone", time_zone, problem))
    policy = spec.get("concurrencyPolicy")
    if policy and policy not in ("Allow", "Forbid", "Replace"):
        errors.append(not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    errors += _job_spec(job_spec, "spec.jobTemplate.spec")
    return errors


def _pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    errors = validate_pod_spec(obj.get("spec") or {}, "spec")
    spec, old_spec = obj.get("spec") or {}, (old or {}).get("spec") or {}
    if old is None and spec.get("ephemeralContainers"):
        errors.append(forbidden_field("spec.ephemeralContainers", "cannot be set on create"))
    previous = {item.get("name"): item for item in old_spec.get("ephemeralContainers") or []}
    current = {item.get("name"): item for item in spec.get("ephemeralContainers") or []}
    for name, item in previous.items():
        if current.get(name) != item:
            errors.append(forbidden_field("spec.ephemeralContainers", "existing ephemeral containers may not be "
                                          f"changed or removed (container {name})"))
    return errors


def _config_keys(data: dict[str, Any] | None, field_name: str) -> list[FieldError]:
    errors = []
    for key in data or {}:
        if not re.fullmatch(CONFIG_KEY, key) or len(key) > 253:
            errors.append(invalid(f"{field_name}[{key}]", key, CONFIG_KEY_MESSAGE))
    return errors


def _immutable_data(obj: dict[str, Any], old: dict[str, Any] | None, fields: tuple[str, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    if old is None or not old.get("immutable"):
        return errors
    for name in fields:
        if (obj.get(name) or {}) != (old.get(name) or {}):
            errors.append(forbidden_field(name, "field is immutable when `immutable` is set"))
    if not obj.get("immutable"):
        errors.append(forbidden_field("immutable", "field is immutable when `immutable` is set"))
    return errors


SECRET_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/basic-auth": (),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
}


def _secret(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    errors = _config_keys(obj.get("data"), "data")
    secret_type = obj.get("type") or "Opaque"
    data = obj.get("data") or {}
    for key in SECRET_REQUIRED_KEYS.get(secret_type, ()):
        if key not in data:
            errors.append(required(f"data[{key}]"))
    if secret_type == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            errors.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    if old is not None and (old.get("type") or "Opaque") != secret_type:
        errors.append(invalid("type", secret_type, "field is immutable"))
    errors += _immutable_data(obj, old, ("data",))
    return errors


def _configmap(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    errors = _config_keys(obj.get("data"), "data") + _config_keys(obj.get("binaryData"), "binaryData")
    overlap = set(obj.get("data") or {}) & set(obj.get("binaryData") or {})
    for key in sorted(overlap):
        errors.append(invalid("data", key, "duplicate of key present in binaryData"))
    errors += _immutable_data(obj, old, ("data", "binaryData"))
    return errors


SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def _service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors: list[FieldError] = []
    service_type = spec.get("type") or "ClusterIP"
    if service_type not in SERVICE_TYPES:
        errors.append(not_supported("spec.type", service_type, SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and service_type != "ExternalName" and spec.get("clusterIP") != "None":
        errors.append(required("spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        where = f"spec.ports[{index}]"
        number = port.get("port")
        if isinstance(number, int) and not 1 <= number <= 65535:
            errors.append(invalid(f"{where}.port", number, "must be between 1 and 65535, inclusive"))
        if len(ports) > 1 and not port.get("name"):
            errors.append(required(f"{where}.name"))
        name = port.get("name")
        if name:
            if name in names:
                errors.append(duplicate(f"{where}.name", name))
            names.add(name)
        protocol = port.get("protocol")
        if protocol and protocol not in ("TCP", "UDP", "SCTP"):
            errors.append(not_supported(f"{where}.protocol", protocol, ["SCTP", "TCP", "UDP"]))
    if service_type == "ExternalName" and not spec.get("externalName"):
        errors.append(required("spec.externalName"))
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = spec.get("clusterIP")
        if old_ip and new_ip and old_ip != new_ip:
            errors.append(invalid("spec.clusterIPs[0]", new_ip, "may not change once set"))
    return errors


def _pdb(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors: list[FieldError] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errors.append(invalid("spec", RawValue("policy.PodDisruptionBudgetSpec{...}"),
                              "minAvailable and maxUnavailable cannot be both set"))
    for name in ("minAvailable", "maxUnavailable"):
        value = spec.get(name)
        if isinstance(value, int) and value < 0:
            errors.append(invalid(f"spec.{name}", value, "must be greater than or equal to 0"))
        if isinstance(value, str) and not re.fullmatch(r"[0-9]+%", value):
            errors.append(invalid(f"spec.{name}", value, "a valid percent string must be a numeric string "
                                                         "followed by an ending '%' (e.g. '1%',  or '93%', regex "
                                                         "used for validation is '[0-9]+%')"))
        elif isinstance(value, str) and int(value[:-1]) > 100:
            # pkg/apis/policy/validation: IsNotMoreThan100Percent
            errors.append(invalid(f"spec.{name}", value, "must not be greater than 100%"))
    return errors


def _policy_rules(rules: list[dict[str, Any]] | None) -> list[FieldError]:
    errors = []
    for index, rule in enumerate(rules or []):
        if rule.get("nonResourceURLs"):
            if rule.get("resources") or rule.get("apiGroups"):
                errors.append(invalid(f"rules[{index}].nonResourceURLs", rule["nonResourceURLs"],
                                      "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errors.append(required(f"rules[{index}].apiGroups",
                                   "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errors.append(required(f"rules[{index}].resources",
                                   "resource rules must supply at least one resource"))
    return errors


def _role(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    return _policy_rules(obj.get("rules"))


def _binding(obj: dict[str, Any], old: dict[str, Any] | None, cluster: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    role_ref = obj.get("roleRef") or {}
    allowed = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
    if role_ref.get("apiGroup") not in (None, "rbac.authorization.k8s.io"):
        errors.append(not_supported("roleRef.apiGroup", role_ref.get("apiGroup"), ["rbac.authorization.k8s.io"]))
    if role_ref.get("kind") not in allowed:
        errors.append(not_supported("roleRef.kind", role_ref.get("kind"), allowed))
    for index, subject in enumerate(obj.get("subjects") or []):
        kind = subject.get("kind")
        if kind not in ("ServiceAccount", "User", "Group"):
            errors.append(not_supported(f"subjects[{index}].kind", kind, ["ServiceAccount", "User", "Group"]))
        if kind == "ServiceAccount" and not subject.get("namespace") and cluster:
            errors.append(required(f"subjects[{index}].namespace"))
    if old is not None and (old.get("roleRef") or {}) != role_ref:
        errors.append(invalid("roleRef", RawValue("rbac.RoleRef{...}"), "cannot change roleRef"))
    return errors


def _networkpolicy(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    errors = []
    for index, policy_type in enumerate((obj.get("spec") or {}).get("policyTypes") or []):
        if policy_type not in ("Ingress", "Egress"):
            errors.append(not_supported(f"spec.policyTypes[{index}]", policy_type, ["Ingress", "Egress"]))
    return errors


def _namespace(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    return []


def _crd(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    errors: list[FieldError] = []
    group = spec.get("group") or ""
    if not group:
        errors.append(required("spec.group"))
    elif "." not in group:
        errors.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    for name in ("plural", "kind"):
        if not names.get(name):
            errors.append(required(f"spec.names.{name}"))
    plural = names.get("plural") or ""
    expected = f"{plural}.{group}"
    name = (obj.get("metadata") or {}).get("name")
    if plural and group and name != expected:
        errors.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        errors.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions:
        errors.append(invalid("spec.versions", RawValue("[]apiextensions.CustomResourceDefinitionVersion(nil)"),
                              "must have exactly one version marked as storage version"))
    storage = [v for v in versions if v.get("storage")]
    if versions and len(storage) != 1:
        errors.append(invalid("spec.versions", RawValue("[]apiextensions.CustomResourceDefinitionVersion{...}"),
                              "must have exactly one version marked as storage version"))
    for index, version in enumerate(versions):
        if not ((version.get("schema") or {}).get("openAPIV3Schema")):
            errors.append(required(f"spec.versions[{index}].schema.openAPIV3Schema", "schemas are required"))
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("group") != spec.get("group"):
            errors.append(invalid("spec.group", group, "field is immutable"))
        if old_spec.get("scope") != spec.get("scope"):
            errors.append(invalid("spec.scope", scope, "field is immutable"))
    return errors


RULES: dict[tuple[str, str], Callable[[dict[str, Any], dict[str, Any] | None], list[FieldError]]] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "ReplicaSet"): _replicaset,
    ("apps", "DaemonSet"): _daemonset,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("", "Pod"): _pod,
    ("", "Secret"): _secret,
    ("", "ConfigMap"): _configmap,
    ("", "Service"): _service,
    ("", "Namespace"): _namespace,
    ("policy", "PodDisruptionBudget"): _pdb,
    ("rbac.authorization.k8s.io", "Role"): _role,
    ("rbac.authorization.k8s.io", "ClusterRole"): _role,
    ("rbac.authorization.k8s.io", "RoleBinding"): lambda o, old: _binding(o, old, False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): lambda o, old: _binding(o, old, True),
    ("networking.k8s.io", "NetworkPolicy"): _networkpolicy,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}


def validate_semantics(obj: dict[str, Any], old: dict[str, Any] | None, group: str, kind: str) -> list[FieldError]:
    rule = RULES.get((group, kind))
    return rule(obj, old) if rule else []
