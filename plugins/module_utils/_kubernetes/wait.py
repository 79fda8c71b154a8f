# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: wait until objects reach a condition (ready, a status condition, a field value, or gone).

Waiting costs as few requests as possible:

- the condition is first checked on the last known state (the apply response or the object read
  before applying): an unchanged, already-ready object costs nothing;
- objects still pending are watched, one watch per (resource, namespace): a watch without
  resourceVersion starts with the current state of every object and then streams changes, so one
  request replaces a GET plus polling; a watch that ends early is reopened;
- an API server that cannot watch (405) is polled once a second.

A timeout names every object still pending, what it waited for and what it last saw.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.discovery import ApiResource
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import (
    KubernetesApiError,
    KubernetesError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import (
    KubernetesObjects,
    ObjectRef,
)

POLL_INTERVAL = 1.0
_NOT_FOUND = "not found"


class KubernetesWaitTimeout(KubernetesError):
    """The objects did not reach their condition in time."""


class WaitCondition:
    """What "done" means for an object; ``check`` returns (met, a short description of what it saw)."""

    description = "to exist"

    def check(self, obj: dict[str, Any] | None) -> tuple[bool, str]:
        return obj is not None, "exists" if obj is not None else _NOT_FOUND


class Exists(WaitCondition):
    pass


class Absent(WaitCondition):
    description = "to be deleted"

    def check(self, obj: dict[str, Any] | None) -> tuple[bool, str]:
        if obj is None:
            return True, "gone"
        deleting = (obj.get("metadata") or {}).get("deletionTimestamp")
        finalizers = (obj.get("metadata") or {}).get("finalizers") or []
        seen = "being deleted" if deleting else "still present"
        return False, seen + (f", finalizers {', '.join(finalizers)}" if finalizers else "")


class ConditionStatus(WaitCondition):
    """``status.conditions[type=<type>].status == <status>`` (and reason, when given)."""

    def __init__(self, condition_type: str, status: str = "True", reason: str | None = None) -> None:
        self.condition_type = condition_type
        self.status = status
        self.reason = reason
        self.description = f"to have condition {condition_type}={status}" + (f" ({reason})" if reason else "")

    def check(self, obj: dict[str, Any] | None) -> tuple[bool, str]:
        if obj is None:
            return False, _NOT_FOUND
        condition = _condition(obj, self.condition_type)
        if condition is None:
            return False, f"no {self.condition_type} condition"
        reason_ok = self.reason is None or condition.get("reason") == self.reason
        met = str(condition.get("status")) == self.status and reason_ok
        return met, _describe_condition(condition)


class FieldEquals(WaitCondition):
    """A field, by a dotted path such as ``status.phase`` or ``status.loadBalancer.ingress[0].ip``."""

    def __init__(self, path: str, value: Any) -> None:
        self.path = path
        self.steps = parse_path(path)
        self.value = value
        self.description = f"to have {path} == {value!r}"

    def check(self, obj: dict[str, Any] | None) -> tuple[bool, str]:
        if obj is None:
            return False, _NOT_FOUND
        found, actual = field_value(obj, self.steps)
        if not found:
            return False, f"{self.path} unset"
        return _same_value(actual, self.value), f"{self.path}={actual!r}"


class _Readiness(WaitCondition):
    description = "to be ready"

    def __init__(self, rule: Callable[[dict[str, Any]], tuple[bool, str]], description: str) -> None:
        self.rule = rule
        self.description = description

    def check(self, obj: dict[str, Any] | None) -> tuple[bool, str]:
        if obj is None:
            return False, _NOT_FOUND
        return self.rule(obj)


def _deployment_ready(obj: dict[str, Any]) -> tuple[bool, str]:
    status = obj.get("status") or {}
    wanted = int((obj.get("spec") or {}).get("replicas", 1))
    observed = _observed(obj)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    condition = _condition(obj, "Available")
    is_available = condition is not None and condition.get("status") == "True"
    seen = (f"{_describe_condition(condition) if condition else 'no Available condition'}, "
            f"{updated}/{wanted} updated, {available}/{wanted} available{observed[1]}")
    return observed[0] and is_available and updated >= wanted and available >= wanted, seen


def _statefulset_ready(obj: dict[str, Any]) -> tuple[bool, str]:
    status = obj.get("status") or {}
    wanted = int((obj.get("spec") or {}).get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0)
    observed = _observed(obj)
    return observed[0] and ready == wanted, f"{ready}/{wanted} ready replicas{observed[1]}"


def _daemonset_ready(obj: dict[str, Any]) -> tuple[bool, str]:
    status = obj.get("status") or {}
    desired = int(status.get("desiredNumberScheduled") or 0)
    ready = int(status.get("numberReady") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    observed = _observed(obj)
    return (observed[0] and "desiredNumberScheduled" in status and ready >= desired and updated >= desired,
            f"{ready}/{desired} ready, {updated}/{desired} updated{observed[1]}")


def _phase(expected: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    def rule(obj: dict[str, Any]) -> tuple[bool, str]:
        phase = (obj.get("status") or {}).get("phase")
        return phase == expected, f"phase {phase or 'unset'}"
    return rule


READINESS: dict[tuple[str, str], WaitCondition] = {
    ("apps", "Deployment"): _Readiness(_deployment_ready, "to be Available with every replica updated"),
    ("apps", "StatefulSet"): _Readiness(_statefulset_ready, "to have every replica ready"),
    ("apps", "DaemonSet"): _Readiness(_daemonset_ready, "to be ready on every node"),
    ("batch", "Job"): ConditionStatus("Complete"),
    ("", "Pod"): ConditionStatus("Ready"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ConditionStatus("Established"),
    ("", "Namespace"): _Readiness(_phase("Active"), "to be Active"),
}


def readiness_condition(api_version: str, kind: str) -> WaitCondition:
    """The default "ready" condition of a kind; mere existence for kinds without one."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    return READINESS.get((group, kind), Exists())


def condition_from_spec(spec: dict[str, Any]) -> WaitCondition:
    """Build a condition from the module's ``wait_condition`` option."""
    if spec.get("type"):
        return ConditionStatus(str(spec["type"]), str(spec.get("status") or "True"), spec.get("reason"))
    if spec.get("field"):
        return FieldEquals(str(spec["field"]), spec.get("value"))
    raise KubernetesError("wait_condition needs either type (a status condition) or field and value.")


class WaitTarget:
    """One object to wait for, with its last known state (None: unknown or absent)."""

    def __init__(self, ref: ObjectRef, resource: ApiResource, condition: WaitCondition,
                 last: dict[str, Any] | None = None, known: bool = False) -> None:
        self.ref = ref
        self.resource = resource
        self.condition = condition
        self.last = last
        self.known = known or last is not None
        self.seen = ""

    def met(self) -> bool:
        if not self.known:
            self.seen = "not read yet"
            return False
        done, self.seen = self.condition.check(self.last)
        return done


def wait_for(objects: KubernetesObjects, targets: list[WaitTarget], timeout: float,
             clock: Callable[[], float] = time.monotonic) -> None:
    """Return when every target meets its condition; raise KubernetesWaitTimeout otherwise."""
    deadline = clock() + timeout
    pending = [target for target in targets if not target.met()]
    groups: dict[tuple[str, str, str], list[WaitTarget]] = {}
    for target in pending:
        key = (target.resource.api_version, target.resource.plural, target.ref.namespace or "")
        groups.setdefault(key, []).append(target)
    for group in groups.values():
        if isinstance(group[0].condition, Absent):
            for target in group:
                _wait_absent(objects, target, deadline, clock)
        else:
            _watch_group(objects, group, deadline, clock)
    late = [target for target in targets if not target.met()]
    if late:
        raise _timeout(late, timeout)


def _watch_group(objects: KubernetesObjects, group: list[WaitTarget], deadline: float,
                 clock: Callable[[], float]) -> None:
    by_name = {target.ref.name: target for target in group}
    resource, namespace = group[0].resource, group[0].ref.namespace
    while any(not target.met() for target in group):
        remaining = deadline - clock()
        if remaining <= 0:
            return
        names = [target.ref.name for target in group if not target.met()]
        selector = f"metadata.name={names[0]}" if len(names) == 1 else None
        try:
            for event in objects.watch(resource, namespace, remaining, field_selector=selector):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    break  # e.g. 410 Gone: reopen the watch
                target = by_name.get(str((obj.get("metadata") or {}).get("name") or ""))
                if target is not None and kind in ("ADDED", "MODIFIED", "DELETED"):
                    target.last = None if kind == "DELETED" else obj
                    target.known = True
                if all(target.met() for target in group) or clock() >= deadline:
                    return
        except KubernetesApiError as exc:
            if exc.status not in (405, 501):
                raise
            _poll(objects, group, deadline, clock)
            return
        if clock() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - clock())))


def _poll(objects: KubernetesObjects, group: list[WaitTarget], deadline: float, clock: Callable[[], float]) -> None:
    while True:
        for target in group:
            if not target.met():
                target.last = objects.get(target.ref)
                target.known = True
        if all(target.met() for target in group) or clock() >= deadline:
            return
        time.sleep(min(POLL_INTERVAL, max(0.0, deadline - clock())))


def _wait_absent(objects: KubernetesObjects, target: WaitTarget, deadline: float, clock: Callable[[], float]) -> None:
    target.last = objects.get(target.ref)
    target.known = True
    while not target.met() and clock() < deadline:
        version = str(((target.last or {}).get("metadata") or {}).get("resourceVersion") or "")
        try:
            for event in objects.watch(target.resource, target.ref.namespace, deadline - clock(),
                                       field_selector=f"metadata.name={target.ref.name}",
                                       resource_version=version or None):
                if event.get("type") == "DELETED":
                    target.last = None
                    return
                if event.get("type") == "ERROR":
                    break
                target.last = event.get("object") or target.last
        except KubernetesApiError as exc:
            if exc.status not in (405, 501):
                raise
            _poll(objects, [target], deadline, clock)
            return
        if clock() < deadline:
            target.last = objects.get(target.ref)


def _timeout(late: list[WaitTarget], timeout: float) -> KubernetesWaitTimeout:
    parts = [f"{target.ref} {target.condition.description} (last seen: {target.seen})" for target in late]
    return KubernetesWaitTimeout(
        f"Timed out after {timeout:g} s waiting for {len(late)} object(s): " + "; ".join(parts)
        + ". Check the objects' events and controllers (kubectl describe), or raise wait_timeout.",
        pending=[str(target.ref) for target in late])


# ----------------------------------------------------------------------------------------------
_PATH_TOKEN = re.compile(r'\[(\d+)\]|\["([^"]+)"\]|\.?([^.\[\]]+)')


def parse_path(path: str) -> list[Any]:
    """``status.containerStatuses[0].ready`` -> ["status", "containerStatuses", 0, "ready"];
    ``metadata.labels["app.kubernetes.io/name"]`` keeps the dotted key whole."""
    steps: list[Any] = []
    position = 0
    text = path.lstrip("$").lstrip(".")
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if not match or match.end() == position:
            raise KubernetesError(f"wait_condition field {path!r} is not a path such as status.phase or "
                                  'status.conditions[0].status or metadata.labels["app.kubernetes.io/name"].')
        index, quoted, name = match.groups()
        steps.append(int(index) if index is not None else (quoted if quoted is not None else name))
        position = match.end()
    return steps


def field_value(obj: Any, steps: list[Any]) -> tuple[bool, Any]:
    current = obj
    for step in steps:
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return False, None
        elif not isinstance(current, dict) or step not in current:
            return False, None
        current = current[step]
    return True, current


def _same_value(actual: Any, expected: Any) -> bool:
    if actual == expected and type(actual) is type(expected):
        return True
    if isinstance(actual, bool):
        return str(expected).lower() == str(actual).lower()
    return str(actual) == str(expected)


def _condition(obj: dict[str, Any], condition_type: str) -> dict[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == condition_type:
            return condition
    return None


def _describe_condition(condition: dict[str, Any]) -> str:
    text = f"{condition.get('type')}={condition.get('status')}"
    if condition.get("reason"):
        text += f" ({condition['reason']}"
        text += f": {condition['message']})" if condition.get("message") else ")"
    return text


def _observed(obj: dict[str, Any]) -> tuple[bool, str]:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is None:
        return True, ""
    if observed is None or int(observed) < int(generation):
        return False, f", controller has not seen generation {generation} yet (observed {observed})"
    return True, ""
