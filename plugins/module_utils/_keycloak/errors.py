# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Keycloak error types, and Keycloak answers turned into one readable message."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError


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


def admin_call_error(where: str, identity: str, answer: Any, action: str) -> KeycloakError:
    """An admin call's error answer (``transport.Answer``) as one readable error."""
    reason = answer.reason()
    if answer.status == 401:
        return KeycloakAuthError(f"{where} rejected the token of {identity} (401: {reason}) while trying to {action}, "
                                 "even after a new login: check the server's clock and the realm's token settings.")
    if answer.status == 403:
        return KeycloakPermissionError(
            f"{where} denied {identity} the right to {action} (403): give it the needed admin role (realm-management: "
            "manage-users and view-realm, or the master realm's admin role).")
    if answer.status == 404:
        return KeycloakNotFoundError(f"{where} found nothing to {action} (404: {reason}).")
    if answer.status >= 500:
        return KeycloakRequestError(f"{where} failed ({answer.status}: {reason}) while trying to {action}: check "
                                    "Keycloak's logs.", answer.status, answer.body)
    return KeycloakRequestError(f"{where} refused to {action} ({answer.status}: {reason}).", answer.status,
                                answer.body)
