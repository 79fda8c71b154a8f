# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: a Velero BackupStorageLocation's bucket read directly through S3, for when
the cluster is gone (pkg/persistence/object_store_layout.go): ``<prefix>/backups/<name>/velero-backup.json``
and ``<name>-resource-list.json.gz``; and the collection's report history beside it (outside Velero's
prefix: Velero refuses a location whose prefix holds a folder it does not know)."""

from __future__ import annotations

import gzip
import json
from typing import Any, Callable

from ansible_collections.atlas.hardening.plugins.module_utils._aws.connection import AWSConnection
from ansible_collections.atlas.hardening.plugins.module_utils._aws.errors import AWSNotFoundError
from ansible_collections.atlas.hardening.plugins.module_utils._aws.s3_listing import folder_names, object_keys
from ansible_collections.atlas.hardening.plugins.module_utils._common.bounded_concurrency import (
    first_error,
    run_bounded,
)
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import BackupRecord

READ_CONCURRENCY = 8


class VeleroObjectStore:
    def __init__(self, aws: AWSConnection, bucket: str, prefix: str = "") -> None:
        self.aws = aws
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}"

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def backup_names(self) -> list[str]:
        return folder_names(self.aws, self.bucket, self.key("backups/"))

    @staticmethod
    def _read_all(keys: list[str], load: Callable[[str], Any]) -> list[Any]:
        """``load(key)`` for every key, a few at once; the first error raised; None results dropped."""
        outcomes = run_bounded(keys, load, READ_CONCURRENCY)
        error = first_error(outcomes)
        if error is not None:
            raise error
        return [outcome.result for outcome in outcomes if outcome is not None and outcome.result is not None]

    def read(self, path: str) -> bytes:
        response = self.aws.call("s3", "get_object", Bucket=self.bucket, Key=self.key(path))
        return bytes(response["Body"].read())

    def backups(self) -> list[BackupRecord]:
        """Every backup whose ``velero-backup.json`` is there (a folder without it is an upload in progress)."""
        def load(name: str) -> BackupRecord | None:
            try:
                return BackupRecord.from_object(json.loads(self.read(f"backups/{name}/velero-backup.json")))
            except AWSNotFoundError:
                return None
        return self._read_all(self.backup_names(), load)

    def resource_list(self, backup: str) -> dict[str, list[str]]:
        """``{"apps/v1/Deployment": ["ns/name", ...]}`` as Velero wrote it for ``backup``."""
        return dict(json.loads(gzip.decompress(self.read(f"backups/{backup}/{backup}-resource-list.json.gz"))))

    def restore_resource_list(self, restore: str) -> dict[str, list[str]]:
        """``{"v1/Secret": ["ns/name(created)", ...]}``: what Velero says ``restore`` did with each item."""
        return dict(json.loads(gzip.decompress(
            self.read(f"restores/{restore}/restore-{restore}-resource-list.json.gz"))))

    def put_json(self, key: str, document: Any) -> None:
        """Write ``document`` at ``key`` (relative to the bucket, not to Velero's prefix)."""
        self.aws.call("s3", "put_object", Bucket=self.bucket, Key=key, Body=json.dumps(document, indent=1).encode(),
                      ContentType="application/json")

    def history_documents(self, prefix: str, kind: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` documents ``<prefix>/<kind>-*.json``, oldest first (names sort by time)."""
        keys = object_keys(self.aws, self.bucket, f"{prefix}/{kind}-")
        newest = keys[-limit:] if limit > 0 else []
        return self._read_all(newest, lambda key: json.loads(self.aws.call(
            "s3", "get_object", Bucket=self.bucket, Key=key)["Body"].read()))
