# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: OpenID tokens for one Keycloak identity, refreshed before they expire.

The first call logs in (password grant when a username is given, else client credentials). An
access token is refreshed shortly before it expires (master realm tokens live 60 s), with the
refresh token when there is one, else by logging in again.

Lockouts. A password the token endpoint rejected is never sent again by this object: the next
attempt raises at once. Brute-force detection counts failed logins, so an automation that keeps
re-sending a stale password (community.general's keycloak modules do on every 401) can lock the
very account it manages. Refreshing does not send the password at all.

Base path. Keycloak before 17 served everything under ``/auth``. When the first token request
answers a routing 404, the other form of the URL (with or without ``/auth``) is probed with the
credential-free OpenID discovery document, and used from then on when it answers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Callable
from urllib.parse import urlencode

from ansible_collections.atlas.hardening.plugins.module_utils._common.urls import path_segment
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.errors import (
    KeycloakAccountNotReady,
    KeycloakAuthError,
    KeycloakConfigError,
    KeycloakCredentialsRejected,
    KeycloakError,
    KeycloakNotFoundError,
    KeycloakRequestError,
    admin_call_error,
)
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.options import DEFAULT_CLIENT_ID, DEFAULT_REALM
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.transport import Answer, KeycloakTransport

# Refresh when less than this part of the token's life is left (at most REFRESH_MARGIN_MAX s).
REFRESH_MARGIN_RATIO = 0.2
REFRESH_MARGIN_MAX = 10.0
LEGACY_PREFIX = "/auth"


class TokenSource:
    """Access tokens for one identity (a user with a password, or a client with a secret)."""

    def __init__(self, transport: KeycloakTransport, *, auth_realm: str = DEFAULT_REALM,
                 client_id: str = DEFAULT_CLIENT_ID, client_secret: str | None = None,
                 username: str | None = None, password: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.auth_realm = auth_realm or DEFAULT_REALM
        self.client_id = client_id or DEFAULT_CLIENT_ID
        self.client_secret = client_secret or None
        self.username = username or None
        self._password = password
        self.clock = clock
        # Tokens obtained: modules add them to module.no_log_values (passwords are no_log options).
        self.no_log_values: set[str] = set()
        self.base_checked = False
        self._access_token: str | None = None
        self._access_expires = 0.0
        self._access_lifetime = 60.0
        self._refresh_token: str | None = None
        self._refresh_expires = 0.0
        self._rejected: KeycloakAuthError | None = None

    @property
    def identity(self) -> str:
        if self.username:
            return "user %r in realm %s" % (self.username, self.auth_realm)
        return "client %r in realm %s" % (self.client_id, self.auth_realm)

    def authenticate(self) -> None:
        """Get a fresh token now with the configured credentials (validates them)."""
        self._access_token = None
        self._refresh_token = None
        self._credential_grant()

    def access_token(self) -> str:
        """A token valid for a few more seconds at least, refreshing or logging in when needed."""
        if self._access_token and self.clock() < self._access_expires - self._margin():
            return self._access_token
        self.renew()
        return self._access_token or ""

    def renew(self) -> None:
        """Drop the access token and get another (refresh grant first, else log in again)."""
        self._access_token = None
        if self._refresh_token and self.clock() < self._refresh_expires - 1.0:
            if self._refresh_grant():
                return
        self._credential_grant()

    def _margin(self) -> float:
        lifetime = max(self._access_lifetime, 1.0)
        return min(REFRESH_MARGIN_MAX, lifetime * REFRESH_MARGIN_RATIO)

    def _credential_grant(self) -> None:
        if self._rejected is not None:
            # Never send a rejected password again: brute-force detection would count it.
            raise self._rejected
        form: dict[str, str] = {"client_id": self.client_id}
        if self.username:
            if self._password is None:
                raise KeycloakConfigError("No Keycloak password for %s: set keycloak_password (KEYCLOAK_PASSWORD)."
                                          % self.identity)
            form.update(grant_type="password", username=self.username, password=self._password)
            action = "log in as %s" % self.identity
        else:
            if not self.client_secret:
                raise KeycloakConfigError(
                    "No Keycloak identity to log in with: set keycloak_username and keycloak_password, or "
                    "keycloak_client_id and keycloak_client_secret (KEYCLOAK_CLIENT_SECRET).")
            form["grant_type"] = "client_credentials"
            action = "log in as %s (client credentials)" % self.identity
        if self.client_secret:
            form["client_secret"] = self.client_secret
        answer = self._token_request(form, action)
        if answer.status == 200:
            self._store_tokens(answer)
            return
        error = self._login_error(answer)
        if isinstance(error, KeycloakAuthError):
            self._rejected = error
        raise error

    def _refresh_grant(self) -> bool:
        form = {"client_id": self.client_id, "grant_type": "refresh_token", "refresh_token": self._refresh_token or ""}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        answer = self._token_request(form, "refresh the token of %s" % self.identity)
        if answer.status == 200:
            self._store_tokens(answer)
            return True
        # Session ended, token revoked...: log in again (with the rejected-password guard).
        self._refresh_token = None
        if answer.status in (400, 401):
            return False
        raise admin_call_error(self.transport.where, self.identity, answer, "refresh the token of %s" % self.identity)

    def token_url(self, base: str | None = None) -> str:
        return "%s/realms/%s/protocol/openid-connect/token" % (base or self.transport.base_url,
                                                               path_segment(self.auth_realm))

    def _token_request(self, form: Mapping[str, str], action: str) -> Answer:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        data = urlencode(form).encode("ascii")
        answer = self.transport.open("POST", self.token_url(), data, headers, action)
        if answer.status == 404 and not self.base_checked:
            if _realm_missing(answer):
                self.base_checked = True
                return answer
            alternative = self._alternative_base()
            if alternative is not None:
                self.transport.base_url = alternative
                answer = self.transport.open("POST", self.token_url(), data, headers, action)
        self.base_checked = True
        return answer

    def _alternative_base(self) -> str | None:
        """The base URL with ``/auth`` added or removed, if Keycloak answers there (credential-free probe)."""
        base_url = self.transport.base_url
        candidate = base_url[:-len(LEGACY_PREFIX)] if base_url.endswith(LEGACY_PREFIX) else base_url + LEGACY_PREFIX
        probe = "%s/realms/%s/.well-known/openid-configuration" % (candidate, path_segment(self.auth_realm))
        answer = self.transport.open("GET", probe, None, {"Accept": "application/json"},
                                     "probe for Keycloak's base path at %s" % candidate)
        if answer.status == 200 and isinstance(answer.body, dict) and "token_endpoint" in answer.body:
            return candidate
        return None

    def _store_tokens(self, answer: Answer) -> None:
        body = answer.body if isinstance(answer.body, dict) else {}
        token = body.get("access_token")
        if not token:
            raise KeycloakRequestError("%s answered the token request without an access token: is %s a Keycloak "
                                       "server?" % (self.transport.where, self.transport.configured_url),
                                       answer.status)
        now = self.clock()
        self._access_token = str(token)
        self._access_lifetime = float(body.get("expires_in") or 60)
        self._access_expires = now + self._access_lifetime
        self._refresh_token = body.get("refresh_token") or None
        self._refresh_expires = now + float(body.get("refresh_expires_in") or 0)
        self.no_log_values.add(self._access_token)
        if self._refresh_token:
            self.no_log_values.add(self._refresh_token)

    def _login_error(self, answer: Answer) -> KeycloakError:
        where = self.transport.where
        configured_url = self.transport.configured_url
        error, description = answer.error_fields()
        reason = answer.reason()
        if answer.status == 404:
            if error == "Realm does not exist":
                return KeycloakNotFoundError("%s has no realm %r to log in to (Realm does not exist): check "
                                             "keycloak_realm." % (where, self.auth_realm))
            alternative = "with" if not configured_url.endswith(LEGACY_PREFIX) else "without"
            return KeycloakNotFoundError(
                "No Keycloak token endpoint at %s, nor %s the /auth prefix (404): check keycloak_url (the server "
                "root, e.g. https://sso.example; add /auth only for Keycloak before 17 or a custom "
                "--http-relative-path)." % (self.token_url(configured_url), alternative))
        if self.username and error == "invalid_grant" and answer.status == 401:
            return KeycloakCredentialsRejected(
                "%s rejected the password of %s (%s): check keycloak_username / keycloak_password (KEYCLOAK_USER / "
                "KEYCLOAK_PASSWORD). Not retried, so that brute-force detection cannot lock the account; if the "
                "password was rotated, use the current one from Vault." % (where, self.identity, reason),
                error, description)
        if self.username and error == "invalid_grant":
            return KeycloakAccountNotReady(
                "%s accepted no login for %s (%s): the account is disabled or has pending required actions (for "
                "example a temporary password). Finish them in the admin console, or reset the password with "
                "temporary=false." % (where, self.identity, reason), error, description)
        if error in ("invalid_client", "unauthorized_client"):
            return KeycloakAuthError(
                "%s rejected the client %r in realm %s (%s): check keycloak_client_id / keycloak_client_secret "
                "(KEYCLOAK_CLIENT_ID / KEYCLOAK_CLIENT_SECRET), and that the client allows %s."
                % (where, self.client_id, self.auth_realm, reason,
                   "direct access grants" if self.username else "service accounts"), error, description)
        if answer.status in (400, 401) and error:
            return KeycloakAuthError("%s refused to log in %s (%s)." % (where, self.identity, reason),
                                     error, description)
        return admin_call_error(where, self.identity, answer, "log in as %s" % self.identity)


def _realm_missing(answer: Answer) -> bool:
    return answer.error_fields()[0] == "Realm does not exist"
