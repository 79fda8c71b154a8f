# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: how a drill decides the restore worked, as the catalogue says:

- ``objects``: every object the backup's resource list holds in the component's namespaces exists in the
  drill namespaces (one LIST per kind and namespace), except those Kubernetes recreates or removes on
  its own (Pods, ReplicaSets, Endpoints, EndpointSlices, Events), those Velero never restores and those a
  drill leaves out (CronJobs and Jobs: the copy must not run the component's scheduled work); a kind
  the drill's identity may not list (403: Secrets, for the scheduled drill) is taken from the Restore's
  own resource list instead (Velero's word that they are there), and the detail says which kinds;
- ``ready``: the named workloads, or every restored Deployment, StatefulSet and DaemonSet, become ready
  (one watch per kind and namespace);
- ``http``: each check answers 2xx through the API server's service proxy (containing ``expect``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import HttpCheck
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_plan import DrillPlan
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesApiError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import (
    KubernetesWaitTimeout,
    WaitTarget,
    readiness_condition,
    wait_for,
)

NOT_COMPARED = {"v1/Pod", "apps/v1/ReplicaSet", "v1/Endpoints", "discovery.k8s.io/v1/EndpointSlice", "v1/Event",
                "events.k8s.io/v1/Event", "v1/Namespace"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass
class VerificationReport:
    checks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, check: str, passed: bool, detail: str, **extra: Any) -> None:
        self.checks.append({"check": check, "passed": passed, "detail": detail, **extra})

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check["passed"] for check in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"{check['check']}: {check['detail']}" for check in self.checks if not check["passed"]]


def expected_objects(plan: DrillPlan, resource_list: dict[str, list[str]]) -> dict[tuple[str, str], list[str]]:
    """(api/Kind, drill namespace) -> names the restore must have created."""
    mapping = dict(plan.namespace_mapping)
    expected: dict[tuple[str, str], list[str]] = {}
    for api_kind, entries in resource_list.items():
        if api_kind in NOT_COMPARED or api_kind in plan.excluded_kinds:
            continue
        for entry in entries:
            namespace, _slash, name = entry.rpartition("/")
            if namespace in mapping:
                expected.setdefault((api_kind, mapping[namespace]), []).append(name)
    return expected


# skipped: it existed already (existingResourcePolicy none), e.g. kube-root-ca.crt in a new namespace.
RESTORED_ACTIONS = ("created", "updated", "skipped")


def restored_by_velero(restore_resource_list: dict[str, list[str]], api_kind: str, namespace: str) -> dict[str, Any]:
    """Names of ``api_kind`` in ``namespace`` that Velero's restore resource list says are there (entries
    ``ns/name(action)``; not those that ``failed``)."""
    present: dict[str, Any] = {}
    for entry in restore_resource_list.get(api_kind) or []:
        item, _paren, action = entry.rstrip(")").rpartition("(")
        entry_namespace, _slash, name = item.rpartition("/")
        if entry_namespace == namespace and action in RESTORED_ACTIONS:
            present[name] = None
    return present


def verify_objects(objects: KubernetesObjects, plan: DrillPlan, resource_list: dict[str, list[str]],
                   report: VerificationReport,
                   restore_resource_list: Callable[[], dict[str, list[str]]]) -> list[dict[str, Any]]:
    """Compare; return the restored workloads (for the readiness check)."""
    missing: list[str] = []
    compared = 0
    workloads: list[dict[str, Any]] = []
    from_velero: list[str] = []
    velero_list: dict[str, list[str]] | None = None
    for (api_kind, namespace), names in sorted(expected_objects(plan, resource_list).items()):
        api_version, _slash, kind = api_kind.rpartition("/")
        resource = objects.resource(api_version, kind)
        try:
            present = {item["metadata"]["name"]: item for item in objects.list(resource, namespace)[0]}
        except KubernetesApiError as exc:
            if exc.status != 403:
                raise
            velero_list = restore_resource_list() if velero_list is None else velero_list
            present = restored_by_velero(velero_list, api_kind, namespace)
            if kind not in from_velero:
                from_velero.append(kind)
        for name in names:
            compared += 1
            if name not in present:
                missing.append(f"{kind} {namespace}/{name}")
            elif kind in WORKLOAD_KINDS and present[name] is not None:
                workloads.append(present[name])
    report.add("objects", not missing and compared > 0,
               f"{compared - len(missing)}/{compared} objects of the backup restored"
               + (f"; missing: {', '.join(missing[:10])}" if missing else "")
               + ("; the backup holds no object of these namespaces" if not compared else "")
               + (f"; {', '.join(from_velero)} as Velero's restore resource list says (not readable by this "
                  "identity)" if from_velero else ""),
               compared=compared, missing=missing, from_restore_resource_list=from_velero)
    return workloads


def verify_ready(objects: KubernetesObjects, plan: DrillPlan, workloads: list[dict[str, Any]],
                 report: VerificationReport, timeout: float) -> None:
    wanted = plan.component.verify.ready
    mapping = dict(plan.namespace_mapping)
    targets: list[WaitTarget] = []
    if wanted:
        for kind, name in wanted:
            for namespace in mapping.values():
                ref = ObjectRef("apps/v1", kind, name, namespace)
                targets.append(WaitTarget(ref, objects.resource("apps/v1", kind), readiness_condition("apps/v1", kind)))
    else:
        for workload in workloads:
            ref = ObjectRef.of(workload)
            targets.append(WaitTarget(ref, objects.resource(ref.api_version, ref.kind),
                                      readiness_condition(ref.api_version, ref.kind), last=workload))
    if not targets:
        report.add("ready", True, "no workload to wait for")
        return
    try:
        wait_for(objects, targets, max(1.0, timeout))
    except KubernetesWaitTimeout as exc:
        report.add("ready", False, str(exc))
        return
    report.add("ready", True, f"{len(targets)} workload(s) ready: "
               + ", ".join(f"{t.ref.kind} {t.ref.namespace}/{t.ref.name}" for t in targets[:10]))


def verify_http(objects: KubernetesObjects, plan: DrillPlan, report: VerificationReport, timeout: float) -> None:
    for check in plan.component.verify.http:
        for namespace in dict(plan.namespace_mapping).values():
            passed, detail = _http_once_ready(objects, namespace, check, timeout)
            report.add("http", passed, detail)


def _http_once_ready(objects: KubernetesObjects, namespace: str, check: HttpCheck,
                     timeout: float) -> tuple[bool, str]:
    """Retry until the service answers (Pods may still be starting) or ``timeout`` passes."""
    path = f"/api/v1/namespaces/{namespace}/services/{check.service}:{check.port}/proxy{check.path}"
    where = f"GET {check.path} on service {namespace}/{check.service}:{check.port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = objects.connection.request_bytes(path)
        except KubernetesApiError as exc:
            seen = f"HTTP {exc.status}"
        else:
            if not check.expect or check.expect in body.decode("utf-8", "replace"):
                return True, f"{where}: 2xx"
            seen = f"2xx without {check.expect!r}"
        if time.monotonic() >= deadline:
            return False, f"{where}: {seen} after {timeout:.0f} s"
        time.sleep(1.0)
