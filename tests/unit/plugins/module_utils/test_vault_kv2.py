"""KV v2 operations against a real OpenBao dev server; retries and lost answers through the lab's
fault-injecting OpenBao proxy (tests/lab/atlas_lab/vault_proxy.py), which also counts requests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import hvac
import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import vault_client_from_params
from ansible_collections.atlas.hardening.plugins.module_utils._vault.connection import VaultConnection
from ansible_collections.atlas.hardening.plugins.module_utils._vault.errors import VaultError, VaultRequestError
from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import (
    VaultCasMismatch,
    VaultKV2,
    VaultKVVersionError,
    VaultOutcomeUnknown,
)


def unique(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kv(openbao: Any) -> VaultKV2:
    return VaultKV2(vault_client_from_params(openbao.params()))


# ---------------------------------------------------------------------------------------------
# Reads and check-and-set writes
def test_create_read_update_with_check_and_set(kv: VaultKV2) -> None:
    path = unique("cas")
    assert kv.read(path) is None
    assert kv.write(path, {"username": "admin", "password": "one"}, cas=0) == 1
    secret = kv.read(path)
    assert secret is not None
    assert (secret.version, secret.data, secret.deleted) == (1, {"username": "admin", "password": "one"}, False)
    assert kv.write(path, {"username": "admin", "password": "two"}, cas=1) == 2
    assert kv.read(path, version=1).data["password"] == "one"  # type: ignore[union-attr]


def test_cas_mismatch_is_its_own_error_with_both_versions(kv: VaultKV2, openbao: Any) -> None:
    path = unique("race")
    kv.write(path, {"password": "mine"}, cas=0)
    with pytest.raises(VaultCasMismatch) as created_twice:
        kv.write(path, {"password": "other"}, cas=0)
    assert (created_twice.value.expected_version, created_twice.value.current_version) == (0, 1)
    assert str(created_twice.value) == (
        f"Vault at {openbao.url}: check-and-set write to secret/{path} lost: expected the key absent (cas=0), it is at "
        "version 1. Someone else wrote it first; read it again before deciding what to write.")
    kv.write(path, {"password": "theirs"}, cas=1)
    with pytest.raises(VaultCasMismatch) as stale:
        kv.write(path, {"password": "late"}, cas=1)
    assert (stale.value.expected_version, stale.value.current_version) == (1, 2)
    assert "mine" not in str(stale.value) and "late" not in str(stale.value)
    assert kv.read(path).data == {"password": "theirs"}  # type: ignore[union-attr]


def test_write_without_cas(kv: VaultKV2) -> None:
    path = unique("plain")
    assert kv.write(path, {"a": "1"}, cas=None) == 1
    assert kv.write(path, {"a": "2"}, cas=None) == 2


def test_deleted_latest_version_reads_as_no_data_with_its_version(kv: VaultKV2, openbao: Any) -> None:
    path = unique("deleted")
    kv.write(path, {"a": "1"}, cas=0)
    kv.write(path, {"a": "2"}, cas=1)
    openbao.admin.secrets.kv.v2.delete_latest_version_of_secret(path, mount_point="secret")
    secret = kv.read(path)
    assert secret is not None
    assert (secret.version, secret.data, secret.deleted) == (2, None, True)
    assert secret.deletion_time
    assert kv.write(path, {"a": "3"}, cas=2) == 3


def test_mount_is_checked_once_per_object(openbao: Any) -> None:
    connection = vault_client_from_params(openbao.params())
    kv = VaultKV2(connection)
    path = unique("count")
    kv.read(path)
    assert connection.request_count == 2  # mount lookup + read
    kv.write(path, {"a": "1"}, cas=0)
    kv.read(path)
    assert connection.request_count == 4


def test_cas_required_key_needs_cas(kv: VaultKV2, openbao: Any) -> None:
    path = unique("casreq")
    kv.write(path, {"a": "1"}, cas=0)
    kv.write_metadata(path, max_versions=0, cas_required=True, delete_version_after="0s", custom_metadata={})
    with pytest.raises(VaultRequestError) as raised:
        kv.write(path, {"a": "2"}, cas=None)
    assert str(raised.value) == (f"Vault at {openbao.url} requires check-and-set for secret/{path}: pass the current "
                                 "version as cas (0 to create).")


# ---------------------------------------------------------------------------------------------
# Mount checks
def test_kv_version_1_mount_is_detected_and_reported(openbao: Any) -> None:
    mount = "kv1-" + uuid.uuid4().hex[:6]
    openbao.admin.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    connection = vault_client_from_params(openbao.params())
    with pytest.raises(VaultKVVersionError) as raised:
        VaultKV2(connection, mount).write("app", {"a": "1"}, cas=0)
    assert str(raised.value) == (
        f"Vault at {openbao.url}: {mount}/ is a KV version 1 mount; this needs KV version 2. Upgrade it with `vault kv "
        f"enable-versioning {mount}/` (or `bao kv enable-versioning`), or use a KV v2 mount.")
    # Nothing was written under the v1 mount (a v1 engine would have stored a "data/app" key).
    assert connection.request_count == 1
    assert openbao.admin.list(f"{mount}/") is None


def test_non_kv_mount_is_reported(openbao: Any) -> None:
    with pytest.raises(VaultKVVersionError) as raised:
        VaultKV2(vault_client_from_params(openbao.params()), "cubbyhole").read("x")
    assert "cubbyhole/ is a cubbyhole secrets engine, not KV: this needs a KV version 2 mount." in str(raised.value)


def test_mount_point_deeper_than_the_mount_is_reported(openbao: Any) -> None:
    with pytest.raises(VaultKVVersionError) as raised:
        VaultKV2(vault_client_from_params(openbao.params()), "secret/team").read("x")
    assert "the secrets engine is mounted at secret/, not at secret/team/. Set the mount point to secret" in str(
        raised.value)


def test_missing_mount_is_reported(openbao: Any) -> None:
    with pytest.raises(VaultError) as raised:
        VaultKV2(vault_client_from_params(openbao.params()), "nothing-here").read("x")
    assert str(raised.value).startswith(f"Vault at {openbao.url} has no secrets engine mounted at nothing-here/ that "
                                        "this token may use")


# ---------------------------------------------------------------------------------------------
# Metadata
def test_metadata_written_with_every_field_and_merged_without_losing_any(kv: VaultKV2) -> None:
    path = unique("meta")
    assert kv.read_metadata(path) is None
    kv.write(path, {"password": "p"}, cas=0)
    kv.write_metadata(path, max_versions=7, cas_required=False, delete_version_after="768h",
                      custom_metadata={"owner": "platform", "rotation_id": "r1"})
    assert kv.update_custom_metadata(path, {"rotation_id": "r2", "rotated_at": "2026-11-21T00:00:00Z",
                                            "owner": None}) is True
    metadata = kv.read_metadata(path)
    assert metadata is not None
    assert metadata.custom_metadata == {"rotation_id": "r2", "rotated_at": "2026-11-21T00:00:00Z"}
    assert (metadata.max_versions, metadata.delete_version_after, metadata.current_version) == (7, "768h0m0s", 1)


def test_unchanged_custom_metadata_writes_nothing(openbao: Any) -> None:
    connection = vault_client_from_params(openbao.params())
    kv = VaultKV2(connection)
    path = unique("meta-idem")
    kv.write(path, {"password": "p"}, cas=0)
    kv.update_custom_metadata(path, {"rotation_id": "r1"})
    before = connection.request_count
    assert kv.update_custom_metadata(path, {"rotation_id": "r1", "absent": None}) is False
    assert connection.request_count == before + 1  # the metadata read only


def test_hvac_update_metadata_resets_delete_version_after(kv: VaultKV2, openbao: Any) -> None:
    """The trap this layer avoids (if hvac ever fixes it, this test says so)."""
    path = unique("trap")
    kv.write(path, {"password": "p"}, cas=0)
    kv.write_metadata(path, max_versions=0, cas_required=False, delete_version_after="768h", custom_metadata={})
    openbao.admin.secrets.kv.v2.update_metadata(path, custom_metadata={"k": "v"}, mount_point="secret")
    assert kv.read_metadata(path).delete_version_after == "0s"  # type: ignore[union-attr]


def test_custom_metadata_values_must_be_strings(kv: VaultKV2) -> None:
    with pytest.raises(VaultError) as raised:
        kv.write_metadata(unique("bad"), max_versions=0, cas_required=False, delete_version_after="0s",
                          custom_metadata={"count": 3})  # type: ignore[dict-item]
    assert "custom_metadata values must be strings (Vault rejects others): count." in str(raised.value)


def test_update_custom_metadata_of_a_missing_key(kv: VaultKV2) -> None:
    with pytest.raises(VaultError) as raised:
        kv.update_custom_metadata(unique("missing"), {"a": "b"})
    assert "does not exist; write the secret before its metadata." in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Retries and lost answers, through the lab's fault proxy
@pytest.fixture(scope="module")
def vault_proxy(openbao: Any) -> Iterator[Any]:
    from atlas_lab.core.http_base import serve  # pylint: disable=import-error
    from atlas_lab.services.vault_proxy import create_app  # pylint: disable=import-error

    handle = serve(create_app(openbao.url))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def proxied(vault_proxy: Any, openbao: Any) -> Iterator[tuple[VaultConnection, Any]]:
    app = vault_proxy.app
    app.faults.clear()
    connection = vault_client_from_params(openbao.params(vault_url=vault_proxy.url, vault_retries=3))
    VaultKV2(connection).ensure_kv2()  # warm the proxy's mount cache outside the counted window
    app.requests.reset()
    yield connection, app
    app.faults.clear()


def counts(app: Any) -> dict[str, int]:
    return app.requests.snapshot()["by_kind"]


def test_reads_are_retried_on_5xx(proxied: tuple[VaultConnection, Any]) -> None:
    connection, app = proxied
    kv = VaultKV2(connection)
    kv._checked = True  # pylint: disable=protected-access  # count the read alone
    path = unique("retry-read")
    app.faults.add({"action": "error", "kind": "kv2.read", "status": 503, "count": 2,
                    "body": {"errors": ["Vault is sealed"]}})
    started = time.monotonic()
    assert kv.read(path) is None
    assert counts(app) == {"kv2.read": 3}
    assert 0.9 < time.monotonic() - started < 5  # backoff 0 s then 1 s


def test_reads_give_up_after_vault_retries(proxied: tuple[VaultConnection, Any]) -> None:
    connection, app = proxied
    connection = vault_client_from_params({"vault_url": connection.url, "vault_token": connection.client.token,
                                           "vault_retries": 1})
    kv = VaultKV2(connection)
    kv._checked = True  # pylint: disable=protected-access
    app.faults.add({"action": "error", "kind": "kv2.read", "status": 503, "count": 5,
                    "body": {"errors": ["Vault is sealed"]}})
    with pytest.raises(VaultRequestError) as raised:
        kv.read("anything")
    assert counts(app) == {"kv2.read": 2}
    assert "is sealed or unavailable (503: Vault is sealed) while trying to read secret secret/anything" in str(
        raised.value)


def test_write_without_cas_is_not_retried(proxied: tuple[VaultConnection, Any]) -> None:
    connection, app = proxied
    kv = VaultKV2(connection)
    path = unique("no-retry")
    app.faults.add({"action": "error", "kind": "kv2.write", "status": 500, "count": 1,
                    "body": {"errors": ["internal error"]}})
    with pytest.raises(VaultRequestError) as raised:
        kv.write(path, {"a": "1"}, cas=None)
    assert counts(app) == {"sys.read": 1, "kv2.write": 1}  # mount check, then one write
    assert f"failed (500: internal error) while trying to write secret secret/{path}; for a write, the outcome is " \
           "unknown" in str(raised.value)


def test_lost_answer_without_cas_is_outcome_unknown(proxied: tuple[VaultConnection, Any]) -> None:
    connection, app = proxied
    kv = VaultKV2(connection)
    path = unique("lost-plain")
    app.faults.add({"action": "drop", "kind": "kv2.write", "apply_first": True})
    with pytest.raises(VaultOutcomeUnknown) as raised:
        kv.write(path, {"a": "1"}, cas=None)
    assert "Not retried: without check-and-set a retry could write twice" in str(raised.value)
    assert counts(app) == {"sys.read": 1, "kv2.write": 1}


def test_lost_answer_of_an_applied_cas_write_is_recovered_by_reading_back(
        proxied: tuple[VaultConnection, Any], openbao: Any) -> None:
    connection, app = proxied
    kv = VaultKV2(connection)
    path = unique("lost-applied")
    kv.write(path, {"password": "old"}, cas=0)
    app.requests.reset()
    app.faults.add({"action": "drop", "kind": "kv2.write", "apply_first": True})
    assert kv.write(path, {"password": "new"}, cas=1) == 2
    assert counts(app) == {"kv2.write": 1, "kv2.read": 1}  # no second write
    metadata = hvac.Client(url=openbao.url, token=openbao.root_token).secrets.kv.v2.read_secret_metadata(
        path, mount_point="secret")
    assert metadata["data"]["current_version"] == 2


def test_cas_write_that_failed_with_5xx_is_retried_once_the_key_is_unchanged(
        proxied: tuple[VaultConnection, Any]) -> None:
    connection, app = proxied
    kv = VaultKV2(connection)
    path = unique("retry-cas")
    app.faults.add({"action": "error", "kind": "kv2.write", "status": 502, "count": 1})
    assert kv.write(path, {"password": "p"}, cas=0) == 1
    assert counts(app) == {"sys.read": 1, "kv2.write": 2, "kv2.read": 1}
    assert kv.read(path).data == {"password": "p"}  # type: ignore[union-attr]


def test_lost_answer_when_someone_else_wrote_meanwhile_is_a_cas_mismatch(
        proxied: tuple[VaultConnection, Any], openbao: Any) -> None:
    connection, app = proxied
    kv = VaultKV2(connection)
    path = unique("lost-raced")
    kv.write(path, {"password": "old"}, cas=0)
    openbao.admin.secrets.kv.v2.create_or_update_secret(path, {"password": "theirs"}, cas=1, mount_point="secret")
    app.faults.add({"action": "error", "kind": "kv2.write", "status": 500, "count": 1})
    with pytest.raises(VaultCasMismatch) as raised:
        kv.write(path, {"password": "mine"}, cas=1)
    assert (raised.value.expected_version, raised.value.current_version) == (1, 2)
    assert "another writer got there first" in str(raised.value)


def test_lost_answer_and_failed_read_back_is_outcome_unknown(proxied: tuple[VaultConnection, Any]) -> None:
    connection, app = proxied
    connection = vault_client_from_params({"vault_url": connection.url, "vault_token": connection.client.token,
                                           "vault_retries": 1})  # one retry of the read-back, no backoff wait
    kv = VaultKV2(connection)
    path = unique("lost-unknown")
    app.faults.add({"action": "drop", "kind": "kv2.write", "apply_first": True})
    app.faults.add({"action": "error", "kind": "kv2.read", "status": 500, "count": 10})
    with pytest.raises(VaultOutcomeUnknown) as raised:
        kv.write(path, {"password": "p"}, cas=0)
    message = str(raised.value)
    assert "may or may not have been applied, and reading it back failed too" in message
    assert f"secret/{path}" in message
