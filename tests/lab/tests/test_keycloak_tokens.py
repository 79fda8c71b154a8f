"""Keycloak emulator: token endpoint grants, token lifetime and bearer checks."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest_keycloak import KeycloakHttp

    from atlas_lab.services.keycloak import KeycloakLabClient

pytest_plugins = ("conftest_keycloak",)
ADMIN = "admin"


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_password_grant_returns_rfc6749_token_response(kc: KeycloakHttp) -> None:
    reply = kc.token(ADMIN, kc.admin_password)
    assert reply.status == 200
    assert reply.headers["Cache-Control"] == "no-store"
    body = reply.body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 60  # the master realm's default
    assert body["refresh_expires_in"] == 1800
    assert isinstance(body["refresh_token"], str) and body["session_state"]
    claims = _claims(body["access_token"])
    assert claims["preferred_username"] == ADMIN
    assert claims["exp"] - claims["iat"] == 60
    assert claims["iss"] == f"{kc.base_url}/realms/master"


def test_wrong_password_and_unknown_user_are_401_invalid_grant(kc: KeycloakHttp) -> None:
    for username, password in ((ADMIN, "wrong"), ("nobody", kc.admin_password), (ADMIN, "")):
        reply = kc.token(username, password)
        assert reply.status == 401
        assert reply.body == {"error": "invalid_grant", "error_description": "Invalid user credentials"}


def test_usernames_are_case_insensitive_like_keycloak(kc: KeycloakHttp) -> None:
    assert kc.token(ADMIN.upper(), kc.admin_password).status == 200


def test_disabled_user_and_pending_required_actions(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.seed_user("off", "Off-Passw0rd!", enabled=False)
    keycloak_lab.seed_user("fresh", "Fresh-Passw0rd!", temporary=True)
    keycloak_lab.seed_user("verify", "Verify-Passw0rd!", requiredActions=["VERIFY_EMAIL"])
    reply = kc.token("off", "Off-Passw0rd!")
    assert (reply.status, reply.body) == (400, {"error": "invalid_grant", "error_description": "Account disabled"})
    for username, password in (("fresh", "Fresh-Passw0rd!"), ("verify", "Verify-Passw0rd!")):
        reply = kc.token(username, password)
        assert reply.status == 400
        assert reply.body == {"error": "invalid_grant", "error_description": "Account is not fully set up"}
    # The password is checked first: a wrong one is still a 401.
    assert kc.token("fresh", "wrong").status == 401


def test_client_errors(kc: KeycloakHttp) -> None:
    reply = kc.token(ADMIN, kc.admin_password, client_id="no-such-client")
    assert (reply.status, reply.body["error"]) == (401, "invalid_client")
    reply = kc.request("POST", "/realms/master/protocol/openid-connect/token", form={"client_id": "admin-cli"})
    assert reply.status == 400
    assert reply.body == {"error": "invalid_request", "error_description": "Missing form parameter: grant_type"}
    reply = kc.token(grant_type="authorization_code", code="x")
    assert (reply.status, reply.body["error"]) == (400, "unsupported_grant_type")
    reply = kc.token()  # client_credentials with the public admin-cli client
    assert reply.status == 401
    assert reply.body == {"error": "unauthorized_client",
                          "error_description": "Public client not allowed to retrieve service account"}
    reply = kc.token(ADMIN, kc.admin_password, realm="nowhere")
    assert (reply.status, reply.body) == (404, {"error": "Realm does not exist"})


def test_client_credentials_service_account(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    created = keycloak_lab.create_service_client("rotation-job", secret="s3cret-value")
    assert created["serviceAccountUsername"] == "service-account-rotation-job"
    reply = kc.token(client_id="rotation-job", client_secret="s3cret-value")
    assert reply.status == 200
    assert "refresh_token" not in reply.body and reply.body["refresh_expires_in"] == 0
    assert kc.request("GET", "/admin/realms/master", token=reply.body["access_token"]).status == 200
    # client_secret_basic works as well
    basic = base64.b64encode(b"rotation-job:s3cret-value").decode()
    reply = kc.request("POST", "/realms/master/protocol/openid-connect/token", form={"grant_type": "client_credentials"},
                       headers={"Authorization": f"Basic {basic}"})
    assert reply.status == 200
    reply = kc.token(client_id="rotation-job", client_secret="wrong")
    assert reply.status == 401
    assert reply.body == {"error": "unauthorized_client",
                          "error_description": "Invalid client or Invalid client credentials"}
    assert kc.token(client_id="rotation-job").body["error_description"] == "Client secret not provided in request"
    # A confidential client without direct access grants cannot use the password grant.
    reply = kc.token(ADMIN, kc.admin_password, client_id="rotation-job", client_secret="s3cret-value")
    assert (reply.status, reply.body["error"]) == (400, "unauthorized_client")


def test_service_account_without_admin_role_is_forbidden(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.create_service_client("reader", secret="r", admin=False,
                                       clientRoles={"master-realm": ["view-users"]})
    token = kc.token(client_id="reader", client_secret="r").body["access_token"]
    assert kc.request("GET", "/admin/realms/master/users", token=token).status == 200
    kc.login()
    admin_id = kc.user_id(ADMIN)
    kc.token_value = token
    reply = kc.reset_password(admin_id, "Another-Passw0rd!")
    assert (reply.status, reply.body) == (403, {"error": "HTTP 403 Forbidden"})


def test_access_token_expires_after_the_realm_lifespan(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    token = kc.login()
    keycloak_lab.advance_time(59)
    assert kc.request("GET", "/admin/realms/master").status == 200
    keycloak_lab.advance_time(2)
    reply = kc.request("GET", "/admin/realms/master")
    assert (reply.status, reply.body) == (401, {"error": "HTTP 401 Unauthorized"})
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    assert token == kc.token_value


def test_token_lifespan_is_configurable(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    keycloak_lab.set_realm(access_token_lifespan=5)
    assert kc.token(ADMIN, kc.admin_password).body["expires_in"] == 5
    kc.login()
    keycloak_lab.advance_time(6)
    assert kc.request("GET", "/admin/serverinfo").status == 401


def test_refresh_token_grant(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    first = kc.token(ADMIN, kc.admin_password).body
    keycloak_lab.advance_time(120)  # access token expired, refresh token (30 min) still valid
    assert kc.request("GET", "/admin/realms/master", token=first["access_token"]).status == 401
    reply = kc.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reply.status == 200
    assert reply.body["session_state"] == first["session_state"]
    assert kc.request("GET", "/admin/realms/master", token=reply.body["access_token"]).status == 200
    keycloak_lab.advance_time(1801)
    reply = kc.token(grant_type="refresh_token", refresh_token=reply.body["refresh_token"])
    assert reply.status == 400
    assert reply.body == {"error": "invalid_grant", "error_description": "Token is not active"}


def test_refresh_token_errors(kc: KeycloakHttp, keycloak_lab: KeycloakLabClient) -> None:
    refresh = kc.token(ADMIN, kc.admin_password).body["refresh_token"]
    reply = kc.token(grant_type="refresh_token", refresh_token=refresh[:-4] + "AAAA")
    assert reply.body == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    keycloak_lab.create_service_client("other", secret="o")
    reply = kc.token(grant_type="refresh_token", refresh_token=refresh, client_id="other", client_secret="o")
    assert (reply.status, reply.body["error"]) == (400, "invalid_grant")
    assert "don't match" in reply.body["error_description"]
    reply = kc.token(grant_type="refresh_token")
    assert reply.body == {"error": "invalid_request", "error_description": "Missing parameter: refresh_token"}


def test_invalid_bearer_tokens_are_401(kc: KeycloakHttp) -> None:
    body = kc.token(ADMIN, kc.admin_password).body
    access = body["access_token"]
    header, payload, signature = access.split(".")
    claims = _claims(access)
    claims["exp"] += 3600
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for token in ("garbage", f"{header}.{forged_payload}.{signature}", body["refresh_token"]):
        reply = kc.request("GET", "/admin/realms/master/users", token=token)
        assert (reply.status, reply.body) == (401, {"error": "HTTP 401 Unauthorized"}), token
    assert kc.request("GET", "/admin/realms/master/users").status == 401  # no token at all


def test_logout_ends_sessions_and_tokens(kc: KeycloakHttp) -> None:
    session = kc.token(ADMIN, kc.admin_password).body
    kc.login()
    admin_id = kc.user_id(ADMIN)
    assert len(kc.request("GET", f"/admin/realms/master/users/{admin_id}/sessions").body) == 2
    assert kc.request("POST", f"/admin/realms/master/users/{admin_id}/logout").status == 204
    assert kc.request("GET", "/admin/realms/master", token=session["access_token"]).status == 401
    reply = kc.token(grant_type="refresh_token", refresh_token=session["refresh_token"])
    assert reply.body == {"error": "invalid_grant", "error_description": "Session not active"}
    kc.login()  # a new login works
    assert kc.request("GET", f"/admin/realms/master/users/{admin_id}/sessions").status == 200
