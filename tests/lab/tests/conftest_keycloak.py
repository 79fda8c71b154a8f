"""Fixtures for the Keycloak emulator's own tests (a pytest plugin: test modules register it with
``pytest_plugins = ("conftest_keycloak",)`` and import its names only under TYPE_CHECKING, so that
pytest rewrites its asserts; tests/integration/lab/conftest.py belongs to the Kubernetes emulator's
tests).

The emulator runs in-process on a free loopback port; every test starts from the initial state
(``/_lab/reset``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from atlas_lab.core.http_base import ServerHandle, serve
from atlas_lab.services import keycloak
from atlas_lab.services.keycloak.lab_client import token_form

ADMIN = "admin"
ADMIN_PASSWORD = "Initial-Admin-Pw1!"
POLICY = "length(12) and upperCase(1) and lowerCase(1) and digits(1) and specialChars(1) and passwordHistory(3)"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes = b""


@dataclass
class Exchange:
    """One request/response pair, for the contract test."""

    method: str
    path: str  # relative to the Keycloak base URL, without the query string
    query: dict[str, list[str]]
    request_body: Any
    request_content_type: str | None
    reply: Reply


@dataclass
class KeycloakHttp:
    """A plain HTTP client for the emulated Keycloak (no client library that could hide mistakes)."""

    base_url: str  # KEYCLOAK_URL: root, plus /auth for the legacy layout
    admin: str = ADMIN
    admin_password: str = field(default=ADMIN_PASSWORD, repr=False)
    recorder: Callable[[Exchange], None] | None = None
    token_value: str | None = field(default=None, repr=False)

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, json_body: Any = None,
                form: dict[str, str] | None = None, raw_body: bytes | None = None, content_type: str | None = None,
                token: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        url = self.base_url + path + (("?" + urllib.parse.urlencode(query, doseq=True)) if query else "")
        data: bytes | None = raw_body
        sent_type = content_type
        if json_body is not None:
            data, sent_type = json.dumps(json_body).encode(), content_type or "application/json"
        elif form is not None:
            data, sent_type = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        all_headers = {"Accept": "application/json", **(headers or {})}
        if sent_type:
            all_headers["Content-Type"] = sent_type
        bearer = token if token is not None else self.token_value
        if bearer:
            all_headers["Authorization"] = f"Bearer {bearer}"
        if data is None and method in ("POST", "PUT"):
            data = b""
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, reply_headers, payload = response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            status, reply_headers, payload = exc.code, dict(exc.headers.items()), exc.read()
        try:
            body = json.loads(payload) if payload else None
        except ValueError:
            body = payload.decode("utf-8", "replace")
        reply = Reply(status, reply_headers, body, payload)
        if self.recorder is not None:
            parsed_query = {name: [str(v) for v in (value if isinstance(value, list) else [value])]
                            for name, value in (query or {}).items()}
            request_body = json_body if json_body is not None else form
            self.recorder(Exchange(method, path, parsed_query, request_body, sent_type, reply))
        return reply

    def token(self, username: str | None = None, password: str | None = None, *, realm: str = "master",
              client_id: str = "admin-cli", client_secret: str | None = None, grant_type: str | None = None,
              **extra: str) -> Reply:
        form = token_form(username, password, client_id=client_id, client_secret=client_secret, grant_type=grant_type,
                          **extra)
        return self.request("POST", f"/realms/{realm}/protocol/openid-connect/token", form=form)

    def login(self, username: str | None = None, password: str | None = None, realm: str = "master") -> str:
        """Log in (the initial admin by default) and use the token for the next calls."""
        if username is None:
            username, password = self.admin, self.admin_password
        reply = self.token(username, password, realm=realm)
        assert reply.status == 200, reply.body
        self.token_value = reply.body["access_token"]
        return self.token_value

    def user_id(self, username: str, realm: str = "master") -> str:
        reply = self.request("GET", f"/admin/realms/{realm}/users", query={"username": username, "exact": "true"})
        assert reply.status == 200, reply.body
        matches = [user for user in reply.body if user["username"] == username]
        assert len(matches) == 1, reply.body
        return matches[0]["id"]

    def reset_password(self, user_id: str, value: Any, temporary: bool | None = False,
                       realm: str = "master") -> Reply:
        body: dict[str, Any] = {"type": "password", "value": value}
        if temporary is not None:
            body["temporary"] = temporary
        return self.request("PUT", f"/admin/realms/{realm}/users/{user_id}/reset-password", json_body=body)


@pytest.fixture(scope="module")
def keycloak_server() -> Iterator[ServerHandle]:
    handle = serve(keycloak.create_app(ADMIN, ADMIN_PASSWORD))
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def keycloak_legacy_server() -> Iterator[ServerHandle]:
    handle = serve(keycloak.create_app(ADMIN, ADMIN_PASSWORD, legacy_auth_prefix=True))
    yield handle
    handle.stop()


@pytest.fixture
def keycloak_lab(keycloak_server: ServerHandle) -> keycloak.KeycloakLabClient:
    """Lab admin client of a freshly reset emulator (faults, counters and state)."""
    lab = keycloak.KeycloakLabClient(keycloak_server.url)
    lab.reset()
    return lab


@pytest.fixture
def kc(keycloak_lab: keycloak.KeycloakLabClient) -> KeycloakHttp:
    return KeycloakHttp(keycloak_lab.keycloak_url)
