"""Backups written into a bucket by hand, from Velero's documented layout (../shared/reference/velero-dr.md,
pkg/persistence/object_store_layout.go), not by the simulated server: tests use them to prove that the
lab restores what the bucket holds (not what it remembers) and to age backups (a backup completed 3 h
ago) without waiting.

Deliberately independent of ``object_store.py``: plain ``tarfile`` and ``gzip`` calls, the paths
spelled out here.
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import tarfile
from typing import Any


def _member(archive: tarfile.TarFile, path: str, data: bytes) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _folder(api_version: str, plural: str) -> str:
    group = api_version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


def write_backup(s3: Any, bucket: str, prefix: str, name: str, namespaces: list[str],
                 items: list[tuple[str, dict[str, Any]]], completed: datetime.datetime, phase: str = "Completed",
                 schedule: str = "", duration: float = 60.0) -> None:
    """``items`` are (plural, object). The backup's metadata says ``phase``, completed at ``completed``."""
    base = f"{prefix}/backups/{name}" if prefix else f"backups/{name}"
    buffer = io.BytesIO()
    resource_list: dict[str, list[str]] = {}
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        _member(archive, "metadata/version", b"1.1.0")
        for plural, obj in items:
            meta = obj["metadata"]
            scope = f"namespaces/{meta['namespace']}" if meta.get("namespace") else "cluster"
            version = obj["apiVersion"].rpartition("/")[2]
            folder = _folder(obj["apiVersion"], plural)
            data = json.dumps(obj).encode()
            _member(archive, f"resources/{folder}/{scope}/{meta['name']}.json", data)
            _member(archive, f"resources/{folder}/{version}-preferredversion/{scope}/{meta['name']}.json", data)
            entry = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
            resource_list.setdefault(f"{obj['apiVersion']}/{obj['kind']}", []).append(entry)
    started = completed - datetime.timedelta(seconds=duration)

    def stamp(moment: datetime.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    backup = {"apiVersion": "velero.io/v1", "kind": "Backup",
              "metadata": {"name": name, "namespace": "velero",
                           "labels": {"velero.io/schedule-name": schedule} if schedule else {}},
              "spec": {"includedNamespaces": namespaces, "ttl": "720h0m0s", "storageLocation": "default"},
              "status": {"phase": phase, "version": 1, "formatVersion": "1.1.0",
                         "startTimestamp": stamp(started), "completionTimestamp": stamp(completed),
                         "expiration": stamp(completed + datetime.timedelta(days=30)),
                         "progress": {"totalItems": len(items), "itemsBackedUp": len(items)}}}
    s3.put_object(Bucket=bucket, Key=f"{base}/{name}.tar.gz", Body=buffer.getvalue())
    s3.put_object(Bucket=bucket, Key=f"{base}/{name}-resource-list.json.gz",
                  Body=gzip.compress(json.dumps(resource_list).encode()))
    s3.put_object(Bucket=bucket, Key=f"{base}/{name}-results.gz",
                  Body=gzip.compress(b'{"warnings": {}, "errors": {}}'))
    # Velero uploads the metadata last: a backup without it is still being written.
    s3.put_object(Bucket=bucket, Key=f"{base}/velero-backup.json", Body=json.dumps(backup).encode())
