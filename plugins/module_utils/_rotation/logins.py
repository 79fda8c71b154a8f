# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: which password logs in now, and the user it belongs to.

A refusal (401) is an answer; any other failure propagates, because then nothing can be concluded
and guessing could lose the password.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import (
    AccountNotReady,
    AdminSession,
    CredentialsRefused,
    RotationError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.secret_fields import (
    RECOVERY_DOC,
    TEMPORARY_ADMIN_ATTRIBUTE,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import RotationRun


@dataclass
class LiveCredential:
    """The password that logs in now, and a session to make admin calls with."""

    password: str
    session: AdminSession
    source: str  # which Vault field (or Secret) held it


def try_login(run: RotationRun, password: str) -> AdminSession | None:
    """A session when ``password`` logs in, None when Keycloak refuses it; raises otherwise."""
    settings = run.settings
    try:
        return run.keycloak.login(settings.realm, settings.username, password)
    except CredentialsRefused:
        return None
    except AccountNotReady as err:
        raise RotationError(
            f"Keycloak accepted the password of {settings.username!r} but the account is not fully set up ({err}): a "
            "temporary password or a required action is pending. Clear the user's required actions in the admin "
            "console, then re-run; nothing was changed by this run.") from None


def find_live(run: RotationRun, candidates: Sequence[tuple[str, str | None]]) -> LiveCredential | None:
    """Log in with each (source, password) in turn; the first that works is the live one."""
    for source, password in candidates:
        if not password:
            continue
        session = try_login(run, password)
        if session is not None:
            return LiveCredential(password, session, source)
    return None


def unknown_live_password(run: RotationRun, context: str, new_password_sent: str = "") -> RotationError:
    """No stored password logs in. ``new_password_sent`` says how this run already sent its new
    password to Keycloak (then it is stored as pending, and the message must not say nothing changed)."""
    settings = run.settings
    if new_password_sent:
        return RotationError(
            f"{context} Keycloak refused both the current and the new password for user {settings.username!r} in "
            f"realm {settings.realm!r} (401). This run stored the new password in {run.store.location} as "
            f"pending_password and {new_password_sent}, so nothing is lost: the next run logs in with every stored "
            "password again and finishes the rotation. If it fails the same way, the password was changed outside "
            f"this automation; see {RECOVERY_DOC}.")
    return RotationError(
        f"{context} Keycloak refused every password stored in {run.store.location} for user {settings.username!r} "
        f"in realm {settings.realm!r} (401). Either the user does not exist (check the username option and realm) "
        "or its password was changed outside this automation. No new password was generated and nothing was "
        f"changed; see {RECOVERY_DOC}.")


def another_run_moved_on(run: RotationRun, version_read: int) -> str:
    """Before concluding that the live password is unknown: has Vault moved past the version this run
    read? Then another run rotated meanwhile (why our password no longer logs in); say so, else ""."""
    current = run.store.read()
    if current is None or current.version <= version_read:
        return ""
    return (f"another run changed {run.store.location} (version {version_read} -> {current.version}) while this "
            "one was logging in to Keycloak")


def find_user(run: RotationRun, session: AdminSession) -> dict[str, Any]:
    """The rotated user's representation; refuses Keycloak 26's temporary bootstrap admin."""
    settings = run.settings
    user = session.find_user(settings.realm, settings.username)
    if user is None:
        raise RotationError(f"Keycloak has no user {settings.username!r} in realm {settings.realm!r}: check the "
                            "username option; nothing was changed.")
    attributes = user.get("attributes") or {}
    flag = attributes.get(TEMPORARY_ADMIN_ATTRIBUTE)
    values = flag if isinstance(flag, list) else [flag]
    if any(str(value).lower() == "true" for value in values if value is not None):
        run.result.action = "refused"
        raise RotationError(
            f"User {settings.username!r} is a temporary bootstrap admin (attribute {TEMPORARY_ADMIN_ATTRIBUTE}=true, "
            "created by Keycloak 26 from KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD). Keycloak expects it to be replaced, "
            "not kept: create a permanent admin user (or a service-account client for automation), store its "
            f"password in {run.store.location}, point this rotation at it, then delete the temporary admin. Nothing "
            "was changed.")
    return user
