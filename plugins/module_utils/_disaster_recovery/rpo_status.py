# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: each component's RPO now, from its backups (cluster or object store alike).

The achieved RPO at a moment is the age of the newest *Completed* backup holding every namespace of the
component (what ``time() - velero_backup_last_successful_timestamp`` measures); the newest restorable
backup (Completed or PartiallyFailed) is what a drill or a restore would use. The worst case the
schedule allows is its longest interval plus the longest measured backup duration.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import Component
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.durations import human_duration
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import (
    FAILED_PHASES,
    RESTORABLE_PHASES,
    BackupRecord,
    newest,
)

# How many recent backups the duration measurement looks at.
MEASURED_BACKUPS = 10


@dataclass(frozen=True)
class ComponentStatus:
    component: Component
    backups: tuple[BackupRecord, ...]  # those holding the component's namespaces, any phase
    now: datetime.datetime

    @property
    def last_successful(self) -> BackupRecord | None:
        return newest(self.backups, ("Completed",))

    @property
    def newest_restorable(self) -> BackupRecord | None:
        return newest(self.backups, RESTORABLE_PHASES)

    @property
    def achieved_rpo(self) -> float | None:
        last = self.last_successful
        if last is None or last.completed is None:
            return None
        return max(0.0, (self.now - last.completed).total_seconds())

    @property
    def longest_duration(self) -> float | None:
        recent = sorted((b for b in self.backups if b.phase == "Completed" and b.duration is not None),
                        key=lambda b: b.completed or self.now)[-MEASURED_BACKUPS:]
        return max((b.duration for b in recent if b.duration is not None), default=None)

    @property
    def worst_case_rpo(self) -> float:
        return self.component.interval + (self.longest_duration or 0.0)

    @property
    def compliant(self) -> bool:
        achieved = self.achieved_rpo
        return achieved is not None and achieved <= self.component.rpo

    @property
    def recent_failures(self) -> list[BackupRecord]:
        last = self.last_successful
        return [b for b in self.backups if b.phase in FAILED_PHASES
                and (last is None or (b.started or self.now) > (last.started or self.now))]

    def verdict(self) -> str:
        if self.component.backup != "velero" and not self.backups:
            return "not measured"  # backed up by its own tool; Velero holds no copy of its namespaces
        if self.last_successful is None:
            return "no backup"
        return "compliant" if self.compliant else "breached"

    def as_dict(self) -> dict[str, Any]:
        last = self.last_successful
        restorable = self.newest_restorable
        achieved = self.achieved_rpo
        return {
            "component": self.component.name, "namespaces": list(self.component.namespaces),
            "backup_method": self.component.backup, "schedule": self.component.schedule,
            "rpo_objective_seconds": self.component.rpo, "rto_objective_seconds": self.component.rto,
            "achieved_rpo_seconds": achieved, "achieved_rpo": human_duration(achieved),
            "rpo_objective": human_duration(self.component.rpo),
            "worst_case_rpo_seconds": self.worst_case_rpo, "longest_backup_seconds": self.longest_duration,
            "last_successful_backup": last.as_dict() if last else None,
            "newest_restorable_backup": restorable.as_dict() if restorable else None,
            "failed_since_last_success": [b.name for b in self.recent_failures],
            "backups": len(self.backups), "compliant": self.compliant, "verdict": self.verdict(),
            "measured_at": rfc3339(self.now),
        }


def component_backups(component: Component, records: Iterable[BackupRecord]) -> tuple[BackupRecord, ...]:
    """The backups that hold the component: from its schedule, or any backup covering its namespaces."""
    return tuple(record for record in records
                 if record.schedule == component.schedule_name or record.covers(component.namespaces))


def component_statuses(components: Iterable[Component], records: list[BackupRecord],
                       now: datetime.datetime) -> list[ComponentStatus]:
    return [ComponentStatus(component, component_backups(component, records), now) for component in components]
