# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the settings, the result and the state of one rotation run.

:class:`RotationRun` is what every step reads and updates: the services behind their ports, the
result so far, whether this run wrote anything, and what a failure at this point leaves behind
(said in every error message).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.password_generator import PasswordRequirements
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import (
    AdminSession,
    ClusterPort,
    KeycloakPort,
    SecretCopy,
    SecretStore,
)


@dataclass
class RotationSettings:
    username: str = "admin"
    realm: str = "master"
    max_age_days: int = 90
    force: bool = False
    check_mode: bool = False
    requirements: PasswordRequirements = field(default_factory=PasswordRequirements)
    secret_copies: tuple[SecretCopy, ...] = ()
    adopt_from: SecretCopy | None = None
    rotated_by: str = "atlas.hardening.keycloak_admin_password"
    event_namespace: str | None = None
    event_object: dict[str, str] = field(default_factory=dict)
    logout_sessions: bool = False


@dataclass
class RotationResult:
    changed: bool = False
    rotated: bool = False
    #: what this run did: not_due, rotated, resumed, adopted_and_rotated, completed, copies_synced,
    #: stopped (another run holds the rotation), would_rotate, would_resume, would_adopt, refused
    action: str = "not_due"
    due: bool = False
    due_reason: str = ""
    last_rotated: str | None = None
    next_due: str | None = None
    vault_version: int | None = None
    rotation_id: str | None = None
    copies_updated: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str = ""
    diff: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed, "rotated": self.rotated, "action": self.action, "due": self.due,
            "due_reason": self.due_reason, "last_rotated": self.last_rotated, "next_due": self.next_due,
            "vault_version": self.vault_version, "rotation_id": self.rotation_id,
            "copies_updated": list(self.copies_updated), "msg": self.message,
        }


@dataclass
class RotationRun:
    """The state of one run: services, result so far, what was written, what a failure leaves behind."""

    settings: RotationSettings
    store: SecretStore
    keycloak: KeycloakPort
    cluster: ClusterPort | None
    register_secret: Callable[[str], None]
    now: Callable[[], datetime.datetime] = utc_now
    new_rotation_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    result: RotationResult = field(default_factory=RotationResult)
    wrote: bool = False
    #: what a failure at this point leaves behind, appended to error messages
    leaves: str = "Nothing was changed."
    #: the state before this run, for --diff
    before: dict[str, Any] = field(default_factory=lambda: {"vault_version": None, "last_rotated": None,
                                                            "next_due": None})

    def admin_session(self, session: AdminSession) -> AdminSession:
        """The session for admin calls: the automation's own identity when configured, else ``session``."""
        return self.keycloak.service_session() or session

    def cluster_port(self) -> ClusterPort:
        if self.cluster is None:  # the protocol refuses settings that need one without it
            raise HardeningError("A Kubernetes connection is needed for Secret copies and adopt_from_secret.")
        return self.cluster

    def pending_leaves(self) -> str:
        return (f"Both passwords are stored in {self.store.location} (password and pending_password); the next run "
                "finds out which one Keycloak uses and finishes the rotation.")

    def stopped(self, why: str) -> RotationResult:
        """Another run is at work: stop cleanly, saying why."""
        result = self.result
        result.action = "stopped"
        result.rotated = False
        result.changed = self.wrote
        result.message = f"Stopped without rotating: {why}. Nothing else was changed; the other run completes."
        return result
