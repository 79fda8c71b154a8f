"""The rotation protocol as a state machine, with in-memory services behind its three ports.

These fakes keep the semantics the protocol relies on (KV v2 check-and-set, Keycloak's 401 for a
wrong password and 400 for a policy refusal, Secrets that hold values) and let a test interrupt
ANY call, before or after it takes effect. The same scenarios run against the real OpenBao and the
lab's Keycloak/Kubernetes emulators in tests/integration/test_keycloak_rotation*.py.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import parse_rfc3339 as parse_time
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339 as format_time
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.password_generator import PasswordRequirements
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
    RotationError,
    SecretCopy,
    SecretStore,
    StoredSecret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.protocol import KeycloakAdminRotation
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import RotationSettings

NOW = datetime.datetime(2026, 11, 21, 12, 0, 0, tzinfo=datetime.timezone.utc)
INITIAL = "Initial-Passw0rd!"


class Crash(BaseException):
    """The process dies: nothing after this point runs (not an Exception, so nothing catches it)."""


@dataclass
class Interrupt:
    """Interrupt the n-th call of ``op``: ``how`` is 'crash' (process dies) or an exception factory;
    ``applied`` says whether the call takes effect first."""

    op: str
    nth: int = 1
    how: Any = "crash"
    applied: bool = False
    seen: int = 0


class Faults:
    def __init__(self) -> None:
        self.rules: list[Interrupt] = []
        self.calls: list[str] = []

    def add(self, op: str, nth: int = 1, how: Any = "crash", applied: bool = False) -> None:
        self.rules.append(Interrupt(op, nth, how, applied))

    def around(self, op: str, action: Callable[[], Any]) -> Any:
        self.calls.append(op)
        for rule in self.rules:
            if rule.op == op:
                rule.seen += 1
                if rule.seen == rule.nth:
                    if rule.applied:
                        action()
                    if rule.how == "crash":
                        raise Crash(op)
                    raise rule.how()
        return action()


class FakeVault(SecretStore):
    location = "Vault secret/keycloak/admin"

    def __init__(self, faults: Faults, data: dict[str, Any] | None = None,
                 metadata: dict[str, str] | None = None, kv_version: int = 2) -> None:
        self.faults = faults
        self.versions: list[dict[str, Any]] = []
        self.created: list[str] = []
        self.custom_metadata: dict[str, str] = dict(metadata or {})
        self.kv_version = kv_version
        self.writes = 0
        if data is not None:
            self.versions.append(dict(data))
            self.created.append("2025-01-01T00:00:00.123456789Z")

    @property
    def current(self) -> dict[str, Any]:
        return self.versions[-1]

    def read(self) -> StoredSecret | None:
        def action() -> StoredSecret | None:
            if not self.versions:
                return None
            return StoredSecret(len(self.versions), dict(self.current), self.created[-1], dict(self.custom_metadata))
        return self.faults.around("vault.read", action)

    def check_writable_kv2(self) -> None:
        if self.kv_version != 2:
            raise HardeningError("secret/ is a KV version 1 mount")

    def write(self, data: dict[str, Any], cas: int) -> int:
        def action() -> int:
            if cas != len(self.versions):
                raise CasConflict(f"cas {cas} but at {len(self.versions)}")
            self.versions.append(dict(data))
            self.created.append(format_time(NOW))
            self.writes += 1
            return len(self.versions)
        return self.faults.around("vault.write", action)

    def record_rotation(self, custom_metadata: dict[str, str]) -> None:
        def action() -> None:
            self.custom_metadata = dict(custom_metadata)
            self.writes += 1
        self.faults.around("vault.metadata", action)


@dataclass
class FakeUser:
    id: str = "u-1"
    username: str = "admin"
    password: str = INITIAL
    history: list[str] = field(default_factory=list)
    attributes: dict[str, list[str]] = field(default_factory=dict)
    required_actions: list[str] = field(default_factory=list)


class FakeKeycloak(KeycloakPort):
    location = "Keycloak"

    def __init__(self, faults: Faults, user: FakeUser | None = None, policy: str = "",
                 history: int = 0) -> None:
        self.faults = faults
        self.user = user or FakeUser()
        self.policy = policy
        self.history_depth = history
        self.resets = 0
        self.logins = 0
        self.refuse: str | None = None

    def login(self, realm: str, username: str, password: str) -> AdminSession:
        def action() -> AdminSession:
            self.logins += 1
            if username != self.user.username or password != self.user.password:
                raise CredentialsRefused("invalid_grant")
            if self.user.required_actions:
                raise AccountNotReady("Account is not fully set up")
            return FakeSession(self)
        return self.faults.around("keycloak.login", action)


class FakeSession(AdminSession):
    def __init__(self, keycloak: FakeKeycloak) -> None:
        self.keycloak = keycloak

    def find_user(self, realm: str, username: str) -> dict[str, Any] | None:
        user = self.keycloak.user

        def action() -> dict[str, Any] | None:
            if username != user.username:
                return None
            return {"id": user.id, "username": user.username, "attributes": dict(user.attributes)}
        return self.keycloak.faults.around("keycloak.find_user", action)

    def get_user(self, realm: str, user_id: str) -> dict[str, Any]:
        return self.keycloak.faults.around("keycloak.get_user", lambda: {"id": user_id})

    def password_policy(self, realm: str) -> str:
        return self.keycloak.faults.around("keycloak.realm", lambda: self.keycloak.policy)

    def reset_password(self, realm: str, user_id: str, password: str) -> None:
        keycloak = self.keycloak

        def action() -> None:
            recent = [keycloak.user.password] + keycloak.user.history[:max(keycloak.history_depth - 1, 0)]
            if keycloak.refuse:
                raise PasswordRefused(keycloak.refuse)
            if keycloak.history_depth and password in recent:
                raise PasswordRefused(f"Invalid password: must not be equal to any of last {keycloak.history_depth} "
                                      "passwords.")
            if "length(" in keycloak.policy and len(password) < int(keycloak.policy.split("length(")[1].split(")")[0]):
                raise PasswordRefused("Invalid password: minimum length.")
            keycloak.user.history.insert(0, keycloak.user.password)
            keycloak.user.password = password
            keycloak.resets += 1
        keycloak.faults.around("keycloak.reset", action)

    def logout_user(self, realm: str, user_id: str) -> None:
        self.keycloak.faults.around("keycloak.logout", lambda: None)


class FakeCluster(ClusterPort):
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.secrets: dict[str, dict[str, str]] = {}
        self.events: list[AuditEvent] = []
        self.writes = 0

    def read_secret_value(self, copy: SecretCopy) -> tuple[str | None, str | None]:
        data = self.secrets.get(copy.ref) or {}
        return data.get(copy.password_key), data.get(copy.username_key) if copy.username_key else None

    def sync_secret_copies(self, copies, username: str, password: str, check_mode: bool) -> list[str]:
        def action() -> list[str]:
            changed = []
            for copy in copies:
                wanted = {copy.password_key: password}
                if copy.username_key:
                    wanted[copy.username_key] = username
                current = self.secrets.get(copy.ref, {})
                if any(current.get(key) != value for key, value in wanted.items()):
                    changed.append(copy.ref)
                    if not check_mode:
                        current.update(wanted)
                        self.secrets[copy.ref] = current
                        self.writes += 1
            return changed
        return self.faults.around("k8s.sync", action)

    def emit_event(self, event: AuditEvent) -> None:
        self.faults.around("k8s.event", lambda: self.events.append(event))


COPIES = (SecretCopy("keycloak", "keycloak-admin", "password", "username"),
          SecretCopy("apps", "keycloak-admin-copy", "admin-password"))


@dataclass
class World:
    faults: Faults
    vault: FakeVault
    keycloak: FakeKeycloak
    cluster: FakeCluster
    registered: set[str] = field(default_factory=set)
    clock: datetime.datetime = NOW
    ids: Any = field(default_factory=lambda: (f"rot-{n}" for n in itertools.count(1)))

    def run(self, **overrides: Any):
        settings = RotationSettings(secret_copies=COPIES, event_namespace="keycloak",
                                    event_object={"apiVersion": "k8s.keycloak.org/v2alpha1", "kind": "Keycloak",
                                                  "name": "keycloak"},
                                    requirements=PasswordRequirements(length=24))
        for key, value in overrides.items():
            setattr(settings, key, value)
        rotation = KeycloakAdminRotation(settings, self.vault, self.keycloak, self.cluster, self.registered.add,
                                         now=lambda: self.clock, new_rotation_id=lambda: next(self.ids))
        return rotation.run()

    # Invariants ---------------------------------------------------------------------------
    def stored_working_password(self) -> str:
        """The stored password Keycloak accepts (fails when none does)."""
        data = self.vault.current
        live = self.keycloak.user.password
        assert live in (data.get("password"), data.get("pending_password")), \
            "Keycloak's password is neither Vault's password nor its pending_password"
        return live

    def assert_consistent(self) -> None:
        data = self.vault.current
        assert "pending_password" not in data and "pending_rotation_id" not in data
        assert self.keycloak.user.password == data["password"]
        for copy in COPIES:
            assert self.cluster.secrets[copy.ref][copy.password_key] == data["password"]
        assert self.vault.custom_metadata.get("rotation_id") == data.get("rotation_id")


def make_world(rotated_days_ago: int | None = 100, policy: str = "", history: int = 0,
               data: dict[str, Any] | None = "default") -> World:  # type: ignore[assignment]
    faults = Faults()
    if data == "default":
        data = {"username": "admin", "password": INITIAL, "url": "https://sso.atlas.example"}
    metadata = {}
    if rotated_days_ago is not None:
        metadata = {"rotated_at": format_time(NOW - datetime.timedelta(days=rotated_days_ago)),
                    "owner": "platform-team"}
    world = World(faults, FakeVault(faults, data, metadata), FakeKeycloak(faults, policy=policy, history=history),
                  FakeCluster(faults))
    world.cluster.secrets = {"keycloak/keycloak-admin": {"username": "admin", "password": INITIAL},
                             "apps/keycloak-admin-copy": {"admin-password": INITIAL}}
    return world


def assert_no_password_in(result: Any, world: World) -> None:
    text = repr(result.as_dict()) + repr(result.warnings) + repr(result.diff)
    text += "".join(event.message + event.name for event in world.cluster.events)
    for secret in world.registered | {INITIAL, world.keycloak.user.password}:
        assert secret not in text


# ---------------------------------------------------------------------------------------------
# Normal operation
def test_due_rotation_changes_everything_and_second_run_is_a_no_op() -> None:
    world = make_world(rotated_days_ago=91)
    result = world.run()
    assert result.rotated and result.changed and result.action == "rotated"
    data = world.vault.current
    assert data["password"] != INITIAL and data["previous_password"] == INITIAL
    assert data["url"] == "https://sso.atlas.example"  # other keys are kept
    assert world.keycloak.user.password == data["password"]
    world.assert_consistent()
    assert world.vault.custom_metadata["owner"] == "platform-team"
    assert world.vault.custom_metadata["rotated_at"] == format_time(NOW)
    assert world.vault.custom_metadata["next_due"] == format_time(NOW + datetime.timedelta(days=90))
    assert result.next_due == format_time(NOW + datetime.timedelta(days=90))
    assert result.copies_updated == ["keycloak/keycloak-admin", "apps/keycloak-admin-copy"]
    assert result.vault_version == 3  # pending, then promoted
    assert [event.reason for event in world.cluster.events] == ["PasswordRotated"]
    assert len(data["password"]) == 24
    assert data["password"] in world.registered and INITIAL in world.registered
    assert result.diff["before"]["vault_version"] == 1 and result.diff["after"]["vault_version"] == 3
    assert result.diff["after"]["password"] == "<changed, not shown>"
    assert_no_password_in(result, world)

    writes = (world.vault.writes, world.cluster.writes, world.keycloak.resets)
    world.faults.calls.clear()
    second = world.run()
    assert not second.changed and second.action == "not_due"
    assert (world.vault.writes, world.cluster.writes, world.keycloak.resets) == writes
    # A run that is not due proves the stored password with one login (drift), then checks the copies.
    assert world.faults.calls == ["vault.read", "keycloak.login", "k8s.sync"]


def test_keycloak_request_sequence_of_a_due_rotation() -> None:
    world = make_world()
    world.run()
    keycloak_calls = [call for call in world.faults.calls if call.startswith("keycloak.")]
    assert keycloak_calls == ["keycloak.login", "keycloak.find_user", "keycloak.realm", "keycloak.reset",
                              "keycloak.login", "keycloak.get_user"]


def test_not_due_reports_next_due_date() -> None:
    world = make_world(rotated_days_ago=10)
    result = world.run()
    assert not result.due and not result.changed
    assert result.next_due == format_time(NOW + datetime.timedelta(days=80))
    assert world.vault.writes == 0 and world.keycloak.logins == 1  # the drift check


def test_force_rotates_before_the_due_date() -> None:
    world = make_world(rotated_days_ago=1)
    result = world.run(force=True)
    assert result.rotated and "force" in result.due_reason


def test_check_mode_reports_due_and_writes_nothing() -> None:
    world = make_world(rotated_days_ago=200)
    result = world.run(check_mode=True)
    assert result.due and result.changed and result.action == "would_rotate" and not result.rotated
    assert world.vault.writes == 0 and world.keycloak.logins == 0 and world.cluster.writes == 0
    assert world.faults.calls == ["vault.read"]


def test_check_mode_not_due_shows_copy_drift_without_writing() -> None:
    world = make_world(rotated_days_ago=3)
    world.cluster.secrets["apps/keycloak-admin-copy"]["admin-password"] = "edited by hand"
    result = world.run(check_mode=True)
    assert result.changed and result.action == "would_sync_copies"
    assert result.copies_updated == ["apps/keycloak-admin-copy"] and world.cluster.writes == 0


def test_first_run_adopts_vault_password_and_rotates() -> None:
    world = make_world(rotated_days_ago=None)
    result = world.run()
    assert result.rotated and "first run" in result.due_reason
    world.assert_consistent()


def test_first_run_adopts_from_kubernetes_secret() -> None:
    world = make_world(data=None)
    world.cluster.secrets["keycloak/keycloak-initial-admin"] = {"username": "admin", "password": INITIAL}
    result = world.run(adopt_from=SecretCopy("keycloak", "keycloak-initial-admin", "password", "username"))
    assert result.rotated and result.action == "adopted_and_rotated"
    assert world.vault.versions[0] == {"username": "admin", "password": INITIAL}
    world.assert_consistent()
    # The operator's Secret is only read, never written.
    assert world.cluster.secrets["keycloak/keycloak-initial-admin"]["password"] == INITIAL


def test_first_run_adoption_refuses_a_password_that_does_not_log_in() -> None:
    world = make_world(data=None)
    world.cluster.secrets["keycloak/keycloak-initial-admin"] = {"password": "stale"}
    with pytest.raises(RotationError, match="does not log in.*nothing was written"):
        world.run(adopt_from=SecretCopy("keycloak", "keycloak-initial-admin"))
    assert world.vault.versions == []


def test_first_run_without_anything_to_adopt() -> None:
    world = make_world(data=None)
    with pytest.raises(RotationError, match="adopt_from_secret is not set"):
        world.run()


def test_kv_version_1_is_refused_before_writing() -> None:
    world = make_world(data=None)
    world.vault.kv_version = 1
    world.cluster.secrets["keycloak/src"] = {"password": INITIAL}
    with pytest.raises(HardeningError, match="KV version 1"):
        world.run(adopt_from=SecretCopy("keycloak", "src"))
    assert world.vault.writes == 0


def test_temporary_bootstrap_admin_is_refused() -> None:
    world = make_world()
    world.keycloak.user.attributes = {"is_temporary_admin": ["true"]}
    with pytest.raises(RotationError, match="temporary bootstrap admin"):
        world.run()
    assert world.vault.writes == 0 and world.keycloak.resets == 0


def test_operator_initial_admin_copy_warns() -> None:
    world = make_world(rotated_days_ago=1)
    world.cluster.secrets["keycloak/keycloak-initial-admin"] = {"password": INITIAL}
    copies = COPIES + (SecretCopy("keycloak", "keycloak-initial-admin"),)
    result = world.run(secret_copies=copies)
    assert any("initial admin Secret" in warning for warning in result.warnings)


def test_unknown_live_password_generates_nothing() -> None:
    world = make_world()
    world.keycloak.user.password = "changed-by-hand"
    with pytest.raises(RotationError, match="refused every password stored.*No new password was generated"):
        world.run()
    assert world.vault.writes == 0 and world.faults.calls.count("keycloak.realm") == 0


def test_wrong_username_is_reported() -> None:
    world = make_world()
    with pytest.raises(RotationError, match="holds the password of user 'admin' but this rotation is for user"):
        world.run(username="root")


def test_account_not_ready_is_explained() -> None:
    world = make_world()
    world.keycloak.user.required_actions = ["UPDATE_PASSWORD"]
    with pytest.raises(RotationError, match="not fully set up"):
        world.run()
    assert world.vault.writes == 0


def test_previous_password_still_live_is_repaired() -> None:
    world = make_world()
    world.vault.versions[-1]["previous_password"] = INITIAL
    world.vault.versions[-1]["password"] = "newer-but-not-live"
    result = world.run()
    assert result.rotated and any("previous password" in warning for warning in result.warnings)
    world.assert_consistent()


# ---------------------------------------------------------------------------------------------
# Keycloak refusals
def test_policy_refusal_clears_pending_and_reports_keycloak_message() -> None:
    world = make_world()
    # A rule the generator cannot foresee (e.g. a denylist): Keycloak's refusal is the first word.
    world.keycloak.refuse = "Invalid password: must not be in the denylist."
    with pytest.raises(RotationError, match="must not be in the denylist.*pending value was removed") as failure:
        world.run()
    assert world.keycloak.user.password == INITIAL
    assert "pending_password" not in world.vault.current
    assert world.vault.current["password"] == INITIAL
    assert world.vault.writes == 2  # pending written, then cleared
    assert_no_secret_in_text(str(failure.value), world)
    # Nothing due is left half-done: the next run (policy fixed) rotates normally.
    world.keycloak.refuse = None
    assert world.run().rotated
    world.assert_consistent()


def test_history_refusal_when_another_run_already_set_the_pending_password_continues() -> None:
    world = make_world(history=3)
    world.faults.add("keycloak.reset", how="crash")  # a run dies right before its reset
    with pytest.raises(Crash):
        world.run()
    world.faults.rules.clear()
    pending = world.vault.current["pending_password"]
    original = world.faults.around

    def around(op: str, action: Callable[[], Any]) -> Any:
        if op == "keycloak.reset":
            # A concurrent run resumed the same pending rotation and set it a moment earlier;
            # this run's reset is then refused by the password history.
            world.keycloak.user.history.insert(0, world.keycloak.user.password)
            world.keycloak.user.password = pending
        return original(op, action)
    world.faults.around = around  # type: ignore[method-assign]
    result = world.run()
    world.faults.around = original  # type: ignore[method-assign]
    # The refused pending password was NOT dropped: it is live, so the run finished the rotation.
    assert result.rotated and result.action == "resumed"
    world.assert_consistent()
    assert world.keycloak.user.password == pending


# ---------------------------------------------------------------------------------------------
# The fault matrix: one failure at each step, then a normal re-run.
def _matrix_world() -> World:
    return make_world(rotated_days_ago=120)


@pytest.mark.parametrize("op, nth, applied, message", [
    ("vault.write", 1, False, "Could not store the new pending password"),
    ("keycloak.reset", 1, False, "did not apply the new password"),
    ("keycloak.login", 2, False, "logging in with it failed"),
    ("keycloak.get_user", 1, False, "admin call with it failed"),
    ("vault.write", 2, False, "promoting it in Vault failed"),
    ("vault.metadata", 1, False, "recording the rotation"),
    ("k8s.sync", 1, False, "updating the Kubernetes Secret copies failed"),
])
def test_fault_matrix_failure_then_rerun(op: str, nth: int, applied: bool, message: str) -> None:
    world = _matrix_world()
    world.faults.add(op, nth=nth, how=lambda: HardeningError("injected failure"), applied=applied)
    with pytest.raises(RotationError, match=message) as failure:
        world.run()
    world.stored_working_password()  # right after the failure: a stored password works
    assert_no_secret_in_text(str(failure.value), world)
    result = world.run()
    world.assert_consistent()
    assert world.keycloak.user.password != INITIAL
    assert result.changed
    third = world.run()
    assert not third.changed


def assert_no_secret_in_text(text: str, world: World) -> None:
    for secret in world.registered | {INITIAL}:
        assert secret not in text


def test_reset_applied_but_answer_lost_finishes_in_the_same_run() -> None:
    world = _matrix_world()
    world.faults.add("keycloak.reset", how=lambda: OutcomeUnknown("read timed out"), applied=True)
    result = world.run()
    assert result.rotated and any("answer was lost" in warning for warning in result.warnings)
    world.assert_consistent()


def test_event_failure_is_a_warning() -> None:
    world = _matrix_world()
    world.faults.add("k8s.event", how=lambda: HardeningError("events are forbidden"))
    result = world.run()
    assert result.rotated and any("audit Event" in warning for warning in result.warnings)
    world.assert_consistent()


def test_metadata_failure_is_completed_by_the_next_run_without_rotating_again() -> None:
    world = _matrix_world()
    world.faults.add("vault.metadata", how=lambda: HardeningError("metadata write refused"))
    with pytest.raises(RotationError):
        world.run()
    password = world.vault.current["password"]
    world.clock = NOW + datetime.timedelta(hours=1)
    result = world.run()
    assert result.action == "completed" and not result.rotated
    assert world.vault.current["password"] == password
    assert world.vault.custom_metadata["rotated_at"] == format_time(NOW)  # dated by the promoting version
    world.assert_consistent()


CRASH_POINTS = [(op, nth, applied)
                for op, nth in [("vault.read", 1), ("keycloak.login", 1), ("keycloak.find_user", 1),
                                ("keycloak.realm", 1), ("vault.write", 1), ("keycloak.reset", 1),
                                ("keycloak.login", 2), ("keycloak.get_user", 1), ("vault.write", 2),
                                ("vault.metadata", 1), ("k8s.sync", 1), ("k8s.event", 1)]
                for applied in (False, True)]


@pytest.mark.parametrize("op, nth, applied", CRASH_POINTS)
def test_process_dies_at_any_step_then_rerun_recovers(op: str, nth: int, applied: bool) -> None:
    world = _matrix_world()
    world.faults.add(op, nth=nth, how="crash", applied=applied)
    with pytest.raises(Crash):
        world.run()
    world.stored_working_password()
    world.faults.rules.clear()
    world.run()
    world.assert_consistent()
    assert not world.run().changed


def test_crash_between_every_pair_of_calls_in_two_successive_runs() -> None:
    """Exhaustive: die at call k of run 1, then at call j of run 2, then run to completion."""
    baseline = _matrix_world()
    baseline.run()
    total = len(baseline.faults.calls)
    for first in range(1, total + 1):
        for second in range(1, total + 1):
            world = _matrix_world()
            _crash_at_call(world, first)
            world.stored_working_password()
            _crash_at_call(world, second)
            world.stored_working_password()
            world.run()
            world.assert_consistent()


def _crash_at_call(world: World, index: int) -> None:
    counter = itertools.count(1)
    original = world.faults.around

    def around(op: str, action: Callable[[], Any]) -> Any:
        if next(counter) == index:
            if index % 2:
                action()
            raise Crash(op)
        return original(op, action)
    world.faults.around = around  # type: ignore[method-assign]
    try:
        world.run()
    except (Crash, RotationError):
        pass
    finally:
        world.faults.around = original  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# Concurrency
def test_concurrent_rotation_loses_the_cas_and_stops_cleanly() -> None:
    world = _matrix_world()
    original = world.vault.write
    other_ran = []

    def racing_write(data: dict[str, Any], cas: int) -> int:
        if not other_ran:
            other_ran.append(True)
            # Another run, started at the same moment, writes its pending password first and finishes.
            world.vault.write = original  # type: ignore[method-assign]
            winner = world.run()
            assert winner.rotated
        return original(data, cas)

    world.vault.write = racing_write  # type: ignore[method-assign]
    result = world.run()
    assert result.action == "stopped" and not result.rotated and not result.changed
    world.assert_consistent()
    assert world.keycloak.resets == 1


def test_resume_loses_the_finish_to_another_run() -> None:
    world = _matrix_world()
    world.faults.add("vault.write", nth=2, how="crash")
    with pytest.raises(Crash):
        world.run()
    world.faults.rules.clear()
    original = world.vault.write

    def racing_write(data: dict[str, Any], cas: int) -> int:
        world.vault.write = original  # type: ignore[method-assign]
        assert world.run().rotated
        return original(data, cas)
    world.vault.write = racing_write  # type: ignore[method-assign]
    result = world.run()
    assert result.action == "stopped" and not result.rotated
    world.assert_consistent()


def test_times() -> None:
    assert parse_time("2026-11-21T05:30:00.123456789Z") == datetime.datetime(
        2026, 11, 21, 5, 30, 0, 123456, tzinfo=datetime.timezone.utc)
    assert parse_time("garbage") is None and parse_time(None) is None
    assert format_time(NOW) == "2026-11-21T12:00:00Z"


def test_max_age_must_be_positive() -> None:
    world = make_world()
    with pytest.raises(HardeningError, match="max_age_days"):
        world.run(max_age_days=0)


# ---------------------------------------------------------------------------------------------
# Hostile timing: two runs, and a login that lies
def test_a_run_overtaken_by_another_stops_cleanly_instead_of_a_lockout_alarm() -> None:
    """Run A reads version N; before A logs in, run B rotates completely; A's old password gets a 401.
    A must re-read Vault, see that another run moved on, and stop (not claim the password is unknown)."""
    world = make_world()
    results: list[Any] = []
    runs_before = {"b": False}

    def run_b_first(original: Callable[[], Any]) -> Callable[[], Any]:
        def wrapped() -> Any:
            if not runs_before["b"]:
                runs_before["b"] = True
                results.append(world.run())  # B, start to finish, while A waits to log in
            return original()
        return wrapped

    login = world.keycloak.login
    world.keycloak.login = lambda realm, username, password: run_b_first(  # type: ignore[method-assign]
        lambda: login(realm, username, password))()
    result_a = world.run()
    assert results[0].action == "rotated"
    assert result_a.action == "stopped" and result_a.changed is False
    assert "another run changed Vault secret/keycloak/admin (version 1 -> 3)" in result_a.message
    world.assert_consistent()


def test_a_spurious_401_after_a_confirmed_reset_says_what_really_happened() -> None:
    """Keycloak confirms the reset, then refuses the check login (a flaky 401) and the old password: the
    message must say the new password is stored as pending, never that nothing was changed."""
    world = make_world()
    world.faults.add("keycloak.login", nth=2, how=lambda: CredentialsRefused("invalid_grant"))
    with pytest.raises(RotationError) as raised:
        world.run()
    message = str(raised.value)
    assert "nothing was changed" not in message and "No new password was generated" not in message
    assert "stored the new password in Vault secret/keycloak/admin as pending_password" in message
    assert world.vault.current.get("pending_password") == world.keycloak.user.password
    assert world.run().action == "resumed"  # the next run finishes it
    world.assert_consistent()


# ---------------------------------------------------------------------------------------------
# Drift: the password changed by hand between two rotations
def test_a_password_changed_by_hand_is_reported_by_the_next_daily_run() -> None:
    world = make_world(rotated_days_ago=10)
    world.keycloak.user.password = "changed-by-hand-yesterday"
    with pytest.raises(RotationError, match=r"^Drift: Keycloak refuses the password stored in Vault secret/keycloak/"
                                            r"admin \(version 1\)") as raised:
        world.run()
    assert "Store the live password in Vault" in str(raised.value)
    assert world.vault.writes == 0 and world.keycloak.resets == 0 and world.cluster.writes == 0


def test_the_documented_recovery_brings_the_copies_in_line() -> None:
    """docs/keycloak-admin-rotation.md: put the live password in Vault; the next run proves it and updates
    the Secret copies (without rotating: the date is not due)."""
    world = make_world(rotated_days_ago=10)
    world.keycloak.user.password = "changed-by-hand-yesterday"
    world.vault.versions.append(dict(world.vault.current, password="changed-by-hand-yesterday"))  # vault kv patch
    world.vault.created.append(format_time(NOW))
    result = world.run()
    assert result.action == "copies_synced" and not result.rotated
    assert world.cluster.secrets["keycloak/keycloak-admin"]["password"] == "changed-by-hand-yesterday"


def test_a_keycloak_restored_from_an_older_backup_is_rotated_at_once() -> None:
    world = make_world(rotated_days_ago=10)
    world.vault.versions[-1] = dict(world.vault.current, password="rotated-after-the-backup",
                                    previous_password=INITIAL)
    result = world.run()
    assert result.rotated and "drift" in result.due_reason
    world.assert_consistent()
