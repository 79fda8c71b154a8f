"""Server-side printing: ``Table`` responses for ``kubectl get`` (Accept ``as=Table``).

Built-in kinds get the columns of the real printers for the fields the lab fills; custom
resources get ``Name`` plus their ``additionalPrinterColumns`` (or ``Age``), like the real server.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any, Callable

from atlas_lab.services.kubernetes.resources import PrinterColumn, ResourceType

NAME_DESCRIPTION = ("Name must be unique within a namespace. Is required when creating resources, although some "
                    "resources may allow a client to request the generation of an appropriate name automatically. "
                    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
                    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESCRIPTION = ("CreationTimestamp is a timestamp representing the server time when this object was created. "
                   "It is not guaranteed to be set in happens-before order across separate operations. Clients may "
                   "not set this value. It is represented in RFC3339 form and is in UTC.")


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration`` of apimachinery."""
    seconds = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def age(obj: dict[str, Any]) -> str:
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds())


# JSONPath (the subset used by printer columns) -------------------------------------------------

_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]|"
                    r"\[['\"]([^'\"]+)['\"]\]|\[\*\]")


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate ``.a.b[0].c``, ``[?(@.type=="Ready")]``, ``['key.with.dots']`` and ``[*]``."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    values = [obj]
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match:
            return []
        position = match.end()
        field, index, filter_key, filter_value, quoted = match.groups()
        next_values: list[Any] = []
        for value in values:
            if field is not None or quoted is not None:
                key = field if field is not None else quoted
                if isinstance(value, dict) and key in value:
                    next_values.append(value[key])
            elif index is not None:
                if isinstance(value, list) and int(index) < len(value):
                    next_values.append(value[int(index)])
            elif filter_key is not None:
                if isinstance(value, list):
                    for item in value:
                        found = jsonpath(item, "." + filter_key)
                        if found and str(found[0]) == filter_value:
                            next_values.append(item)
            elif isinstance(value, list):
                next_values.extend(value)
        values = next_values
    return values


def _cell(value: Any, column_type: str) -> Any:
    if value is None:
        return None
    if column_type == "date" and isinstance(value, str):
        # The CRD table convertor prints dates as ages, like the built-in AGE column.
        stamp = parse_time(value)
        if stamp is not None:
            return human_duration((datetime.datetime.now(datetime.timezone.utc) - stamp).total_seconds())
    if column_type == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if column_type == "boolean":
        return bool(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value


# Built-in printers -------------------------------------------------------------------------------

def _get(obj: dict[str, Any], path: str, default: Any = None) -> Any:
    found = jsonpath(obj, path)
    return found[0] if found else default


def _deployment_ready(obj: dict[str, Any]) -> str:
    return f"{_get(obj, '.status.readyReplicas', 0)}/{_get(obj, '.spec.replicas', 0)}"


def _pod_ready(obj: dict[str, Any]) -> str:
    statuses = _get(obj, ".status.containerStatuses", []) or []
    containers = _get(obj, ".spec.containers", []) or []
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(containers)}"


def _pod_restarts(obj: dict[str, Any]) -> int:
    return sum(int(s.get("restartCount", 0)) for s in _get(obj, ".status.containerStatuses", []) or [])


def _ports(obj: dict[str, Any]) -> str:
    ports = _get(obj, ".spec.ports", []) or []
    if not ports:
        return "<none>"
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports)


def _selector(obj: dict[str, Any], path: str = ".spec.selector") -> str:
    selector = _get(obj, path) or {}
    labels = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if isinstance(v, str))


def _job_status(obj: dict[str, Any]) -> str:
    for condition in _get(obj, ".status.conditions", []) or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed", "Suspended"):
            return condition["type"]
    return "Running"


def _event_age(event: dict[str, Any]) -> str:
    stamp = event.get("lastTimestamp") or event["metadata"].get("creationTimestamp")
    return age({"metadata": {"creationTimestamp": stamp}})


def _column(name: str, compute: Callable[[dict[str, Any]], Any], column_type: str = "string",
            priority: int = 0) -> PrinterColumn:
    return PrinterColumn(name=name, type=column_type, priority=priority, compute=compute)


NAME = _column("Name", lambda o: o["metadata"]["name"])
AGE = _column("Age", age)

BUILTIN_COLUMNS: dict[tuple[str, str], list[PrinterColumn]] = {
    ("", "Namespace"): [NAME, _column("Status", lambda o: _get(o, ".status.phase", "Active")), AGE],
    ("", "Secret"): [NAME, _column("Type", lambda o: o.get("type", "Opaque")),
                     _column("Data", lambda o: len(o.get("data") or {}), "integer"), AGE],
    ("", "ConfigMap"): [NAME, _column("Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                                      "integer"), AGE],
    ("", "Service"): [NAME, _column("Type", lambda o: _get(o, ".spec.type", "ClusterIP")),
                      _column("Cluster-IP", lambda o: _get(o, ".spec.clusterIP", "<none>")),
                      _column("External-IP", lambda o: "<none>"), _column("Port(s)", _ports), AGE,
                      _column("Selector", _selector, priority=1)],
    ("", "Pod"): [NAME, _column("Ready", _pod_ready), _column("Status", lambda o: _get(o, ".status.phase", "Pending")),
                  _column("Restarts", _pod_restarts, "string"), AGE,
                  _column("IP", lambda o: _get(o, ".status.podIP", "<none>"), priority=1),
                  _column("Node", lambda o: _get(o, ".spec.nodeName", "<none>"), priority=1)],
    ("apps", "Deployment"): [NAME, _column("Ready", _deployment_ready),
                             _column("Up-to-date", lambda o: _get(o, ".status.updatedReplicas", 0), "integer"),
                             _column("Available", lambda o: _get(o, ".status.availableReplicas", 0), "integer"), AGE,
                             _column("Containers", lambda o: ",".join(
                                 c["name"] for c in _get(o, ".spec.template.spec.containers", []) or []), priority=1),
                             _column("Images", lambda o: ",".join(
                                 c.get("image", "") for c in _get(o, ".spec.template.spec.containers", []) or []),
                                 priority=1),
                             _column("Selector", _selector, priority=1)],
    ("apps", "StatefulSet"): [NAME, _column("Ready", _deployment_ready), AGE],
    ("apps", "ReplicaSet"): [NAME, _column("Desired", lambda o: _get(o, ".spec.replicas", 0), "integer"),
                             _column("Current", lambda o: _get(o, ".status.replicas", 0), "integer"),
                             _column("Ready", lambda o: _get(o, ".status.readyReplicas", 0), "integer"), AGE],
    ("batch", "Job"): [NAME, _column("Status", _job_status),
                       _column("Completions", lambda o: f"{_get(o, '.status.succeeded', 0)}/"
                                                        f"{_get(o, '.spec.completions', 1)}"), AGE],
    ("batch", "CronJob"): [NAME, _column("Schedule", lambda o: _get(o, ".spec.schedule", "")),
                           _column("Timezone", lambda o: _get(o, ".spec.timeZone", "<none>")),
                           _column("Suspend", lambda o: _get(o, ".spec.suspend", False), "boolean"),
                           _column("Active", lambda o: len(_get(o, ".status.active", []) or []), "integer"),
                           _column("Last Schedule", lambda o: _get(o, ".status.lastScheduleTime", "<none>")), AGE],
    ("policy", "PodDisruptionBudget"): [
        NAME, _column("Min Available", lambda o: str(_get(o, ".spec.minAvailable", "N/A"))),
        _column("Max Unavailable", lambda o: str(_get(o, ".spec.maxUnavailable", "N/A"))),
        _column("Allowed Disruptions", lambda o: _get(o, ".status.disruptionsAllowed", 0), "integer"), AGE],
    ("networking.k8s.io", "NetworkPolicy"): [NAME, _column("Pod-Selector", lambda o: _selector(o, ".spec.podSelector")
                                                           if _selector(o, ".spec.podSelector") != "<none>"
                                                           else "<none>"), AGE],
    ("rbac.authorization.k8s.io", "RoleBinding"): [
        NAME, _column("Role", lambda o: f"{_get(o, '.roleRef.kind')}/{_get(o, '.roleRef.name')}"), AGE],
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): [
        NAME, _column("Role", lambda o: f"{_get(o, '.roleRef.kind')}/{_get(o, '.roleRef.name')}"), AGE],
    ("", "Event"): [_column("Last Seen", _event_age),
                    _column("Type", lambda o: o.get("type", "")), _column("Reason", lambda o: o.get("reason", "")),
                    _column("Object", lambda o: f"{str(_get(o, '.involvedObject.kind', '')).lower()}/"
                                                f"{_get(o, '.involvedObject.name', '')}"),
                    _column("Message", lambda o: o.get("message", ""))],
}


def columns_for(rt: ResourceType) -> list[PrinterColumn]:
    if rt.is_custom:
        if rt.printer_columns:
            return [NAME] + rt.printer_columns
        return [NAME, PrinterColumn(name="Age", type="date", json_path=".metadata.creationTimestamp",
                                    description=AGE_DESCRIPTION)]
    return BUILTIN_COLUMNS.get((rt.group, rt.kind), [NAME, AGE])


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def row(rt: ResourceType, obj: dict[str, Any], include_object: str) -> dict[str, Any]:
    cells = []
    for column in columns_for(rt):
        if column.compute is not None:
            cells.append(column.compute(obj))
        else:
            found = jsonpath(obj, column.json_path)
            cells.append(_cell(found[0] if found else None, column.type))
    entry: dict[str, Any] = {"cells": cells}
    if include_object == "Object":
        entry["object"] = obj
    elif include_object != "None":
        entry["object"] = partial_metadata(obj)
    return entry


def table(rt: ResourceType, objects: list[dict[str, Any]], resource_version: str, include_object: str,
          list_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    definitions = []
    for column in columns_for(rt):
        definition: dict[str, Any] = {"name": column.name, "type": column.type,
                                      "format": "name" if column is NAME else column.format,
                                      "description": column.description or
                                      (NAME_DESCRIPTION if column is NAME else column.name),
                                      "priority": column.priority}
        definitions.append(definition)
    metadata = dict(list_meta or {})
    metadata["resourceVersion"] = resource_version
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": definitions, "rows": [row(rt, o, include_object) for o in objects]}
