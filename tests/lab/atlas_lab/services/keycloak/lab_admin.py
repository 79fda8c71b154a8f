"""The Keycloak emulator's own ``/_lab/`` routes: seed users and clients, set realm settings, move
the clock. They are the test's back office; nothing here returns a password or its hash.

Routes (``{realm}`` is a realm name, ``master`` exists from the start):

- ``GET /_lab/config``: base path, version, realms
- ``GET|PUT /_lab/time-offset``: ``{"seconds": N}`` shifts the server clock (tokens expire without sleeping)
- ``GET|POST /_lab/realms``: list / create ``{"realm": name, "passwordPolicy"?, "accessTokenLifespan"?}``
- ``GET|PUT /_lab/realms/{realm}``: read / update ``passwordPolicy``, ``accessTokenLifespan``,
  ``ssoSessionIdleTimeout``, ``ssoSessionMaxLifespan``, ``enabled``
- ``GET|POST|PUT /_lab/realms/{realm}/users``: list / create-or-replace one user / replace all
  regular users with ``{"users": [...]}``
- ``GET|DELETE /_lab/realms/{realm}/users/{username}``: metadata (credential dates, history length,
  sessions) / delete
- ``GET|POST /_lab/realms/{realm}/clients``: list / create a confidential client with a service
  account ``{"clientId", "secret"?, "admin"?, "realmRoles"?, "clientRoles"?, ...}``
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING, Any

from atlas_lab.core.http_base import Request, Response
from atlas_lab.services.keycloak.model import (
    ADMIN_ROLE,
    MASTER,
    REALM_ADMIN_ROLE,
    UPDATE_PASSWORD,
    Client,
    Realm,
    User,
    new_realm,
    user_metadata,
)
from atlas_lab.services.keycloak.password_policy import PasswordPolicy

if TYPE_CHECKING:
    from atlas_lab.services.keycloak.app import KeycloakApp

USER_FIELDS = {"username", "password", "enabled", "admin", "realmRoles", "clientRoles", "attributes",
               "requiredActions", "email", "firstName", "lastName", "emailVerified", "temporary", "id"}
CLIENT_FIELDS = {"clientId", "secret", "admin", "realmRoles", "clientRoles", "publicClient",
                 "directAccessGrants", "serviceAccount", "enabled"}
REALM_FIELDS = {"realm", "passwordPolicy", "accessTokenLifespan", "ssoSessionIdleTimeout",
                "ssoSessionMaxLifespan", "enabled"}


def _check_fields(spec: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ValueError(f"{what} must be a JSON object")
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"unknown {what} fields: {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    return spec


def _attributes(raw: Any) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("attributes must be an object of name -> value or list of values")
    return {str(name): [str(v) for v in (value if isinstance(value, list) else [value])]
            for name, value in raw.items()}


def _client_roles(raw: Any) -> dict[str, set[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("clientRoles must be an object of client id -> list of roles")
    return {str(client): set(map(str, roles)) for client, roles in raw.items()}


def _admin_roles(realm: Realm, user: User, admin: bool) -> None:
    """``admin: true`` gives what a realm's full administrator has."""
    if not admin:
        return
    if realm.name == MASTER:
        user.realm_roles.add(ADMIN_ROLE)
    else:
        user.client_roles.setdefault("realm-management", set()).add(REALM_ADMIN_ROLE)


class LabAdmin:
    def __init__(self, app: KeycloakApp) -> None:
        self.app = app

    def dispatch(self, request: Request, subpath: str) -> Response | None:
        parts = [part for part in subpath.split("/") if part]
        method = request.method
        if parts == ["config"] and method == "GET":
            return Response.json({"basePath": self.app.base_path, "version": self.app.version,
                                  "realms": sorted(self.app.realms)})
        if parts == ["time-offset"]:
            if method == "PUT":
                self.app.clock.offset = int((request.json() or {})["seconds"])
            if method in ("GET", "PUT"):
                return Response.json({"seconds": self.app.clock.offset})
            return None
        if not parts or parts[0] != "realms":
            return None
        if len(parts) == 1:
            if method == "GET":
                return Response.json([self._realm_info(realm) for realm in self.app.realms.values()])
            if method == "POST":
                return self._create_realm(request.json())
            return None
        realm = self.app.realms.get(parts[1])
        if realm is None:
            return Response.json({"error": f"no realm {parts[1]!r}; create it with POST /_lab/realms"}, status=404)
        rest = parts[2:]
        if not rest:
            if method == "GET":
                return Response.json(self._realm_info(realm))
            if method in ("PUT", "PATCH"):
                self._update_realm(realm, request.json())
                return Response.json(self._realm_info(realm))
            return None
        if rest[0] == "users":
            return self._users(request, realm, rest[1:])
        if rest == ["clients"]:
            if method == "GET":
                return Response.json([self._client_info(realm, client) for client in realm.clients.values()])
            if method == "POST":
                return self._create_client(realm, request.json())
        return None

    # Realms ------------------------------------------------------------------------------------
    @staticmethod
    def _realm_info(realm: Realm) -> dict[str, Any]:
        return {"realm": realm.name, "id": realm.id, "enabled": realm.enabled,
                "passwordPolicy": realm.password_policy.text, "passwordHistory": realm.password_policy.history,
                "accessTokenLifespan": realm.access_token_lifespan,
                "ssoSessionIdleTimeout": realm.sso_session_idle_timeout,
                "ssoSessionMaxLifespan": realm.sso_session_max_lifespan,
                "users": len(realm.users), "sessions": len(realm.sessions)}

    def _create_realm(self, spec: Any) -> Response:
        spec = _check_fields(spec, REALM_FIELDS, "realm")
        name = str(spec.get("realm") or "")
        if not name:
            raise ValueError("realm name is required")
        with self.app.lock:
            if name in self.app.realms:
                return Response.json({"error": f"realm {name!r} exists"}, status=409)
            realm = new_realm(name)
            self._update_realm(realm, {key: value for key, value in spec.items() if key != "realm"})
            self.app.realms[name] = realm
        return Response.json(self._realm_info(realm), status=201)

    @staticmethod
    def _update_realm(realm: Realm, spec: Any) -> None:
        spec = _check_fields(spec or {}, REALM_FIELDS - {"realm"}, "realm")
        if "passwordPolicy" in spec:
            realm.password_policy = PasswordPolicy(spec["passwordPolicy"])
        for field, attribute in (("accessTokenLifespan", "access_token_lifespan"),
                                 ("ssoSessionIdleTimeout", "sso_session_idle_timeout"),
                                 ("ssoSessionMaxLifespan", "sso_session_max_lifespan")):
            if field in spec:
                value = int(spec[field])
                if value <= 0:
                    raise ValueError(f"{field} must be a positive number of seconds")
                setattr(realm, attribute, value)
        if "enabled" in spec:
            realm.enabled = bool(spec["enabled"])

    # Users -------------------------------------------------------------------------------------
    def _users(self, request: Request, realm: Realm, rest: list[str]) -> Response | None:
        method = request.method
        if not rest:
            if method == "GET":
                return Response.json([user_metadata(user, realm) for user in
                                      sorted(realm.users.values(), key=lambda u: u.username)])
            if method == "POST":
                with self.app.lock:
                    user, created = self.upsert_user(realm, request.json())
                return Response.json(user_metadata(user, realm), status=201 if created else 200)
            if method == "PUT":
                specs = (request.json() or {}).get("users")
                if not isinstance(specs, list):
                    raise ValueError('PUT /_lab/realms/{realm}/users expects {"users": [...]}')
                with self.app.lock:
                    for user in [u for u in realm.users.values() if u.service_account_client is None]:
                        self._delete_user(realm, user)
                    users = [self.upsert_user(realm, spec)[0] for spec in specs]
                return Response.json([user_metadata(user, realm) for user in users])
            return None
        if len(rest) != 1:
            return None
        user = realm.user_by_username(rest[0])
        if user is None:
            return Response.json({"error": f"no user {rest[0]!r} in realm {realm.name!r}"}, status=404)
        if method == "GET":
            return Response.json(user_metadata(user, realm))
        if method == "DELETE":
            with self.app.lock:
                self._delete_user(realm, user)
            return Response.empty()
        return None

    @staticmethod
    def _delete_user(realm: Realm, user: User) -> None:
        for session in realm.sessions_of(user.id):
            del realm.sessions[session.id]
        del realm.users[user.id]

    def upsert_user(self, realm: Realm, spec: Any) -> tuple[User, bool]:
        """Create or replace a user by username; replacing keeps the id. Seeding bypasses the
        password policy (like an import); the history starts empty."""
        spec = _check_fields(spec, USER_FIELDS, "user")
        username = str(spec.get("username") or "").strip().lower()
        if not username:
            raise ValueError("username is required")
        existing = realm.user_by_username(username)
        user = User(
            id=existing.id if existing else str(spec.get("id") or uuid.uuid4()),
            username=username,
            enabled=bool(spec.get("enabled", True)),
            email=spec.get("email"),
            first_name=spec.get("firstName"),
            last_name=spec.get("lastName"),
            email_verified=bool(spec.get("emailVerified", False)),
            attributes=_attributes(spec.get("attributes")),
            required_actions=[str(action) for action in spec.get("requiredActions") or []],
            realm_roles=set(map(str, spec.get("realmRoles") or [])) | {f"default-roles-{realm.name}"},
            client_roles=_client_roles(spec.get("clientRoles")),
            created=existing.created if existing else self.app.clock.millis(),
        )
        _admin_roles(realm, user, bool(spec.get("admin", False)))
        if spec.get("password") is not None:
            user.set_password(str(spec["password"]), -1, self.app.clock.millis())
        if spec.get("temporary") and UPDATE_PASSWORD not in user.required_actions:
            user.required_actions.append(UPDATE_PASSWORD)
        realm.users[user.id] = user
        return user, existing is None

    # Clients -----------------------------------------------------------------------------------
    @staticmethod
    def _client_info(realm: Realm, client: Client) -> dict[str, Any]:
        account = realm.users.get(client.service_account_user or "")
        return {"id": client.id, "clientId": client.client_id, "publicClient": client.public,
                "directAccessGrants": client.direct_access_grants,
                "serviceAccountUserId": account.id if account else None,
                "serviceAccountUsername": account.username if account else None}

    def _create_client(self, realm: Realm, spec: Any) -> Response:
        spec = _check_fields(spec, CLIENT_FIELDS, "client")
        client_id = str(spec.get("clientId") or "")
        if not client_id:
            raise ValueError("clientId is required")
        public = bool(spec.get("publicClient", False))
        secret = None if public else str(spec.get("secret") or secrets.token_urlsafe(24))
        with self.app.lock:
            if client_id in realm.clients:
                return Response.json({"error": f"client {client_id!r} exists in realm {realm.name!r}"}, status=409)
            client = Client(str(uuid.uuid4()), client_id, public=public, secret=secret,
                            direct_access_grants=bool(spec.get("directAccessGrants", False)),
                            enabled=bool(spec.get("enabled", True)))
            if not public and spec.get("serviceAccount", True):
                account = self.upsert_user(realm, {
                    "username": f"service-account-{client_id}", "admin": bool(spec.get("admin", False)),
                    "realmRoles": spec.get("realmRoles") or [], "clientRoles": spec.get("clientRoles") or {},
                })[0]
                account.service_account_client = client_id
                client.service_account_user = account.id
            realm.clients[client_id] = client
        info = self._client_info(realm, client)
        info["secret"] = secret  # the test created it and needs it; it is not a user password
        return Response.json(info, status=201)
