"""Bad input for the rotation: one readable message each, and nothing written anywhere
(asserted with the lab's request counters, not only with ``changed``)."""

from __future__ import annotations

import secrets
import time

import pytest
from keycloak_rotation_support import RotationCase, free_port, unique_mount

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def case(clean_lab):  # noqa: ANN001, ANN201 - pytest fixture
    return RotationCase(clean_lab).create(rotated_days_ago=120)


def assert_one_clear_failure(case: RotationCase, run, *expected: str, user_exists: bool = True) -> None:  # noqa: ANN001
    assert run.rc != 0, run
    message = run.message
    for text in expected:
        assert text in message, message
    assert "Traceback" not in run.output and "\n" not in message
    assert case.writes() == {"vault": 0, "keycloak": 0, "kubernetes": 0}, case.counts()
    assert case.vault_data()["password"] == case.initial_password and "pending_password" not in case.vault_data()
    assert case.works(case.initial_password) == user_exists
    case.assert_no_secret_in(run.output)


def test_wrong_vault_token(case: RotationCase) -> None:
    run = case.run(env={"VAULT_TOKEN": "hvs." + secrets.token_urlsafe(18)})
    assert sum(case.counts()["keycloak"].values()) == 0  # stopped before talking to Keycloak
    assert_one_clear_failure(case, run, "rejected the token", "VAULT_TOKEN", "Nothing was changed")


def test_wrong_keycloak_url(case: RotationCase) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = case.run(atlas_hardening_keycloak_url=url)
    assert_one_clear_failure(case, run, f"Cannot reach Keycloak at {url}", "keycloak_url", "Nothing was changed")


def test_missing_admin_user(case: RotationCase) -> None:
    case.keycloak.call("DELETE", f"realms/master/users/{case.username}")
    run = case.run()
    assert_one_clear_failure(case, run, f"user {case.username!r}", "does not exist", "No new password was generated",
                             user_exists=False)


def test_kv_version_1_mount(case: RotationCase) -> None:
    mount = unique_mount()
    case.vault.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    run = case.run(keycloak_admin_rotation_kv_mount_point=mount)
    assert_one_clear_failure(case, run, f"{mount}/ is a KV version 1 mount", "enable-versioning")
    assert case.counts()["vault"].get("kv1.write", 0) == 0


def test_nothing_in_vault_and_nothing_to_adopt(case: RotationCase) -> None:
    run = case.run(keycloak_admin_rotation_kv_path="rotation-tests/absent-" + secrets.token_hex(4))
    assert_one_clear_failure(case, run, "holds no secret yet", "adopt_from_secret")


def test_password_changed_outside_the_automation(case: RotationCase) -> None:
    case.keycloak.seed_user(case.username, "Changed-by-hand-1!", admin=True)
    case.seen_passwords.add("Changed-by-hand-1!")
    case.reset_counters()
    run = case.run()
    assert run.rc != 0 and "refused every password stored" in run.message, run
    assert case.writes() == {"vault": 0, "keycloak": 0, "kubernetes": 0}
    assert "pending_password" not in case.vault_data()


def test_password_changed_by_hand_between_rotations_is_reported_as_drift(case: RotationCase) -> None:
    """A run that is not due still proves the stored password, so a hand change is caught the same day."""
    ten_days_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 10 * 86400))
    case.vault.secrets.kv.v2.update_metadata(case.kv_path, mount_point="secret",
                                             custom_metadata={"rotated_at": ten_days_ago, "owner": "tests"})
    case.keycloak.seed_user(case.username, "Changed-by-hand-2!", admin=True)
    case.seen_passwords.add("Changed-by-hand-2!")
    case.reset_counters()
    run = case.run()
    assert run.rc != 0 and run.module["action"] == "drift" and not run.module["changed"], run
    assert run.message.startswith("Drift: Keycloak refuses the password stored in"), run.message
    assert case.writes() == {"vault": 0, "keycloak": 0, "kubernetes": 0}


def test_impossible_generation_options(case: RotationCase) -> None:
    run = case.run(keycloak_admin_rotation_password_special_characters="abc")
    assert_one_clear_failure(case, run, "password_special_characters may only contain punctuation")
