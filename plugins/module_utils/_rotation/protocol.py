# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the Keycloak admin password rotation protocol, with Vault/OpenBao KV v2 as the
source of truth.

The state of a rotation lives in the KV v2 data itself, so any run can resume what another left:

    username, password                    the admin's current password (the one that logs in)
    previous_password                     the password before it (kept for manual rollback)
    rotation_id                           id of the rotation that set ``password``
    pending_password, pending_rotation_id a rotation in progress (the new password)
    pending_since                         when it started (for humans)

Every write uses check-and-set against the version read, so two runs never both act on one state.
The steps, after AWS Secrets Manager's createSecret/setSecret/testSecret/finishSecret:

1. create: know which password is live (log in), generate a new one meeting the realm policy, store
   it as ``pending_password`` (CAS). A CAS failure means another run is rotating: stop cleanly.
2. set: reset the Keycloak password to the pending one. A policy/history refusal (400) clears the
   pending value (CAS) and fails with Keycloak's message. Any other failure leaves the outcome
   unknown; step 3 finds out.
3. test: log in with the pending password and make an admin call with that token.
4. finish: promote pending to ``password`` (old one to ``previous_password``, CAS), record the
   rotation in the key's custom metadata, update the Kubernetes Secret copies, emit an Event.

Invariant: at every point, Vault holds a password that logs in (``password`` or
``pending_password``), and a new password is only generated once the live one is known.

The protocol talks to the services through three small ports (:class:`SecretStore`,
:class:`KeycloakPort`, :class:`ClusterPort`) so that it can be tested without them; the adapters
over the shared connection layers live in ``keycloak_rotation_services.py``.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.password_generator import (
    PasswordRequirements,
    UserIdentity,
    generate_password,
    parse_realm_password_policy,
    plan_generation,
)

# Keys of the KV v2 data this protocol owns; any other key in the secret is kept as is.
PASSWORD = "password"
USERNAME = "username"
PREVIOUS_PASSWORD = "previous_password"
ROTATION_ID = "rotation_id"
PENDING_PASSWORD = "pending_password"
PENDING_ROTATION_ID = "pending_rotation_id"
PENDING_SINCE = "pending_since"
_PENDING_KEYS = (PENDING_PASSWORD, PENDING_ROTATION_ID, PENDING_SINCE)

# Keys of the key's custom_metadata this protocol owns (other keys are kept).
META_ROTATED_AT = "rotated_at"
META_ROTATION_ID = "rotation_id"
META_ROTATED_BY = "rotated_by"
META_NEXT_DUE = "next_due"

TEMPORARY_ADMIN_ATTRIBUTE = "is_temporary_admin"
OPERATOR_INITIAL_ADMIN_SUFFIX = "-initial-admin"
RECOVERY_DOC = "docs/keycloak-admin-rotation.md (section 'Recovery by hand')"


# ----------------------------------------------------------------------------------------------
# Errors
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


# ----------------------------------------------------------------------------------------------
# Ports
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
        return "%s/%s" % (self.namespace, self.name)


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


# ----------------------------------------------------------------------------------------------
# Settings and result
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


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime.datetime | None:
    """Parse an RFC 3339 time as Vault writes it (nanoseconds, ``Z``); None when absent/invalid."""
    if not text or not isinstance(text, str):
        return None
    value = text.strip().replace("Z", "+00:00")
    if "." in value:
        head, _dot, tail = value.partition(".")
        digits = "".join(char for char in tail if char.isdigit())
        zone = tail[len(digits):]
        value = "%s.%s%s" % (head, digits[:6].ljust(6, "0"), zone)
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment


# ----------------------------------------------------------------------------------------------
# The protocol
@dataclass
class _LiveCredential:
    """The password that logs in now, and a session to make admin calls with."""

    password: str
    session: AdminSession
    source: str  # which Vault field (or Secret) held it


class KeycloakAdminRotation:
    """One run of the rotation for one admin user."""

    def __init__(self, settings: RotationSettings, store: SecretStore, keycloak: KeycloakPort,
                 cluster: ClusterPort | None, register_secret: Callable[[str], None],
                 now: Callable[[], datetime.datetime] = utc_now,
                 new_rotation_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        if settings.max_age_days < 1:
            raise HardeningError("max_age_days must be at least 1 (got %d)." % settings.max_age_days)
        if (settings.secret_copies or settings.adopt_from or settings.event_namespace) and cluster is None:
            raise HardeningError("Kubernetes Secret copies, adopt_from_secret and the audit Event need a "
                                 "Kubernetes connection.")
        # Fail on impossible generation settings before touching anything.
        plan_generation(settings.requirements, parse_realm_password_policy(""))
        self.settings = settings
        self.store = store
        self.keycloak = keycloak
        self.cluster = cluster
        self.register_secret = register_secret
        self.now = now
        self.new_rotation_id = new_rotation_id
        self.result = RotationResult()
        self.wrote = False
        # What a failure at this point leaves behind, for error messages.
        self._state = "Nothing was changed."
        self._before: dict[str, Any] = {"vault_version": None, "last_rotated": None, "next_due": None}

    # ------------------------------------------------------------------------------------------
    def run(self) -> RotationResult:
        try:
            result = self._run()
        except RotationError:
            raise
        except HardeningError as err:
            # A service failed somewhere below: say in which state this run leaves things.
            raise RotationError("%s %s" % (str(err).rstrip(), self._state)) from None
        if result.changed and not result.diff:
            result.diff = self._diff()
        return result

    def _run(self) -> RotationResult:
        result = self.result
        self._warn_about_operator_secrets()
        secret = self.store.read()
        if secret is not None:
            self._register_data(secret.data)
            self._before = {"vault_version": secret.version,
                            "last_rotated": secret.custom_metadata.get(META_ROTATED_AT),
                            "next_due": secret.custom_metadata.get(META_NEXT_DUE)}
        if secret is None:
            self.store.check_writable_kv2()
            return self._first_run_from_kubernetes()
        self._check_secret_shape(secret)
        result.vault_version = secret.version
        if secret.data.get(PENDING_PASSWORD):
            return self._resume(secret)
        if self._finish_incomplete(secret):
            secret = self._complete_finish(secret)
        self._evaluate_due(secret)
        if not result.due:
            self._sync_copies_when_not_due(secret)
            return result
        if self.settings.check_mode:
            result.changed = True
            result.action = "would_rotate"
            result.message = "Rotation is due (%s); check mode: nothing written." % result.due_reason
            result.diff = self._diff_for_rotation(secret)
            return result
        return self._rotate(secret, live=None, action="rotated")

    # ------------------------------------------------------------------------------------------
    # Reading and validating the state
    def _register_data(self, data: dict[str, Any]) -> None:
        for key in (PASSWORD, PREVIOUS_PASSWORD, PENDING_PASSWORD):
            value = data.get(key)
            if isinstance(value, str) and value:
                self.register_secret(value)

    def _check_secret_shape(self, secret: StoredSecret) -> None:
        password = secret.data.get(PASSWORD)
        if not isinstance(password, str) or not password:
            raise RotationError(
                "%s holds no '%s' field (version %d has keys: %s). Store the admin's current password there "
                "(vault kv patch ... password=...) or remove the secret and use adopt_from_secret; nothing was "
                "changed." % (self.store.location, PASSWORD, secret.version,
                              ", ".join(sorted(secret.data)) or "none"))
        stored_user = secret.data.get(USERNAME)
        # Keycloak usernames are case-insensitive (it stores them in lower case).
        if stored_user and str(stored_user).lower() != self.settings.username.lower():
            raise RotationError(
                "%s holds the password of user %r but this rotation is for user %r: use a separate Vault path "
                "per user (kv_path) or fix the username option; nothing was changed."
                % (self.store.location, stored_user, self.settings.username))

    def _finish_incomplete(self, secret: StoredSecret) -> bool:
        """A rotation promoted its password in the data but did not record itself in the metadata."""
        data_rotation = secret.data.get(ROTATION_ID)
        return bool(data_rotation) and data_rotation != secret.custom_metadata.get(META_ROTATION_ID)

    def _evaluate_due(self, secret: StoredSecret) -> None:
        result = self.result
        settings = self.settings
        last = parse_time(secret.custom_metadata.get(META_ROTATED_AT))
        max_age = datetime.timedelta(days=settings.max_age_days)
        result.last_rotated = format_time(last) if last else None
        if last is None:
            result.due = True
            result.due_reason = ("no rotation is recorded in the Vault metadata (first run): the password's "
                                 "age is unknown")
            result.next_due = format_time(self.now())
        else:
            next_due = last + max_age
            result.next_due = format_time(next_due)
            result.due = self.now() >= next_due
            if result.due:
                result.due_reason = "last rotation %s is older than %d days" % (
                    result.last_rotated, settings.max_age_days)
            else:
                result.due_reason = "last rotation %s is within %d days" % (
                    result.last_rotated, settings.max_age_days)
        if settings.force and not result.due:
            result.due = True
            result.due_reason = "force=true (%s)" % result.due_reason

    # ------------------------------------------------------------------------------------------
    # Logins
    def _try_login(self, password: str) -> AdminSession | None:
        """A session when ``password`` logs in, None when Keycloak refuses it; raises otherwise."""
        try:
            return self.keycloak.login(self.settings.realm, self.settings.username, password)
        except CredentialsRefused:
            return None
        except AccountNotReady as err:
            raise RotationError(
                "Keycloak accepted the password of %r but the account is not fully set up (%s): a temporary "
                "password or a required action is pending. Clear the user's required actions in the admin "
                "console, then re-run; nothing was changed by this run." % (self.settings.username, err)) from None

    def _find_live(self, candidates: Sequence[tuple[str, str | None]]) -> _LiveCredential | None:
        """Log in with each (source, password) in turn; the first that works is the live one.

        A refusal (401) moves on; any other failure propagates, because then nothing can be
        concluded and guessing could lose the password.
        """
        for source, password in candidates:
            if not password:
                continue
            session = self._try_login(password)
            if session is not None:
                return _LiveCredential(password, session, source)
        return None

    def _admin_session(self, live: _LiveCredential) -> AdminSession:
        return self.keycloak.service_session() or live.session

    def _unknown_live_password(self, context: str) -> RotationError:
        return RotationError(
            "%s Keycloak refused every password stored in %s for user %r in realm %r (401). Either the user "
            "does not exist (check the username option and realm) or its password was changed outside this "
            "automation. No new password was generated and nothing was changed; see %s."
            % (context, self.store.location, self.settings.username, self.settings.realm, RECOVERY_DOC))

    def _find_user(self, session: AdminSession) -> dict[str, Any]:
        user = session.find_user(self.settings.realm, self.settings.username)
        if user is None:
            raise RotationError("Keycloak has no user %r in realm %r: check the username option; nothing was "
                                "changed." % (self.settings.username, self.settings.realm))
        attributes = user.get("attributes") or {}
        flag = attributes.get(TEMPORARY_ADMIN_ATTRIBUTE)
        values = flag if isinstance(flag, list) else [flag]
        if any(str(value).lower() == "true" for value in values if value is not None):
            self.result.action = "refused"
            raise RotationError(
                "User %r is a temporary bootstrap admin (attribute %s=true, created by Keycloak 26 from "
                "KC_BOOTSTRAP_ADMIN_USERNAME/PASSWORD). Keycloak expects it to be replaced, not kept: create a "
                "permanent admin user (or a service-account client for automation), store its password in %s, "
                "point this rotation at it, then delete the temporary admin. Nothing was changed."
                % (self.settings.username, TEMPORARY_ADMIN_ATTRIBUTE, self.store.location))
        return user

    # ------------------------------------------------------------------------------------------
    # First run: nothing in Vault yet
    def _first_run_from_kubernetes(self) -> RotationResult:
        result = self.result
        settings = self.settings
        source = settings.adopt_from
        if source is None:
            raise RotationError(
                "%s holds no secret yet and adopt_from_secret is not set. Store the admin's current password "
                "there first (vault kv put <path> username=%s password=...) or set adopt_from_secret to the "
                "Kubernetes Secret that holds it; nothing was changed." % (self.store.location, settings.username))
        password, username = self._cluster().read_secret_value(source)
        if not password:
            raise RotationError(
                "Nothing to adopt: Kubernetes Secret %s has no key %r (or does not exist), and %s holds no "
                "secret. Check adopt_from_secret; nothing was changed."
                % (source.ref, source.password_key, self.store.location))
        self.register_secret(password)
        if username and username.lower() != settings.username.lower():
            raise RotationError("Kubernetes Secret %s holds the password of user %r, not %r: check "
                                "adopt_from_secret and username; nothing was changed."
                                % (source.ref, username, settings.username))
        result.due = True
        result.due_reason = "no password stored in Vault yet (first run): adopting it from %s" % source.ref
        result.next_due = format_time(self.now())
        if settings.check_mode:
            result.changed = True
            result.action = "would_adopt"
            result.message = ("Would adopt the password from Kubernetes Secret %s into %s after proving it logs in, "
                              "then rotate it; check mode: nothing written." % (source.ref, self.store.location))
            return result
        session = self._try_login(password)
        if session is None:
            raise RotationError(
                "The password in Kubernetes Secret %s (key %r) does not log in as %r in realm %r (401), so it was "
                "not adopted; nothing was written. Put the working password in that Secret or in %s."
                % (source.ref, source.password_key, settings.username, settings.realm, self.store.location))
        live = _LiveCredential(password, session, "Kubernetes Secret %s" % source.ref)
        user = self._find_user(self._admin_session(live))
        data = {USERNAME: settings.username, PASSWORD: password}
        try:
            version = self.store.write(data, cas=0)
        except CasConflict:
            return self._stopped("another run stored a password in %s at the same time" % self.store.location)
        self.wrote = True
        self._state = ("The adopted password is stored in %s; the next run rotates it." % self.store.location)
        result.changed = True
        result.vault_version = version
        secret = StoredSecret(version=version, data=data, created_time=format_time(self.now()))
        return self._rotate(secret, live=(live, user), action="adopted_and_rotated")

    # ------------------------------------------------------------------------------------------
    # A fresh rotation
    def _rotate(self, secret: StoredSecret, live: tuple[_LiveCredential, dict[str, Any]] | None,
                action: str) -> RotationResult:
        settings = self.settings
        if live is None:
            credential = self._find_live([("password", secret.data.get(PASSWORD)),
                                          ("previous_password", secret.data.get(PREVIOUS_PASSWORD))])
            if credential is None:
                raise self._unknown_live_password("Cannot rotate:")
            user = self._find_user(self._admin_session(credential))
        else:
            credential, user = live
        if credential.source == "previous_password":
            self.result.warnings.append(
                "Keycloak accepted the previous password, not the current one stored in %s: Keycloak's state "
                "was probably restored from a backup. The rotation sets a new password and makes them agree."
                % self.store.location)
        admin = self._admin_session(credential)
        policy = parse_realm_password_policy(admin.password_policy(settings.realm))
        if policy.unknown_rules:
            self.result.warnings.append(
                "The realm password policy has rules this module cannot check (%s); Keycloak enforces them."
                % ", ".join(policy.unknown_rules))
        identity = UserIdentity(username=settings.username, email=user.get("email"),
                                first_name=user.get("firstName"), last_name=user.get("lastName"))
        new_password = generate_password(settings.requirements, policy, identity)
        self.register_secret(new_password)
        rotation_id = self.new_rotation_id()
        pending = dict(secret.data)
        pending.update({USERNAME: settings.username, PENDING_PASSWORD: new_password,
                        PENDING_ROTATION_ID: rotation_id, PENDING_SINCE: format_time(self.now())})
        try:
            version = self.store.write(pending, cas=secret.version)
        except CasConflict:
            return self._stopped("another rotation changed %s (version %d) while this one was preparing"
                                 % (self.store.location, secret.version))
        except HardeningError as err:
            raise RotationError("Could not store the new pending password: %s Keycloak was not changed; the "
                                "next run starts over." % err) from None
        self.wrote = True
        self._state = self._pending_state()
        self.result.changed = True
        self.result.vault_version = version
        state = StoredSecret(version=version, data=pending, created_time=secret.created_time,
                             custom_metadata=secret.custom_metadata)
        return self._set_test_finish(state, credential, user, action)

    # ------------------------------------------------------------------------------------------
    # Resume a rotation another run started
    def _resume(self, secret: StoredSecret) -> RotationResult:
        result = self.result
        data = secret.data
        result.due = True
        result.due_reason = "a rotation started at %s (id %s) is pending" % (data.get(PENDING_SINCE, "?"),
                                                                             data.get(PENDING_ROTATION_ID, "?"))
        result.last_rotated = secret.custom_metadata.get(META_ROTATED_AT)
        result.next_due = format_time(self.now())
        result.rotation_id = data.get(PENDING_ROTATION_ID)
        if self.settings.check_mode:
            result.changed = True
            result.action = "would_resume"
            result.message = "A rotation is pending (%s); check mode: nothing written." % result.due_reason
            return result
        self._state = self._pending_state()
        pending_session = self._try_login(data[PENDING_PASSWORD])
        if pending_session is not None:
            # Step 2 already happened (this run or a crashed one): the pending password is live.
            pending = _LiveCredential(data[PENDING_PASSWORD], pending_session, "pending_password")
            admin = self._admin_session(pending)
            user = self._find_user(admin)
            # With no service account, that query was the admin call of step 3 (made with the new token).
            return self._test_and_finish(secret, pending_session, user, data.get(PASSWORD) or "", "resumed",
                                         admin_call_done=admin is pending_session)
        credential = self._find_live([("password", data.get(PASSWORD)),
                                      ("previous_password", data.get(PREVIOUS_PASSWORD))])
        if credential is None:
            raise self._unknown_live_password("Cannot resume the pending rotation:")
        user = self._find_user(self._admin_session(credential))
        return self._set_test_finish(secret, credential, user, "resumed")

    # ------------------------------------------------------------------------------------------
    # Steps 2-4
    def _set_test_finish(self, state: StoredSecret, credential: _LiveCredential, user: dict[str, Any],
                         action: str) -> RotationResult:
        new_password = state.data[PENDING_PASSWORD]
        admin = self._admin_session(credential)
        try:
            admin.reset_password(self.settings.realm, user["id"], new_password)
        except PasswordRefused as refusal:
            return self._handle_refusal(state, refusal, user, credential, action)
        except HardeningError as err:
            # Outcome unknown (timeout, lost answer, 5xx): only a login can tell which password is live.
            return self._after_unknown_reset(state, credential, user, err, action)
        session = self._verify_login(state, credential, None)
        return self._test_and_finish(state, session, user, credential.password, action)

    def _handle_refusal(self, state: StoredSecret, refusal: PasswordRefused, user: dict[str, Any],
                        credential: _LiveCredential, action: str) -> RotationResult:
        new_password = state.data[PENDING_PASSWORD]
        # Another run may have set the same pending password already (history refuses it twice):
        # never drop a pending password before proving it is not live.
        session = self._try_login(new_password)
        if session is not None:
            return self._test_and_finish(state, session, user, credential.password, action)
        cleared = {key: value for key, value in state.data.items() if key not in _PENDING_KEYS}
        try:
            version = self.store.write(cleared, cas=state.version)
        except CasConflict:
            return self._stopped("Keycloak refused the new password (%s) and another run changed %s meanwhile"
                                 % (refusal, self.store.location))
        except HardeningError as err:
            raise RotationError(
                "Keycloak refused the new password: %s The admin password is unchanged, but clearing the pending "
                "value in Vault failed (%s); the next run retries and clears it." % (refusal, err)) from None
        self.result.vault_version = version
        self.result.action = "refused"
        raise RotationError(
            "Keycloak refused the new password for %r: %s The admin password is unchanged and the pending value "
            "was removed from %s (version %d). Adjust the password options (password_length, "
            "password_min_*, password_special_characters) or the realm policy, then re-run."
            % (self.settings.username, refusal, self.store.location, version))

    def _after_unknown_reset(self, state: StoredSecret, credential: _LiveCredential, user: dict[str, Any],
                             error: HardeningError, action: str) -> RotationResult:
        new_password = state.data[PENDING_PASSWORD]
        try:
            session = self._try_login(new_password)
        except HardeningError as probe_error:
            raise RotationError(
                "The Keycloak password reset did not answer cleanly (%s) and the check of which password is live "
                "failed too (%s). Both the current and the new password are stored in %s (password and "
                "pending_password); the next run finds out which one is live and finishes the rotation."
                % (error, probe_error, self.store.location)) from None
        if session is not None:
            # The reset was applied; only its answer was lost.
            self.result.warnings.append("The password reset answer was lost (%s) but the new password logs in: "
                                        "continuing." % error)
            return self._test_and_finish(state, session, user, credential.password, action)
        if self._try_login(credential.password) is not None:
            raise RotationError(
                "Keycloak did not apply the new password (%s). The admin password is unchanged (it is still the "
                "one in %s 'password'); the pending password stays stored and the next run retries it."
                % (error, self.store.location))
        raise self._unknown_live_password("The password reset failed (%s) and afterwards" % error)

    def _verify_login(self, state: StoredSecret, credential: _LiveCredential,
                      session: AdminSession | None) -> AdminSession:
        """Step 3a: a real login with the new password, right after a reset Keycloak confirmed."""
        if session is not None:
            return session
        new_password = state.data[PENDING_PASSWORD]
        try:
            session = self._try_login(new_password)
        except HardeningError as err:
            raise RotationError(
                "Keycloak accepted the new password but logging in with it failed (%s). The new password is stored "
                "in %s as pending_password; the next run verifies it and finishes the rotation."
                % (err, self.store.location)) from None
        if session is not None:
            return session
        if self._try_login(credential.password) is not None:
            raise RotationError(
                "Keycloak confirmed the password reset but still accepts only the old password. The admin password "
                "is unchanged (%s 'password'); the pending password stays stored and the next run retries it."
                % self.store.location)
        raise self._unknown_live_password("Keycloak confirmed the password reset, but afterwards")

    def _test_and_finish(self, state: StoredSecret, session: AdminSession, user: dict[str, Any],
                         old_password: str, action: str, admin_call_done: bool = False) -> RotationResult:
        settings = self.settings
        # Step 3b: an admin call with the new password's token proves the account still administers.
        try:
            if not admin_call_done:
                session.get_user(settings.realm, user["id"])
        except HardeningError as err:
            raise RotationError(
                "The new password logs in but an admin call with it failed (%s). Keycloak now uses the new "
                "password, which is stored in %s as pending_password; the next run verifies it again and finishes."
                % (err, self.store.location)) from None
        rotation_id = state.data.get(PENDING_ROTATION_ID) or self.new_rotation_id()
        finished = {key: value for key, value in state.data.items() if key not in _PENDING_KEYS}
        finished.update({USERNAME: settings.username, PASSWORD: state.data[PENDING_PASSWORD],
                         ROTATION_ID: rotation_id})
        if old_password and old_password != state.data[PENDING_PASSWORD]:
            finished[PREVIOUS_PASSWORD] = old_password
        try:
            version = self.store.write(finished, cas=state.version)
        except CasConflict:
            return self._stopped("another run finished this rotation (%s changed after version %d)"
                                 % (self.store.location, state.version))
        except HardeningError as err:
            raise RotationError(
                "Keycloak now uses the new password but promoting it in Vault failed: %s Nothing is lost: it is "
                "stored in %s as pending_password and the next run finishes the rotation."
                % (err, self.store.location)) from None
        self.wrote = True
        self._state = ("Keycloak and %s (version %d) hold the new password; the next run records the rotation in "
                       "the metadata and updates the Kubernetes Secret copies." % (self.store.location, version))
        self.result.changed = True
        self.result.rotated = True
        self.result.action = action
        self.result.vault_version = version
        self.result.rotation_id = rotation_id
        rotated_at = self.now()
        promoted = StoredSecret(version=version, data=finished, created_time=format_time(rotated_at),
                                custom_metadata=dict(state.custom_metadata))
        self._record_rotation(promoted, rotated_at)
        if settings.logout_sessions:
            try:
                self._admin_after_rotation(session).logout_user(settings.realm, user["id"])
            except HardeningError as err:
                self.result.warnings.append("Could not end the admin's existing sessions: %s" % err)
        self._finish_copies_and_event(promoted, reason="PasswordRotated")
        self.result.message = ("Rotated the Keycloak admin password of %r (rotation %s); %s version %d; next "
                               "rotation due %s." % (settings.username, rotation_id, self.store.location, version,
                                                     self.result.next_due))
        return self.result

    def _pending_state(self) -> str:
        return ("Both passwords are stored in %s (password and pending_password); the next run finds out which one "
                "Keycloak uses and finishes the rotation." % self.store.location)

    def _admin_after_rotation(self, session: AdminSession) -> AdminSession:
        return self.keycloak.service_session() or session

    def _record_rotation(self, secret: StoredSecret, rotated_at: datetime.datetime) -> None:
        settings = self.settings
        next_due = rotated_at + datetime.timedelta(days=settings.max_age_days)
        metadata = dict(secret.custom_metadata)
        metadata.update({
            META_ROTATED_AT: format_time(rotated_at),
            META_ROTATION_ID: str(secret.data.get(ROTATION_ID)),
            META_ROTATED_BY: settings.rotated_by,
            META_NEXT_DUE: format_time(next_due),
        })
        try:
            self.store.record_rotation(metadata)
        except HardeningError as err:
            raise RotationError(
                "The password was rotated in Keycloak and promoted in %s (version %d), but recording the rotation "
                "in the secret's metadata failed: %s The next run records it and updates the Kubernetes Secret "
                "copies." % (self.store.location, secret.version, err)) from None
        secret.custom_metadata = metadata
        self._state = ("The rotation is complete in Keycloak and %s; the next run updates the Kubernetes Secret "
                       "copies." % self.store.location)
        self.result.last_rotated = metadata[META_ROTATED_AT]
        self.result.next_due = metadata[META_NEXT_DUE]
        if self.result.due:
            self.result.due_reason = "rotated by this run (it was due: %s)" % self.result.due_reason
        self.result.due = False

    # ------------------------------------------------------------------------------------------
    # Completing an interrupted finish
    def _complete_finish(self, secret: StoredSecret) -> StoredSecret:
        """The data shows a finished rotation the metadata does not know: record it (dated by the
        version that promoted the password), then the copies are synced as usual."""
        result = self.result
        rotation_id = str(secret.data.get(ROTATION_ID))
        result.rotation_id = rotation_id
        if self.settings.check_mode:
            result.changed = True
            result.action = "would_complete"
            # Evaluate the due date as the real run would see it after recording.
            rotated_at = parse_time(secret.created_time) or self.now()
            metadata = dict(secret.custom_metadata)
            metadata[META_ROTATED_AT] = format_time(rotated_at)
            return StoredSecret(secret.version, secret.data, secret.created_time, metadata)
        rotated_at = parse_time(secret.created_time) or self.now()
        self._record_rotation(secret, rotated_at)
        self.wrote = True
        result.changed = True
        result.action = "completed"
        return secret

    # ------------------------------------------------------------------------------------------
    # Copies and Event
    def _sync_copies_when_not_due(self, secret: StoredSecret) -> None:
        result = self.result
        check_mode = self.settings.check_mode
        if self.settings.secret_copies:
            try:
                result.copies_updated = self._cluster().sync_secret_copies(
                    self.settings.secret_copies, self.settings.username, secret.data[PASSWORD], check_mode)
            except HardeningError as err:
                raise RotationError("Updating the Kubernetes Secret copies from %s failed: %s Keycloak and Vault "
                                    "agree; the next run retries the copies." % (self.store.location, err)) from None
        copies = ", ".join(result.copies_updated)
        if result.action == "completed":
            self._emit_event("PasswordRotated", secret, result.copies_updated)
            result.message = ("Recorded the interrupted rotation %s in the Vault metadata%s; next rotation due %s."
                              % (result.rotation_id, "; updated %s" % copies if copies else "", result.next_due))
        elif result.action == "would_complete":
            result.message = ("Rotation %s is promoted in Vault but not recorded in its metadata%s; check mode: "
                              "nothing written." % (result.rotation_id,
                                                    "; %s would be updated" % copies if copies else ""))
        elif result.copies_updated:
            result.changed = True
            result.action = "would_sync_copies" if check_mode else "copies_synced"
            if not check_mode:
                self._emit_event("PasswordCopiesSynced", secret, result.copies_updated)
            result.message = "Rotation not due (next %s); Kubernetes Secret copies %s %s to match %s." % (
                result.next_due, copies, "would be updated" if check_mode else "updated", self.store.location)
        else:
            result.message = "Rotation not due: %s; next rotation due %s." % (result.due_reason, result.next_due)

    def _finish_copies_and_event(self, secret: StoredSecret, reason: str) -> None:
        result = self.result
        if self.settings.secret_copies:
            try:
                result.copies_updated = self._cluster().sync_secret_copies(
                    self.settings.secret_copies, self.settings.username, secret.data[PASSWORD], False)
            except HardeningError as err:
                raise RotationError(
                    "The password was rotated in Keycloak and %s (version %d), but updating the Kubernetes Secret "
                    "copies failed: %s The next run updates them." % (self.store.location, secret.version, err)
                ) from None
        self._emit_event(reason, secret, result.copies_updated)

    def _emit_event(self, reason: str, secret: StoredSecret, copies: list[str]) -> None:
        settings = self.settings
        if not settings.event_namespace or self.cluster is None:
            return
        rotation_id = str(secret.data.get(ROTATION_ID) or "")
        if reason == "PasswordRotated":
            message = ("Keycloak admin password of user %s (realm %s) rotated by %s; rotation %s; %s version %d; "
                       "next rotation due %s; Secret copies updated: %s."
                       % (settings.username, settings.realm, settings.rotated_by, rotation_id, self.store.location,
                          secret.version, self.result.next_due, ", ".join(copies) or "none"))
        else:
            message = ("Kubernetes Secret copies of the Keycloak admin password of user %s brought in line with %s "
                       "version %d by %s: %s."
                       % (settings.username, self.store.location, secret.version, settings.rotated_by,
                          ", ".join(copies)))
        moment = self.now()
        name = "keycloak-admin-password.%s.%s" % (moment.strftime("%Y%m%d%H%M%S"), uuid.uuid4().hex[:8])
        event = AuditEvent(namespace=settings.event_namespace, name=name, reason=reason, message=message,
                           involved_object=dict(settings.event_object), timestamp=format_time(moment))
        try:
            self.cluster.emit_event(event)
        except HardeningError as err:
            self.result.warnings.append("Could not create the audit Event in namespace %s: %s (the Vault metadata "
                                        "records the rotation)." % (settings.event_namespace, err))

    # ------------------------------------------------------------------------------------------
    def _stopped(self, why: str) -> RotationResult:
        result = self.result
        result.action = "stopped"
        result.rotated = False
        result.changed = self.wrote
        result.message = "Stopped without rotating: %s. Nothing else was changed; the other run completes." % why
        return result

    def _cluster(self) -> ClusterPort:
        if self.cluster is None:  # the constructor refuses settings that need one without it
            raise HardeningError("A Kubernetes connection is needed for Secret copies and adopt_from_secret.")
        return self.cluster

    def _warn_about_operator_secrets(self) -> None:
        for copy in self.settings.secret_copies:
            if copy.name.endswith(OPERATOR_INITIAL_ADMIN_SUFFIX):
                self.result.warnings.append(
                    "Secret %s looks like the Keycloak Operator's initial admin Secret. The operator reads it only "
                    "when Keycloak first starts: updating it does not change Keycloak's password, and the operator "
                    "may restart Keycloak when it changes. Prefer a dedicated Secret for consumers." % copy.ref)

    def _diff(self) -> dict[str, Any]:
        """What changed, without any value: versions, dates, which copies."""
        result = self.result
        after: dict[str, Any] = {"vault_version": result.vault_version, "last_rotated": result.last_rotated,
                                 "next_due": result.next_due}
        if result.rotated:
            after[PASSWORD] = "<changed, not shown>"
        if result.copies_updated:
            after["secret_copies_updated"] = list(result.copies_updated)
        return {"before": dict(self._before), "after": after}

    def _diff_for_rotation(self, secret: StoredSecret) -> dict[str, Any]:
        before = {"vault_version": secret.version, META_ROTATED_AT: self.result.last_rotated,
                  PASSWORD: "<current>"}
        after = {"vault_version": secret.version + 2, META_ROTATED_AT: "<now>", PASSWORD: "<new, not shown>",
                 "secret_copies": [copy.ref for copy in self.settings.secret_copies]}
        return {"before": before, "after": after}
