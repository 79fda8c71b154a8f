"""The rotation's adapters: the Vault store against a real OpenBao dev server (fixture ``openbao``),
the mapping of module parameters to settings, and the Keycloak identity rules."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.adapters import (
    KeycloakAdminPort,
    VaultSecretStore,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.keycloak_admin_password_task import (
    settings_from_params,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import CasConflict
from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import vault_client_from_params
from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultKV2


@pytest.fixture
def store(openbao: Any) -> VaultSecretStore:
    connection = vault_client_from_params(openbao.params())
    return VaultSecretStore(VaultKV2(connection, "secret"), "rotation-unit/" + uuid.uuid4().hex[:10])


def test_store_reads_nothing_then_writes_with_check_and_set(store: VaultSecretStore, openbao: Any) -> None:
    assert store.read() is None
    store.check_writable_kv2()
    assert store.write({"username": "admin", "password": "a"}, cas=0) == 1
    with pytest.raises(CasConflict):
        store.write({"username": "admin", "password": "b"}, cas=0)
    assert store.write({"username": "admin", "password": "b"}, cas=1) == 2
    secret = store.read()
    assert secret is not None and secret.version == 2 and secret.data["password"] == "b"
    assert secret.created_time.endswith("Z")


def test_store_records_rotation_keeping_every_metadata_field(store: VaultSecretStore, openbao: Any) -> None:
    store.write({"password": "a"}, cas=0)
    openbao.admin.secrets.kv.v2.update_metadata(store.path, mount_point="secret", max_versions=7,
                                                delete_version_after="720h", cas_required=False,
                                                custom_metadata={"owner": "team"})
    store.record_rotation({"rotated_at": "2026-11-21T00:00:00Z", "rotation_id": "r1"})
    metadata = openbao.admin.secrets.kv.v2.read_secret_metadata(store.path, mount_point="secret")["data"]
    assert metadata["max_versions"] == 7 and metadata["delete_version_after"] == "720h0m0s"
    assert metadata["custom_metadata"] == {"owner": "team", "rotated_at": "2026-11-21T00:00:00Z",
                                           "rotation_id": "r1"}
    # The rotation's keys come back with the data read (custom_metadata is in the KV v2 read answer).
    assert store.read().custom_metadata["rotation_id"] == "r1"


def test_store_refuses_a_deleted_latest_version(store: VaultSecretStore, openbao: Any) -> None:
    store.write({"password": "a"}, cas=0)
    openbao.admin.secrets.kv.v2.delete_latest_version_of_secret(store.path, mount_point="secret")
    with pytest.raises(HardeningError, match="latest version .1. .* is deleted.*undelete"):
        store.read()


def test_store_refuses_a_kv1_mount(openbao: Any) -> None:
    mount = "kv1-" + uuid.uuid4().hex[:6]
    openbao.admin.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    store = VaultSecretStore(VaultKV2(vault_client_from_params(openbao.params()), mount), "keycloak/admin")
    with pytest.raises(HardeningError, match="KV version 1"):
        store.read()


def params(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "username": "admin", "realm": "master", "max_age_days": 90, "force": False,
        "password_length": 32, "password_min_digits": 1, "password_min_lowercase": 1,
        "password_min_uppercase": 1, "password_min_special": 1, "password_special_characters": "!#%+-.:=@^_~",
        "secret_copies": [{"namespace": "keycloak", "name": "copy", "password_key": "password",
                           "username_key": None}],
        "adopt_from_secret": None, "rotated_by": "tests", "event_namespace": "keycloak",
        "event_involved_object": {"api_version": "v1", "kind": "Namespace", "name": "keycloak"},
        "logout_sessions": False,
        "keycloak_url": "http://127.0.0.1:1", "keycloak_realm": "master", "keycloak_client_id": "admin-cli",
        "keycloak_client_secret": None, "keycloak_username": None, "keycloak_password": None,
        "keycloak_validate_certs": True, "keycloak_ca_cert": None, "keycloak_timeout": 5,
    }
    values.update(overrides)
    return values


def test_settings_from_params() -> None:
    settings = settings_from_params(params(), check_mode=True)
    assert settings.check_mode and settings.secret_copies[0].ref == "keycloak/copy"
    assert settings.event_object == {"apiVersion": "v1", "kind": "Namespace", "name": "keycloak"}
    with pytest.raises(HardeningError, match="password_min_digits must not be negative"):
        settings_from_params(params(password_min_digits=-1), check_mode=False)


def test_keycloak_identity_rules() -> None:
    registered: set[str] = set()
    # No identity of its own: the rotated user's Vault passwords do everything.
    assert KeycloakAdminPort(params(), registered.add).service_session() is None
    # The rotated user itself configured as keycloak_username: ignored (its password is Vault's business).
    same = KeycloakAdminPort(params(keycloak_username="admin", keycloak_password="stale"), registered.add)
    assert same.service_session() is None and same.ignored_own_credentials
    # Another admin or a service-account client: used for the admin calls.
    other = KeycloakAdminPort(params(keycloak_username="automation", keycloak_password="x"), registered.add)
    assert other.service_session() is not None
    client = KeycloakAdminPort(params(keycloak_client_id="rotation", keycloak_client_secret="s"), registered.add)
    assert client.service_session() is not None
    with pytest.raises(HardeningError, match="not an http"):
        KeycloakAdminPort(params(keycloak_url="sso.example"), registered.add)


@pytest.mark.parametrize("overrides, message", [
    ({"password_length": 3}, "password_length must be between 12 and 512 (got 3)"),
    ({"password_length": 10000}, "password_length must be between 12 and 512"),
    ({"max_age_days": 0}, "max_age_days must be between 1 and 3650"),
])
def test_out_of_bounds_options_are_refused_before_any_request(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(HardeningError, match=re.escape(message)):
        settings_from_params(params(**overrides), check_mode=False)


@pytest.mark.parametrize("path", ["../../sys/policy/x", "keycloak/../admin", "keycloak//admin", "a b", "/", "."])
def test_a_vault_path_that_climbs_or_is_not_plain_is_refused(path: str) -> None:
    from ansible_collections.atlas.hardening.plugins.module_utils._common.option_checks import check_vault_path

    with pytest.raises(HardeningError, match="is not a plain Vault path"):
        check_vault_path(path, "kv_path")


def test_plain_vault_paths_pass() -> None:
    from ansible_collections.atlas.hardening.plugins.module_utils._common.option_checks import check_vault_path

    assert check_vault_path("/keycloak/admin/", "kv_path") == "keycloak/admin"
    assert check_vault_path("team-a/keycloak_admin.v2", "kv_path") == "team-a/keycloak_admin.v2"
