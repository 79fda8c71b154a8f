"""Admin REST API operations (``/admin/...``) the collection uses, with Keycloak 26's checks in
Keycloak's order: bearer token (AdminRoot, 401), realm (RealmsAdminResource, 404 "Realm not found."),
cross-realm access (403), user lookup (UsersResource.user, 404 "User not found" or 403), then the
operation's own permission (403) and validation (400).

Sources: ``services/.../resources/admin/AdminRoot.java``, ``UsersResource.java``,
``UserResource.java`` (``resetPassword``: "No password provided", "Empty password not allowed",
policy errors as ``{"error": messageKey, "error_description": text}``, ``temporary`` ->
UPDATE_PASSWORD, sessions left alone), ``RealmAdminResource.getRealm``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from atlas_lab.core.http_base import Request, Response
from atlas_lab.services.keycloak import representations
from atlas_lab.services.keycloak.errors import (
    KeycloakError,
    bad_json,
    forbidden,
    not_found,
    unauthorized,
    unsupported_media_type,
)
from atlas_lab.services.keycloak.model import MASTER, UPDATE_PASSWORD, Realm, User, admin_permissions
from atlas_lab.services.keycloak.password_policy import PolicyViolation
from atlas_lab.services.keycloak.tokens import InvalidToken

if TYPE_CHECKING:
    from atlas_lab.services.keycloak.app import KeycloakApp

DEFAULT_MAX_RESULTS = 100


@dataclass
class AdminAuth:
    """The authenticated caller: its realm, user (or service-account user) and client."""

    realm: Realm
    user: User
    client_id: str

    def permissions(self, target_realm: str) -> set[str]:
        return admin_permissions(self.realm, self.user, target_realm)


def _bool(request: Request, name: str) -> bool | None:
    value = request.param(name)
    return None if value is None else value.strip().lower() == "true"


def _int(request: Request, name: str) -> int | None:
    value = request.param(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        # JAX-RS answers a query parameter it cannot convert with 404.
        raise not_found() from None


def _like(value: str | None, pattern: str) -> bool:
    """SQL LIKE on lower-cased values, ``%`` only (the JPA user search)."""
    if value is None:
        return False
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, value.lower(), flags=re.DOTALL) is not None


def _search_term_matches(user: User, term: str) -> bool:
    """JpaUserProvider: ``"x"`` exact, ``*`` wildcard, otherwise prefix, over username/email/names."""
    term = term.lower()
    fields = (user.username, user.email, user.first_name, user.last_name)
    if len(term) >= 2 and term[0] == '"' and term[-1] == '"':
        exact = term[1:-1]
        return any(value is not None and value.lower() == exact for value in fields)
    pattern = term.replace("*", "%")
    if not pattern.endswith("%"):
        pattern += "%"
    return any(_like(value, pattern) for value in fields)


def _attribute_query(query: str) -> dict[str, str]:
    """``q=key:value key2:value2`` (UsersResource.getUsers ``q``)."""
    pairs: dict[str, str] = {}
    for item in query.split():
        key, sep, value = item.partition(":")
        if sep:
            pairs[key] = value
    return pairs


class AdminApi:
    def __init__(self, app: KeycloakApp) -> None:
        self.app = app

    # Authentication and lookups -----------------------------------------------------------------
    def authenticate(self, request: Request) -> AdminAuth:
        header = request.headers.get("Authorization") or ""
        scheme, _space, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        try:
            claims = self.app.signer.verify(token.strip())
        except InvalidToken:
            raise unauthorized() from None
        realm = self.app.realms.get(str(claims.get("iss", "")).rsplit("/", 1)[-1])
        now = self.app.clock.seconds()
        if realm is None or claims.get("typ") != "Bearer" or now > int(claims.get("exp", 0)):
            raise unauthorized()
        user = realm.users.get(str(claims.get("sub")))
        if user is None or not user.enabled or int(claims.get("iat", 0)) < user.not_before:
            raise unauthorized()
        if "sid" in claims and claims["sid"] not in realm.sessions:
            raise unauthorized()
        return AdminAuth(realm, user, str(claims.get("azp")))

    def target_realm(self, auth: AdminAuth, name: str) -> Realm:
        realm = self.app.realms.get(name)
        if realm is None:
            raise not_found("Realm not found.")
        if auth.realm.name != MASTER and auth.realm.name != realm.name:
            raise forbidden()
        return realm

    @staticmethod
    def require(permissions: set[str], needed: str) -> None:
        if needed not in permissions:
            raise forbidden()

    def target_user(self, auth: AdminAuth, realm: Realm, user_id: str) -> tuple[User, set[str]]:
        permissions = auth.permissions(realm.name)
        user = realm.users.get(user_id)
        if user is None:
            # "we do this to make sure somebody can't phish ids"
            raise not_found("User not found") if "query-users" in permissions else forbidden()
        return user, permissions

    # Realm and server ---------------------------------------------------------------------------
    def get_realm(self, request: Request, params: dict[str, str]) -> Response:
        auth = self.authenticate(request)
        realm = self.target_realm(auth, params["realm"])
        permissions = auth.permissions(realm.name)
        if not permissions:
            raise forbidden()
        return Response.json(representations.realm(realm, full="view-realm" in permissions))

    def server_info(self, request: Request, params: dict[str, str]) -> Response:
        del params
        auth = self.authenticate(request)
        if not auth.permissions(auth.realm.name):
            raise forbidden()
        return Response.json(representations.server_info(self.app.version, self.app.clock.millis()))

    # Users ----------------------------------------------------------------------------------------
    def _filtered_users(self, request: Request, realm: Realm) -> list[User]:
        """UsersResource.getUsers: ``search`` overrides every other filter; any field filter (or
        ``exact``) switches to the attribute search, which also returns service-account users."""
        users = sorted(realm.users.values(), key=lambda user: user.username)
        search = request.param("search")
        enabled = _bool(request, "enabled")
        if search is not None:
            if search.startswith("id:"):
                wanted = search[3:].strip()
                return [user for user in users if user.id == wanted]
            terms = search.strip().split()
            return [user for user in users
                    if user.service_account_client is None
                    and (enabled is None or user.enabled == enabled)
                    and all(_search_term_matches(user, term) for term in terms)]
        exact = _bool(request, "exact") or False
        filters: dict[str, Callable[[User], str | None]] = {
            "username": lambda user: user.username, "email": lambda user: user.email,
            "firstName": lambda user: user.first_name, "lastName": lambda user: user.last_name,
        }
        attribute_query = _attribute_query(request.param("q") or "")
        used = {name: request.param(name) for name in filters if request.param(name) is not None}
        email_verified = _bool(request, "emailVerified")
        field_search = bool(used or attribute_query or enabled is not None or email_verified is not None
                            or request.param("exact") is not None)

        def keep(user: User) -> bool:
            if not field_search and user.service_account_client is not None:
                return False
            for name, value in used.items():
                actual = filters[name](user)
                if exact:
                    if actual is None or actual.lower() != str(value).lower():
                        return False
                elif not _like(actual, f"%{str(value).lower()}%"):
                    return False
            if enabled is not None and user.enabled != enabled:
                return False
            if email_verified is not None and user.email_verified != email_verified:
                return False
            return all(value in user.attributes.get(key, []) for key, value in attribute_query.items())

        return [user for user in users if keep(user)]

    def query_users(self, request: Request, params: dict[str, str]) -> Response:
        auth = self.authenticate(request)
        realm = self.target_realm(auth, params["realm"])
        self.require(auth.permissions(realm.name), "query-users")
        first = _int(request, "first")
        maximum = _int(request, "max")
        first = first if first is not None and first >= 0 else 0
        maximum = maximum if maximum is not None and maximum >= 0 else DEFAULT_MAX_RESULTS
        page = self._filtered_users(request, realm)[first:first + maximum]
        if _bool(request, "briefRepresentation"):
            return Response.json([representations.brief_user(user) for user in page])
        return Response.json([representations.user(user) for user in page])

    def count_users(self, request: Request, params: dict[str, str]) -> Response:
        auth = self.authenticate(request)
        realm = self.target_realm(auth, params["realm"])
        self.require(auth.permissions(realm.name), "query-users")
        return Response.json(len(self._filtered_users(request, realm)))

    def get_user(self, request: Request, params: dict[str, str]) -> Response:
        auth = self.authenticate(request)
        realm = self.target_realm(auth, params["realm"])
        user, permissions = self.target_user(auth, realm, params["user_id"])
        self.require(permissions, "view-users")
        return Response.json(representations.user(user, can_manage="manage-users" in permissions))

    def user_credentials(self, request: Request, params: dict[str, str]) -> Response:
        auth = self.authenticate(request)
        realm = self.target_realm(auth, params["realm"])
        user, permissions = self.target_user(auth, realm, params["user_id"])
        self.require(permissions, "view-users")
        return Response.json(representations.credentials(user))

    def user_sessions(self, request: Request, params: dict[str, str]) -> Response:
        auth = self.authenticate(request)
        realm = self.target_realm(auth, params["realm"])
        user, permissions = self.target_user(auth, realm, params["user_id"])
        self.require(permissions, "view-users")
        return Response.json([
            representations.session(session, user.username, realm.clients.get(session.client_id))
            for session in realm.sessions_of(user.id)
        ])

    def logout_user(self, request: Request, params: dict[str, str]) -> Response:
        auth = self.authenticate(request)
        realm = self.target_realm(auth, params["realm"])
        user, permissions = self.target_user(auth, realm, params["user_id"])
        self.require(permissions, "manage-users")
        user.not_before = self.app.clock.seconds()
        for session in realm.sessions_of(user.id):
            del realm.sessions[session.id]
        return Response.empty(204)

    def reset_password(self, request: Request, params: dict[str, str]) -> Response:
        auth = self.authenticate(request)
        realm = self.target_realm(auth, params["realm"])
        user, permissions = self.target_user(auth, realm, params["user_id"])
        if request.content_type != "application/json":
            raise unsupported_media_type()
        self.require(permissions, "manage-users")
        credential = self._json_body(request)
        value = credential.get("value") if isinstance(credential, dict) else None
        if value is None:
            raise KeycloakError(400, "No password provided")
        if not isinstance(value, str):
            raise bad_json()
        if not value.strip():
            raise KeycloakError(400, "Empty password not allowed")
        policy = realm.password_policy
        try:
            policy.validate(value, user.username, user.email, lambda depth: user.in_history(value, depth))
        except PolicyViolation as violation:
            raise KeycloakError(400, violation.key, violation.text) from None
        user.set_password(value, policy.history, self.app.clock.millis())
        temporary = credential.get("temporary")
        if temporary is True:
            if UPDATE_PASSWORD not in user.required_actions:
                user.required_actions.append(UPDATE_PASSWORD)
        elif UPDATE_PASSWORD in user.required_actions:
            user.required_actions.remove(UPDATE_PASSWORD)
        return Response.empty(204)

    @staticmethod
    def _json_body(request: Request) -> Any:
        if not request.body.strip():
            return None
        try:
            return json.loads(request.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise bad_json() from None
