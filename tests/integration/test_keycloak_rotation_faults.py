"""The rotation's failure matrix against the lab, one test per row, each followed by a normal re-run.

Faults are injected at the HTTP level by the lab (the OpenBao proxy and the emulators): an error
answer, a dropped answer after the request was applied, or a request held until the test has
killed the ansible-playbook process group (a crash between two steps). Right after each failure the
test checks that Vault holds a password that logs in; after the re-run, that exactly one password
works, that it is Vault's ``password``, that every Secret copy holds it and that nothing is pending.
"""

from __future__ import annotations

import json

import pytest
from keycloak_rotation_support import RotationCase, wait_for_hang

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def case(clean_lab):  # noqa: ANN001, ANN201 - pytest fixture
    return RotationCase(clean_lab).create(rotated_days_ago=120)


def rerun_recovers(case: RotationCase, expected_action: str | None = None) -> None:
    for admin in (case.lab.vault_proxy, case.lab.keycloak, case.lab.k8s):
        admin.clear_faults()
    run = case.run()
    assert run.rc == 0, run
    if expected_action:
        assert run.module["action"] == expected_action, run.module
    password = case.assert_consistent()
    assert password != case.initial_password
    again = case.run()
    assert again.rc == 0 and not again.module["changed"], again
    case.assert_no_secret_in(run.output, again.output)


# ---------------------------------------------------------------------------------------------
# One failure per step
def test_vault_write_of_the_pending_password_fails(case: RotationCase) -> None:
    # count covers the layer's read-back-and-retry of a CAS write that answered 5xx.
    case.lab.vault_proxy.add_fault("error", kind="kv2.write", status=500, count=10)
    run = case.run()
    assert run.rc != 0 and "Could not store the new pending password" in run.message, run
    assert "Keycloak was not changed" in run.message
    assert "pending_password" not in case.vault_data()
    assert case.assert_stored_password_works() == case.initial_password
    assert case.writes()["keycloak"] == 0
    case.assert_no_secret_in(run.output)
    rerun_recovers(case, "rotated")


def test_keycloak_reset_fails_with_500(case: RotationCase) -> None:
    case.lab.keycloak.add_fault("error", kind="users.reset_password", status=500)
    run = case.run()
    assert run.rc != 0 and "did not apply the new password" in run.message, run
    data = case.vault_data()
    assert data.get("pending_password") and case.works(data["password"]) and not case.works(data["pending_password"])
    case.assert_stored_password_works()
    case.assert_no_secret_in(run.output)
    rerun_recovers(case, "resumed")


def test_keycloak_reset_applied_but_answer_lost(case: RotationCase) -> None:
    case.lab.keycloak.add_fault("drop", kind="users.reset_password")  # applied first, then no answer
    run = case.run()
    # Nothing to wait for: the same run finds the new password live and finishes.
    assert run.rc == 0 and run.module["rotated"], run
    assert "answer was lost" in run.output
    case.assert_stored_password_works()
    case.assert_consistent()
    rerun = case.run()
    assert rerun.rc == 0 and not rerun.module["changed"], rerun


def test_verification_login_fails(case: RotationCase) -> None:
    # The first password login proves the old password; the second is the verification.
    case.lab.keycloak.add_fault("error", kind="token.password", status=500, after=1)
    run = case.run()
    assert run.rc != 0 and "logging in with it failed" in run.message, run
    data = case.vault_data()
    assert case.works(data["pending_password"]) and not case.works(data["password"])
    case.assert_stored_password_works()
    rerun_recovers(case, "resumed")


def test_final_vault_write_fails(case: RotationCase) -> None:
    case.lab.vault_proxy.add_fault("error", kind="kv2.write", status=500, after=1, count=10)
    run = case.run()
    assert run.rc != 0 and "promoting it in Vault failed" in run.message, run
    assert "Nothing is lost" in run.message
    case.assert_stored_password_works()
    assert case.works(case.vault_data()["pending_password"])
    rerun_recovers(case, "resumed")


def test_metadata_write_fails(case: RotationCase) -> None:
    case.lab.vault_proxy.add_fault("error", kind="kv2.metadata.write", status=500, count=10)
    run = case.run()
    assert run.rc != 0 and "recording the rotation" in run.message, run
    case.assert_stored_password_works()
    rotated_password = case.vault_data()["password"]
    rerun_recovers(case, "completed")
    assert case.vault_data()["password"] == rotated_password  # recorded, not rotated again


def test_kubernetes_secret_update_fails(case: RotationCase) -> None:
    case.lab.k8s.add_fault("error", kind="patch secrets", status=500, count=10)
    run = case.run()
    assert run.rc != 0 and "updating the Kubernetes Secret copies failed" in run.message, run
    assert case.assert_stored_password_works() == case.vault_data()["password"]
    rerun_recovers(case, "copies_synced")


def test_event_creation_failure_is_a_warning(case: RotationCase) -> None:
    case.lab.k8s.add_fault("error", kind="create events", status=403, count=10)
    run = case.run()
    assert run.rc == 0 and run.module["rotated"], run
    assert "Could not create the audit Event" in run.output
    case.assert_consistent()


# ---------------------------------------------------------------------------------------------
# The process dies between two steps: hold the next step's request, kill, release, re-run.
CRASH_POINTS = [
    # (service, request kind, matching requests let through first, description)
    ("vault_proxy", "kv2.write", 0, "between the first read and the pending write"),
    ("keycloak", "users.reset_password", 0, "between the pending write and the reset"),
    ("keycloak", "token.password", 1, "between the reset and the verification login"),
    ("keycloak", "users.get", 0, "between the verification login and the admin call"),
    ("vault_proxy", "kv2.write", 1, "between the verification and the promotion"),
    ("vault_proxy", "kv2.metadata.write", 0, "between the promotion and the metadata"),
    ("kubernetes", "patch secrets", 0, "between the metadata and the Secret copies"),
    ("kubernetes", "create events", 0, "between the Secret copies and the Event"),
]


@pytest.mark.parametrize("applied", [False, True], ids=["before-the-request", "request-applied"])
@pytest.mark.parametrize("service, kind, after, where", CRASH_POINTS, ids=[point[3] for point in CRASH_POINTS])
def test_process_killed_between_steps(case: RotationCase, service: str, kind: str, after: int, where: str,
                                      applied: bool) -> None:
    admin = case.lab.admin(service)
    admin.add_fault("hang", kind=kind, after=after, delay=120, apply_first=applied)
    process = case.start()
    try:
        wait_for_hang(admin)
    finally:
        case.kill(process)
        admin.release_faults()
        admin.clear_faults()
    output = process.stdout.read() if process.stdout else ""
    case.assert_stored_password_works()
    case.assert_no_secret_in(output)
    rerun_recovers(case)


# ---------------------------------------------------------------------------------------------
# Two rotations at the same moment
def test_two_rotations_at_the_same_moment_rotate_once(case: RotationCase) -> None:
    # Hold the first pending write a few seconds so that both runs read the same version first.
    case.lab.vault_proxy.add_fault("delay", kind="kv2.write", count=1, delay=8)
    first = case.start()
    second = case.start()
    runs = [case.finish(first), case.finish(second)]
    assert all(run.rc == 0 for run in runs), "\n".join(map(str, runs))
    actions = sorted(run.module["action"] for run in runs)
    assert actions == ["rotated", "stopped"], actions
    stopped = next(run for run in runs if run.module["action"] == "stopped")
    assert not stopped.module["rotated"] and "Stopped without rotating" in stopped.message
    assert sum(run.module["rotated"] for run in runs) == 1
    assert case.counts()["keycloak"].get("users.reset_password") == 1
    case.assert_consistent()
    case.assert_no_secret_in(*(run.output for run in runs), *(json.dumps(run.module) for run in runs))
