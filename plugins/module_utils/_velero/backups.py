# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Velero Backups as the collection reasons about them, read alike from the
cluster (``velero.io/v1`` Backup objects) and from the object store (``velero-backup.json``, the same
object as Velero's finalizer last wrote it)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import parse_rfc3339, rfc3339
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects

VELERO_API_VERSION = "velero.io/v1"
SCHEDULE_LABEL = "velero.io/schedule-name"
# Only these can be restored (pkg/controller/restore_controller.go); only Completed counts for the RPO,
# as velero_backup_last_successful_timestamp does.
RESTORABLE_PHASES = ("Completed", "PartiallyFailed")
FAILED_PHASES = ("Failed", "PartiallyFailed", "FailedValidation")


@dataclass(frozen=True)
class BackupRecord:
    name: str
    phase: str
    schedule: str
    included_namespaces: tuple[str, ...]
    excluded_namespaces: tuple[str, ...]
    storage_location: str
    started: datetime.datetime | None
    completed: datetime.datetime | None
    expiration: datetime.datetime | None
    errors: int
    warnings: int
    items: int

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> BackupRecord:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        return cls(
            name=str(meta.get("name", "")), phase=str(status.get("phase") or "New"),
            schedule=str((meta.get("labels") or {}).get(SCHEDULE_LABEL, "")),
            included_namespaces=tuple(str(ns) for ns in spec.get("includedNamespaces") or ["*"]),
            excluded_namespaces=tuple(str(ns) for ns in spec.get("excludedNamespaces") or []),
            storage_location=str(spec.get("storageLocation") or ""),
            started=parse_rfc3339(status.get("startTimestamp")), completed=parse_rfc3339(status.get("completionTimestamp")),
            expiration=parse_rfc3339(status.get("expiration")), errors=int(status.get("errors") or 0),
            warnings=int(status.get("warnings") or 0),
            items=int((status.get("progress") or {}).get("itemsBackedUp") or 0))

    @property
    def restorable(self) -> bool:
        return self.phase in RESTORABLE_PHASES

    @property
    def duration(self) -> float | None:
        if self.started is None or self.completed is None:
            return None
        return max(0.0, (self.completed - self.started).total_seconds())

    def covers(self, namespaces: Iterable[str]) -> bool:
        """Whether the backup holds every one of ``namespaces``."""
        return all(("*" in self.included_namespaces or ns in self.included_namespaces)
                   and ns not in self.excluded_namespaces for ns in namespaces)

    def as_dict(self) -> dict[str, Any]:
        def stamp(moment: datetime.datetime | None) -> str | None:
            return rfc3339(moment) if moment is not None else None
        return {"name": self.name, "phase": self.phase, "schedule": self.schedule,
                "included_namespaces": list(self.included_namespaces), "storage_location": self.storage_location,
                "started": stamp(self.started), "completed": stamp(self.completed),
                "expiration": stamp(self.expiration), "duration_seconds": self.duration,
                "errors": self.errors, "warnings": self.warnings, "items": self.items}


def newest(records: Iterable[BackupRecord], phases: tuple[str, ...]) -> BackupRecord | None:
    """The backup of one of ``phases`` that completed last (started last when none completed)."""
    candidates = [record for record in records if record.phase in phases]
    if not candidates:
        return None
    epoch = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    return max(candidates, key=lambda record: (record.completed or epoch, record.started or epoch, record.name))


def cluster_backups(objects: KubernetesObjects, namespace: str) -> list[BackupRecord]:
    """Every Backup of Velero's namespace (one LIST)."""
    items, _version = objects.list(objects.resource(VELERO_API_VERSION, "Backup"), namespace)
    return [BackupRecord.from_object(item) for item in items]
