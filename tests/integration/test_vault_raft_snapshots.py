"""Vault raft snapshots for real: two OpenBao servers in raft mode (the platform's and a scratch one), moto
for S3 and KMS. A snapshot goes to S3 encrypted with the KMS key, old ones are pruned, a corrupted one is
refused by the integrity check before any restore, and a good one restores into the scratch server, which
opens with the original unseal key and gives the canary back. No token or key shows in any output."""

from __future__ import annotations

import base64
import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import hvac
import pytest

from atlas_lab.core.ports import PortAllocator  # pylint: disable=import-error
from atlas_lab.pytest_plugin import Lab, wait_for
from atlas_lab.services.openbao import OpenBaoServer

pytestmark = pytest.mark.timeout(600)
BUCKET = "atlas-dr"
PREFIX = "vault-raft-snapshots/lab"
CANARY = "platform/dr-canary"


def raft_server(directory: Path) -> OpenBaoServer:
    server = OpenBaoServer(directory, "127.0.0.1", PortAllocator("auto").service_port("openbao"), mode="raft")
    server.start()
    server.wait_ready(60)
    return server


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpenBaoServer, OpenBaoServer]]:
    source = raft_server(tmp_path_factory.mktemp("vault-source"))
    try:
        scratch = raft_server(tmp_path_factory.mktemp("vault-scratch"))
        try:
            client = hvac.Client(url=source.url, token=source.root_token)
            client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})

            def canary_written() -> bool:
                # A new KV v2 mount upgrades itself in the background; until then writes get a 400.
                try:
                    client.secrets.kv.v2.create_or_update_secret(CANARY, secret={"written": "before the snapshot"},
                                                                 mount_point="secret")
                except hvac.exceptions.InvalidRequest as error:
                    if "Upgrading from non-versioned to versioned data" not in str(error):
                        raise
                    return False
                return True

            wait_for(canary_written, timeout=30, what="the new KV v2 mount to finish its upgrade")
            yield source, scratch
        finally:
            scratch.stop()
    finally:
        source.stop()


@pytest.fixture
def storage(clean_lab: Lab) -> tuple[Lab, Any, str]:
    s3 = boto3.client("s3", endpoint_url=clean_lab.vars["AWS_ENDPOINT_URL"], region_name=clean_lab.vars["AWS_REGION"],
                      aws_access_key_id=clean_lab.vars["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=clean_lab.vars["AWS_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": clean_lab.vars["AWS_REGION"]})
    kms = boto3.client("kms", endpoint_url=clean_lab.vars["AWS_ENDPOINT_URL"], region_name=clean_lab.vars["AWS_REGION"],
                       aws_access_key_id=clean_lab.vars["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=clean_lab.vars["AWS_SECRET_ACCESS_KEY"])
    key_id = kms.create_key(Description="atlas dr")["KeyMetadata"]["KeyId"]
    return clean_lab, s3, key_id


def snapshot(lab: Lab, source: OpenBaoServer, **args: Any) -> dict[str, Any]:
    arguments = {"vault_url": source.url, "vault_token": source.root_token, "bucket": BUCKET, "prefix": PREFIX, **args}
    result = lab.ansible("atlas.hardening.vault_raft_snapshot", arguments, "-vvv")
    for secret in (source.root_token, source.unseal_key, *(args.get("scratch_unseal_keys") or []),
                   args.get("scratch_token") or source.root_token):
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form not in result.stdout + result.stderr, "a token or unseal key is in the output"
    return dict(result.results["localhost"])


def stored(s3: Any) -> list[str]:
    return sorted(entry["Key"] for entry in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents") or [])


def test_snapshots_are_checked_encrypted_and_pruned(servers: tuple[OpenBaoServer, OpenBaoServer],
                                                    storage: tuple[Lab, Any, str]) -> None:
    source, _scratch = servers
    lab, s3, key_id = storage
    check = lab.ansible("atlas.hardening.vault_raft_snapshot", {
        "vault_url": source.url, "vault_token": source.root_token, "bucket": BUCKET, "prefix": PREFIX}, check=True)
    assert check.results["localhost"]["status"] == "CHANGED" and stored(s3) == []
    keys = []
    for _run in range(3):
        result = snapshot(lab, source, kms_key_id=key_id, keep=2)
        assert result["status"] == "CHANGED", result
        assert result["snapshot"]["raft_index"] > 0 and result["snapshot"]["size"] > 1000
        keys.append(result["key"])
        time.sleep(1.1)  # names carry the second
    assert stored(s3) == keys[1:], "keep=2 keeps the two newest"
    assert result["deleted"] == [keys[0]]
    head = s3.head_object(Bucket=BUCKET, Key=keys[-1])
    assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"]


def test_a_corrupted_snapshot_is_refused_and_a_good_one_restores_with_its_canary(
        servers: tuple[OpenBaoServer, OpenBaoServer], storage: tuple[Lab, Any, str]) -> None:
    source, scratch = servers
    lab, s3, _key_id = storage
    good = snapshot(lab, source)["key"]
    body = s3.get_object(Bucket=BUCKET, Key=good)["Body"].read()
    # Rewrite the archive with one byte of state.bin changed: a valid tarball whose sums no longer match.
    original = tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
    rebuilt = io.BytesIO()
    with tarfile.open(fileobj=rebuilt, mode="w:gz") as archive:
        for member in original.getmembers():
            data = original.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "state.bin":
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            archive.addfile(member, io.BytesIO(data))
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/29991231T000000Z.snap", Body=rebuilt.getvalue())
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/29991231T000001Z.snap", Body=body[: len(body) // 2])
    verify = {"state": "verify", "scratch_url": scratch.url, "scratch_token": scratch.root_token,
              "scratch_unseal_keys": [source.unseal_key], "canary_path": f"secret/{CANARY}"}
    truncated = snapshot(lab, source, **verify)
    assert truncated["status"] == "FAILED"
    assert "29991231T000001Z.snap is not a readable snapshot archive" in truncated["msg"]
    corrupted = snapshot(lab, source, snapshot_key=f"{PREFIX}/29991231T000000Z.snap", **verify)
    assert corrupted["status"] == "FAILED"
    assert "fails its integrity check (state.bin: checksum mismatch): do not restore it" in corrupted["msg"]
    assert hvac.Client(url=scratch.url).sys.read_health_status(method="GET")["sealed"] is False, "scratch touched"
    restored = snapshot(lab, source, snapshot_key=good, **verify)
    assert restored["status"] == "CHANGED", restored
    assert restored["restored"] is True and restored["canary_read"] is True
    canary = hvac.Client(url=scratch.url, token=source.root_token).secrets.kv.v2.read_secret_version(
        CANARY, mount_point="secret", raise_on_deleted_version=True)
    assert canary["data"]["data"] == {"written": "before the snapshot"}


def test_verify_without_a_scratch_server_is_refused(servers: tuple[OpenBaoServer, OpenBaoServer],
                                                    storage: tuple[Lab, Any, str]) -> None:
    source, _scratch = servers
    lab, _s3, _key_id = storage
    result = snapshot(lab, source, state="verify", canary_path=f"secret/{CANARY}")
    assert result["status"] == "FAILED"
    assert result["msg"].startswith("state=verify needs scratch_url: the snapshot is restored into a scratch server")
