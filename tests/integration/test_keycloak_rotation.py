"""Keycloak admin rotation against the lab: real OpenBao (through the fault proxy), the Keycloak and
Kubernetes emulators, run as ``ansible-playbook playbooks/rotate_secrets.yml``."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from keycloak_rotation_support import RotationCase, new_password

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def case(clean_lab):  # noqa: ANN001, ANN201 - pytest fixture
    return RotationCase(clean_lab)


@pytest.mark.compat
def test_due_rotation_changes_the_password_everywhere_then_nothing(case: RotationCase) -> None:
    case.create(rotated_days_ago=120)
    before_version = case.vault_version()

    run = case.run()
    counts = case.counts()  # before the checks below, which log in themselves
    assert run.rc == 0, run
    result = run.module
    assert result["changed"] and result["rotated"] and result["action"] == "rotated", result
    new = case.assert_consistent()
    assert new != case.initial_password
    assert not case.works(case.initial_password)  # the old one gets 401 now
    data = case.vault_data()
    assert data["previous_password"] == case.initial_password and data["username"] == case.username
    assert case.vault_version() == before_version + 2 == result["vault_version"]
    metadata = case.vault_metadata()
    custom = metadata["custom_metadata"]
    assert set(custom) >= {"rotated_at", "rotation_id", "rotated_by", "next_due", "owner"}
    assert custom["rotation_id"] == result["rotation_id"] and custom["next_due"] == result["next_due"]
    assert custom["rotated_by"] == "atlas.hardening.keycloak_admin_rotation"
    assert metadata["delete_version_after"] == "0s" and metadata["max_versions"] == 0
    assert sorted(result["copies_updated"]) == sorted(f"{c['namespace']}/{c['name']}" for c in case.copies)
    events = [event for event in case.events() if event.reason == "PasswordRotated"]
    assert len(events) == 1 and result["rotation_id"] in events[0].message
    assert events[0].involved_object.kind == "Keycloak" and events[0].type == "Normal"
    case.assert_no_secret_in(run.output, json.dumps(result), *(event.message for event in case.events()))

    # Request counts of a due rotation (the figures docs/keycloak-admin-rotation.md gives).
    assert counts["vault"].get("kv2.write") == 2 and counts["vault"].get("kv2.metadata.write") == 1
    assert counts["keycloak"].get("users.reset_password") == 1
    assert result["api_requests"]["keycloak"] == sum(counts["keycloak"].values())
    assert result["api_requests"]["vault"] == sum(counts["vault"].values())
    assert result["api_requests"] == {"vault": 6, "keycloak": 6, "kubernetes": 2 * len(case.copies) + 1}

    # Second run: not due, nothing written anywhere, one Keycloak login that proves the stored password.
    case.reset_counters()
    second = case.run()
    second_counts = case.counts()
    assert second.rc == 0, second
    assert not second.module["changed"] and second.module["action"] == "not_due", second.module
    assert second.ansible.changed == 0
    assert case.writes() == {"vault": 0, "keycloak": 0, "kubernetes": 0}
    assert second_counts["keycloak"] == {"token.password": 1}
    # Vault: mount check + read. Keycloak: the drift check. Kubernetes: one GET per copy (RBAC grants get
    # on these names, not list).
    assert second.module["api_requests"] == {"vault": 2, "keycloak": 1, "kubernetes": len(case.copies)}
    assert case.assert_consistent() == new


def test_check_mode_reports_due_and_writes_nothing(case: RotationCase) -> None:
    case.create(rotated_days_ago=95)
    version = case.vault_version()
    run = case.run(check=True)
    assert run.rc == 0, run
    result = run.module
    assert result["changed"] and result["due"] and result["action"] == "would_rotate", result
    assert "older than 90 days" in result["due_reason"]
    assert case.writes() == {"vault": 0, "keycloak": 0, "kubernetes": 0}
    assert sum(case.counts()["keycloak"].values()) == 0
    assert case.vault_version() == version and case.works(case.initial_password)


def test_check_mode_reports_the_next_due_date_when_not_due(case: RotationCase) -> None:
    case.create(rotated_days_ago=10)
    run = case.run(check=True)
    assert run.rc == 0 and not run.module["changed"] and not run.module["due"], run
    rotated_at = case.vault_metadata()["custom_metadata"]["rotated_at"]
    assert run.module["last_rotated"] == rotated_at
    assert run.module["next_due"] > rotated_at


def test_force_rotates_a_recent_password(case: RotationCase) -> None:
    case.create(rotated_days_ago=1)
    run = case.run(keycloak_admin_rotation_force=True)
    assert run.rc == 0 and run.module["rotated"], run
    case.assert_consistent()


def test_first_run_adopts_the_vault_password_after_proving_it(case: RotationCase) -> None:
    case.create(rotated_days_ago=None)
    run = case.run()
    assert run.rc == 0 and run.module["rotated"], run
    assert "first run" in run.module["due_reason"]
    case.assert_consistent()


def test_first_run_adopts_from_the_operator_secret(case: RotationCase) -> None:
    case.create(vault=False)
    case.put_secret(case.namespace, "keycloak-initial-admin",
                    {"username": case.username, "password": case.initial_password})
    adopt = {"namespace": case.namespace, "name": "keycloak-initial-admin", "username_key": "username"}
    run = case.run(keycloak_admin_rotation_adopt_from_secret=adopt)
    assert run.rc == 0, run
    assert run.module["action"] == "adopted_and_rotated" and run.module["rotated"], run.module
    versions = case.vault_metadata()["versions"]
    assert len(versions) == 3  # adopted, pending, promoted
    first = case.vault.secrets.kv.v2.read_secret_version(case.kv_path, version=1, mount_point="secret",
                                                         raise_on_deleted_version=True)["data"]["data"]
    assert first == {"username": case.username, "password": case.initial_password}
    case.assert_consistent()
    # The operator's Secret is only read.
    assert case.secret_value(case.namespace, "keycloak-initial-admin", "password") == case.initial_password


def test_adoption_refuses_a_secret_password_that_does_not_log_in(case: RotationCase) -> None:
    case.create(vault=False)
    case.put_secret(case.namespace, "keycloak-initial-admin", {"password": new_password()})
    run = case.run(keycloak_admin_rotation_adopt_from_secret={"namespace": case.namespace,
                                                              "name": "keycloak-initial-admin"})
    assert run.rc != 0 and "does not log in" in run.message and "nothing was written" in run.message, run
    assert case.writes()["vault"] == 0


def test_operator_initial_admin_copy_is_warned_about(case: RotationCase) -> None:
    case.copies.append({"namespace": case.namespace, "name": "keycloak-initial-admin"})
    case.create(rotated_days_ago=3)
    run = case.run()
    assert run.rc == 0, run
    assert "initial admin Secret" in run.output and "does not change Keycloak" in run.output


def test_temporary_bootstrap_admin_is_refused(case: RotationCase) -> None:
    case.create(rotated_days_ago=200, attributes={"is_temporary_admin": "true"})
    run = case.run()
    assert run.rc != 0
    assert "temporary bootstrap admin" in run.message and "Nothing was changed" in run.message, run.message
    assert case.writes() == {"vault": 0, "keycloak": 0, "kubernetes": 0}
    assert case.works(case.initial_password)


def test_keycloak_policy_refusal_is_reported_and_pending_cleared(case: RotationCase) -> None:
    case.create(rotated_days_ago=200)
    version = case.vault_version()
    # A denylist refusal (the generator cannot foresee it), with the body Keycloak sends.
    case.lab.keycloak.add_fault("error", kind="users.reset_password", status=400,
                                body={"error": "invalidPasswordBlacklistedMessage",
                                      "error_description": "Invalid password: password is blacklisted."})
    run = case.run()
    assert run.rc != 0
    assert "Invalid password: password is blacklisted." in run.message, run.message
    assert "pending value was removed" in run.message
    data = case.vault_data()
    assert "pending_password" not in data and data["password"] == case.initial_password
    assert case.vault_version() == version + 2  # pending written, then cleared
    assert case.works(case.initial_password)
    case.assert_no_secret_in(run.output)
    rerun = case.run()
    assert rerun.rc == 0 and rerun.module["rotated"], rerun
    case.assert_consistent()


def test_realm_password_policy_is_met(case: RotationCase) -> None:
    case.create(rotated_days_ago=200)
    case.keycloak.set_realm(password_policy="length(40) and digits(5) and specialChars(4) and upperCase(3) "
                                            "and notUsername and passwordHistory(3)")
    try:
        run = case.run()
        assert run.rc == 0 and run.module["rotated"], run
        password = case.assert_consistent()
        assert len(password) >= 40 and sum(c.isdigit() for c in password) >= 5
    finally:
        case.keycloak.set_realm(password_policy="")


def test_copy_edited_by_hand_is_repaired_without_rotating(case: RotationCase) -> None:
    case.create(rotated_days_ago=120)
    assert case.run().rc == 0
    copy = case.copies[1]
    case.core.patch_namespaced_secret(copy["name"], copy["namespace"],
                                      {"data": {copy["password_key"]: base64.b64encode(b"edited").decode()}})
    case.reset_counters()
    run = case.run()
    assert run.rc == 0 and run.module["action"] == "copies_synced", run
    assert run.module["copies_updated"] == [f"{copy['namespace']}/{copy['name']}"]
    assert case.writes()["vault"] == 0 and case.writes()["keycloak"] == 0
    assert any(event.reason == "PasswordCopiesSynced" for event in case.events())
    case.assert_consistent()


@pytest.mark.compat
def test_no_password_in_verbose_output_return_values_or_events(case: RotationCase) -> None:
    case.create(rotated_days_ago=120)
    run = case.run("--diff", verbosity="-vvv")
    assert run.rc == 0, run
    data = case.vault_data()
    assert data["password"] in case.seen_passwords and data["previous_password"] == case.initial_password
    assert "ESTABLISH LOCAL CONNECTION" in run.output and "AnsiballZ_keycloak_admin_password" in run.output
    case.assert_no_secret_in(run.output, json.dumps(run.module),
                             *(event.message for event in case.events()))
    # The resume path too: a pending password that is live, then the finish.
    case.lab.vault_proxy.add_fault("error", kind="kv2.write", after=1, count=10, status=500)
    forced = case.run("--diff", verbosity="-vvv", keycloak_admin_rotation_force=True)
    assert forced.rc != 0
    case.lab.vault_proxy.clear_faults()
    resumed = case.run("--diff", verbosity="-vvv")
    assert resumed.rc == 0 and resumed.module["action"] == "resumed", resumed
    case.assert_no_secret_in(forced.output, resumed.output, json.dumps(resumed.module))


def test_least_privilege_vault_policy_from_the_docs_is_enough(case: RotationCase) -> None:
    """The policy docs/keycloak-admin-rotation.md gives, on a token that has nothing else."""
    case.create(rotated_days_ago=120)
    name = "kc-rotation-" + uuid.uuid4().hex[:8]
    case.vault.sys.create_or_update_policy(name, f'''
path "secret/data/{case.kv_path}" {{ capabilities = ["create", "read", "update"] }}
path "secret/metadata/{case.kv_path}" {{ capabilities = ["read", "update"] }}
''')
    token = case.vault.auth.token.create(policies=[name], no_default_policy=True, ttl="15m")["auth"]["client_token"]
    run = case.run(env={"VAULT_TOKEN": token})
    assert run.rc == 0 and run.module["rotated"], run
    case.assert_consistent()
    second = case.run(env={"VAULT_TOKEN": token})
    assert second.rc == 0 and not second.module["changed"], second


def test_service_account_client_does_the_admin_calls(case: RotationCase) -> None:
    case.create(rotated_days_ago=120)
    client_id = "rotation-" + uuid.uuid4().hex[:6]
    created = case.keycloak.create_service_client(client_id, admin=True)
    run = case.run(env={"KEYCLOAK_CLIENT_ID": client_id, "KEYCLOAK_CLIENT_SECRET": created["secret"]})
    assert run.rc == 0 and run.module["rotated"], run
    assert case.counts()["keycloak"].get("token.client_credentials", 0) == 1
    case.assert_consistent()
    assert created["secret"] not in run.output


def test_logout_sessions_ends_the_admins_sessions(case: RotationCase) -> None:
    case.create(rotated_days_ago=120)
    status, _token = case.keycloak.token(case.username, case.initial_password)  # someone in the console
    assert status == 200 and case.keycloak.user_info(case.username)["sessions"] >= 1
    run = case.run(keycloak_admin_rotation_logout_sessions=True)
    assert run.rc == 0 and run.module["rotated"], run
    assert case.counts()["keycloak"].get("users.logout") == 1
    assert case.keycloak.user_info(case.username)["sessions"] == 0
    case.assert_consistent()


def test_rotated_user_configured_as_keycloak_user_is_not_used_as_identity(case: RotationCase) -> None:
    case.create(rotated_days_ago=120)
    run = case.run(env={"KEYCLOAK_USER": case.username, "KEYCLOAK_PASSWORD": "stale-" + new_password()})
    assert run.rc == 0 and run.module["rotated"], run
    # ansible-core before 2.19 wraps warning text across lines.
    assert "so its configured password is ignored" in " ".join(run.output.split())
    case.assert_consistent()
