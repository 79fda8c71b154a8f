# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Velero BackupStorageLocations: where backups go, whether Velero can
reach them (status ``Available``), and their access mode (``ReadOnly`` during a disaster restore)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import VELERO_API_VERSION


@dataclass(frozen=True)
class StorageLocation:
    name: str
    default: bool
    access_mode: str
    bucket: str
    prefix: str
    phase: str
    message: str
    last_validated: str

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> StorageLocation:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        storage = spec.get("objectStorage") or {}
        return cls(name=str((obj.get("metadata") or {}).get("name", "")), default=bool(spec.get("default")),
                   access_mode=str(spec.get("accessMode") or "ReadWrite"), bucket=str(storage.get("bucket", "")),
                   prefix=str(storage.get("prefix") or ""), phase=str(status.get("phase") or "Unknown"),
                   message=str(status.get("message") or ""), last_validated=str(status.get("lastValidationTime") or ""))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "default": self.default, "access_mode": self.access_mode, "bucket": self.bucket,
                "prefix": self.prefix, "phase": self.phase, "message": self.message,
                "last_validated": self.last_validated}


def storage_locations(objects: KubernetesObjects, namespace: str) -> list[StorageLocation]:
    resource = objects.resource(VELERO_API_VERSION, "BackupStorageLocation")
    items, _version = objects.list(resource, namespace)
    return sorted((StorageLocation.from_object(item) for item in items), key=lambda location: location.name)


def location_problem(locations: list[dict[str, Any]], name: str, namespace: str) -> str:
    """Why backups cannot go to location ``name`` (empty: Velero's default), or "" when they can.

    ``locations`` are :meth:`StorageLocation.as_dict` entries (a velero_backup_info result).
    """
    chosen = next((loc for loc in locations if loc["name"] == name), None) if name else next(
        (loc for loc in locations if loc.get("default")), None)
    if chosen is None:
        wanted = f"BackupStorageLocation {name}" if name else "default BackupStorageLocation"
        known = ", ".join(loc["name"] for loc in locations) or "none"
        return (f"No {wanted} in namespace {namespace} (found: {known}): install Velero with a location, or set "
                "disaster_recovery_backups_storage_location. Nothing was changed.")
    if chosen["phase"] in ("", "Unknown"):
        return (f"BackupStorageLocation {namespace}/{chosen['name']} has not been validated by Velero yet (no status "
                "phase): check that the Velero server runs (kubectl -n velero get pods), then try again. "
                "Nothing was changed.")
    if chosen["phase"] != "Available":
        return (f"BackupStorageLocation {namespace}/{chosen['name']} is {chosen['phase']}"
                f"{': ' + chosen['message'] if chosen.get('message') else ''}: Velero cannot write backups to "
                f"s3://{chosen['bucket']}/{chosen['prefix']}. Fix the bucket or its credentials first. Nothing was changed.")
    if chosen["access_mode"] == "ReadOnly":
        return (f"BackupStorageLocation {namespace}/{chosen['name']} is ReadOnly (a disaster restore in progress?): "
                "set it back to ReadWrite when the restore is done. Nothing was changed.")
    return ""
