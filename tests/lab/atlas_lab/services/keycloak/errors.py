"""Keycloak's error bodies, as its JAX-RS layer and token endpoint produce them.

Keycloak 26 answers an exception thrown from an admin resource with ``{"error": <message>}``
(``KeycloakErrorHandler``: the exception message becomes ``error``), an ``ErrorResponseException``
with ``{"error": <messageKey>, "error_description": <text>}``, and OAuth errors from the token
endpoint with ``{"error": <RFC 6749 code>, "error_description": <text>}``. Raising
:class:`KeycloakError` anywhere in a handler produces one of these.
"""

from __future__ import annotations

from typing import Any

from atlas_lab.core.http_base import Response

NOT_FOUND_RESOURCE = "Unable to find matching target resource method"
SERVER_LOG_HINT = "For more on this error consult the server log."


class KeycloakError(Exception):
    """An error answer: HTTP status plus Keycloak's JSON error body."""

    def __init__(self, status: int, error: str, description: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}: {description or ''}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error}
        if self.description is not None:
            body["error_description"] = self.description
        return body

    def response(self) -> Response:
        return Response.json(self.body(), status=self.status, headers=self.headers)


def unauthorized() -> KeycloakError:
    """AdminRoot rejects a missing, malformed, expired or revoked bearer token."""
    return KeycloakError(401, "HTTP 401 Unauthorized", headers={"WWW-Authenticate": "Bearer"})


def forbidden() -> KeycloakError:
    return KeycloakError(403, "HTTP 403 Forbidden")


def not_found(message: str = "HTTP 404 Not Found") -> KeycloakError:
    return KeycloakError(404, message)


def no_route() -> KeycloakError:
    """What Keycloak on Quarkus answers for a path no resource method matches."""
    return KeycloakError(404, NOT_FOUND_RESOURCE, SERVER_LOG_HINT)


def method_not_allowed() -> KeycloakError:
    return KeycloakError(405, "HTTP 405 Method Not Allowed")


def unsupported_media_type() -> KeycloakError:
    return KeycloakError(415, "HTTP 415 Unsupported Media Type")


def bad_json() -> KeycloakError:
    return KeycloakError(400, "invalid_request", "Cannot parse the JSON")


def oauth_error(status: int, error: str, description: str) -> KeycloakError:
    """Token endpoint error (RFC 6749 section 5.2 fields)."""
    return KeycloakError(status, error, description,
                         headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
