# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the rotation protocol needs from Vault, Keycloak and Kubernetes.

Three small ports (:class:`SecretStore`, :class:`KeycloakPort`, :class:`ClusterPort`) and the errors
they raise, so that the protocol can be tested without the services; ``adapters.py`` implements
them over the collection's connection layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError


class RotationError(HardeningError):
    """The rotation stopped; the message says in which state it left every system."""


class CasConflict(HardeningError):
    """A check-and-set write found another version than the one read: someone else wrote."""


class CredentialsRefused(HardeningError):
    """Keycloak refused a username/password (401 invalid_grant)."""


class AccountNotReady(HardeningError):
    """Keycloak knows the password but the account has pending required actions."""


class PasswordRefused(HardeningError):
    """Keycloak refused the new password (400): realm policy, history, read-only user."""


class OutcomeUnknown(HardeningError):
    """A write was sent but no usable answer came back (timeout, lost response, 5xx)."""


@dataclass
class StoredSecret:
    """The latest version of the KV v2 secret and the key's custom metadata."""

    version: int
    data: dict[str, Any]
    created_time: str = ""
    custom_metadata: dict[str, str] = field(default_factory=dict)


class SecretStore:
    """Vault/OpenBao KV v2 access for one secret path."""

    location = "Vault"

    def read(self) -> StoredSecret | None:
        """The latest version, or None when the path holds no secret yet.

        Raises a HardeningError when the latest version is deleted/destroyed (a human must decide).
        """
        raise NotImplementedError

    def check_writable_kv2(self) -> None:
        """Raise a HardeningError when the mount is not KV version 2 (called before a first write)."""
        raise NotImplementedError

    def write(self, data: dict[str, Any], cas: int) -> int:
        """Write a new version with check-and-set ``cas``; return the new version number.

        Raises :class:`CasConflict` when the current version is not ``cas``.
        """
        raise NotImplementedError

    def record_rotation(self, custom_metadata: dict[str, str]) -> None:
        """Replace the key's custom_metadata, keeping every other metadata field as it is."""
        raise NotImplementedError


class AdminSession:
    """Keycloak admin calls made with one access token."""

    def find_user(self, realm: str, username: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def get_user(self, realm: str, user_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def password_policy(self, realm: str) -> str:
        raise NotImplementedError

    def reset_password(self, realm: str, user_id: str, password: str) -> None:
        """Set a permanent password. Raises :class:`PasswordRefused` or :class:`OutcomeUnknown`."""
        raise NotImplementedError

    def logout_user(self, realm: str, user_id: str) -> None:
        raise NotImplementedError


class KeycloakPort:
    """Keycloak logins."""

    location = "Keycloak"

    def login(self, realm: str, username: str, password: str) -> AdminSession:
        """Log in with the password grant.

        Raises :class:`CredentialsRefused` (401 invalid_grant), :class:`AccountNotReady`, or another
        HardeningError when Keycloak could not answer (then nothing can be concluded).
        """
        raise NotImplementedError

    def service_session(self) -> AdminSession | None:
        """A session for the automation's own identity (client credentials), when configured."""
        return None


@dataclass(frozen=True)
class SecretCopy:
    """A Kubernetes Secret that must hold the current password (and optionally the username)."""

    namespace: str
    name: str
    password_key: str = "password"
    username_key: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class AuditEvent:
    namespace: str
    name: str
    reason: str
    message: str
    event_type: str = "Normal"
    involved_object: dict[str, str] = field(default_factory=dict)
    timestamp: str = ""


class ClusterPort:
    """Kubernetes: Secret copies and Events."""

    def read_secret_value(self, copy: SecretCopy) -> tuple[str | None, str | None]:
        """(password, username) from a Secret; (None, None) when the Secret or key is missing."""
        raise NotImplementedError

    def sync_secret_copies(self, copies: Sequence[SecretCopy], username: str, password: str,
                           check_mode: bool) -> list[str]:
        """Make every copy hold these values; return the refs of the copies that (would) change.

        Writes nothing for a copy that already matches.
        """
        raise NotImplementedError

    def emit_event(self, event: AuditEvent) -> None:
        raise NotImplementedError
