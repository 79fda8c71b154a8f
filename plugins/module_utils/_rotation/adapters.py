# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the rotation protocol's ports (protocol.py) over the shared connection layers.

Each adapter translates one layer's API and errors into what the protocol decides on: a KV v2
check-and-set conflict, a refused login, a refused password, an unknown outcome. Nothing here
decides anything about the rotation itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Callable

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import parse_rfc3339
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import (
    AccountNotReady,
    AdminSession,
    AuditEvent,
    CasConflict,
    ClusterPort,
    CredentialsRefused,
    KeycloakPort,
    OutcomeUnknown,
    PasswordRefused,
    SecretCopy,
    SecretStore,
    StoredSecret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultCasMismatch, VaultKV2

FIELD_MANAGER = "atlas-hardening-keycloak-rotation"
EVENT_SOURCE = "atlas.hardening"


# ----------------------------------------------------------------------------------------------
# Vault / OpenBao KV v2
class VaultSecretStore(SecretStore):
    """One KV v2 secret (mount + path) on a VaultConnection."""

    def __init__(self, kv: VaultKV2, path: str) -> None:
        self.kv = kv
        self.path = path.strip("/")
        self.location = f"Vault secret {kv.mount_point}/{self.path} at {kv.connection.url}"

    def read(self) -> StoredSecret | None:
        secret = self.kv.read(self.path)
        if secret is None:
            return None
        if secret.deleted:
            state = "destroyed" if secret.destroyed else "deleted"
            raise HardeningError(
                f"The latest version ({secret.version}) of {self.location} is {state}, so the stored admin password "
                f"is unknown. Restore it (`vault kv undelete -mount={self.kv.mount_point} -versions={secret.version} "
                f"{self.path}`) or write the current admin password as a new version; nothing was changed.")
        return StoredSecret(version=secret.version, data=dict(secret.data or {}), created_time=secret.created_time,
                            custom_metadata=dict(secret.custom_metadata))

    def check_writable_kv2(self) -> None:
        self.kv.ensure_kv2()

    def write(self, data: dict[str, Any], cas: int) -> int:
        try:
            return self.kv.write(self.path, data, cas=cas)
        except VaultCasMismatch as err:
            raise CasConflict(str(err)) from None

    def record_rotation(self, custom_metadata: dict[str, str]) -> None:
        self.kv.update_custom_metadata(self.path, custom_metadata)


# ----------------------------------------------------------------------------------------------
# Kubernetes
class KubernetesCluster(ClusterPort):
    """Secret copies (server-side apply of the password keys only) and audit Events.

    The connection is opened on first use: a run that is not due and has no copies never needs it.
    """

    def __init__(self, connect: Callable[[], Any], register_secret: Callable[[str], None]) -> None:
        self._connect = connect
        self._connection: Any = None
        self._objects: Any = None
        self.register_secret = register_secret

    @property
    def objects(self) -> Any:
        if self._objects is None:
            from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import (  # noqa: E501 pylint: disable=import-outside-toplevel
                KubernetesObjects,
            )
            self._connection = self._connect()
            for value in getattr(self._connection, "secret_values", []) or []:
                self.register_secret(value)
            self._objects = KubernetesObjects(self._connection)
        return self._objects

    @property
    def request_counts(self) -> dict[str, int]:
        return dict(self._connection.request_counts) if self._connection is not None else {}

    def read_secret_value(self, copy: SecretCopy) -> tuple[str | None, str | None]:
        from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import (  # pylint: disable=import-outside-toplevel
            ObjectRef,
        )
        secret = self.objects.get(ObjectRef("v1", "Secret", copy.name, copy.namespace))
        if secret is None:
            return None, None
        data = secret.get("data") or {}
        password = _decode(data.get(copy.password_key), f"{copy.ref} key {copy.password_key}")
        username = None
        if copy.username_key:
            username = _decode(data.get(copy.username_key), f"{copy.ref} key {copy.username_key}")
        for value in (data.get(copy.password_key), password):
            if value:
                self.register_secret(value)
        return password, username

    def sync_secret_copies(self, copies: Sequence[SecretCopy], username: str, password: str,
                           check_mode: bool) -> list[str]:
        """Read each copy (one GET: RBAC grants get/patch on these names only, never list) and apply
        the keys of those whose values differ (one server-side apply each, a dry run in check mode).

        Values, not field ownership, decide: a copy created by a chart that already holds the right
        password is left alone, so a run that is not due writes nothing.
        """
        from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import (  # pylint: disable=import-outside-toplevel
            ObjectRef,
        )
        self.register_secret(_encode(password))
        changed: list[str] = []
        for copy in copies:
            live = self.objects.get(ObjectRef("v1", "Secret", copy.name, copy.namespace))
            wanted = _secret_manifest(copy, username, password)
            current = (live or {}).get("data") or {}
            if live is not None and all(current.get(key) == value for key, value in wanted["data"].items()):
                continue
            # The keys are the rotation's by definition, even when a chart created the Secret.
            self.objects.apply(wanted, field_manager=FIELD_MANAGER, force=True, dry_run=check_mode)
            changed.append(copy.ref)
        return changed

    def emit_event(self, event: AuditEvent) -> None:
        from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.events import (  # pylint: disable=import-outside-toplevel
            event_manifest,
        )
        involved = dict(event.involved_object)
        involved_object = {"apiVersion": involved.get("apiVersion", ""), "kind": involved.get("kind", ""),
                           "metadata": {"name": involved.get("name", ""),
                                        "namespace": involved.get("namespace") or event.namespace}}
        body = event_manifest(involved_object, event.reason, event.message, event.event_type, EVENT_SOURCE,
                              parse_rfc3339(event.timestamp), name=event.name, namespace=event.namespace,
                              action="RotateKeycloakAdminPassword", reporting_instance=FIELD_MANAGER)
        self.objects.create(body, field_manager=FIELD_MANAGER)


def _secret_manifest(copy: SecretCopy, username: str, password: str) -> dict[str, Any]:
    data = {copy.password_key: _encode(password)}
    if copy.username_key:
        data[copy.username_key] = _encode(username)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": copy.name, "namespace": copy.namespace},
            "data": data}


def _encode(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _decode(value: Any, what: str) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise HardeningError(f"Kubernetes Secret {what} does not hold valid base64 UTF-8 text.") from None


# ----------------------------------------------------------------------------------------------
# Keycloak
class KeycloakSession(AdminSession):
    """Admin calls with one identity's tokens (keycloak_admin_api.KeycloakAdminAPI)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def find_user(self, realm: str, username: str) -> dict[str, Any] | None:
        return self.api.find_user(realm, username)

    def get_user(self, realm: str, user_id: str) -> dict[str, Any]:
        return self.api.get_user(realm, user_id)

    def password_policy(self, realm: str) -> str:
        return self.api.realm_password_policy(realm)

    def reset_password(self, realm: str, user_id: str, password: str) -> None:
        from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.errors import (
            KeycloakOutcomeUnknown,
            KeycloakPasswordRejected,
        )
        try:
            self.api.reset_password(realm, user_id, password, temporary=False)
        except KeycloakPasswordRejected as err:
            raise PasswordRefused(err.description or err.error or str(err)) from None
        except KeycloakOutcomeUnknown as err:
            raise OutcomeUnknown(str(err)) from None

    def logout_user(self, realm: str, user_id: str) -> None:
        self.api.logout_user(realm, user_id)


class KeycloakAdminPort(KeycloakPort):
    """Logins as the rotated user (with each candidate password) and, when the keycloak_* options
    name an identity of their own (a service-account client or another admin), that identity."""

    def __init__(self, params: dict[str, Any], register_secret: Callable[[str], None]) -> None:
        from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.config import (
            keycloak_client_from_params,
        )
        self.register_secret = register_secret
        self.rotated_user = (params.get("username") or "", params.get("realm") or "")
        own_user = params.get("keycloak_username")
        if own_user and (own_user, params.get("keycloak_realm") or "master") == self.rotated_user:
            # The rotated user's passwords come from Vault; a configured (stale) one must not be used.
            own_user = None
            self.ignored_own_credentials = True
        else:
            self.ignored_own_credentials = False
        self._base = _base_client(params)
        self._service: Any = None
        if own_user or params.get("keycloak_client_secret"):
            self._service = keycloak_client_from_params(dict(params, keycloak_username=own_user))
            self._service.no_log_values = self._base.no_log_values
        self._logins: list[tuple[Any, int]] = []
        self.location = f"Keycloak at {self._base.base_url}"

    @property
    def request_count(self) -> int:
        total = self._base.request_count + (self._service.request_count if self._service is not None else 0)
        # base.request_count already includes each login's own token request.
        return total + sum(api.request_count - at_login for api, at_login in self._logins)

    @property
    def no_log_values(self) -> Any:
        return self._base.no_log_values

    def login(self, realm: str, username: str, password: str) -> AdminSession:
        from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.errors import (
            KeycloakAccountNotReady,
            KeycloakCredentialsRejected,
        )
        try:
            api = self._base.login(username, password, auth_realm=realm)
        except KeycloakCredentialsRejected as err:
            raise CredentialsRefused(err.description or str(err)) from None
        except KeycloakAccountNotReady as err:
            raise AccountNotReady(err.description or err.error or str(err)) from None
        finally:
            for value in self._base.no_log_values:
                self.register_secret(value)
        self._logins.append((api, api.request_count))
        return KeycloakSession(api)

    def service_session(self) -> AdminSession | None:
        return KeycloakSession(self._service) if self._service is not None else None


def _base_client(params: dict[str, Any]) -> Any:
    """A client for the server named by the keycloak_* options, without an identity of its own: its
    login() logs the rotated user in with each candidate password."""
    from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.config import keycloak_client_from_params
    return keycloak_client_from_params(dict(params, keycloak_username=None, keycloak_password=None),
                                       credentials_required=False)
