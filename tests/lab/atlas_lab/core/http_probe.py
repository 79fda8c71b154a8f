"""Small HTTP client for health checks and the few JSON calls the supervisor makes (stdlib only)."""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from typing import Any


def http_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
              timeout: float = 2.0, context: ssl.SSLContext | None = None) -> tuple[int, Any]:
    """Return (status, decoded JSON body or None). HTTP error statuses are returned, not raised;
    connection errors raise ``OSError``."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    # Loopback only: never go through an HTTP proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    try:
        decoded = json.loads(payload) if payload else None
    except ValueError:
        decoded = None
    return status, decoded


def http_ok(url: str, timeout: float = 2.0, context: ssl.SSLContext | None = None,
            headers: dict[str, str] | None = None) -> bool:
    """True when ``GET url`` answers 2xx; False on any error."""
    try:
        status = http_json("GET", url, timeout=timeout, context=context, headers=headers)[0]
    except (OSError, ValueError, http.client.HTTPException):
        return False
    return 200 <= status < 300
