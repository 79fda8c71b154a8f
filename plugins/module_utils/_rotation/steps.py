# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the four steps of a rotation (create, set, test, finish), each safe to interrupt.

1. create: generate a new password meeting the realm policy and store it as ``pending_password``
   (check-and-set). A CAS failure means another run is rotating: stop cleanly.
2. set: reset the Keycloak password to the pending one. A policy/history refusal (400) clears the
   pending value (CAS) and fails with Keycloak's message; any other failure leaves the outcome
   unknown, and a login finds out which password is live.
3. test: log in with the pending password and make an admin call with that token.
4. finish: promote pending to ``password`` (the old one to ``previous_password``, CAS), record the
   rotation in the key's custom metadata, update the Kubernetes Secret copies, emit an Event.
"""

from __future__ import annotations

import datetime
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import parse_rfc3339, rfc3339
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.copies import update_copies_and_record_event
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.logins import (
    LiveCredential,
    another_run_moved_on,
    find_live,
    find_user,
    try_login,
    unknown_live_password,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.password_generator import (
    UserIdentity,
    generate_password,
    parse_realm_password_policy,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import (
    AdminSession,
    CasConflict,
    PasswordRefused,
    RotationError,
    StoredSecret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.secret_fields import (
    META_NEXT_DUE,
    META_ROTATED_AT,
    META_ROTATED_BY,
    META_ROTATION_ID,
    PASSWORD,
    PENDING_KEYS,
    PENDING_PASSWORD,
    PENDING_ROTATION_ID,
    PENDING_SINCE,
    PREVIOUS_PASSWORD,
    ROTATION_ID,
    USERNAME,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import RotationResult, RotationRun


class _AnotherRunAtWork(Exception):
    """Vault moved past the version this run wrote: another run took the rotation over."""


def create_pending(run: RotationRun, secret: StoredSecret, live: tuple[LiveCredential, dict[str, Any]] | None,
                   action: str) -> RotationResult:
    settings = run.settings
    if live is None:
        credential = find_live(run, [("password", secret.data.get(PASSWORD)),
                                     ("previous_password", secret.data.get(PREVIOUS_PASSWORD))])
        if credential is None:
            moved_on = another_run_moved_on(run, secret.version)
            if moved_on:
                return run.stopped(moved_on)
            raise unknown_live_password(run, "Cannot rotate:")
        user = find_user(run, run.admin_session(credential.session))
    else:
        credential, user = live
    if credential.source == "previous_password":
        run.result.warnings.append(
            "Keycloak accepted the previous password, not the current one stored in %s: Keycloak's state "
            "was probably restored from a backup. The rotation sets a new password and makes them agree."
            % run.store.location)
    admin = run.admin_session(credential.session)
    policy = parse_realm_password_policy(admin.password_policy(settings.realm))
    if policy.unknown_rules:
        run.result.warnings.append(
            "The realm password policy has rules this module cannot check (%s); Keycloak enforces them."
            % ", ".join(policy.unknown_rules))
    identity = UserIdentity(username=settings.username, email=user.get("email"),
                            first_name=user.get("firstName"), last_name=user.get("lastName"))
    new_password = generate_password(settings.requirements, policy, identity)
    run.register_secret(new_password)
    rotation_id = run.new_rotation_id()
    pending = dict(secret.data)
    pending.update({USERNAME: settings.username, PENDING_PASSWORD: new_password,
                    PENDING_ROTATION_ID: rotation_id, PENDING_SINCE: rfc3339(run.now())})
    try:
        version = run.store.write(pending, cas=secret.version)
    except CasConflict:
        return run.stopped("another rotation changed %s (version %d) while this one was preparing"
                           % (run.store.location, secret.version))
    except HardeningError as err:
        raise RotationError("Could not store the new pending password: %s Keycloak was not changed; the "
                            "next run starts over." % err) from None
    run.wrote = True
    run.leaves = run.pending_leaves()
    run.result.changed = True
    run.result.vault_version = version
    state = StoredSecret(version=version, data=pending, created_time=secret.created_time,
                         custom_metadata=secret.custom_metadata)
    return set_pending_password(run, state, credential, user, action)


def set_pending_password(run: RotationRun, state: StoredSecret, credential: LiveCredential, user: dict[str, Any],
                         action: str) -> RotationResult:
    new_password = state.data[PENDING_PASSWORD]
    admin = run.admin_session(credential.session)
    try:
        admin.reset_password(run.settings.realm, user["id"], new_password)
    except PasswordRefused as refusal:
        return _after_refusal(run, state, refusal, user, credential, action)
    except HardeningError as err:
        # Outcome unknown (timeout, lost answer, 5xx): only a login can tell which password is live.
        return _after_unknown_reset(run, state, credential, user, err, action)
    try:
        session = _login_with_new_password(run, state, credential, None)
    except _AnotherRunAtWork as other:
        return run.stopped(str(other))
    return verify_admin_and_promote(run, state, session, user, credential.password, action)


def _after_refusal(run: RotationRun, state: StoredSecret, refusal: PasswordRefused, user: dict[str, Any],
                   credential: LiveCredential, action: str) -> RotationResult:
    new_password = state.data[PENDING_PASSWORD]
    # Another run may have set the same pending password already (history refuses it twice):
    # never drop a pending password before proving it is not live.
    session = try_login(run, new_password)
    if session is not None:
        return verify_admin_and_promote(run, state, session, user, credential.password, action)
    cleared = {key: value for key, value in state.data.items() if key not in PENDING_KEYS}
    try:
        version = run.store.write(cleared, cas=state.version)
    except CasConflict:
        return run.stopped("Keycloak refused the new password (%s) and another run changed %s meanwhile"
                           % (refusal, run.store.location))
    except HardeningError as err:
        raise RotationError(
            "Keycloak refused the new password: %s The admin password is unchanged, but clearing the pending "
            "value in Vault failed (%s); the next run retries and clears it." % (refusal, err)) from None
    run.result.vault_version = version
    run.result.action = "refused"
    raise RotationError(
        "Keycloak refused the new password for %r: %s The admin password is unchanged and the pending value "
        "was removed from %s (version %d). Adjust the password options (password_length, "
        "password_min_*, password_special_characters) or the realm policy, then re-run."
        % (run.settings.username, refusal, run.store.location, version))


def _after_unknown_reset(run: RotationRun, state: StoredSecret, credential: LiveCredential, user: dict[str, Any],
                         error: HardeningError, action: str) -> RotationResult:
    new_password = state.data[PENDING_PASSWORD]
    try:
        session = try_login(run, new_password)
    except HardeningError as probe_error:
        raise RotationError(
            "The Keycloak password reset did not answer cleanly (%s) and the check of which password is live "
            "failed too (%s). Both the current and the new password are stored in %s (password and "
            "pending_password); the next run finds out which one is live and finishes the rotation."
            % (error, probe_error, run.store.location)) from None
    if session is not None:
        # The reset was applied; only its answer was lost.
        run.result.warnings.append("The password reset answer was lost (%s) but the new password logs in: "
                                   "continuing." % error)
        return verify_admin_and_promote(run, state, session, user, credential.password, action)
    if try_login(run, credential.password) is not None:
        raise RotationError(
            "Keycloak did not apply the new password (%s). The admin password is unchanged (it is still the "
            "one in %s 'password'); the pending password stays stored and the next run retries it."
            % (error, run.store.location))
    moved_on = another_run_moved_on(run, state.version)
    if moved_on:
        return run.stopped(moved_on)
    raise unknown_live_password(run, f"The password reset failed ({error}) and afterwards",
                                new_password_sent="sent it to Keycloak (the answer was lost)")


def _login_with_new_password(run: RotationRun, state: StoredSecret, credential: LiveCredential,
                             session: AdminSession | None) -> AdminSession:
    """Step 3a: a real login with the new password, right after a reset Keycloak confirmed."""
    if session is not None:
        return session
    new_password = state.data[PENDING_PASSWORD]
    try:
        session = try_login(run, new_password)
    except HardeningError as err:
        raise RotationError(
            "Keycloak accepted the new password but logging in with it failed (%s). The new password is stored "
            "in %s as pending_password; the next run verifies it and finishes the rotation."
            % (err, run.store.location)) from None
    if session is not None:
        return session
    if try_login(run, credential.password) is not None:
        raise RotationError(
            "Keycloak confirmed the password reset but still accepts only the old password. The admin password "
            "is unchanged (%s 'password'); the pending password stays stored and the next run retries it."
            % run.store.location)
    moved_on = another_run_moved_on(run, state.version)
    if moved_on:
        raise _AnotherRunAtWork(moved_on)
    raise unknown_live_password(run, "Keycloak confirmed the password reset, but afterwards",
                                new_password_sent="Keycloak confirmed setting it")


def verify_admin_and_promote(run: RotationRun, state: StoredSecret, session: AdminSession, user: dict[str, Any],
                             old_password: str, action: str, admin_call_done: bool = False) -> RotationResult:
    settings = run.settings
    # Step 3b: an admin call with the new password's token proves the account still administers.
    try:
        if not admin_call_done:
            session.get_user(settings.realm, user["id"])
    except HardeningError as err:
        raise RotationError(
            "The new password logs in but an admin call with it failed (%s). Keycloak now uses the new "
            "password, which is stored in %s as pending_password; the next run verifies it again and finishes."
            % (err, run.store.location)) from None
    rotation_id = state.data.get(PENDING_ROTATION_ID) or run.new_rotation_id()
    finished = {key: value for key, value in state.data.items() if key not in PENDING_KEYS}
    finished.update({USERNAME: settings.username, PASSWORD: state.data[PENDING_PASSWORD],
                     ROTATION_ID: rotation_id})
    if old_password and old_password != state.data[PENDING_PASSWORD]:
        finished[PREVIOUS_PASSWORD] = old_password
    try:
        version = run.store.write(finished, cas=state.version)
    except CasConflict:
        return run.stopped("another run finished this rotation (%s changed after version %d)"
                           % (run.store.location, state.version))
    except HardeningError as err:
        raise RotationError(
            "Keycloak now uses the new password but promoting it in Vault failed: %s Nothing is lost: it is "
            "stored in %s as pending_password and the next run finishes the rotation."
            % (err, run.store.location)) from None
    run.wrote = True
    run.leaves = ("Keycloak and %s (version %d) hold the new password; the next run records the rotation in "
                  "the metadata and updates the Kubernetes Secret copies." % (run.store.location, version))
    run.result.changed = True
    run.result.rotated = True
    run.result.action = action
    run.result.vault_version = version
    run.result.rotation_id = rotation_id
    rotated_at = run.now()
    promoted = StoredSecret(version=version, data=finished, created_time=rfc3339(rotated_at),
                            custom_metadata=dict(state.custom_metadata))
    record_rotation(run, promoted, rotated_at)
    if settings.logout_sessions:
        try:
            run.admin_session(session).logout_user(settings.realm, user["id"])
        except HardeningError as err:
            run.result.warnings.append("Could not end the admin's existing sessions: %s" % err)
    update_copies_and_record_event(run, promoted, reason="PasswordRotated")
    run.result.message = ("Rotated the Keycloak admin password of %r (rotation %s); %s version %d; next "
                          "rotation due %s." % (settings.username, rotation_id, run.store.location, version,
                                                run.result.next_due))
    return run.result


def record_rotation(run: RotationRun, secret: StoredSecret, rotated_at: datetime.datetime) -> None:
    settings = run.settings
    next_due = rotated_at + datetime.timedelta(days=settings.max_age_days)
    metadata = dict(secret.custom_metadata)
    metadata.update({
        META_ROTATED_AT: rfc3339(rotated_at),
        META_ROTATION_ID: str(secret.data.get(ROTATION_ID)),
        META_ROTATED_BY: settings.rotated_by,
        META_NEXT_DUE: rfc3339(next_due),
    })
    try:
        run.store.record_rotation(metadata)
    except HardeningError as err:
        raise RotationError(
            "The password was rotated in Keycloak and promoted in %s (version %d), but recording the rotation "
            "in the secret's metadata failed: %s The next run records it and updates the Kubernetes Secret "
            "copies." % (run.store.location, secret.version, err)) from None
    secret.custom_metadata = metadata
    run.leaves = ("The rotation is complete in Keycloak and %s; the next run updates the Kubernetes Secret "
                  "copies." % run.store.location)
    run.result.last_rotated = metadata[META_ROTATED_AT]
    run.result.next_due = metadata[META_NEXT_DUE]
    if run.result.due:
        run.result.due_reason = "rotated by this run (it was due: %s)" % run.result.due_reason
    run.result.due = False


def record_unrecorded_promotion(run: RotationRun, secret: StoredSecret) -> StoredSecret:
    """The data shows a finished rotation the metadata does not know: record it (dated by the
    version that promoted the password), then the copies are synced as usual."""
    result = run.result
    rotation_id = str(secret.data.get(ROTATION_ID))
    result.rotation_id = rotation_id
    if run.settings.check_mode:
        result.changed = True
        result.action = "would_complete"
        # Evaluate the due date as the real run would see it after recording.
        rotated_at = parse_rfc3339(secret.created_time) or run.now()
        metadata = dict(secret.custom_metadata)
        metadata[META_ROTATED_AT] = rfc3339(rotated_at)
        return StoredSecret(secret.version, secret.data, secret.created_time, metadata)
    rotated_at = parse_rfc3339(secret.created_time) or run.now()
    record_rotation(run, secret, rotated_at)
    run.wrote = True
    result.changed = True
    result.action = "completed"
    return secret
