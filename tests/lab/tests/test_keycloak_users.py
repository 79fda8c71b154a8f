"""Keycloak emulator: users query, user representation, reset-password with the realm password
policy and history, temporary passwords, permissions, realm and server info, the /auth layout."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest_keycloak import KeycloakHttp

    from atlas_lab.core.http_base import ServerHandle
    from atlas_lab.services.keycloak import KeycloakLabClient

pytest_plugins = ("conftest_keycloak",)
ADMIN = "admin"
POLICY = "length(12) and upperCase(1) and lowerCase(1) and digits(1) and specialChars(1) and passwordHistory(3)"


def _works(kc: KeycloakHttp, username: str, password: str) -> bool:
    return kc.token(username, password).status == 200


def test_users_query_exact_username_filters_precisely(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    for name in ("admin2", "superadmin", "bob"):
        keycloak_lab.seed_user(name, "Whatever-Pw1!")
    kc.login()

    def names(**query: str) -> list[str]:
        reply = kc.request("GET", "/admin/realms/master/users", query=query)
        assert reply.status == 200, reply.body
        return [user["username"] for user in reply.body]

    assert names(username="admin", exact="true") == ["admin"]
    assert names(username="ADMIN", exact="true") == ["admin"]
    assert names(username="admin") == ["admin", "admin2", "superadmin"]  # "contained in"
    assert names(search="adm") == ["admin", "admin2"]  # prefix search
    assert names(search="*adm*") == ["admin", "admin2", "superadmin"]
    assert names(search='"admin"') == ["admin"]
    # search overrides the other filters
    assert names(search="super", username="admin", exact="true") == ["superadmin"]
    assert names(first="1", max="2") == ["admin2", "bob"]
    assert names(username="nobody", exact="true") == []


def test_service_accounts_only_in_field_searches(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.create_service_client("job", secret="x")
    kc.login()
    listed = [u["username"] for u in kc.request("GET", "/admin/realms/master/users").body]
    assert listed == ["admin"]
    found = kc.request("GET", "/admin/realms/master/users",
                       query={"username": "service-account-job", "exact": "true"}).body
    assert [u["username"] for u in found] == ["service-account-job"]
    assert found[0]["serviceAccountClientId"] == "job"
    assert kc.request("GET", "/admin/realms/master/users/count").body == 1


def test_brief_representation_and_user_get(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.seed_user("temp-admin", "Temp-Passw0rd!", admin=True, attributes={"is_temporary_admin": "true"},
                           email="temp@example.org")
    kc.login()
    brief = kc.request("GET", "/admin/realms/master/users",
                       query={"username": "temp-admin", "exact": "true", "briefRepresentation": "true"}).body[0]
    assert set(brief) == {"id", "username", "email", "emailVerified", "createdTimestamp", "enabled"}
    full = kc.request("GET", f"/admin/realms/master/users/{brief['id']}")
    assert full.status == 200
    assert full.body["attributes"] == {"is_temporary_admin": ["true"]}
    assert full.body["requiredActions"] == []
    assert full.body["access"]["manage"] is True
    assert "credentials" not in full.body and "password" not in full.raw.decode()
    reply = kc.request("GET", "/admin/realms/master/users/00000000-0000-0000-0000-000000000000")
    assert (reply.status, reply.body) == (404, {"error": "User not found"})
    q = kc.request("GET", "/admin/realms/master/users", query={"q": "is_temporary_admin:true"}).body
    assert [user["username"] for user in q] == ["temp-admin"]


def test_reset_password_then_exactly_one_password_works(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.set_realm(password_policy=POLICY)
    old_token = kc.login()
    admin_id = kc.user_id(ADMIN)
    before = keycloak_lab.user_info(ADMIN)["credential"]
    reply = kc.reset_password(admin_id, "Rotated-Passw0rd-1")
    assert (reply.status, reply.raw) == (204, b"")
    assert _works(kc, ADMIN, "Rotated-Passw0rd-1")
    assert not _works(kc, ADMIN, kc.admin_password)
    # Resetting does not end existing sessions: the old token still works.
    assert kc.request("GET", "/admin/realms/master", token=old_token).status == 200
    after = keycloak_lab.user_info(ADMIN)["credential"]
    assert after["createdDate"] >= before["createdDate"] and after["historyLength"] == 1
    credentials = kc.request("GET", f"/admin/realms/master/users/{admin_id}/credentials").body
    assert [c["type"] for c in credentials] == ["password"]
    assert "secretData" not in credentials[0] and "value" not in credentials[0]


def test_reset_password_refuses_missing_and_blank_values(kc: KeycloakHttp) -> None:
    kc.login()
    admin_id = kc.user_id(ADMIN)
    reply = kc.reset_password(admin_id, "   ")
    assert (reply.status, reply.body) == (400, {"error": "Empty password not allowed"})
    reply = kc.request("PUT", f"/admin/realms/master/users/{admin_id}/reset-password",
                       json_body={"type": "password", "temporary": False})
    assert (reply.status, reply.body) == (400, {"error": "No password provided"})
    reply = kc.request("PUT", f"/admin/realms/master/users/{admin_id}/reset-password", raw_body=b"{not json",
                       content_type="application/json")
    assert (reply.status, reply.body) == (400, {"error": "invalid_request", "error_description": "Cannot parse the "
                                                                                                 "JSON"})
    reply = kc.request("PUT", f"/admin/realms/master/users/{admin_id}/reset-password", raw_body=b"x=y",
                       content_type="application/x-www-form-urlencoded")
    assert reply.status == 415
    assert _works(kc, ADMIN, kc.admin_password)


@pytest.mark.parametrize(("password", "key", "text"), [
    ("Short-1a!", "invalidPasswordMinLengthMessage", "Invalid password: minimum length 12."),
    ("no-upper-case-1!", "invalidPasswordMinUpperCaseCharsMessage",
     "Invalid password: must contain at least 1 upper case characters."),
    ("NO-LOWER-CASE-1!", "invalidPasswordMinLowerCaseCharsMessage",
     "Invalid password: must contain at least 1 lower case characters."),
    ("No-Digits-Here!", "invalidPasswordMinDigitsMessage",
     "Invalid password: must contain at least 1 numerical digits."),
    ("NoSpecialChars12", "invalidPasswordMinSpecialCharsMessage",
     "Invalid password: must contain at least 1 special characters."),
])
def test_password_policy_violations(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient,
                                    password: str, key: str, text: str) -> None:
    keycloak_lab.set_realm(password_policy=POLICY)
    kc.login()
    reply = kc.reset_password(kc.user_id(ADMIN), password)
    assert (reply.status, reply.body) == (400, {"error": key, "error_description": text})
    assert _works(kc, ADMIN, kc.admin_password) and not _works(kc, ADMIN, password)


def test_not_username_policy(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.set_realm(password_policy="notUsername(undefined)")
    kc.login()
    reply = kc.reset_password(kc.user_id(ADMIN), "admin")
    assert reply.body == {"error": "invalidPasswordNotUsernameMessage",
                          "error_description": "Invalid password: must not be equal to the username."}


def test_password_history(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.set_realm(password_policy=POLICY)
    kc.login()
    admin_id = kc.user_id(ADMIN)
    history_error = {"error": "invalidPasswordHistoryMessage",
                     "error_description": "Invalid password: must not be equal to any of last 3 passwords."}
    # the current password is part of the history
    assert kc.reset_password(admin_id, kc.admin_password).body == history_error
    for value in ("History-Pass-01", "History-Pass-02", "History-Pass-03"):
        assert kc.reset_password(admin_id, value).status == 204
    # current (03) and the 2 previous (02, 01) are refused; the initial one has left the history
    for value in ("History-Pass-03", "History-Pass-02", "History-Pass-01"):
        assert kc.reset_password(admin_id, value).body == history_error, value
    assert keycloak_lab.user_info(ADMIN)["credential"]["historyLength"] == 2
    assert kc.reset_password(admin_id, kc.admin_password).status == 204
    assert _works(kc, ADMIN, kc.admin_password)


def test_no_history_policy_allows_reusing_the_current_password(kc: KeycloakHttp) -> None:
    kc.login()
    assert kc.reset_password(kc.user_id(ADMIN), kc.admin_password).status == 204
    assert _works(kc, ADMIN, kc.admin_password)


def test_temporary_password_adds_update_password(kc: KeycloakHttp) -> None:
    kc.login()
    admin_id = kc.user_id(ADMIN)
    assert kc.reset_password(admin_id, "Temporary-Pw-1!", temporary=True).status == 204
    assert kc.request("GET", f"/admin/realms/master/users/{admin_id}").body["requiredActions"] == ["UPDATE_PASSWORD"]
    reply = kc.token(ADMIN, "Temporary-Pw-1!")
    assert (reply.status, reply.body["error_description"]) == (400, "Account is not fully set up")
    assert kc.reset_password(admin_id, "Permanent-Pw-1!", temporary=None).status == 204  # absent = not temporary
    assert kc.request("GET", f"/admin/realms/master/users/{admin_id}").body["requiredActions"] == []
    assert _works(kc, ADMIN, "Permanent-Pw-1!")


def test_permissions(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.seed_user("plain", "Plain-Passw0rd!")
    keycloak_lab.seed_user("helpdesk", "Helpdesk-Pw0rd!", clientRoles={"master-realm": ["manage-users"]})
    kc.login()
    admin_id = kc.user_id(ADMIN)
    kc.login("plain", "Plain-Passw0rd!")
    assert kc.request("GET", "/admin/realms/master/users").body == {"error": "HTTP 403 Forbidden"}
    assert kc.reset_password(admin_id, "Hijacked-Passw0rd!").status == 403
    assert kc.request("GET", "/admin/realms/master").status == 403
    assert kc.request("GET", "/admin/serverinfo").status == 403
    # an unknown id is 403, not 404, for someone who may not query users
    assert kc.reset_password("no-such-id", "Hijacked-Passw0rd!").status == 403
    kc.login("helpdesk", "Helpdesk-Pw0rd!")
    assert kc.request("GET", "/admin/realms/master").body == {"realm": "master"}  # no view-realm
    assert kc.reset_password(admin_id, "Helpdesk-Set-Pw0rd!").status == 204
    assert kc.reset_password("no-such-id", "Helpdesk-Set-Pw0rd!").body == {"error": "User not found"}
    assert _works(kc, ADMIN, "Helpdesk-Set-Pw0rd!")


def test_other_realm_admin_cannot_reach_master(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.create_realm("apps", passwordPolicy="length(10)")
    keycloak_lab.seed_user("apps-admin", "Apps-Passw0rd!", realm="apps", admin=True)
    kc.login("apps-admin", "Apps-Passw0rd!", realm="apps")
    reply = kc.request("GET", "/admin/realms/apps")
    assert reply.status == 200 and reply.body["passwordPolicy"] == "length(10)"
    assert reply.body["accessTokenLifespan"] == 300
    assert kc.request("GET", "/admin/realms/master").status == 403
    kc.login()
    assert kc.request("GET", "/admin/realms/apps/users").status == 200  # master admin manages every realm
    assert kc.request("GET", "/admin/realms/nowhere").body == {"error": "Realm not found."}


def test_realm_representation_and_server_info(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    kc.login()
    realm = kc.request("GET", "/admin/realms/master").body
    assert realm["realm"] == "master" and realm["accessTokenLifespan"] == 60
    assert "passwordPolicy" not in realm  # Keycloak leaves null fields out
    keycloak_lab.set_realm(password_policy=POLICY)
    assert kc.request("GET", "/admin/realms/master").body["passwordPolicy"] == POLICY
    assert kc.request("GET", "/admin/serverinfo").body["systemInfo"]["version"].startswith("26.")


def test_unknown_paths_and_methods(kc: KeycloakHttp) -> None:
    kc.login()
    reply = kc.request("GET", "/admin/realms/master/no-such-thing")
    assert reply.status == 404 and reply.body["error"] == "Unable to find matching target resource method"
    reply = kc.request("DELETE", f"/admin/realms/master/users/{kc.user_id(ADMIN)}/reset-password")
    assert reply.status == 405


def test_legacy_auth_prefix(keycloak_legacy_server: ServerHandle, keycloak_server: ServerHandle) -> None:
    from conftest_keycloak import KeycloakHttp  # pylint: disable=import-outside-toplevel

    from atlas_lab.services.keycloak import KeycloakLabClient  # pylint: disable=import-outside-toplevel

    legacy_lab = KeycloakLabClient(keycloak_legacy_server.url)
    legacy_lab.reset()
    assert legacy_lab.keycloak_url == keycloak_legacy_server.url + "/auth"
    legacy = KeycloakHttp(legacy_lab.keycloak_url)
    legacy.login()
    assert legacy.request("GET", "/admin/realms/master/users", query={"username": ADMIN, "exact": "true"}).status == 200
    bare = KeycloakHttp(keycloak_legacy_server.url)
    assert bare.token(ADMIN, bare.admin_password).status == 404
    assert bare.request("GET", "/admin/realms/master", token=legacy.token_value).status == 404
    # and a current server does not know /auth
    modern = KeycloakHttp(keycloak_server.url + "/auth")
    assert modern.token(ADMIN, modern.admin_password).status == 404
    assert legacy.token(ADMIN, legacy.admin_password).body["access_token"]
    assert legacy_lab.counts().get("unknown") == 2
