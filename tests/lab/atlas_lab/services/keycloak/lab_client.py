"""Test-side client for the Keycloak emulator: the lab admin routes plus the two real calls tests
use to check state from the outside (a password login and an admin call with its token)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from atlas_lab.core.admin_client import LabAdminClient


def token_form(username: str | None = None, password: str | None = None, *, client_id: str = "admin-cli",
               client_secret: str | None = None, grant_type: str | None = None, **extra: str) -> dict[str, str]:
    """The token request's form: the password grant with a username, else client credentials."""
    form = {"client_id": client_id, **extra}
    if grant_type is not None:
        form["grant_type"] = grant_type
    elif username is not None:
        form.update(grant_type="password", username=username, password=password or "")
    else:
        form["grant_type"] = "client_credentials"
    if client_secret is not None:
        form["client_secret"] = client_secret
    return form


class KeycloakLabClient(LabAdminClient):
    """``base_url`` is the server root (``http://127.0.0.1:PORT``), without ``/auth``."""

    def __init__(self, base_url: str, ca_file: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(base_url, ca_file=ca_file, timeout=timeout)
        self._base_path: str | None = None

    @property
    def keycloak_url(self) -> str:
        """What KEYCLOAK_URL should be: the root, plus ``/auth`` for a legacy-prefix server."""
        if self._base_path is None:
            self._base_path = self.call("GET", "config")["basePath"]
        return self.base_url + self._base_path

    # Lab admin routes ---------------------------------------------------------------------------
    def set_realm(self, realm: str = "master", *, password_policy: str | None = None,
                  access_token_lifespan: int | None = None, sso_session_idle_timeout: int | None = None,
                  ) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        if password_policy is not None:
            spec["passwordPolicy"] = password_policy
        if access_token_lifespan is not None:
            spec["accessTokenLifespan"] = access_token_lifespan
        if sso_session_idle_timeout is not None:
            spec["ssoSessionIdleTimeout"] = sso_session_idle_timeout
        return self.call("PUT", f"realms/{realm}", spec)

    def realm_info(self, realm: str = "master") -> dict[str, Any]:
        return self.call("GET", f"realms/{realm}")

    def create_realm(self, realm: str, **settings: Any) -> dict[str, Any]:
        return self.call("POST", "realms", dict(settings, realm=realm))

    def seed_user(self, username: str, password: str | None = None, realm: str = "master",
                  **fields: Any) -> dict[str, Any]:
        """Create or replace a user (fields: enabled, admin, realmRoles, clientRoles, attributes,
        requiredActions, email, firstName, lastName, temporary)."""
        spec = dict(fields, username=username)
        if password is not None:
            spec["password"] = password
        return self.call("POST", f"realms/{realm}/users", spec)

    def replace_users(self, users: list[dict[str, Any]], realm: str = "master") -> list[dict[str, Any]]:
        return self.call("PUT", f"realms/{realm}/users", {"users": users})

    def user_info(self, username: str, realm: str = "master") -> dict[str, Any]:
        """Metadata only: ids, roles, required actions, credential dates and history length."""
        return self.call("GET", f"realms/{realm}/users/{urllib.parse.quote(username)}")

    def create_service_client(self, client_id: str, secret: str | None = None, realm: str = "master",
                              admin: bool = True, **fields: Any) -> dict[str, Any]:
        spec = dict(fields, clientId=client_id, admin=admin)
        if secret is not None:
            spec["secret"] = secret
        return self.call("POST", f"realms/{realm}/clients", spec)

    def set_time_offset(self, seconds: int) -> None:
        self.call("PUT", "time-offset", {"seconds": seconds})

    def advance_time(self, seconds: int) -> None:
        current = self.call("GET", "time-offset")["seconds"]
        self.set_time_offset(current + seconds)

    # Real Keycloak calls, for checks from the outside ---------------------------------------------
    def token(self, username: str | None = None, password: str | None = None, realm: str = "master",
              client_id: str = "admin-cli", client_secret: str | None = None) -> tuple[int, dict[str, Any]]:
        """POST the token endpoint (password grant with a username, else client_credentials)."""
        form = token_form(username, password, client_id=client_id, client_secret=client_secret)
        return self._http("POST", f"/realms/{realm}/protocol/openid-connect/token",
                          urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded")

    def password_works(self, username: str, password: str, realm: str = "master") -> bool:
        """True when the password logs in and its token passes an admin call."""
        status, body = self.token(username, password, realm)
        if status != 200:
            return False
        status = self._http("GET", f"/admin/realms/{realm}", token=body["access_token"])[0]
        return status == 200

    def _http(self, method: str, path: str, data: bytes | None = None, content_type: str | None = None,
              token: str | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.keycloak_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        return status, json.loads(payload) if payload else None
