"""Label selectors (``app=web,tier in (a,b),!canary``) and field selectors (``metadata.name=x``)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

from atlas_lab.services.kubernetes.errors import ApiError, bad_request

_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


@dataclasses.dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "=":
            return present and value == self.values[0]
        if self.operator == "!=":
            return not present or value != self.values[0]
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        return not present  # "!"


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse the ``labelSelector`` query parameter; a syntax error is a 400 like the real server."""
    if not text:
        return []
    requirements = []
    for part in _split_top_level(text):
        match = re.fullmatch(rf"({_KEY})\s+(in|notin)\s+\(([^)]*)\)", part)
        if match:
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            requirements.append(Requirement(match.group(1), match.group(2), values))
            continue
        match = re.fullmatch(rf"({_KEY})\s*(==|=|!=)\s*({_VALUE})", part)
        if match:
            operator = "!=" if match.group(2) == "!=" else "="
            requirements.append(Requirement(match.group(1), operator, (match.group(3),)))
            continue
        match = re.fullmatch(rf"(!?)\s*({_KEY})", part)
        if match:
            requirements.append(Requirement(match.group(2), "!" if match.group(1) else "exists"))
            continue
        raise bad_request(f"unable to parse requirement: found '{part}', expected: in, notin, =, ==, !=, gt, lt")
    return requirements


def labels_match(requirements: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in requirements)


def selector_from_label_selector(selector: dict[str, Any] | None) -> list[Requirement] | None:
    """Requirements of a ``LabelSelector`` object (``matchLabels`` + ``matchExpressions``).

    ``None`` (no selector) matches nothing; an empty selector matches everything.
    """
    if selector is None:
        return None
    requirements = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        operator = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(
            expression.get("operator", ""), "in")
        requirements.append(Requirement(expression["key"], operator, tuple(expression.get("values") or ())))
    return requirements


# Field selectors ---------------------------------------------------------------------------------

def _get_path(obj: dict[str, Any], path: str) -> Any:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _stringify(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Extra selectable fields per (group, plural), as in the real registries' GetAttrs functions.
FIELD_LABELS: dict[tuple[str, str], dict[str, Callable[[dict[str, Any]], Any]]] = {
    ("", "pods"): {
        "spec.nodeName": lambda o: _get_path(o, "spec.nodeName"),
        "spec.restartPolicy": lambda o: _get_path(o, "spec.restartPolicy"),
        "spec.schedulerName": lambda o: _get_path(o, "spec.schedulerName"),
        "spec.serviceAccountName": lambda o: _get_path(o, "spec.serviceAccountName"),
        "spec.hostNetwork": lambda o: bool(_get_path(o, "spec.hostNetwork")),
        "status.phase": lambda o: _get_path(o, "status.phase"),
        "status.podIP": lambda o: _get_path(o, "status.podIP"),
        "status.nominatedNodeName": lambda o: _get_path(o, "status.nominatedNodeName"),
    },
    ("", "secrets"): {"type": lambda o: o.get("type")},
    ("", "namespaces"): {"status.phase": lambda o: _get_path(o, "status.phase")},
    ("", "events"): {
        **{f"involvedObject.{f}": (lambda o, f=f: _get_path(o, f"involvedObject.{f}"))
           for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": lambda o: o.get("reason"),
        "reportingComponent": lambda o: o.get("reportingComponent"),
        "source": lambda o: _get_path(o, "source.component"),
        "type": lambda o: o.get("type"),
    },
    ("apps", "replicasets"): {"status.replicas": lambda o: _get_path(o, "status.replicas")},
    ("batch", "jobs"): {"status.successful": lambda o: _get_path(o, "status.successful")},
}


@dataclasses.dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str


def parse_field_selector(text: str | None, group: str, plural: str,
                         selectable: list[str] | None = None) -> list[FieldRequirement]:
    if not text:
        return []
    allowed = {"metadata.name", "metadata.namespace"} | set(FIELD_LABELS.get((group, plural), {}))
    allowed |= set(selectable or [])
    requirements = []
    for part in _split_top_level(text):
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(==|=|!=)\s*(.*)", part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name = match.group(1)
        if name not in allowed:
            raise bad_request(f'field label not supported: {name}')
        requirements.append(FieldRequirement(name, match.group(2) != "!=", match.group(3)))
    return requirements


def fields_match(requirements: list[FieldRequirement], obj: dict[str, Any], group: str, plural: str) -> bool:
    extractors = FIELD_LABELS.get((group, plural), {})
    for requirement in requirements:
        if requirement.field in extractors:
            actual = _stringify(extractors[requirement.field](obj))
        else:
            actual = _stringify(_get_path(obj, requirement.field.lstrip(".")))
        if (actual == requirement.value) != requirement.equal:
            return False
    return True


def single_name(requirements: list[FieldRequirement]) -> str | None:
    """The name of a ``metadata.name=x`` selector (what ``kubectl wait`` sends), else ``None``."""
    for requirement in requirements:
        if requirement.field == "metadata.name" and requirement.equal:
            return requirement.value
    return None


__all__ = ["ApiError", "Requirement", "FieldRequirement", "parse_label_selector", "labels_match",
           "parse_field_selector", "fields_match", "selector_from_label_selector", "single_name"]
