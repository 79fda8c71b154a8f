"""The emulated server's state: realms, users with hashed password credentials, clients, sessions.

Admin permissions follow Keycloak's model in a reduced form: a master-realm user with the ``admin``
realm role administers every realm; other admins hold client roles of the realm's management
client (``master-realm`` / ``<realm>-realm`` in master, ``realm-management`` inside the realm),
where ``manage-X`` implies ``view-X`` and ``view-users`` implies ``query-users``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from atlas_lab.services.keycloak.password_policy import PasswordHash, PasswordPolicy

MASTER = "master"
ADMIN_ROLE = "admin"
REALM_ADMIN_ROLE = "realm-admin"
MANAGEMENT_ROLES = (
    "create-client", "impersonation", "manage-authorization", "manage-clients", "manage-events",
    "manage-identity-providers", "manage-realm", "manage-users", "query-clients", "query-groups",
    "query-realms", "query-users", "view-authorization", "view-clients", "view-events",
    "view-identity-providers", "view-realm", "view-users",
)
_IMPLIED = {
    "manage-users": ("view-users",),
    "view-users": ("query-users", "query-groups"),
    "manage-clients": ("view-clients",),
    "view-clients": ("query-clients",),
    "manage-realm": ("view-realm",),
    "manage-events": ("view-events",),
    "manage-identity-providers": ("view-identity-providers",),
    "manage-authorization": ("view-authorization",),
}
PASSWORD = "password"
UPDATE_PASSWORD = "UPDATE_PASSWORD"


class Clock:
    """Wall clock plus an offset, like Keycloak's testsuite ``Time.setOffset``: tests expire tokens
    without sleeping."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> float:
        return time.time() + self.offset

    def seconds(self) -> int:
        return int(self.now())

    def millis(self) -> int:
        return int(self.now() * 1000)


@dataclass
class PasswordCredential:
    id: str
    hash: PasswordHash
    created: int  # epoch milliseconds, CredentialRepresentation.createdDate


@dataclass
class User:
    id: str
    username: str
    enabled: bool = True
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email_verified: bool = False
    attributes: dict[str, list[str]] = field(default_factory=dict)
    required_actions: list[str] = field(default_factory=list)
    realm_roles: set[str] = field(default_factory=set)
    client_roles: dict[str, set[str]] = field(default_factory=dict)
    created: int = 0
    password: PasswordCredential | None = None
    password_history: list[PasswordCredential] = field(default_factory=list)  # newest first
    not_before: int = 0
    service_account_client: str | None = None

    def password_matches(self, password: str) -> bool:
        return self.password is not None and self.password.hash.matches(password)

    def in_history(self, password: str, depth: int) -> bool:
        """Current password or one of the ``depth - 1`` most recent previous ones."""
        if self.password_matches(password):
            return True
        recent = self.password_history[:max(0, depth - 1)]
        return any(credential.hash.matches(password) for credential in recent)

    def set_password(self, password: str, history_depth: int, now_ms: int) -> None:
        """Store a new password like PasswordCredentialProvider: keep the credential id, move the
        old hash into the history when ``passwordHistory`` > 1, then trim the history to N-1."""
        new_hash = PasswordHash.of(password)
        if self.password is None:
            self.password = PasswordCredential(str(uuid.uuid4()), new_hash, now_ms)
        else:
            if history_depth > 1:
                old = self.password
                self.password_history.insert(0, PasswordCredential(str(uuid.uuid4()), old.hash, old.created))
            self.password = PasswordCredential(self.password.id, new_hash, now_ms)
        del self.password_history[max(0, history_depth - 1):]


@dataclass
class Client:
    id: str
    client_id: str
    public: bool = True
    secret: str | None = None
    direct_access_grants: bool = True
    service_account_user: str | None = None  # user id
    enabled: bool = True
    roles: tuple[str, ...] = ()


@dataclass
class Session:
    id: str
    user_id: str
    client_id: str
    started: int
    last_refresh: int
    ip_address: str = "127.0.0.1"


@dataclass
class Realm:
    name: str
    id: str = ""
    enabled: bool = True
    display_name: str | None = None
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    access_token_lifespan: int = 300
    sso_session_idle_timeout: int = 1800
    sso_session_max_lifespan: int = 36000
    users: dict[str, User] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id = self.id or (MASTER if self.name == MASTER else str(uuid.uuid4()))

    @property
    def management_client(self) -> str:
        return "master-realm" if self.name == MASTER else "realm-management"

    def user_by_username(self, username: str) -> User | None:
        wanted = username.lower()
        for user in self.users.values():
            if user.username == wanted:
                return user
        return None

    def user_by_username_or_email(self, name: str) -> User | None:
        user = self.user_by_username(name)
        if user is not None:
            return user
        wanted = name.lower()
        for candidate in self.users.values():
            if candidate.email and candidate.email.lower() == wanted:
                return candidate
        return None

    def sessions_of(self, user_id: str) -> list[Session]:
        return [session for session in self.sessions.values() if session.user_id == user_id]


def expand_roles(roles: Iterable[str]) -> set[str]:
    result: set[str] = set()
    pending = list(roles)
    while pending:
        role = pending.pop()
        if role in result:
            continue
        result.add(role)
        pending.extend(_IMPLIED.get(role, ()))
    return result


def admin_permissions(token_realm: Realm, user: User, target_realm: str) -> set[str]:
    """The management roles ``user`` (authenticated in ``token_realm``) holds over ``target_realm``."""
    if token_realm.name == MASTER:
        if ADMIN_ROLE in user.realm_roles:
            return set(MANAGEMENT_ROLES)
        client = "master-realm" if target_realm == MASTER else f"{target_realm}-realm"
        return expand_roles(user.client_roles.get(client, set()))
    if token_realm.name != target_realm:
        return set()
    roles = user.client_roles.get("realm-management", set())
    if REALM_ADMIN_ROLE in roles:
        return set(MANAGEMENT_ROLES)
    return expand_roles(roles)


def new_realm(name: str, access_token_lifespan: int | None = None, password_policy: str = "") -> Realm:
    """A realm as Keycloak creates it: ``admin-cli`` (public, direct grants) and the management client."""
    realm = Realm(name=name, display_name="Keycloak" if name == MASTER else None,
                  password_policy=PasswordPolicy(password_policy),
                  access_token_lifespan=access_token_lifespan or (60 if name == MASTER else 300))
    realm.clients["admin-cli"] = Client(str(uuid.uuid4()), "admin-cli")
    management = realm.management_client
    realm.clients[management] = Client(str(uuid.uuid4()), management, public=False, secret=None,
                                       direct_access_grants=False,
                                       roles=MANAGEMENT_ROLES + ((REALM_ADMIN_ROLE,) if name != MASTER else ()))
    return realm


def user_metadata(user: User, realm: Realm) -> dict[str, Any]:
    """What the lab admin API shows of a user: never a password or hash."""
    return {
        "id": user.id,
        "username": user.username,
        "enabled": user.enabled,
        "email": user.email,
        "attributes": user.attributes,
        "requiredActions": list(user.required_actions),
        "realmRoles": sorted(user.realm_roles),
        "clientRoles": {client: sorted(roles) for client, roles in user.client_roles.items()},
        "serviceAccountClientId": user.service_account_client,
        "notBefore": user.not_before,
        "sessions": len(realm.sessions_of(user.id)),
        "credential": {
            "passwordSet": user.password is not None,
            "createdDate": user.password.created if user.password else None,
            "historyLength": len(user.password_history),
            "historyCreatedDates": [credential.created for credential in user.password_history],
        },
    }
