# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the velero_drill module's run.

For each chosen component (dependencies first): restore its newest Completed backup into ephemeral
namespaces (Velero ``namespaceMapping``), wait for the Restore, verify as the catalogue says, measure
the RTO from the Restore's creation to a passing verification, and delete the drill namespaces
whatever happened (a SIGTERM or Ctrl-C included). A SIGKILL leaves labelled namespaces behind: every
run first removes those, and only those. The source namespaces are never written: the Restore
includes only them and maps every one of them elsewhere.

With a fixed ``namespace_suffix`` (the scheduled drill), leftovers are found by reading the drill
namespaces' own names, so the identity needs no right on any other namespace, not even to list them.

Everything is decided before the first write (catalogue, backups, leftovers); ``--check`` reports it.
The outcome is recorded in the cluster for the audit report: an Event on the Restore and the
ConfigMap ``atlas-hardening-dr-drills`` in Velero's namespace (one key per component).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339, utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import (
    chosen_in_restore_order,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_plan import (
    DRILL_LABEL,
    RESULTS_CONFIGMAP,
    DrillPlan,
    check_suffix,
    namespace_manifest,
    plan_drill,
    restore_manifest,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_verification import (
    VerificationReport,
    verify_http,
    verify_objects,
    verify_ready,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.durations import human_duration
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.events import record_event
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import (
    Absent,
    KubernetesWaitTimeout,
    WaitCondition,
    WaitTarget,
    wait_for,
)
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import (
    VELERO_API_VERSION,
    BackupRecord,
    cluster_backups,
)
from ansible_collections.atlas.hardening.plugins.module_utils._velero.locations import (
    StorageLocation,
    storage_locations,
)
from ansible_collections.atlas.hardening.plugins.module_utils._velero.object_store import VeleroObjectStore

FIELD_MANAGER = "atlas.hardening-dr-drill"
FINISHED_PHASES = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")


class RestoreFinished(WaitCondition):
    description = "to finish (Completed, PartiallyFailed, Failed or FailedValidation)"

    def check(self, obj: dict[str, Any] | None) -> tuple[bool, str]:
        phase = ((obj or {}).get("status") or {}).get("phase") or "New"
        return phase in FINISHED_PHASES, f"phase {phase}"


class Interrupted(Exception):
    """SIGTERM during a drill: raised so that the drill namespaces are still deleted."""


@contextmanager
def interruptible() -> Iterator[None]:
    def stop(signum: int, _frame: Any) -> None:
        raise Interrupted(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def drill_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    components = chosen_in_restore_order(params["components"], params["names"])
    if params["backup_name"] and len(components) != 1:
        raise HardeningError("backup_name chooses the backup of one component: name exactly one component in names.")
    suffix = check_suffix(params["namespace_suffix"]) if params["namespace_suffix"] else None
    objects = KubernetesObjects(kubernetes_connection(module))
    velero_namespace = params["velero_namespace"]
    records = cluster_backups(objects, velero_namespace)
    locations = {location.name: location for location in storage_locations(objects, velero_namespace)}
    now = utc_now()
    plans = [plan_drill(component, records, params["backup_name"], now, suffix) for component in components]
    leftovers = fixed_name_leftovers(objects, plans) if suffix else labelled_leftovers(objects)
    result: dict[str, Any] = {"changed": bool(plans or leftovers), "plans": [plan.as_dict() for plan in plans],
                              "leftovers_removed": leftovers, "drills": []}
    if module.check_mode:
        return result
    for name in leftovers:
        objects.delete(ObjectRef("v1", "Namespace", name))
    if suffix and leftovers:  # this run creates the same names again: wait until they are gone
        _wait_gone(objects, leftovers, float(params["cleanup_timeout"]) or float(params["timeout"]))
    store_for = object_stores(module, locations) if any(p.component.verify.objects for p in plans) else None
    for plan in plans:
        drill = run_drill(objects, plan, store_for, params, velero_namespace)
        result["drills"].append(drill)
        record_outcome(objects, plan, drill, velero_namespace)
    failed = [drill for drill in result["drills"] if drill["verdict"] != "passed"]
    result["passed"] = not failed
    result["requests"] = objects.connection.requests_since({})
    if failed and params["fail_on_failure"]:
        raise HardeningError("Drill failed for " + "; ".join(
            f"{drill['component']} ({drill['restore']}): {'; '.join(drill['failures'])}" for drill in failed)
            + ". The drill namespaces were deleted; the Restore objects and their logs stay for investigation "
            f"(velero restore logs <name> -n {velero_namespace}).", **result)
    return result


def labelled_leftovers(objects: KubernetesObjects) -> list[str]:
    namespaces = objects.resource("v1", "Namespace")
    return [item["metadata"]["name"] for item in objects.list(namespaces, label_selector=DRILL_LABEL)[0]]


def fixed_name_leftovers(objects: KubernetesObjects, plans: list[DrillPlan]) -> list[str]:
    """The planned drill namespaces that exist already: left by a killed drill when they carry the drill
    label; anything else of that name is not the drill's to delete."""
    leftovers = []
    for plan in plans:
        for _source, target in plan.namespace_mapping:
            existing = objects.get(ObjectRef("v1", "Namespace", target))
            if existing is None:
                continue
            if DRILL_LABEL not in (existing["metadata"].get("labels") or {}):
                raise HardeningError(f"Namespace {target} exists and is not a drill namespace (no label {DRILL_LABEL}): "
                                     "the drill will not delete it. Choose another namespace_suffix. Nothing was "
                                     "changed.")
            leftovers.append(target)
    return leftovers


def object_stores(module: HardeningModule, locations: dict[str, StorageLocation]) -> Any:
    from ansible_collections.atlas.hardening.plugins.module_utils._aws.config import aws_connection

    aws = aws_connection(module)
    default = next((location for location in locations.values() if location.default), None)

    def store_for(backup: BackupRecord) -> VeleroObjectStore:
        location = locations.get(backup.storage_location) or default
        if location is None:
            raise HardeningError(f"Backup {backup.name} names storage location {backup.storage_location!r}, "
                                 "which does not exist: the backup's resource list cannot be read.")
        return VeleroObjectStore(aws, location.bucket, location.prefix)
    return store_for


def run_drill(objects: KubernetesObjects, plan: DrillPlan, store_for: Any, params: dict[str, Any],
              velero_namespace: str) -> dict[str, Any]:
    timeout = float(params["timeout"])
    started_at = utc_now()
    report = VerificationReport()
    drill: dict[str, Any] = {**plan.as_dict(), "started": rfc3339(started_at), "namespaces_created": [],
                             "namespaces_deleted": [], "restore_phase": None}
    clock_start: float | None = None
    with interruptible():
        try:
            for source, target in plan.namespace_mapping:
                objects.create(namespace_manifest(plan, source, target), field_manager=FIELD_MANAGER)
                drill["namespaces_created"].append(target)
            objects.create(restore_manifest(plan, velero_namespace), field_manager=FIELD_MANAGER)
            clock_start = time.monotonic()
            restore = wait_restore(objects, plan, velero_namespace, timeout)
            status = restore.get("status") or {}
            drill["restore_phase"] = status.get("phase")
            drill["restore_warnings"] = int(status.get("warnings") or 0)
            drill["restore_errors"] = int(status.get("errors") or 0)
            if status.get("phase") not in ("Completed", "PartiallyFailed"):
                report.add("restore", False, f"Restore {plan.restore_name} is {status.get('phase') or 'not finished'}"
                           + (f": {status.get('failureReason') or '; '.join(status.get('validationErrors') or [])}"
                              if status.get("phase") in ("Failed", "FailedValidation") else f" after {timeout:.0f} s"))
            else:
                report.add("restore", True, f"Restore {plan.restore_name} {status['phase']} "
                           f"({drill['restore_warnings']} warning(s), {drill['restore_errors']} error(s))")
                verify_restore(objects, plan, store_for, report, timeout - (time.monotonic() - clock_start))
        except Interrupted as exc:
            report.add("interrupted", False, f"the drill was interrupted ({exc}); its namespaces are deleted")
        finally:
            drill["namespaces_deleted"] = _delete_drill_namespaces(objects, drill["namespaces_created"],
                                                                   float(params["cleanup_timeout"]))
    rto = time.monotonic() - clock_start if clock_start is not None and report.passed else None
    drill.update({"checks": report.checks, "failures": report.failures, "rto_seconds": rto, "rto": human_duration(rto),
                  "rto_objective_seconds": plan.component.rto,
                  "rto_met": rto is not None and rto <= plan.component.rto,
                  "verdict": "passed" if report.passed and rto is not None and rto <= plan.component.rto else "failed"})
    if report.passed and rto is not None and rto > plan.component.rto:
        drill["failures"].append(f"RTO {human_duration(rto)} exceeds the objective {human_duration(plan.component.rto)}")
    return drill


def wait_restore(objects: KubernetesObjects, plan: DrillPlan, velero_namespace: str, timeout: float) -> dict[str, Any]:
    ref = ObjectRef(VELERO_API_VERSION, "Restore", plan.restore_name, velero_namespace)
    target = WaitTarget(ref, objects.resource(VELERO_API_VERSION, "Restore"), RestoreFinished())
    try:
        wait_for(objects, [target], timeout)
    except KubernetesWaitTimeout:
        pass
    return target.last or {}


def verify_restore(objects: KubernetesObjects, plan: DrillPlan, store_for: Any, report: VerificationReport,
                   remaining: float) -> None:
    workloads: list[dict[str, Any]] = []
    if plan.component.verify.objects:
        store = store_for(plan.backup)
        workloads = verify_objects(objects, plan, store.resource_list(plan.backup.name), report,
                                   lambda: store.restore_resource_list(plan.restore_name))
    deadline = time.monotonic() + remaining
    verify_ready(objects, plan, workloads, report, deadline - time.monotonic())
    if plan.component.verify.http:
        verify_http(objects, plan, report, max(1.0, deadline - time.monotonic()))


def _delete_drill_namespaces(objects: KubernetesObjects, names: list[str], timeout: float) -> list[str]:
    for name in names:
        objects.delete(ObjectRef("v1", "Namespace", name), propagation_policy="Foreground")
    if names and timeout > 0:
        try:
            _wait_gone(objects, names, timeout)
        except KubernetesWaitTimeout:
            pass  # deleting: the namespace controller finishes it; a later run removes it if not
    return names


def _wait_gone(objects: KubernetesObjects, names: list[str], timeout: float) -> None:
    resource = objects.resource("v1", "Namespace")
    wait_for(objects, [WaitTarget(ObjectRef("v1", "Namespace", name), resource, Absent()) for name in names], timeout)


def record_outcome(objects: KubernetesObjects, plan: DrillPlan, drill: dict[str, Any], velero_namespace: str) -> None:
    summary = {key: drill[key] for key in ("component", "backup", "backup_completed", "restore", "started", "verdict",
                                           "rto_seconds", "rto_objective_seconds", "failures")}
    summary["finished"] = rfc3339(utc_now())
    objects.apply({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": RESULTS_CONFIGMAP, "namespace": velero_namespace,
                                "labels": {"app.kubernetes.io/managed-by": "atlas.hardening"}},
                   "data": {f"{plan.component.name}.json": json.dumps(summary, sort_keys=True)}},
                  field_manager=f"{FIELD_MANAGER}-{plan.component.name}", force=True)
    restore = {"apiVersion": VELERO_API_VERSION, "kind": "Restore",
               "metadata": {"name": plan.restore_name, "namespace": velero_namespace}}
    passed = drill["verdict"] == "passed"
    message = (f"Drill of {plan.component.name} from backup {plan.backup.name}: "
               + (f"passed, RTO {drill['rto']} (objective {human_duration(plan.component.rto)})" if passed
                  else "failed: " + "; ".join(drill["failures"])))
    record_event(objects, restore, "DrillPassed" if passed else "DrillFailed", message,
                 "Normal" if passed else "Warning", component="atlas-hardening-dr-drill")
