# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the velero_restore module's run, for a real disaster on a new or damaged cluster.

Velero's disaster procedure (docs disaster-case.md): the BackupStorageLocation to ``ReadOnly`` (no
backup or garbage collection overwrites what is being restored), one Restore per component in
dependency order from its newest Completed backup, into its own namespaces, each verified as the
catalogue says before the next starts, then the location back to ``ReadWrite``, also when a step
failed. A failed component stops the run: those after it depend on it; objects already restored are
skipped with a warning on the next run, so running it again after the fix is safe. Components whose
data has its own backup (Vault's raft snapshots, a database operator's) get their manifests from Velero
and a manual step naming their runbook. ``--check`` prints the plan and writes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import (
    chosen_in_restore_order,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_plan import (
    DrillPlan,
    plan_restore,
    restore_manifest,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_task import (
    FIELD_MANAGER,
    object_stores,
    verify_restore,
    wait_restore,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_verification import (
    VerificationReport,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.durations import human_duration
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import VELERO_API_VERSION, cluster_backups
from ansible_collections.atlas.hardening.plugins.module_utils._velero.locations import (
    StorageLocation,
    storage_locations,
)


def restore_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    components = chosen_in_restore_order(params["components"], params["names"])
    objects = KubernetesObjects(kubernetes_connection(module))
    namespace = params["velero_namespace"]
    records = cluster_backups(objects, namespace)
    locations = {location.name: location for location in storage_locations(objects, namespace)}
    location = next((loc for loc in locations.values() if loc.default), None)
    if location is None:
        raise HardeningError(f"No default BackupStorageLocation in namespace {namespace}: install Velero pointing at "
                             "the bucket of the lost cluster first (its backups then appear within a minute).")
    now = utc_now()
    plans = [plan_restore(component, records, None, now) for component in components]
    manual = [f"{plan.component.name}: Velero restores its manifests; restore its data from its own backup "
              f"({'Vault raft snapshot' if plan.component.backup == 'vault_raft_snapshot' else 'the database backups'}"
              f", docs/runbooks/{plan.component.name}.md)" for plan in plans if plan.component.backup != "velero"]
    result: dict[str, Any] = {"changed": bool(plans), "order": [plan.component.name for plan in plans],
                              "plans": [plan.as_dict() for plan in plans], "manual_steps": manual,
                              "location": location.name, "restores": []}
    if module.check_mode:
        return result
    store_for = object_stores(module, locations)
    switched = _set_access_mode(objects, location, namespace, "ReadOnly")
    try:
        for plan in plans:
            outcome = _restore_one(objects, plan, store_for, namespace, float(params["timeout"]))
            result["restores"].append(outcome)
            if outcome["verdict"] != "passed":
                remaining = [p.component.name for p in plans[plans.index(plan) + 1:]]
                raise HardeningError(
                    f"Restore of {plan.component.name} failed ({'; '.join(outcome['failures'])}); stopped before "
                    f"{', '.join(remaining) or 'nothing'} (they depend on it). Fix it and run again: restored objects "
                    "are kept.", **result)
    finally:
        if switched:
            _set_access_mode(objects, location, namespace, "ReadWrite")
        result["location_access_mode"] = "ReadWrite" if switched or location.access_mode == "ReadWrite" else "ReadOnly"
    return result


def _set_access_mode(objects: KubernetesObjects, location: StorageLocation, namespace: str, mode: str) -> bool:
    """Merge-patch the location's access mode (the Velero chart owns the object); whether it changed."""
    if mode == "ReadOnly" and location.access_mode == "ReadOnly":
        return False
    resource = objects.resource(VELERO_API_VERSION, "BackupStorageLocation")
    objects.connection.request("PATCH", resource.object_path(location.name, namespace), None,
                               {"spec": {"accessMode": mode}}, content_type="application/merge-patch+json")
    return True


def _restore_one(objects: KubernetesObjects, plan: DrillPlan, store_for: Any, namespace: str,
                 timeout: float) -> dict[str, Any]:
    report = VerificationReport()
    objects.create(restore_manifest(plan, namespace), field_manager=FIELD_MANAGER)
    started = time.monotonic()
    status = wait_restore(objects, plan, namespace, timeout).get("status") or {}
    if status.get("phase") in ("Completed", "PartiallyFailed"):
        report.add("restore", True, f"Restore {plan.restore_name} {status['phase']} ({status.get('warnings') or 0} "
                   f"warning(s), {status.get('errors') or 0} error(s))")
        verify_restore(objects, plan, store_for, report, timeout - (time.monotonic() - started))
    else:
        report.add("restore", False, f"Restore {plan.restore_name} is {status.get('phase') or 'not finished'}")
    seconds = time.monotonic() - started
    return {**plan.as_dict(), "checks": report.checks, "failures": report.failures, "seconds": seconds,
            "duration": human_duration(seconds), "verdict": "passed" if report.passed else "failed"}
