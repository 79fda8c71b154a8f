# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: every page of an S3 listing (ListObjectsV2 returns at most 1000 entries a call)."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._aws.connection import AWSConnection


def _pages(aws: AWSConnection, bucket: str, prefix: str, **extra: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = aws.call("s3", "list_objects_v2", Bucket=bucket, Prefix=prefix, **extra,
                        **({"ContinuationToken": token} if token else {}))
        pages.append(page)
        token = page.get("NextContinuationToken")
        if not token:
            return pages


def object_keys(aws: AWSConnection, bucket: str, prefix: str) -> list[str]:
    """The keys under ``prefix``, sorted."""
    return sorted(entry["Key"] for page in _pages(aws, bucket, prefix) for entry in page.get("Contents") or [])


def folder_names(aws: AWSConnection, bucket: str, prefix: str) -> list[str]:
    """The names of the "folders" right under ``prefix`` (which ends with ``/``)."""
    return [entry["Prefix"].rstrip("/").rsplit("/", 1)[-1]
            for page in _pages(aws, bucket, prefix, Delimiter="/") for entry in page.get("CommonPrefixes") or []]
