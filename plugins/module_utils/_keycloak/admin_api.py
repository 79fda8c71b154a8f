# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keycloak Admin REST API client: options, tokens (with refresh), the calls the collection makes,
readable errors. Uses ansible's ``open_url``: no third-party library.

Tokens. The first call logs in (password grant when a username is given, else client
credentials). An access token is refreshed shortly before it expires (master realm tokens live
60 s), with the refresh token when there is one, else by logging in again. An admin call answered
401 (token revoked or expired early) gets a new token and is sent again, once: Keycloak checks the
token before doing anything, so the call was not applied.

Lockouts. A password the token endpoint rejected is never sent again by this object: the next
attempt raises at once. Brute-force detection counts failed logins, so an automation that keeps
re-sending a stale password (community.general's keycloak modules do on every 401) can lock the
very account it manages. Refreshing does not send the password at all.

Base path. Keycloak before 17 served everything under ``/auth``. When the first token request
answers a routing 404, the other form of the URL (with or without ``/auth``) is probed with the
credential-free OpenID discovery document, and used from then on when it answers.
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import socket
import ssl
import time
from typing import Any, Callable, Mapping, Optional
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

DEFAULT_REALM = "master"
DEFAULT_CLIENT_ID = "admin-cli"
DEFAULT_TIMEOUT = 30
USER_AGENT = "atlas.hardening"
# Refresh when less than this part of the token's life is left (at most REFRESH_MARGIN_MAX s).
REFRESH_MARGIN_RATIO = 0.2
REFRESH_MARGIN_MAX = 10.0
LEGACY_PREFIX = "/auth"

KEYCLOAK_CONNECTION_ARGSPEC: dict[str, dict[str, Any]] = {
    # no_log is explicit everywhere: validate-modules takes the "key" in "keycloak" for a secret.
    "keycloak_url": {"type": "str", "no_log": False, "fallback": (env_fallback, ["KEYCLOAK_URL"])},
    "keycloak_realm": {"type": "str", "no_log": False, "default": DEFAULT_REALM,
                       "fallback": (env_fallback, ["KEYCLOAK_REALM"])},
    "keycloak_client_id": {"type": "str", "no_log": False, "default": DEFAULT_CLIENT_ID,
                           "fallback": (env_fallback, ["KEYCLOAK_CLIENT_ID"])},
    "keycloak_client_secret": {"type": "str", "no_log": True, "fallback": (env_fallback, ["KEYCLOAK_CLIENT_SECRET"])},
    "keycloak_username": {"type": "str", "no_log": False, "fallback": (env_fallback, ["KEYCLOAK_USER"])},
    "keycloak_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["KEYCLOAK_PASSWORD"])},
    "keycloak_validate_certs": {"type": "bool", "no_log": False, "default": True},
    "keycloak_ca_cert": {"type": "path", "no_log": False},
    "keycloak_timeout": {"type": "int", "no_log": False, "default": DEFAULT_TIMEOUT},
}


def keycloak_argument_spec() -> dict[str, dict[str, Any]]:
    """A fresh copy of :data:`KEYCLOAK_CONNECTION_ARGSPEC`, safe to modify."""
    return copy.deepcopy(KEYCLOAK_CONNECTION_ARGSPEC)


# ----------------------------------------------------------------------------------------------
# Errors
class KeycloakError(HardeningError):
    """Any Keycloak failure; the message says what failed, where, and what to check."""


class KeycloakConfigError(KeycloakError):
    """The connection options are incomplete (nothing was sent)."""


class KeycloakConnectionError(KeycloakError):
    """No HTTP answer. ``request_sent`` False: the request never left (refused, DNS, TLS)."""

    def __init__(self, message: str, request_sent: bool = False, **details: Any) -> None:
        super().__init__(message, **details)
        self.request_sent = request_sent


class KeycloakAuthError(KeycloakError):
    """The token endpoint refused the credentials. ``error``/``description`` are Keycloak's."""

    def __init__(self, message: str, error: str = "", description: str = "", **details: Any) -> None:
        super().__init__(message, **details)
        self.error = error
        self.description = description


class KeycloakCredentialsRejected(KeycloakAuthError):
    """Wrong username or password (401 invalid_grant "Invalid user credentials")."""


class KeycloakAccountNotReady(KeycloakAuthError):
    """The password is right but the account cannot log in yet (400 invalid_grant: pending
    required actions, such as a temporary password, or a disabled account)."""


class KeycloakPermissionError(KeycloakError):
    """The token is valid but lacks the admin role for this call (403)."""


class KeycloakNotFoundError(KeycloakError):
    """The realm, user or path does not exist (404)."""


class KeycloakRequestError(KeycloakError):
    """Keycloak refused (4xx) or failed (5xx) a call; ``status`` and ``body`` hold its answer."""

    def __init__(self, message: str, status: int = 0, body: Any = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.status = status
        self.body = body


class KeycloakPasswordRejected(KeycloakRequestError):
    """reset-password answered 400: password policy, password history or a read-only user.
    ``error`` is Keycloak's message key, ``description`` its text (never the password)."""

    def __init__(self, message: str, error: str = "", description: str = "", **details: Any) -> None:
        super().__init__(message, status=400, **details)
        self.error = error
        self.description = description


class KeycloakOutcomeUnknown(KeycloakError):
    """A write was sent but no usable answer came back (timeout, dropped connection, 5xx)."""


# ----------------------------------------------------------------------------------------------
class _Answer:
    def __init__(self, status: int, raw: bytes) -> None:
        self.status = status
        self.raw = raw

    @property
    def body(self) -> Any:
        if not self.raw:
            return None
        try:
            return json.loads(self.raw.decode("utf-8"))
        except ValueError:
            return None

    def error_fields(self) -> tuple[str, str]:
        body = self.body
        if isinstance(body, dict):
            return str(body.get("error") or body.get("errorMessage") or ""), str(body.get("error_description") or "")
        text = self.raw.decode("utf-8", "replace").strip()
        return ("HTTP %d" % self.status, text[:200] if text and not text.startswith("<") else "")

    def reason(self) -> str:
        error, description = self.error_fields()
        return ": ".join(part for part in (error, description) if part) or "HTTP %d" % self.status


def _short_reason(exc: BaseException) -> str:
    reason: Any = getattr(exc, "reason", None) or exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return "certificate verify failed: %s" % (reason.verify_message or reason)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    text = str(reason)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    return match.group(1).strip() if match else text or type(reason).__name__


class KeycloakAdminAPI:
    """One identity on one Keycloak server: tokens for it and the admin calls made with them.

    ``realm`` arguments of the admin methods name the realm acted on; ``auth_realm`` is where the
    identity logs in (``master`` for the bootstrap admin).
    """

    def __init__(self, url: str, *, auth_realm: str = DEFAULT_REALM, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: Optional[str] = None, username: Optional[str] = None,
                 password: Optional[str] = None, validate_certs: bool = True, ca_cert: Optional[str] = None,
                 timeout: int = DEFAULT_TIMEOUT, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = url.rstrip("/")
        self.configured_url = self.base_url
        self.auth_realm = auth_realm or DEFAULT_REALM
        self.client_id = client_id or DEFAULT_CLIENT_ID
        self.client_secret = client_secret or None
        self.username = username or None
        self._password = password
        self.validate_certs = validate_certs
        self.ca_cert = ca_cert or None
        self.timeout = timeout
        self.clock = clock
        self.request_count = 0
        # Tokens obtained: modules add them to module.no_log_values (passwords are no_log options).
        self.no_log_values: set[str] = set()
        self._access_token: Optional[str] = None
        self._access_expires = 0.0
        self._access_lifetime = 60.0
        self._refresh_token: Optional[str] = None
        self._refresh_expires = 0.0
        self._rejected: Optional[KeycloakAuthError] = None
        self._base_checked = False

    # ------------------------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        if self.username:
            return "user %r in realm %s" % (self.username, self.auth_realm)
        return "client %r in realm %s" % (self.client_id, self.auth_realm)

    @property
    def where(self) -> str:
        return "Keycloak at %s" % self.base_url

    def login(self, username: str, password: str, auth_realm: Optional[str] = None,
              client_id: Optional[str] = None, client_secret: Optional[str] = None) -> "KeycloakAdminAPI":
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
            service_account = self.client_secret and not self.username
            client_id, client_secret = ((DEFAULT_CLIENT_ID, None) if service_account
                                        else (self.client_id, self.client_secret))
        other = KeycloakAdminAPI(self.base_url, auth_realm=auth_realm or self.auth_realm, client_id=client_id,
                                 client_secret=client_secret, username=username, password=password,
                                 validate_certs=self.validate_certs, ca_cert=self.ca_cert, timeout=self.timeout,
                                 clock=self.clock)
        other.configured_url = self.configured_url
        other._base_checked = self._base_checked  # pylint: disable=protected-access
        other.no_log_values = self.no_log_values  # one set: every token either obtains is hidden
        before = other.request_count
        try:
            other.authenticate()
        finally:
            self.request_count += other.request_count - before
        return other

    # ------------------------------------------------------------------------------------------
    # Transport
    def _open(self, method: str, url: str, data: Optional[bytes], headers: dict[str, str], action: str) -> _Answer:
        self.request_count += 1
        try:
            response = open_url(url, data=data, headers=headers, method=method, validate_certs=self.validate_certs,
                                ca_path=self.ca_cert, timeout=self.timeout, http_agent=USER_AGENT,
                                follow_redirects="urllib2", use_netrc=False)
            return _Answer(response.getcode(), response.read())
        except HTTPError as exc:
            try:
                raw = exc.read()
            except (OSError, AttributeError):
                raw = b""
            return _Answer(exc.code, raw or b"")
        except (URLError, UrlsConnectionError, OSError, ssl.SSLError, http.client.HTTPException) as exc:
            raise self._transport_error(exc, url, action) from None

    def _transport_error(self, exc: BaseException, url: str, action: str) -> KeycloakConnectionError:
        reason = getattr(exc, "reason", None)
        base = self.configured_url
        # urllib wraps failures to connect or send in URLError; a timeout or a closed connection
        # while waiting for the answer comes through raw: then Keycloak may have processed it.
        sent = not isinstance(exc, (URLError, UrlsConnectionError))
        if isinstance(exc, ssl.SSLError) or isinstance(reason, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(
                exc):
            return KeycloakConnectionError(
                "TLS verification failed for Keycloak at %s while trying to %s: %s. Check keycloak_ca_cert (the CA "
                "that signed Keycloak's certificate), or set keycloak_validate_certs=false for a test server."
                % (base, action, _short_reason(exc)))
        if isinstance(exc, (socket.timeout, TimeoutError)) or isinstance(reason, (socket.timeout, TimeoutError)):
            return KeycloakConnectionError(
                "Keycloak at %s did not answer within %s s while trying to %s: check keycloak_url, the network, "
                "and keycloak_timeout." % (base, self.timeout, action), request_sent=sent)
        return KeycloakConnectionError(
            "Cannot reach Keycloak at %s while trying to %s: %s. Check keycloak_url / KEYCLOAK_URL and that "
            "Keycloak is running and reachable from this host." % (base, action, _short_reason(exc)),
            request_sent=sent)

    def _token_url(self, base: Optional[str] = None) -> str:
        return "%s/realms/%s/protocol/openid-connect/token" % (base or self.base_url, quote(self.auth_realm, safe=""))

    # ------------------------------------------------------------------------------------------
    # Tokens
    def authenticate(self) -> None:
        """Get a fresh token now with the configured credentials (validates them)."""
        self._access_token = None
        self._refresh_token = None
        self._credential_grant()

    def access_token(self) -> str:
        """A token valid for a few more seconds at least, refreshing or logging in when needed."""
        if self._access_token and self.clock() < self._access_expires - self._margin():
            return self._access_token
        self._renew()
        return self._access_token or ""

    def _margin(self) -> float:
        lifetime = max(self._access_lifetime, 1.0)
        return min(REFRESH_MARGIN_MAX, lifetime * REFRESH_MARGIN_RATIO)

    def _renew(self) -> None:
        if self._refresh_token and self.clock() < self._refresh_expires - 1.0:
            if self._refresh_grant():
                return
        self._credential_grant()

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
        raise self._http_error(answer, "refresh the token of %s" % self.identity)

    def _token_request(self, form: Mapping[str, str], action: str) -> _Answer:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        data = urlencode(form).encode("ascii")
        answer = self._open("POST", self._token_url(), data, headers, action)
        if answer.status == 404 and not self._base_checked:
            if self._realm_missing(answer):
                self._base_checked = True
                return answer
            alternative = self._alternative_base()
            if alternative is not None:
                self.base_url = alternative
                answer = self._open("POST", self._token_url(), data, headers, action)
        self._base_checked = True
        return answer

    @staticmethod
    def _realm_missing(answer: _Answer) -> bool:
        return answer.error_fields()[0] == "Realm does not exist"

    def _alternative_base(self) -> Optional[str]:
        """The base URL with ``/auth`` added or removed, if Keycloak answers there (credential-free probe)."""
        if self.base_url.endswith(LEGACY_PREFIX):
            candidate = self.base_url[:-len(LEGACY_PREFIX)]
        else:
            candidate = self.base_url + LEGACY_PREFIX
        probe = "%s/realms/%s/.well-known/openid-configuration" % (candidate, quote(self.auth_realm, safe=""))
        answer = self._open("GET", probe, None, {"Accept": "application/json"},
                            "probe for Keycloak's base path at %s" % candidate)
        if answer.status == 200 and isinstance(answer.body, dict) and "token_endpoint" in answer.body:
            return candidate
        return None

    def _store_tokens(self, answer: _Answer) -> None:
        body = answer.body if isinstance(answer.body, dict) else {}
        token = body.get("access_token")
        if not token:
            raise KeycloakRequestError("%s answered the token request without an access token: is %s a Keycloak "
                                       "server?" % (self.where, self.configured_url), answer.status)
        now = self.clock()
        self._access_token = str(token)
        self._access_lifetime = float(body.get("expires_in") or 60)
        self._access_expires = now + self._access_lifetime
        self._refresh_token = body.get("refresh_token") or None
        self._refresh_expires = now + float(body.get("refresh_expires_in") or 0)
        self.no_log_values.add(self._access_token)
        if self._refresh_token:
            self.no_log_values.add(self._refresh_token)

    def _login_error(self, answer: _Answer) -> KeycloakError:
        error, description = answer.error_fields()
        reason = answer.reason()
        if answer.status == 404:
            if error == "Realm does not exist":
                return KeycloakNotFoundError("%s has no realm %r to log in to (Realm does not exist): check "
                                             "keycloak_realm." % (self.where, self.auth_realm))
            alternative = "with" if not self.configured_url.endswith(LEGACY_PREFIX) else "without"
            return KeycloakNotFoundError(
                "No Keycloak token endpoint at %s, nor %s the /auth prefix (404): check keycloak_url (the server "
                "root, e.g. https://sso.example; add /auth only for Keycloak before 17 or a custom "
                "--http-relative-path)." % (self._token_url(self.configured_url), alternative))
        if self.username and error == "invalid_grant" and answer.status == 401:
            return KeycloakCredentialsRejected(
                "%s rejected the password of %s (%s): check keycloak_username / keycloak_password (KEYCLOAK_USER / "
                "KEYCLOAK_PASSWORD). Not retried, so that brute-force detection cannot lock the account; if the "
                "password was rotated, use the current one from Vault." % (self.where, self.identity, reason),
                error, description)
        if self.username and error == "invalid_grant":
            return KeycloakAccountNotReady(
                "%s accepted no login for %s (%s): the account is disabled or has pending required actions (for "
                "example a temporary password). Finish them in the admin console, or reset the password with "
                "temporary=false." % (self.where, self.identity, reason), error, description)
        if error in ("invalid_client", "unauthorized_client"):
            return KeycloakAuthError(
                "%s rejected the client %r in realm %s (%s): check keycloak_client_id / keycloak_client_secret "
                "(KEYCLOAK_CLIENT_ID / KEYCLOAK_CLIENT_SECRET), and that the client allows %s."
                % (self.where, self.client_id, self.auth_realm, reason,
                   "direct access grants" if self.username else "service accounts"), error, description)
        if answer.status in (400, 401) and error:
            return KeycloakAuthError("%s refused to log in %s (%s)." % (self.where, self.identity, reason),
                                     error, description)
        return self._http_error(answer, "log in as %s" % self.identity)

    # ------------------------------------------------------------------------------------------
    # Admin calls
    def call(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None, body: Any = None,
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

    def send(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None, body: Any = None,
             action: str) -> _Answer:
        """An admin REST call returning any HTTP answer (after at most one token renewal on 401)."""
        suffix = ""
        if query:
            suffix = "?" + urlencode({key: _query_value(value) for key, value in query.items() if value is not None})
        data = None if body is None else json.dumps(body).encode("utf-8")
        for attempt in (1, 2):
            headers = {"Authorization": "Bearer %s" % self.access_token(), "Accept": "application/json"}
            # After the token: the first login may have found that the base path needs /auth.
            url = self.base_url + path + suffix
            if data is not None:
                headers["Content-Type"] = "application/json"
            answer = self._open(method, url, data, headers, action)
            if answer.status != 401 or attempt == 2:
                return answer
            # Keycloak checks the bearer token before the call: nothing was applied. Renew once.
            self._access_token = None
            self._renew()
        return answer  # pragma: no cover - the loop always returns

    def _http_error(self, answer: _Answer, action: str) -> KeycloakError:
        reason = answer.reason()
        if answer.status == 401:
            return KeycloakAuthError("%s rejected the token of %s (401: %s) while trying to %s, even after a new "
                                     "login: check the server's clock and the realm's token settings."
                                     % (self.where, self.identity, reason, action))
        if answer.status == 403:
            return KeycloakPermissionError(
                "%s denied %s the right to %s (403): give it the needed admin role (realm-management: manage-users "
                "and view-realm, or the master realm's admin role)." % (self.where, self.identity, action))
        if answer.status == 404:
            return KeycloakNotFoundError("%s found nothing to %s (404: %s)." % (self.where, action, reason))
        if answer.status >= 500:
            return KeycloakRequestError("%s failed (%d: %s) while trying to %s: check Keycloak's logs."
                                        % (self.where, answer.status, reason, action), answer.status, answer.body)
        return KeycloakRequestError("%s refused to %s (%d: %s)." % (self.where, action, answer.status, reason),
                                    answer.status, answer.body)

    # Users and realms --------------------------------------------------------------------------
    def find_user(self, realm: str, username: str) -> Optional[dict[str, Any]]:
        """The user with exactly this username (case-insensitive, as Keycloak stores them), or None."""
        users = self.call("GET", "/admin/realms/%s/users" % _segment(realm),
                          query={"username": username, "exact": True},
                          action="look up user %r in realm %s" % (username, realm))
        # exact=true is honoured since Keycloak 12; check again in case of an older server.
        matches = [user for user in users or [] if str(user.get("username", "")).lower() == username.lower()]
        return matches[0] if matches else None

    def get_user(self, realm: str, user_id: str) -> dict[str, Any]:
        return self.call("GET", "/admin/realms/%s/users/%s" % (_segment(realm), _segment(user_id)),
                         action="read user %s in realm %s" % (user_id, realm))

    def realm_password_policy(self, realm: str) -> str:
        """The realm's password policy string (``length(12) and digits(1)``...), "" when none."""
        representation = self.call("GET", "/admin/realms/%s" % _segment(realm), action="read realm %s" % realm)
        return str((representation or {}).get("passwordPolicy") or "")

    def reset_password(self, realm: str, user_id: str, password: str, temporary: bool = False) -> None:
        """Set the user's password (permanent unless ``temporary``).

        Raises :class:`KeycloakPasswordRejected` (400: policy, history, read-only user) and
        :class:`KeycloakOutcomeUnknown` when the answer was lost or was a 5xx (find out by logging in).
        """
        action = "reset the password of user %s in realm %s" % (user_id, realm)
        try:
            answer = self.send("PUT", "/admin/realms/%s/users/%s/reset-password" % (_segment(realm), _segment(user_id)),
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
        self.call("POST", "/admin/realms/%s/users/%s/logout" % (_segment(realm), _segment(user_id)),
                  action="log out user %s in realm %s" % (user_id, realm))


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ----------------------------------------------------------------------------------------------
def keycloak_client_from_params(params: Mapping[str, Any], credentials_required: bool = True) -> KeycloakAdminAPI:
    """Build a :class:`KeycloakAdminAPI` from module parameters (``keycloak_*`` options).

    Nothing is sent yet: the first call logs in (call ``authenticate()`` to check credentials early).
    With ``credentials_required=False`` the options may name no identity: the client then serves
    only as a base for :meth:`KeycloakAdminAPI.login` with credentials from elsewhere (Vault), and
    an admin call made with it directly fails with a clear message.
    """
    url = (params.get("keycloak_url") or "").strip()
    if not url:
        raise KeycloakConfigError("No Keycloak URL: set keycloak_url or the KEYCLOAK_URL environment variable "
                                  "(the server root, e.g. https://sso.example).")
    if not re.match(r"^https?://[^/]+", url):
        raise KeycloakConfigError("keycloak_url %r is not an http(s) URL: use e.g. https://sso.example." % url)
    username = params.get("keycloak_username")
    if username and not params.get("keycloak_password"):
        raise KeycloakConfigError("keycloak_username is set but keycloak_password is not (KEYCLOAK_PASSWORD).")
    if credentials_required and not username and not params.get("keycloak_client_secret"):
        raise KeycloakConfigError("No Keycloak credentials: set keycloak_username and keycloak_password, or "
                                  "keycloak_client_id and keycloak_client_secret for a service-account client.")
    ca_cert = params.get("keycloak_ca_cert")
    if ca_cert:
        try:
            with open(ca_cert, "rb"):
                pass
        except OSError as exc:
            raise KeycloakConfigError("keycloak_ca_cert %s cannot be read (%s): give the PEM file of the CA that "
                                      "signed Keycloak's certificate." % (ca_cert, exc.strerror)) from None
    validate = params.get("keycloak_validate_certs")
    timeout = params.get("keycloak_timeout")
    return KeycloakAdminAPI(
        url,
        auth_realm=params.get("keycloak_realm") or DEFAULT_REALM,
        client_id=params.get("keycloak_client_id") or DEFAULT_CLIENT_ID,
        client_secret=params.get("keycloak_client_secret"),
        username=username,
        password=params.get("keycloak_password"),
        validate_certs=True if validate is None else bool(validate),
        ca_cert=ca_cert,
        timeout=DEFAULT_TIMEOUT if timeout is None else int(timeout),
    )


def keycloak_client_from_module(module: Any) -> KeycloakAdminAPI:
    """:func:`keycloak_client_from_params` for an AnsibleModule: fail_json on error, and every token
    obtained later is hidden from the module's output (the set is shared)."""
    try:
        client = keycloak_client_from_params(module.params)
    except HardeningError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    client.no_log_values = module.no_log_values
    return client
