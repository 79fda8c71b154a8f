# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Vault error types, and Vault answers turned into one readable message.

Every failure is raised as a :class:`VaultError` (a ``HardeningError``) whose message names the
Vault URL, what was being done and what to check.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.network_errors import short_reason


class VaultError(HardeningError):
    """Any Vault failure; the message says what failed, where, and what to check."""


class VaultConfigError(VaultError):
    """The connection options are incomplete or inconsistent (nothing was sent)."""


class VaultConnectionError(VaultError):
    """Vault could not be reached or did not answer.

    ``request_sent`` is False when the request never left (connection refused, DNS, TLS, connect
    timeout): Vault did not apply it. When True (read timeout, dropped connection) a write may or
    may not have been applied.
    """

    def __init__(self, message: str, request_sent: bool = False, **details: Any) -> None:
        super().__init__(message, **details)
        self.request_sent = request_sent


class VaultAuthError(VaultError):
    """Vault rejected the credentials: a wrong, expired or revoked token, or a failed login."""


class VaultPermissionError(VaultError):
    """The token is valid but its policies do not allow the operation."""


class VaultNotFoundError(VaultError):
    """Nothing at that path (or the path does not exist for this token)."""


class VaultRequestError(VaultError):
    """Vault refused the request (400) or failed (5xx); ``status`` and ``errors`` hold its answer."""

    def __init__(self, message: str, status: int = 0, errors: list[str] | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.status = status
        self.errors = errors or []


@dataclass
class VaultResponse:
    """One HTTP answer from Vault: status code and parsed JSON body (None when empty)."""

    status: int
    body: Any

    @property
    def errors(self) -> list[str]:
        if isinstance(self.body, dict) and isinstance(self.body.get("errors"), list):
            return [line for error in self.body["errors"] for line in _split_multierror(str(error))]
        if self.body:
            # Not a Vault error body (a proxy or load balancer answered): show the start of it.
            return [json.dumps(self.body, sort_keys=True)[:200]]
        return []

    @property
    def data(self) -> dict[str, Any]:
        if isinstance(self.body, dict) and isinstance(self.body.get("data"), dict):
            return self.body["data"]
        return {}


def _split_multierror(text: str) -> list[str]:
    """Vault wraps some errors as "1 error occurred:\n\t* permission denied\n\n": keep the items."""
    if re.match(r"^\d+ errors? occurred:", text):
        items = [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("* ")]
        if items:
            return items
    return [text.strip()]


def http_error(where: str, response: VaultResponse, action: str, path: str = "") -> VaultError:
    """An HTTP error answer (other than 403, which needs a token lookup) as one readable error."""
    reason = "; ".join(response.errors) or "no error text"
    status = response.status
    if status == 401:
        return VaultAuthError("%s rejected the credentials (401: %s) while trying to %s: check VAULT_TOKEN / "
                              "vault_token or the login options." % (where, reason, action))
    if status == 404:
        return VaultNotFoundError("%s has nothing at %s (404) while trying to %s: check the path and mount "
                                  "point." % (where, path or "that path", action))
    if status == 429:
        return VaultRequestError("%s is rate limiting this client (429: %s) while trying to %s: retry later or "
                                 "raise vault_retries." % (where, reason, action), status, response.errors)
    if status == 503:
        return VaultRequestError("%s is sealed or unavailable (503: %s) while trying to %s: unseal it or wait "
                                 "for the active node." % (where, reason, action), status, response.errors)
    if status >= 500:
        return VaultRequestError("%s failed (%d: %s) while trying to %s; for a write, the outcome is unknown: "
                                 "check Vault's logs." % (where, status, reason, action),
                                 status, response.errors)
    return VaultRequestError("%s refused to %s (%d: %s)." % (where, action, status, reason),
                             status, response.errors)


def forbidden_error(where: str, action: str, reason: str, token_info: dict[str, Any] | None,
                    auth_method: str) -> VaultError:
    """A 403, told apart by a token lookup: a rejected token (``token_info`` None) or missing policies."""
    if token_info is None:
        if auth_method == "token":
            hint = "check VAULT_TOKEN / vault_token (the token may be wrong, expired or revoked)"
        else:
            hint = "the token from the %s login was refused; check the auth role's token settings" % auth_method
        return VaultAuthError("%s rejected the token (%s) while trying to %s: %s." % (where, reason, action, hint))
    policies = ", ".join(sorted(set(token_info.get("policies") or []) | set(token_info.get("identity_policies") or [])))
    return VaultPermissionError("%s denied permission to %s (%s): the token is valid but its policies (%s) do "
                                "not allow it. Grant the needed capabilities on that path."
                                % (where, action, reason, policies or "none"))


def transport_error(where: str, url: str, exc: BaseException, action: str, timeout: int,
                    retries: int) -> VaultConnectionError:
    """A requests exception (no HTTP answer) as one readable error, saying whether Vault may have seen it."""
    import requests.exceptions  # pylint: disable=import-outside-toplevel

    attempts = "" if retries == 0 else " (%d attempts)" % (retries + 1)
    if isinstance(exc, requests.exceptions.SSLError):
        return VaultConnectionError(
            "TLS verification failed for %s while trying to %s: %s. Check vault_ca_cert / VAULT_CACERT "
            "(the CA that signed Vault's certificate), or set vault_validate_certs=false (VAULT_SKIP_VERIFY) "
            "for a test server." % (where, action, short_reason(exc)))
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return VaultConnectionError(
            "%s did not accept a connection within %s s while trying to %s%s: check vault_url / VAULT_ADDR, "
            "firewalls, and vault_timeout." % (where, timeout, action, attempts))
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return VaultConnectionError(
            "%s did not answer within %s s while trying to %s%s; a write may or may not have been applied. "
            "Check Vault's health and vault_timeout." % (where, timeout, action, attempts),
            request_sent=True)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return VaultConnectionError("vault_url %r is not a usable URL (%s): use e.g. https://vault.example:8200."
                                    % (url, exc))
    sent = not _is_connect_failure(exc)
    suffix = "; a write may or may not have been applied" if sent else ""
    return VaultConnectionError(
        "Cannot reach %s while trying to %s: %s%s%s. Check vault_url / VAULT_ADDR and that Vault is running "
        "and reachable from this host." % (where, action, short_reason(exc), attempts, suffix), request_sent=sent)


def _is_connect_failure(exc: BaseException) -> bool:
    """True when the request never reached the server (so it was certainly not applied)."""
    import requests.exceptions  # pylint: disable=import-outside-toplevel
    import urllib3.exceptions  # pylint: disable=import-outside-toplevel

    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    seen = set()
    current: Any = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)):
            return True
        reason = getattr(current, "reason", None)
        args = getattr(current, "args", ())
        current = reason if isinstance(reason, BaseException) else (
            args[0] if args and isinstance(args[0], BaseException) else current.__context__)
    return False
