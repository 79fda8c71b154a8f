"""Signed JWTs for the emulated token endpoint.

Real Keycloak signs with RS256; clients of the Admin API treat the token as opaque, so an HS256
signature with a per-server key is enough to make forged or altered tokens fail like they would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidToken(Exception):
    """The token is not one this server signed."""


class TokenSigner:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self.kid = secrets.token_hex(8)

    def sign(self, claims: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def verify(self, token: str) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a JWT")
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            signature = _unb64(parts[2])
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidToken(str(exc)) from None
        if not hmac.compare_digest(signature, expected):
            raise InvalidToken("bad signature")
        if not isinstance(claims, dict):
            raise InvalidToken("claims are not an object")
        return claims
