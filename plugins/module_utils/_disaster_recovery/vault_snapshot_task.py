# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the vault_raft_snapshot module's run.

``backup``: stream a snapshot to a temporary file, check it, upload it to S3 (SSE-KMS with a key,
else SSE-S3), keep the newest ``keep``. ``verify``: download one (the newest by default), check it,
restore it into a scratch server, unseal that with the original keys and read the canary secret. In
check mode ``backup`` takes and checks the snapshot but stores and deletes nothing; ``verify``
downloads and checks it but restores nothing.
"""

from __future__ import annotations

import datetime
import tempfile
import time
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._aws.config import aws_connection
from ansible_collections.atlas.hardening.plugins.module_utils._aws.s3_listing import object_keys
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import vault_connection
from ansible_collections.atlas.hardening.plugins.module_utils._vault.connection import VaultConnection
from ansible_collections.atlas.hardening.plugins.module_utils._vault.errors import VaultError
from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultKV2
from ansible_collections.atlas.hardening.plugins.module_utils._vault.raft_snapshots import (
    check_snapshot,
    force_restore,
    take_snapshot,
    unseal,
)

SUFFIX = ".snap"


def snapshot_key(prefix: str, moment: datetime.datetime) -> str:
    return f"{prefix.strip('/')}/{moment.strftime('%Y%m%dT%H%M%SZ')}{SUFFIX}"


def stored_snapshots(aws: Any, bucket: str, prefix: str) -> list[str]:
    """Keys of the stored snapshots, oldest first (their names sort by time)."""
    return [key for key in object_keys(aws, bucket, prefix.strip("/") + "/") if key.endswith(SUFFIX)]


def vault_snapshot_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    if params["state"] == "backup":
        return _backup(module, params)
    return _verify(module, params)


def _backup(module: HardeningModule, params: dict[str, Any]) -> dict[str, Any]:
    if params["keep"] < 1:
        raise HardeningError("keep must be at least 1: the newest snapshot is never deleted.")
    vault = vault_connection(module)
    aws = aws_connection(module)
    bucket, prefix = params["bucket"], params["prefix"]
    existing = stored_snapshots(aws, bucket, prefix)  # the bucket is reachable before Vault is asked anything
    key = snapshot_key(prefix, utc_now())
    with tempfile.TemporaryFile() as spool:
        take_snapshot(vault, spool)
        facts = check_snapshot(spool, f"taken from {vault.where}")
        extra: dict[str, Any] = {"Metadata": {"sha256": facts.sha256, "raft-index": str(facts.index)}}
        if params["kms_key_id"]:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=params["kms_key_id"])
        else:
            extra["ServerSideEncryption"] = "AES256"
        if not module.check_mode:
            with aws.errors(f"upload the snapshot to s3://{bucket}/{key}", "s3"):
                aws.client("s3").upload_fileobj(spool, bucket, key, ExtraArgs=extra)
    expired = (existing + [key])[:-params["keep"]]
    if expired and not module.check_mode:
        aws.call("s3", "delete_objects", Bucket=bucket, Delete={"Objects": [{"Key": k} for k in expired], "Quiet": True})
    return {"changed": True, "key": key, "snapshot": facts.as_dict(), "deleted": expired,
            "kept": [k for k in existing + [key] if k not in expired],
            "encryption": "aws:kms" if params["kms_key_id"] else "AES256"}


def _verify(module: HardeningModule, params: dict[str, Any]) -> dict[str, Any]:
    for option in ("scratch_url", "scratch_token", "scratch_unseal_keys", "canary_path"):
        if not params[option]:
            raise HardeningError(f"state=verify needs {option}: the snapshot is restored into a scratch server "
                                 "(never the production one), unsealed with the original keys, and the canary read.")
    aws = aws_connection(module)
    bucket = params["bucket"]
    key = params["snapshot_key"] or next(iter(stored_snapshots(aws, bucket, params["prefix"])[-1:]), None)
    if key is None:
        raise HardeningError(f"No snapshot under s3://{bucket}/{params['prefix'].strip('/')}/: run state=backup first.")
    source = vault_connection(module)  # the canary is read with the source's own token: it is in the snapshot
    scratch = VaultConnection(params["scratch_url"], token=params["scratch_token"], verify=source.verify,
                              timeout=source.timeout)
    with tempfile.TemporaryFile() as spool:
        with aws.errors(f"download s3://{bucket}/{key}", "s3"):
            aws.client("s3").download_fileobj(bucket, key, spool)
        facts = check_snapshot(spool, f"s3://{bucket}/{key}")
        result: dict[str, Any] = {"changed": not module.check_mode, "key": key, "snapshot": facts.as_dict(),
                                  "restored": False, "canary_read": False}
        if module.check_mode:
            return result
        force_restore(scratch, spool)
    result["restored"] = True
    if not _unseal_when_ready(scratch, params["scratch_unseal_keys"], params["unseal_timeout"]):
        raise HardeningError(f"The snapshot {key} was restored into {scratch.where}, but the unseal keys given do not "
                             "open it: they must be the keys of the cluster the snapshot was taken from.", **result)
    scratch.client.token = source.client.token
    mount, _slash, path = params["canary_path"].partition("/")
    try:
        secret = VaultKV2(scratch, mount).read(path)
    except VaultError as exc:
        raise HardeningError(f"The snapshot {key} restored and unsealed, but the canary {params['canary_path']} could not "
                             f"be read from it: {exc}", **result) from None
    if secret is None:
        raise HardeningError(f"The snapshot {key} restored, but it holds no canary at {params['canary_path']}: write one "
                             "before the next snapshot (any value; its presence is what is checked).", **result)
    result["canary_read"] = True
    result["canary_version"] = secret.version
    return result


def _unseal_when_ready(scratch: VaultConnection, keys: list[str], timeout: float) -> bool:
    """After a forced restore the server reloads its storage, then seals: unseal once it answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            health = scratch.send("GET", "sys/seal-status", action="read the scratch server's seal status",
                                  authenticated=False)
            if health.status == 200 and isinstance(health.body, dict) and health.body.get("sealed"):
                return unseal(scratch, keys)
        except VaultError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
