"""``POST /realms/{realm}/protocol/openid-connect/token``: password, client_credentials and
refresh_token grants with Keycloak 26's status codes and messages.

Sources: ``TokenEndpoint``, ``ResourceOwnerPasswordCredentialsGrantType`` (required actions ->
400 "Account is not fully set up"), the direct-grant authenticators ``ValidateUsername`` /
``ValidatePassword`` (unknown user or wrong password -> 401 ``invalid_grant`` "Invalid user
credentials", disabled user -> 400 "Account disabled"), ``ClientIdAndSecretAuthenticator`` and
``TokenManager.refreshAccessToken``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from atlas_lab.core.http_base import Request, Response
from atlas_lab.services.keycloak.errors import oauth_error
from atlas_lab.services.keycloak.model import Client, Realm, Session, User
from atlas_lab.services.keycloak.routes import TOKEN_GRANTS
from atlas_lab.services.keycloak.tokens import InvalidToken

if TYPE_CHECKING:
    from atlas_lab.services.keycloak.app import KeycloakApp

SCOPE = "profile email"
BAD_CLIENT = "Invalid client or Invalid client credentials"


def form(request: Request) -> dict[str, str]:
    if request.content_type != "application/x-www-form-urlencoded" or not request.body:
        return {}
    parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def grant_kind(request: Request) -> str:
    grant = form(request).get("grant_type")
    return f"token.{grant}" if grant in TOKEN_GRANTS else "token.other"


class TokenEndpoint:
    def __init__(self, app: KeycloakApp) -> None:
        self.app = app

    def handle(self, request: Request, realm: Realm) -> Response:
        params = form(request)
        grant = params.get("grant_type")
        if not grant:
            raise oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
        client = self._authenticate_client(request, params, realm)
        if grant == "password":
            return self._password(request, params, realm, client)
        if grant == "client_credentials":
            return self._client_credentials(params, realm, client)
        if grant == "refresh_token":
            return self._refresh(params, realm, client)
        raise oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")

    # Client authentication -----------------------------------------------------------------------
    @staticmethod
    def _authenticate_client(request: Request, params: dict[str, str], realm: Realm) -> Client:
        client_id, secret = params.get("client_id"), params.get("client_secret")
        header = request.headers.get("Authorization") or ""
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise oauth_error(400, "invalid_request", "Invalid Authorization header") from None
            basic_id, _colon, basic_secret = decoded.partition(":")
            client_id, secret = unquote(basic_id), unquote(basic_secret)
        client = realm.clients.get(client_id or "")
        if client is None or not client.enabled:
            raise oauth_error(401, "invalid_client", BAD_CLIENT)
        if not client.public:
            if not secret:
                raise oauth_error(401, "unauthorized_client", "Client secret not provided in request")
            if client.secret is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
                raise oauth_error(401, "unauthorized_client", BAD_CLIENT)
        return client

    # Grants --------------------------------------------------------------------------------------
    def _password(self, request: Request, params: dict[str, str], realm: Realm, client: Client) -> Response:
        if not client.direct_access_grants:
            raise oauth_error(400, "unauthorized_client", "Client not allowed for direct access grants")
        username = params.get("username")
        if username is None:
            raise oauth_error(401, "invalid_request", "Missing parameter: username")
        user = realm.user_by_username_or_email(username)
        if user is None or user.service_account_client is not None:
            raise oauth_error(401, "invalid_grant", "Invalid user credentials")
        if not user.enabled:
            raise oauth_error(400, "invalid_grant", "Account disabled")
        if not user.password_matches(params.get("password") or ""):
            raise oauth_error(401, "invalid_grant", "Invalid user credentials")
        if user.required_actions:
            raise oauth_error(400, "invalid_grant", "Account is not fully set up")
        now = self.app.clock.seconds()
        session = Session(str(uuid.uuid4()), user.id, client.client_id, now, now, request.client or "127.0.0.1")
        realm.sessions[session.id] = session
        return self._tokens(request, realm, client, user, session)

    def _client_credentials(self, params: dict[str, str], realm: Realm, client: Client) -> Response:
        del params
        if client.public:
            raise oauth_error(401, "unauthorized_client", "Public client not allowed to retrieve service account")
        user = realm.users.get(client.service_account_user or "")
        if user is None:
            raise oauth_error(401, "unauthorized_client", "Client not enabled to retrieve service account")
        if not user.enabled:
            raise oauth_error(400, "invalid_request", f"User '{user.username}' disabled")
        return self._tokens(None, realm, client, user, None)

    def _refresh(self, params: dict[str, str], realm: Realm, client: Client) -> Response:
        encoded = params.get("refresh_token")
        if not encoded:
            raise oauth_error(400, "invalid_request", "Missing parameter: refresh_token")
        try:
            claims = self.app.signer.verify(encoded)
        except InvalidToken:
            raise oauth_error(400, "invalid_grant", "Invalid refresh token") from None
        # Another realm's token would fail Keycloak's signature check (each realm has its own keys).
        if claims.get("typ") != "Refresh" or not str(claims.get("iss", "")).endswith(f"/realms/{realm.name}"):
            raise oauth_error(400, "invalid_grant", "Invalid refresh token")
        now = self.app.clock.seconds()
        if now > int(claims.get("exp", 0)):
            raise oauth_error(400, "invalid_grant", "Token is not active")
        if claims.get("azp") != client.client_id:
            raise oauth_error(400, "invalid_grant",
                              "Invalid refresh token. Token client and authorized client don't match")
        session = realm.sessions.get(str(claims.get("sid")))
        user = realm.users.get(str(claims.get("sub")))
        if session is None or user is None or not user.enabled:
            raise oauth_error(400, "invalid_grant", "Session not active")
        if int(claims.get("iat", 0)) < user.not_before:
            raise oauth_error(400, "invalid_grant", "Stale token")
        session.last_refresh = now
        return self._tokens(None, realm, client, user, session, issuer=str(claims.get("iss")))

    # Token response (RFC 6749 section 5.1) --------------------------------------------------------
    def _tokens(self, request: Request | None, realm: Realm, client: Client, user: User,
                session: Session | None, issuer: str | None = None) -> Response:
        now = self.app.clock.seconds()
        issuer = issuer or self.app.issuer(request, realm.name)
        common: dict[str, Any] = {"iat": now, "iss": issuer, "sub": user.id, "azp": client.client_id,
                                  "scope": SCOPE}
        if session is not None:
            common["sid"] = session.id
        access = dict(common, exp=now + realm.access_token_lifespan, jti=str(uuid.uuid4()), typ="Bearer",
                      preferred_username=user.username,
                      realm_access={"roles": sorted(user.realm_roles)},
                      resource_access={name: {"roles": sorted(roles)} for name, roles in user.client_roles.items()})
        body: dict[str, Any] = {
            "access_token": self.app.signer.sign(access),
            "expires_in": realm.access_token_lifespan,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": SCOPE,
        }
        if session is not None:
            refresh_lifespan = min(realm.sso_session_idle_timeout,
                                   session.started + realm.sso_session_max_lifespan - now)
            refresh = dict(common, exp=now + refresh_lifespan, jti=str(uuid.uuid4()), typ="Refresh")
            body.update(refresh_token=self.app.signer.sign(refresh), refresh_expires_in=refresh_lifespan,
                        session_state=session.id)
        return Response.json(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
