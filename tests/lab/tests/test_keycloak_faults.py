"""Keycloak emulator: request kinds, counters, fault injection (error, drop = applied but the
response lost, delay, hang) and the lab admin routes."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

import pytest

from atlas_lab.services.keycloak import KINDS

if TYPE_CHECKING:
    from conftest_keycloak import KeycloakHttp

    from atlas_lab.services.keycloak import KeycloakLabClient

pytest_plugins = ("conftest_keycloak",)
ADMIN = "admin"
NEW_PASSWORD = "Fault-Test-Passw0rd!"


def test_every_operation_has_a_stable_kind(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.create_service_client("job", secret="x")
    session = kc.token(ADMIN, kc.admin_password).body
    kc.token_value = session["access_token"]
    admin_id = kc.user_id(ADMIN)
    kc.token(client_id="job", client_secret="x")
    kc.token(grant_type="refresh_token", refresh_token=session["refresh_token"])
    kc.request("GET", f"/admin/realms/master/users/{admin_id}")
    kc.request("GET", "/admin/realms/master/users/count")
    kc.request("GET", f"/admin/realms/master/users/{admin_id}/credentials")
    kc.request("GET", f"/admin/realms/master/users/{admin_id}/sessions")
    kc.reset_password(admin_id, NEW_PASSWORD)
    kc.request("GET", "/admin/realms/master")
    kc.request("GET", "/admin/serverinfo")
    kc.request("GET", "/realms/master/.well-known/openid-configuration")
    kc.request("POST", f"/admin/realms/master/users/{admin_id}/logout")
    kc.request("GET", "/admin/nothing-here")
    kc.token(grant_type="bogus")
    counts = keycloak_lab.counts()
    assert counts == {kind: 1 for kind in KINDS} | {"users.query": 1}
    assert keycloak_lab.requests()["total"] == len(KINDS)


def test_error_fault_leaves_the_password_unchanged(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    kc.login()
    admin_id = kc.user_id(ADMIN)
    keycloak_lab.add_fault("error", kind="users.reset_password", status=500)
    reply = kc.reset_password(admin_id, NEW_PASSWORD)
    assert (reply.status, reply.body) == (500, {"error": "injected fault", "status": 500})
    assert kc.token(ADMIN, kc.admin_password).status == 200
    assert kc.token(ADMIN, NEW_PASSWORD).status == 401
    # count=1: the next reset goes through
    assert kc.reset_password(admin_id, NEW_PASSWORD).status == 204
    assert keycloak_lab.faults()[0]["hits"] == 1


def test_drop_fault_applies_the_reset_but_loses_the_response(kc: KeycloakHttp,
                                                             keycloak_lab: KeycloakLabClient) -> None:
    kc.login()
    admin_id = kc.user_id(ADMIN)
    keycloak_lab.add_fault("drop", kind="users.reset_password")
    with pytest.raises(OSError):
        kc.reset_password(admin_id, NEW_PASSWORD)
    assert kc.token(ADMIN, NEW_PASSWORD).status == 200
    assert kc.token(ADMIN, kc.admin_password).status == 401
    entries = keycloak_lab.requests()["entries"]
    assert [entry["status"] for entry in entries if entry["kind"] == "users.reset_password"] == ["dropped"]


def test_error_fault_with_apply_first(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    kc.login()
    admin_id = kc.user_id(ADMIN)
    keycloak_lab.add_fault("error", kind="users.reset_password", status=502, apply_first=True)
    assert kc.reset_password(admin_id, NEW_PASSWORD).status == 502
    assert kc.token(ADMIN, NEW_PASSWORD).status == 200


def test_faults_match_only_their_kind(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.create_service_client("job", secret="x")
    keycloak_lab.add_fault("error", kind="token.password", status=503, count=2)
    assert kc.token(client_id="job", client_secret="x").status == 200
    assert kc.token(ADMIN, kc.admin_password).status == 503
    assert kc.token(ADMIN, kc.admin_password).status == 503
    assert kc.token(ADMIN, kc.admin_password).status == 200


def test_delay_fault_makes_a_client_time_out(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    import urllib.request  # pylint: disable=import-outside-toplevel

    keycloak_lab.add_fault("delay", kind="realm.get", delay=1.5)
    token = kc.login()
    request = urllib.request.Request(kc.base_url + "/admin/realms/master", headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(OSError):
        urllib.request.urlopen(request, timeout=0.3)  # pylint: disable=consider-using-with


def test_hang_fault_holds_the_request_until_released(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.add_fault("hang", kind="token.password", delay=30)
    outcome: list[BaseException | int] = []

    def login() -> None:
        try:
            outcome.append(kc.token(ADMIN, kc.admin_password).status)
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=login)
    thread.start()
    deadline = time.monotonic() + 5
    while keycloak_lab.faults()[0]["hits"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert thread.is_alive()
    keycloak_lab.release_faults()
    thread.join(timeout=5)
    assert len(outcome) == 1 and isinstance(outcome[0], OSError)


def test_lab_routes_never_return_secrets(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    created = keycloak_lab.seed_user("carol", "Carol-Passw0rd!", clientRoles={"master-realm": ["view-users"]})
    listing = json.dumps([keycloak_lab.user_info("carol"), created, keycloak_lab.call("GET", "realms/master/users")])
    assert "Carol-Passw0rd!" not in listing and kc.admin_password not in listing
    assert keycloak_lab.user_info("carol")["credential"]["passwordSet"] is True


def test_lab_routes_validate_input(keycloak_lab: KeycloakLabClient) -> None:
    with pytest.raises(RuntimeError, match="unknown password policy 'lenght'"):
        keycloak_lab.set_realm(password_policy="lenght(12)")
    with pytest.raises(RuntimeError, match="unknown user fields: pasword"):
        keycloak_lab.call("POST", "realms/master/users", {"username": "x", "pasword": "y"})
    with pytest.raises(RuntimeError, match="no realm 'nowhere'"):
        keycloak_lab.realm_info("nowhere")


def test_replace_users_and_reset(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    users = keycloak_lab.replace_users([{"username": "alice", "password": "Alice-Passw0rd!", "admin": True}])
    assert [user["username"] for user in users] == ["alice"]
    assert kc.token(ADMIN, kc.admin_password).status == 401
    assert kc.token("alice", "Alice-Passw0rd!").status == 200
    keycloak_lab.reset()
    assert kc.token(ADMIN, kc.admin_password).status == 200
    assert kc.token("alice", "Alice-Passw0rd!").status == 401
    assert keycloak_lab.counts() == {"token.password": 2}
