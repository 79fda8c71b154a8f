"""Velero's object-store layout (pkg/persistence/object_store_layout.go, pkg/archive), written and read
by the lab's simulated Velero in the moto S3 bucket its BackupStorageLocation names.

Kept apart from the controller so that a backup written by anything following the layout (a test, a
backup copied from another cluster) is read the same way: restores read the bucket, never memory.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

TOP_LEVEL_FOLDERS = ("backups", "restores", "restic", "kopia", "metadata", "plugins")
ARCHIVE_VERSION = "1.1.0"


class StoreUnavailable(Exception):
    """The bucket cannot be reached or is not a valid Velero location (the BSL's Unavailable message)."""


@dataclass(frozen=True)
class BackupItem:
    """One object of a backup tarball: where Velero filed it and the object as backed up."""

    resource: str  # "deployments.apps", "configmaps"
    namespace: str  # "" for cluster-scoped
    name: str
    object: dict[str, Any]


def resource_folder(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def item_paths(group: str, plural: str, version: str, namespace: str, name: str) -> list[str]:
    """Velero writes every item twice: under the resource and under its preferred version."""
    folder = resource_folder(group, plural)
    scope = f"namespaces/{namespace}" if namespace else "cluster"
    return [f"resources/{folder}/{scope}/{name}.json",
            f"resources/{folder}/{version}-preferredversion/{scope}/{name}.json"]


def gzip_json(value: Any) -> bytes:
    return gzip.compress(json.dumps(value).encode())


class BucketStore:
    """One BackupStorageLocation's bucket and prefix, as Velero's AWS plugin reaches it (``s3Url``)."""

    def __init__(self, location: dict[str, Any], access_key_id: str, secret_access_key: str) -> None:
        spec = location.get("spec") or {}
        storage = spec.get("objectStorage") or {}
        config = spec.get("config") or {}
        self.bucket = str(storage.get("bucket", ""))
        self.prefix = str(storage.get("prefix", "") or "").strip("/")
        self.endpoint = str(config.get("s3Url", "") or "") or None
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=str(config.get("region", "us-east-1")),
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10,
                                          s3={"addressing_style": "path"}))

    def key(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts] if self.prefix else parts)

    # Validation (what makes a location Available) -------------------------------------------
    def validate(self) -> None:
        try:
            listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.key("") if self.prefix else "",
                                                  Delimiter="/")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise StoreUnavailable(f"rpc error: BackupStorageLocation.IsValid: bucket {self.bucket}: {exc}") from None
        folders = [entry["Prefix"][len(self.key("")) if self.prefix else 0:].strip("/")
                   for entry in listing.get("CommonPrefixes") or []]
        invalid = sorted(folder for folder in folders if folder not in TOP_LEVEL_FOLDERS)
        if invalid:
            raise StoreUnavailable(f"Backup store contains invalid top-level directories: {invalid}")

    # Backups --------------------------------------------------------------------------------
    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(*key.split("/")), Body=body)

    def get(self, key: str) -> bytes:
        response = self.client.get_object(Bucket=self.bucket, Key=self.key(*key.split("/")))
        return bytes(response["Body"].read())

    def backup_names(self) -> list[str]:
        names: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key("backups", ""), Delimiter="/"):
            for entry in page.get("CommonPrefixes") or []:
                names.append(entry["Prefix"].rstrip("/").rsplit("/", 1)[-1])
        return names

    def backup_metadata(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.get(f"backups/{name}/velero-backup.json")))
        except self.client.exceptions.NoSuchKey:
            return None

    def write_backup(self, backup: dict[str, Any], items: Iterable[tuple[str, str, str, str, str, dict[str, Any]]],
                     warnings: list[str], errors: list[str], log_lines: list[str]) -> None:
        """Write ``backup`` (its final metadata) and its items (group, plural, version, ns, name, obj)."""
        name = backup["metadata"]["name"]
        resource_list: dict[str, list[str]] = {}
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            _add(archive, "metadata/version", ARCHIVE_VERSION.encode())
            for group, plural, version, namespace, item_name, obj in items:
                payload = json.dumps(obj).encode()
                for path in item_paths(group, plural, version, namespace, item_name):
                    _add(archive, path, payload)
                api_version = f"{group}/{version}" if group else version
                resource_list.setdefault(f"{api_version}/{obj['kind']}", []).append(
                    f"{namespace}/{item_name}" if namespace else item_name)
        self.put(f"backups/{name}/{name}.tar.gz", buffer.getvalue())
        self.put(f"backups/{name}/{name}-resource-list.json.gz", gzip_json(resource_list))
        self.put(f"backups/{name}/{name}-results.gz", gzip_json({
            "warnings": {"velero": warnings}, "errors": {"velero": errors}}))
        self.put(f"backups/{name}/{name}-logs.gz", gzip.compress("\n".join(log_lines).encode()))
        self.put(f"backups/{name}/{name}-volumesnapshots.json.gz", gzip_json([]))
        self.put(f"backups/{name}/velero-backup.json", json.dumps(backup).encode())

    def backup_items(self, name: str) -> list[BackupItem]:
        """The items of a backup's tarball (the resource folder's copy, not the preferred-version one)."""
        items: list[BackupItem] = []
        with tarfile.open(fileobj=io.BytesIO(self.get(f"backups/{name}/{name}.tar.gz")), mode="r:gz") as archive:
            version_member = archive.extractfile("metadata/version")
            if version_member is None or version_member.read().decode().strip() != ARCHIVE_VERSION:
                raise ValueError(f"backup {name}: unsupported tarball format (metadata/version)")
            for member in archive.getmembers():
                parts = member.name.split("/")
                if not member.isfile() or parts[0] != "resources" or parts[2].endswith("-preferredversion"):
                    continue
                namespace = parts[3] if parts[2] == "namespaces" else ""
                extracted = archive.extractfile(member)
                if extracted is None:
                    continue
                items.append(BackupItem(parts[1], namespace, parts[-1][:-len(".json")], json.loads(extracted.read())))
        return items

    def write_restore(self, name: str, warnings: dict[str, Any], errors: dict[str, Any],
                      resource_list: dict[str, list[str]], log_lines: list[str]) -> None:
        self.put(f"restores/{name}/restore-{name}-results.gz", gzip_json({"warnings": warnings, "errors": errors}))
        self.put(f"restores/{name}/restore-{name}-resource-list.json.gz", gzip_json(resource_list))
        self.put(f"restores/{name}/restore-{name}-logs.gz", gzip.compress("\n".join(log_lines).encode()))


def _add(archive: tarfile.TarFile, path: str, payload: bytes) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(payload)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(payload))
