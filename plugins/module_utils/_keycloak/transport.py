# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: HTTP to one Keycloak server with ansible's ``open_url`` (no third-party library).

Every request is counted; an HTTP error is an :class:`Answer` like any other, and only a missing
answer raises (:class:`KeycloakConnectionError`, saying whether Keycloak may have seen it).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from typing import Any
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.atlas.hardening.plugins.module_utils._common.network_errors import short_reason
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.errors import KeycloakConnectionError
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.options import DEFAULT_TIMEOUT

USER_AGENT = "atlas.hardening"


class Answer:
    """One HTTP answer: status and raw body, decoded on demand."""

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
        return (f"HTTP {self.status}", text[:200] if text and not text.startswith("<") else "")

    def reason(self) -> str:
        error, description = self.error_fields()
        return ": ".join(part for part in (error, description) if part) or f"HTTP {self.status}"


class KeycloakTransport:
    """Requests to one server. ``base_url`` may gain or lose ``/auth`` (see tokens.py); messages
    name ``configured_url``, the URL the user gave."""

    def __init__(self, url: str, *, validate_certs: bool = True, ca_cert: str | None = None,
                 timeout: int = DEFAULT_TIMEOUT) -> None:
        self.base_url = url.rstrip("/")
        self.configured_url = self.base_url
        self.validate_certs = validate_certs
        self.ca_cert = ca_cert or None
        self.timeout = timeout
        self.request_count = 0

    @property
    def where(self) -> str:
        return f"Keycloak at {self.base_url}"

    def open(self, method: str, url: str, data: bytes | None, headers: dict[str, str], action: str) -> Answer:
        self.request_count += 1
        try:
            response = open_url(url, data=data, headers=headers, method=method, validate_certs=self.validate_certs,
                                ca_path=self.ca_cert, timeout=self.timeout, http_agent=USER_AGENT,
                                follow_redirects="urllib2", use_netrc=False)
            return Answer(response.getcode(), response.read())
        except HTTPError as exc:
            try:
                raw = exc.read()
            except (OSError, AttributeError):
                raw = b""
            return Answer(exc.code, raw or b"")
        except (URLError, UrlsConnectionError, OSError, ssl.SSLError, http.client.HTTPException) as exc:
            raise self._transport_error(exc, action) from None

    def _transport_error(self, exc: BaseException, action: str) -> KeycloakConnectionError:
        reason = getattr(exc, "reason", None)
        base = self.configured_url
        # urllib wraps failures to connect or send in URLError; a timeout or a closed connection
        # while waiting for the answer comes through raw: then Keycloak may have processed it.
        sent = not isinstance(exc, (URLError, UrlsConnectionError))
        if isinstance(exc, ssl.SSLError) or isinstance(reason, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(
                exc):
            return KeycloakConnectionError(
                f"TLS verification failed for Keycloak at {base} while trying to {action}: {short_reason(exc)}. Check "
                "keycloak_ca_cert (the CA that signed Keycloak's certificate), or set keycloak_validate_certs=false "
                "for a test server.")
        if isinstance(exc, (socket.timeout, TimeoutError)) or isinstance(reason, (socket.timeout, TimeoutError)):
            return KeycloakConnectionError(
                f"Keycloak at {base} did not answer within {self.timeout} s while trying to {action}: check "
                "keycloak_url, the network, and keycloak_timeout.", request_sent=sent)
        return KeycloakConnectionError(
            f"Cannot reach Keycloak at {base} while trying to {action}: {short_reason(exc)}. Check keycloak_url / "
            "KEYCLOAK_URL and that Keycloak is running and reachable from this host.",
            request_sent=sent)

    def sibling(self) -> KeycloakTransport:
        """A transport with the same server and TLS settings (and the base path found), counting apart."""
        other = KeycloakTransport(self.base_url, validate_certs=self.validate_certs, ca_cert=self.ca_cert,
                                  timeout=self.timeout)
        other.configured_url = self.configured_url
        return other
