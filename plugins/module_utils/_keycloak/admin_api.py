# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the Keycloak Admin REST calls the collection makes, with one identity's tokens.

An admin call answered 401 (token revoked or expired early) gets a new token and is sent again,
once: Keycloak checks the token before doing anything, so the call was not applied. Tokens live
in ``tokens.py``, HTTP in ``transport.py``, the options in ``options.py`` and ``config.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Callable
from urllib.parse import urlencode

from ansible_collections.atlas.hardening.plugins.module_utils._common.urls import path_segment, query_value
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.errors import (
    KeycloakConnectionError,
    KeycloakError,
    KeycloakOutcomeUnknown,
    KeycloakPasswordRejected,
    admin_call_error,
)
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.options import (
    DEFAULT_CLIENT_ID,
    DEFAULT_REALM,
    DEFAULT_TIMEOUT,
)
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.tokens import TokenSource
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.transport import Answer, KeycloakTransport


class KeycloakAdminAPI:
    """One identity on one Keycloak server: tokens for it and the admin calls made with them.

    ``realm`` arguments of the admin methods name the realm acted on; ``auth_realm`` is where the
    identity logs in (``master`` for the bootstrap admin).
    """

    def __init__(self, url: str, *, auth_realm: str = DEFAULT_REALM, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str | None = None, username: str | None = None,
                 password: str | None = None, validate_certs: bool = True, ca_cert: str | None = None,
                 timeout: int = DEFAULT_TIMEOUT, clock: Callable[[], float] = time.monotonic,
                 transport: KeycloakTransport | None = None) -> None:
        self.transport = transport or KeycloakTransport(url, validate_certs=validate_certs, ca_cert=ca_cert,
                                                        timeout=timeout)
        self.tokens = TokenSource(self.transport, auth_realm=auth_realm, client_id=client_id,
                                  client_secret=client_secret, username=username, password=password, clock=clock)

    # What the rest of the collection reads ---------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def configured_url(self) -> str:
        return self.transport.configured_url

    @property
    def request_count(self) -> int:
        return self.transport.request_count

    @request_count.setter
    def request_count(self, value: int) -> None:
        self.transport.request_count = value

    @property
    def no_log_values(self) -> set[str]:
        """Every token obtained; callers may replace it with their module's set (shared from then on)."""
        return self.tokens.no_log_values

    @no_log_values.setter
    def no_log_values(self, values: set[str]) -> None:
        values.update(self.tokens.no_log_values)
        self.tokens.no_log_values = values

    @property
    def username(self) -> str | None:
        return self.tokens.username

    @property
    def client_id(self) -> str:
        return self.tokens.client_id

    @property
    def client_secret(self) -> str | None:
        return self.tokens.client_secret

    @property
    def auth_realm(self) -> str:
        return self.tokens.auth_realm

    @property
    def identity(self) -> str:
        return self.tokens.identity

    @property
    def where(self) -> str:
        return self.transport.where

    def authenticate(self) -> None:
        """Get a fresh token now with the configured credentials (validates them)."""
        self.tokens.authenticate()

    def access_token(self) -> str:
        """A token valid for a few more seconds at least (tokens.py)."""
        return self.tokens.access_token()

    def login(self, username: str, password: str, auth_realm: str | None = None,
              client_id: str | None = None, client_secret: str | None = None) -> KeycloakAdminAPI:
        """Log in as a user now and return a client acting as that user (same server and TLS settings):
        the login test of given credentials, followed by admin calls with that user's token.

        The OpenID client is ``client_id`` if given; else this one's own, unless this one is a
        service-account identity (client secret, no username): then ``admin-cli``, since a
        service-account client usually allows no password grant.
        Raises :class:`KeycloakCredentialsRejected` for a wrong password and
        :class:`KeycloakAccountNotReady` for pending required actions or a disabled user; one token
        request, never retried.
        """
        if client_id is None:
            service_account = self.tokens.client_secret and not self.tokens.username
            client_id, client_secret = ((DEFAULT_CLIENT_ID, None) if service_account
                                        else (self.tokens.client_id, self.tokens.client_secret))
        other = KeycloakAdminAPI(self.base_url, auth_realm=auth_realm or self.auth_realm, client_id=client_id,
                                 client_secret=client_secret, username=username, password=password,
                                 clock=self.tokens.clock, transport=self.transport.sibling())
        other.tokens.base_checked = self.tokens.base_checked
        other.no_log_values = self.no_log_values  # one set: every token either obtains is hidden
        before = other.request_count
        try:
            other.authenticate()
        finally:
            self.request_count += other.request_count - before
        return other

    # Admin calls ------------------------------------------------------------------------------
    def call(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
             action: str, missing_ok: bool = False) -> Any:
        """An admin REST call (``path`` below the base URL, e.g. ``/admin/realms/master``).

        Returns the decoded JSON (None for an empty answer or a 404 with ``missing_ok``); raises a
        readable :class:`KeycloakError` for any other error.
        """
        answer = self.send(method, path, query=query, body=body, action=action)
        if 200 <= answer.status < 300:
            return answer.body
        if answer.status == 404 and missing_ok:
            return None
        raise self._http_error(answer, action)

    def send(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
             action: str) -> Answer:
        """An admin REST call returning any HTTP answer (after at most one token renewal on 401)."""
        suffix = ""
        if query:
            suffix = "?" + urlencode({key: query_value(value) for key, value in query.items() if value is not None})
        data = None if body is None else json.dumps(body).encode("utf-8")
        for attempt in (1, 2):
            headers = {"Authorization": "Bearer %s" % self.tokens.access_token(), "Accept": "application/json"}
            # After the token: the first login may have found that the base path needs /auth.
            url = self.base_url + path + suffix
            if data is not None:
                headers["Content-Type"] = "application/json"
            answer = self.transport.open(method, url, data, headers, action)
            if answer.status != 401 or attempt == 2:
                return answer
            # Keycloak checks the bearer token before the call: nothing was applied. Renew once.
            self.tokens.renew()
        return answer  # pragma: no cover - the loop always returns

    def _http_error(self, answer: Answer, action: str) -> KeycloakError:
        return admin_call_error(self.where, self.identity, answer, action)

    # Users and realms --------------------------------------------------------------------------
    def find_user(self, realm: str, username: str) -> dict[str, Any] | None:
        """The user with exactly this username (case-insensitive, as Keycloak stores them), or None."""
        users = self.call("GET", "/admin/realms/%s/users" % path_segment(realm),
                          query={"username": username, "exact": True},
                          action="look up user %r in realm %s" % (username, realm))
        # exact=true is honoured since Keycloak 12; check again in case of an older server.
        matches = [user for user in users or [] if str(user.get("username", "")).lower() == username.lower()]
        return matches[0] if matches else None

    def get_user(self, realm: str, user_id: str) -> dict[str, Any]:
        return self.call("GET", "/admin/realms/%s/users/%s" % (path_segment(realm), path_segment(user_id)),
                         action="read user %s in realm %s" % (user_id, realm))

    def realm_password_policy(self, realm: str) -> str:
        """The realm's password policy string (``length(12) and digits(1)``...), "" when none."""
        representation = self.call("GET", "/admin/realms/%s" % path_segment(realm), action="read realm %s" % realm)
        return str((representation or {}).get("passwordPolicy") or "")

    def reset_password(self, realm: str, user_id: str, password: str, temporary: bool = False) -> None:
        """Set the user's password (permanent unless ``temporary``).

        Raises :class:`KeycloakPasswordRejected` (400: policy, history, read-only user) and
        :class:`KeycloakOutcomeUnknown` when the answer was lost or was a 5xx (find out by logging in).
        """
        action = "reset the password of user %s in realm %s" % (user_id, realm)
        try:
            answer = self.send("PUT", "/admin/realms/%s/users/%s/reset-password" % (path_segment(realm), path_segment(user_id)),
                               body={"type": "password", "value": password, "temporary": bool(temporary)},
                               action=action)
        except KeycloakConnectionError as exc:
            if exc.request_sent:
                raise KeycloakOutcomeUnknown("%s The password may or may not have been changed: log in to find out."
                                             % exc) from None
            raise
        if 200 <= answer.status < 300:
            return
        if answer.status == 400:
            error, description = answer.error_fields()
            raise KeycloakPasswordRejected("%s refused the new password for user %s in realm %s (%s)."
                                           % (self.where, user_id, realm, answer.reason()), error, description)
        if answer.status >= 500:
            raise KeycloakOutcomeUnknown("%s failed (%d: %s) while trying to %s; the password may or may not have "
                                         "been changed: log in to find out."
                                         % (self.where, answer.status, answer.reason(), action))
        raise self._http_error(answer, action)

    def logout_user(self, realm: str, user_id: str) -> None:
        """End every session of the user (a password reset does not)."""
        self.call("POST", "/admin/realms/%s/users/%s/logout" % (path_segment(realm), path_segment(user_id)),
                  action="log out user %s in realm %s" % (user_id, realm))
