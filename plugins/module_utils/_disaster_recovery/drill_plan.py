# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what a restore drill will do, decided (and refused) before any write:
which backup of which component, restored into which ephemeral namespaces, under which Restore name.

Drill namespaces carry the label ``atlas.hardening/disaster-recovery-drill=<component>``: that label,
and only it, lets a later run recognise and remove what an interrupted drill left behind.
"""

from __future__ import annotations

import datetime
import re
import secrets
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import Component
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.rpo_status import component_backups
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import BackupRecord, newest

DRILL_LABEL = "atlas.hardening/disaster-recovery-drill"
DRILL_SOURCE_ANNOTATION = "atlas.hardening/drill-source-namespace"
RESTORE_LABEL = "atlas.hardening/disaster-recovery-restore"
# In Velero's namespace: one key <component>.json per component, the outcome of its last drill.
RESULTS_CONFIGMAP = "atlas-hardening-dr-drills"
# A drill's copy must not do the component's scheduled work: a restored CronJob (a backup, a rotation, a
# report) would run from the drill namespace against the same external systems, and a Job that had not
# finished at backup time would run again. A real restore brings them back.
DRILL_EXCLUDED = {"cronjobs.batch": "batch/v1/CronJob", "jobs.batch": "batch/v1/Job"}  # Velero's name -> api/Kind
_MAX_NAME = 63
_SUFFIX = re.compile(r"[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?")


@dataclass(frozen=True)
class DrillPlan:
    component: Component
    backup: BackupRecord
    restore_name: str
    namespace_mapping: tuple[tuple[str, str], ...]  # (source, drill namespace)

    @property
    def is_drill(self) -> bool:
        """Into other namespaces than the component's own (a real restore maps each one to itself)."""
        return any(source != target for source, target in self.namespace_mapping)

    @property
    def excluded_resources(self) -> tuple[str, ...]:
        """What the Restore leaves out, as Velero names resources (``excludedResources``)."""
        return tuple(DRILL_EXCLUDED) if self.is_drill else ()

    @property
    def excluded_kinds(self) -> tuple[str, ...]:
        """The same, as the backup's resource list names kinds (``api/Kind``)."""
        return tuple(DRILL_EXCLUDED.values()) if self.is_drill else ()

    def as_dict(self) -> dict[str, Any]:
        return {"component": self.component.name, "backup": self.backup.name, "backup_phase": self.backup.phase,
                "backup_completed": self.backup.as_dict()["completed"], "restore": self.restore_name,
                "namespace_mapping": dict(self.namespace_mapping),
                "excluded_resources": list(self.excluded_resources)}


def check_suffix(suffix: str) -> str:
    """The suffix of fixed drill namespace names, or HardeningError saying what is wrong with it."""
    if not _SUFFIX.fullmatch(suffix):
        raise HardeningError(f"namespace_suffix {suffix!r} must be 1 to 20 lowercase letters, digits or hyphens, "
                             "starting and ending with a letter or digit (it ends the drill namespaces' names).")
    return suffix


def drill_namespace(source: str, suffix: str) -> str:
    return f"drill-{source[:_MAX_NAME - len('drill-') - len(suffix) - 1]}-{suffix}"


def plan_drill(component: Component, records: list[BackupRecord], backup_name: str | None,
               now: datetime.datetime, suffix: str | None = None) -> DrillPlan:
    backups = component_backups(component, records)
    if backup_name:
        chosen = next((record for record in records if record.name == backup_name), None)
        if chosen is None:
            raise HardeningError(f"Backup {backup_name} does not exist in the cluster: choose one of the component's "
                                 f"backups ({', '.join(b.name for b in backups) or 'none'}) or leave backup_name unset "
                                 "for the newest Completed one.")
        if chosen.phase != "Completed":
            raise HardeningError(f"Backup {backup_name} is {chosen.phase}: a drill restores a Completed backup only "
                                 f"(a {chosen.phase} one lacks items, so its drill would prove nothing). Choose a "
                                 "Completed backup or leave backup_name unset.")
        if not chosen.covers(component.namespaces):
            raise HardeningError(f"Backup {backup_name} does not hold every namespace of {component.name} "
                                 f"({', '.join(component.namespaces)}).")
    else:
        found = newest(backups, ("Completed",))
        if found is None:
            phases = sorted({b.phase for b in backups})
            raise HardeningError(f"{component.name} has no Completed backup to drill "
                                 f"({len(backups)} backup(s){', phases ' + ', '.join(phases) if phases else ''}): "
                                 f"run harden.yml --tags dr to install its Schedule {component.schedule_name}, "
                                 "and check Velero's logs.")
        chosen = found
    suffix = suffix or secrets.token_hex(3)
    restore_name = f"drill-{component.name}-{now.strftime('%Y%m%d%H%M%S')}-{suffix}"[:_MAX_NAME]
    mapping = tuple((source, drill_namespace(source, suffix)) for source in component.namespaces)
    return DrillPlan(component, chosen, restore_name, mapping)


def restore_manifest(plan: DrillPlan, velero_namespace: str) -> dict[str, Any]:
    """A Restore of the component's namespaces only, each mapped to its drill namespace (a drill, without
    CronJobs and Jobs) or restored in place (a real restore)."""
    mapping = {source: target for source, target in plan.namespace_mapping if source != target}
    spec: dict[str, Any] = {"backupName": plan.backup.name, "includedNamespaces": [s for s, _t in plan.namespace_mapping],
                            "existingResourcePolicy": "none"}
    if mapping:
        spec["namespaceMapping"] = mapping
    if plan.excluded_resources:
        spec["excludedResources"] = list(plan.excluded_resources)
    return {"apiVersion": "velero.io/v1", "kind": "Restore",
            "metadata": {"name": plan.restore_name, "namespace": velero_namespace,
                         "labels": {DRILL_LABEL if mapping else RESTORE_LABEL: plan.component.name}},
            "spec": spec}


def namespace_manifest(plan: DrillPlan, source: str, target: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": target, "labels": {DRILL_LABEL: plan.component.name},
                         "annotations": {DRILL_SOURCE_ANNOTATION: source}}}


def plan_restore(component: Component, records: list[BackupRecord], backup_name: str | None,
                 now: datetime.datetime) -> DrillPlan:
    """A real restore: the same choice of backup as a drill, into the component's own namespaces."""
    drill = plan_drill(component, records, backup_name, now)
    name = f"restore-{component.name}-{now.strftime('%Y%m%d%H%M%S')}"[:_MAX_NAME]
    return DrillPlan(component, drill.backup, name, tuple((ns, ns) for ns in component.namespaces))
