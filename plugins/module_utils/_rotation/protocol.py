# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the Keycloak admin password rotation, with Vault/OpenBao KV v2 as the
source of truth: one run, from reading Vault to the last step it can take.

The state of a rotation lives in the KV v2 data itself, so any run can resume what another left::

    username, password                    the admin's current password (the one that logs in)
    previous_password                     the password before it (kept for manual rollback)
    rotation_id                           id of the rotation that set ``password``
    pending_password, pending_rotation_id a rotation in progress (the new password)
    pending_since                         when it started (for humans)

Every write uses check-and-set against the version read, so two runs never both act on one state.
The steps (steps.py) follow AWS Secrets Manager's createSecret/setSecret/testSecret/finishSecret.

Invariant: at every point, Vault holds a password that logs in (``password`` or
``pending_password``), and a new password is only generated once the live one is known.

The protocol talks to the services through three small ports (ports.py) so that it can be tested
without them; the adapters over the shared connection layers live in adapters.py.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339, utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.adoption import adopt_from_kubernetes
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.copies import sync_copies_when_not_due
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.due import (
    evaluate_due,
    is_promoted_but_unrecorded,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.logins import (
    LiveCredential,
    another_run_moved_on,
    find_live,
    find_user,
    try_login,
    unknown_live_password,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.password_generator import (
    parse_realm_password_policy,
    plan_generation,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import (
    ClusterPort,
    KeycloakPort,
    RotationError,
    SecretStore,
    StoredSecret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.rotation_diff import rotation_diff, run_diff
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.secret_fields import (
    META_NEXT_DUE,
    META_ROTATED_AT,
    OPERATOR_INITIAL_ADMIN_SUFFIX,
    PASSWORD,
    PENDING_PASSWORD,
    PENDING_ROTATION_ID,
    PENDING_SINCE,
    PREVIOUS_PASSWORD,
    RECOVERY_DOC,
    USERNAME,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import (
    RotationResult,
    RotationRun,
    RotationSettings,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.steps import (
    create_pending,
    record_unrecorded_promotion,
    set_pending_password,
    verify_admin_and_promote,
)


class KeycloakAdminRotation:
    """One run of the rotation for one admin user: decides which step comes next, and takes it."""

    def __init__(self, settings: RotationSettings, store: SecretStore, keycloak: KeycloakPort,
                 cluster: ClusterPort | None, register_secret: Callable[[str], None],
                 now: Callable[[], datetime.datetime] = utc_now,
                 new_rotation_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        if settings.max_age_days < 1:
            raise HardeningError(f"max_age_days must be at least 1 (got {settings.max_age_days}).")
        if (settings.secret_copies or settings.adopt_from or settings.event_namespace) and cluster is None:
            raise HardeningError("Kubernetes Secret copies, adopt_from_secret and the audit Event need a "
                                 "Kubernetes connection.")
        # Fail on impossible generation settings before touching anything.
        plan_generation(settings.requirements, parse_realm_password_policy(""))
        self.run_state = RotationRun(settings=settings, store=store, keycloak=keycloak, cluster=cluster,
                                     register_secret=register_secret, now=now, new_rotation_id=new_rotation_id)

    @property
    def result(self) -> RotationResult:
        return self.run_state.result

    @property
    def wrote(self) -> bool:
        return self.run_state.wrote

    def run(self) -> RotationResult:
        run = self.run_state
        try:
            result = self._next_step(run)
        except RotationError:
            raise
        except HardeningError as err:
            # A service failed somewhere below: say in which state this run leaves things.
            raise RotationError(f"{str(err).rstrip()} {run.leaves}") from None
        if result.changed and not result.diff:
            result.diff = run_diff(run)
        return result

    def _next_step(self, run: RotationRun) -> RotationResult:
        result = run.result
        _warn_about_operator_secrets(run)
        secret = run.store.read()
        if secret is None:
            run.store.check_writable_kv2()
            return adopt_from_kubernetes(run)
        _register_passwords(run, secret.data)
        run.before = {"vault_version": secret.version, "last_rotated": secret.custom_metadata.get(META_ROTATED_AT),
                      "next_due": secret.custom_metadata.get(META_NEXT_DUE)}
        _check_secret_shape(run, secret)
        result.vault_version = secret.version
        if secret.data.get(PENDING_PASSWORD):
            return _resume(run, secret)
        if is_promoted_but_unrecorded(secret):
            secret = record_unrecorded_promotion(run, secret)
        evaluate_due(run, secret)
        if not result.due and not run.settings.check_mode and result.action not in ("completed",):
            repaired = _prove_stored_password(run, secret)
            if repaired is not None:
                return repaired
        if not result.due:
            sync_copies_when_not_due(run, secret)
            return result
        if run.settings.check_mode:
            result.changed = True
            result.action = "would_rotate"
            result.message = f"Rotation is due ({result.due_reason}); check mode: nothing written."
            result.diff = rotation_diff(run, secret)
            return result
        return create_pending(run, secret, live=None, action="rotated")


def _resume(run: RotationRun, secret: StoredSecret) -> RotationResult:
    """A rotation another run started (and stopped after step 1, 2 or 3): find out where it is, finish it."""
    result = run.result
    data = secret.data
    result.due = True
    result.due_reason = (f"a rotation started at {data.get(PENDING_SINCE, '?')} (id "
                         f"{data.get(PENDING_ROTATION_ID, '?')}) is pending")
    result.last_rotated = secret.custom_metadata.get(META_ROTATED_AT)
    result.next_due = rfc3339(run.now())
    result.rotation_id = data.get(PENDING_ROTATION_ID)
    if run.settings.check_mode:
        result.changed = True
        result.action = "would_resume"
        result.message = f"A rotation is pending ({result.due_reason}); check mode: nothing written."
        return result
    run.leaves = run.pending_leaves()
    pending_session = try_login(run, data[PENDING_PASSWORD])
    if pending_session is not None:
        # Step 2 already happened (this run or a crashed one): the pending password is live.
        pending = LiveCredential(data[PENDING_PASSWORD], pending_session, "pending_password")
        admin = run.admin_session(pending.session)
        user = find_user(run, admin)
        # With no service account, that query was the admin call of step 3 (made with the new token).
        return verify_admin_and_promote(run, secret, pending_session, user, data.get(PASSWORD) or "", "resumed",
                                        admin_call_done=admin is pending_session)
    credential = find_live(run, [("password", data.get(PASSWORD)), ("previous_password", data.get(PREVIOUS_PASSWORD))])
    if credential is None:
        moved_on = another_run_moved_on(run, secret.version)
        if moved_on:
            return run.stopped(moved_on)
        raise unknown_live_password(run, "Cannot resume the pending rotation:")
    user = find_user(run, run.admin_session(credential.session))
    return set_pending_password(run, secret, credential, user, "resumed")


def _prove_stored_password(run: RotationRun, secret: StoredSecret) -> RotationResult | None:
    """A run that is not due still proves that the stored password logs in (one token request), so that
    a password changed by hand (drift) is reported the day it happens, not at the next due date.
    Returns a result when this run must do something else than a not-due run."""
    data = secret.data
    if try_login(run, data[PASSWORD]) is not None:
        return None
    previous = find_live(run, [("previous_password", data.get(PREVIOUS_PASSWORD))])
    if previous is not None:
        # Keycloak was restored from an older backup: rotate now, from the password that works.
        run.result.due = True
        run.result.due_reason = ("drift: Keycloak accepts the previous password, not the one stored in "
                                 f"{run.store.location} (restored from a backup?)")
        user = find_user(run, run.admin_session(previous.session))
        return create_pending(run, secret, live=(previous, user), action="rotated")
    moved_on = another_run_moved_on(run, secret.version)
    if moved_on:
        return run.stopped(moved_on)
    run.result.action = "drift"
    raise RotationError(
        f"Drift: Keycloak refuses the password stored in {run.store.location} (version {secret.version}) for user "
        f"{run.settings.username!r} in realm {run.settings.realm!r}: it was changed outside this automation after "
        f"the last rotation ({run.result.last_rotated}). Nothing was changed, and the Kubernetes Secret copies "
        f"keep the stored password. Store the live password in Vault (see {RECOVERY_DOC}); the next run proves it "
        "and brings the copies in line.")


def _register_passwords(run: RotationRun, data: dict[str, Any]) -> None:
    for key in (PASSWORD, PREVIOUS_PASSWORD, PENDING_PASSWORD):
        value = data.get(key)
        if isinstance(value, str) and value:
            run.register_secret(value)


def _check_secret_shape(run: RotationRun, secret: StoredSecret) -> None:
    password = secret.data.get(PASSWORD)
    location = run.store.location
    if not isinstance(password, str) or not password:
        raise RotationError(
            f"{location} holds no '{PASSWORD}' field (version {secret.version} has keys: "
            f"{', '.join(sorted(secret.data)) or 'none'}). Store the admin's current password there "
            "(vault kv patch ... password=...) or remove the secret and use adopt_from_secret; nothing was changed.")
    stored_user = secret.data.get(USERNAME)
    # Keycloak usernames are case-insensitive (it stores them in lower case).
    if stored_user and str(stored_user).lower() != run.settings.username.lower():
        raise RotationError(
            f"{location} holds the password of user {stored_user!r} but this rotation is for user "
            f"{run.settings.username!r}: use a separate Vault path per user (kv_path) or fix the username option; "
            "nothing was changed.")


def _warn_about_operator_secrets(run: RotationRun) -> None:
    for copy in run.settings.secret_copies:
        if copy.name.endswith(OPERATOR_INITIAL_ADMIN_SUFFIX):
            run.result.warnings.append(
                f"Secret {copy.ref} looks like the Keycloak Operator's initial admin Secret. The operator reads it "
                "only when Keycloak first starts: updating it does not change Keycloak's password, and the operator "
                "may restart Keycloak when it changes. Prefer a dedicated Secret for consumers.")
