"""The emulator's route table: one entry per operation, with the request kind used by counters,
fault rules and the benchmark. Admin templates are spelled exactly like the paths of Keycloak's
OpenAPI document, so the contract test maps every route to its documented operation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN_PATH = "/realms/{realm}/protocol/openid-connect/token"
TOKEN_GRANTS = ("password", "client_credentials", "refresh_token")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    kind: str
    handler: str
    #: documented in the Admin REST OpenAPI document (everything under /admin/realms)
    in_admin_contract: bool = True
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        pieces = re.split(r"\{([^}]+)\}", self.template)
        # re.split alternates literal text and parameter names
        pattern = "".join(re.escape(piece) if index % 2 == 0 else f"(?P<{piece.replace('-', '_')}>[^/]+)"
                          for index, piece in enumerate(pieces))
        object.__setattr__(self, "regex", re.compile(f"^{pattern}$"))

    def params(self, path: str) -> dict[str, str] | None:
        match = self.regex.match(path)
        return match.groupdict() if match else None


# Literal paths before templated ones at the same depth (users/count before users/{user-id}).
ROUTES: tuple[Route, ...] = (
    Route("POST", TOKEN_PATH, "token", "token", in_admin_contract=False),
    Route("GET", "/realms/{realm}/.well-known/openid-configuration", "oidc.discovery", "discovery",
          in_admin_contract=False),
    Route("GET", "/admin/serverinfo", "serverinfo.get", "server_info", in_admin_contract=False),
    Route("GET", "/admin/realms/{realm}", "realm.get", "get_realm"),
    Route("GET", "/admin/realms/{realm}/users", "users.query", "query_users"),
    Route("GET", "/admin/realms/{realm}/users/count", "users.count", "count_users"),
    Route("GET", "/admin/realms/{realm}/users/{user-id}", "users.get", "get_user"),
    Route("PUT", "/admin/realms/{realm}/users/{user-id}/reset-password", "users.reset_password", "reset_password"),
    Route("POST", "/admin/realms/{realm}/users/{user-id}/logout", "users.logout", "logout_user"),
    Route("GET", "/admin/realms/{realm}/users/{user-id}/credentials", "users.credentials", "user_credentials"),
    Route("GET", "/admin/realms/{realm}/users/{user-id}/sessions", "users.sessions", "user_sessions"),
)

KINDS: tuple[str, ...] = tuple(f"token.{grant}" for grant in TOKEN_GRANTS) + ("token.other",) + tuple(
    route.kind for route in ROUTES if route.kind != "token") + ("unknown",)


def resolve(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """Return ``(route, path parameters, path known)`` for a path relative to the server base."""
    path_known = False
    for route in ROUTES:
        params = route.params(path)
        if params is None:
            continue
        path_known = True
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            return route, params, True
    return None, {}, path_known
