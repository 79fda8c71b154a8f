# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the HTTP transport to one Kubernetes API server, counting its requests.

Requests go through one urllib3 pool built from :class:`ClientSettings` (``config.py`` resolves
them from a kubeconfig, the options or the Pod's service account) the way the official client builds
its own: same TLS, client-certificate and proxy handling. The collection talks to a handful of REST
paths, needs the response headers (API warnings), streaming (watch) and an exact count of requests,
and must behave the same across library releases, so it uses no generated API class.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from ansible_collections.atlas.hardening.plugins.module_utils._common.urls import query_value
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import (
    KubernetesApiError,
    KubernetesConnectionError,
    api_error,
    connection_error,
)

try:
    import urllib3
except ImportError as import_error:  # pragma: no cover - exercised by the missing-library test
    HAS_URLLIB3 = False
    URLLIB3_IMPORT_ERROR: ImportError | None = import_error
else:
    HAS_URLLIB3 = True
    URLLIB3_IMPORT_ERROR = None

USER_AGENT = "atlas.hardening"
# Connections kept open to the server: enough for the widest bounded concurrency (apply.MAX_CONCURRENCY).
POOL_MAXSIZE = 16


class ApiResponse:
    """A decoded answer: HTTP status, JSON body and the API server's warnings."""

    def __init__(self, status: int, data: Any, warnings: list[str]) -> None:
        self.status = status
        self.data = data
        self.warnings = warnings


class ConnectionSource:
    """Where the connection settings came from, in words a user recognises in an error message."""

    def __init__(self, description: str, credentials_hint: str) -> None:
        self.description = description
        self.credentials_hint = credentials_hint


class ClientSettings:
    """How to reach one API server: URL, TLS, proxy and the credentials sent with every request.

    ``credentials`` is any object with an ``authorization()`` method (``credentials.py``).
    """

    def __init__(self, server: str) -> None:
        self.server = server
        self.verify = True
        self.ca_file: str | None = None
        self.ca_data: str | None = None
        self.cert_file: str | None = None
        self.key_file: str | None = None
        self.tls_server_name: str | None = None
        self.proxy_url: str | None = None
        self.credentials: Any = None


class KubernetesConnection:
    """An authenticated HTTP(S) connection to one API server, counting its requests."""

    def __init__(self, settings: ClientSettings, source: ConnectionSource, timeout: float = 30.0,
                 secret_values: list[str] | None = None, user_agent: str = USER_AGENT) -> None:
        self.settings = settings
        self.source = source
        self.server = settings.server.rstrip("/")
        self.timeout = timeout
        # The list connect() fills, also later: credentials that refresh add what they obtain.
        self.secret_values = secret_values if secret_values is not None else []
        self.user_agent = user_agent
        self.request_counts: Counter = Counter()
        self._counts_lock = threading.Lock()  # requests may be sent from several threads (bounded concurrency)
        self._pool = _pool_manager(settings)
        if not settings.verify:
            # The user turned verification off on purpose; urllib3 would warn on every request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def authorization(self) -> str | None:
        """The Authorization header value of the next request (credentials refresh themselves)."""
        credentials = self.settings.credentials
        return credentials.authorization() if credentials is not None else None

    # -- requests ------------------------------------------------------------------------------
    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json") -> ApiResponse:
        """Send one request and decode its JSON answer; raise a KubernetesError on any failure."""
        status, raw, headers = self._exchange(method, path, query, body, content_type)
        return ApiResponse(status, _decode_json(raw), _warnings(headers))

    def request_bytes(self, path: str, query: dict[str, Any] | None = None) -> bytes:
        """GET ``path`` and return the body as sent (to check it against a content hash)."""
        return bytes(self._exchange("GET", path, query, None, "application/json")[1])

    def requests_since(self, before: dict[str, int]) -> dict[str, int]:
        """Requests sent since ``before`` (a copy of ``request_counts``), by HTTP method."""
        with self._counts_lock:
            counts = dict(self.request_counts)
        return {verb: counts[verb] - before.get(verb, 0) for verb in sorted(counts)
                if counts[verb] - before.get(verb, 0)}

    def _exchange(self, method: str, path: str, query: dict[str, Any] | None, body: Any,
                  content_type: str) -> tuple[int, bytes, Any]:
        """(status, body, headers) of one request; an error status raises a KubernetesApiError."""
        response = self._send(method, path, query, body, content_type, stream=False)
        try:
            raw = response.data
        finally:
            response.release_conn()
        if response.status >= 400:
            raise self._api_error(method, path, response.status, _decode_json(raw), raw)
        return response.status, raw, response.headers

    def stream(self, path: str, query: dict[str, Any], timeout: float) -> Iterator[dict[str, Any]]:
        """GET a streaming endpoint (watch) and yield one decoded JSON document per line."""
        response = self._send("GET", path, query, None, "application/json", stream=True, read_timeout=timeout)
        try:
            if response.status >= 400:
                raw = response.data
                raise self._api_error("GET", path, response.status, _decode_json(raw), raw)
            buffer = b""
            for chunk in response.stream(4096, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line.decode("utf-8"))
            if buffer.strip():
                yield json.loads(buffer.decode("utf-8"))
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError, socket.timeout):
            # The watch ended without the server closing it cleanly; the caller re-watches or times out.
            return
        finally:
            response.release_conn()

    def _send(self, method: str, path: str, query: dict[str, Any] | None, body: Any, content_type: str,
              stream: bool, read_timeout: float | None = None) -> Any:
        url = self.server + path
        if query:
            url += "?" + urlencode({key: query_value(value) for key, value in query.items() if value is not None})
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        payload = None
        if body is not None:
            headers["Content-Type"] = content_type
            payload = json.dumps(body).encode("utf-8")
        authorization = self.authorization()
        if authorization:
            headers["Authorization"] = authorization
        timeout = urllib3.Timeout(connect=min(self.timeout, 10.0), read=read_timeout or self.timeout)
        with self._counts_lock:
            self.request_counts[method] += 1
        try:
            # Only connection attempts are retried: a request that reached the server is never
            # sent twice behind the caller's back (request counts stay exact).
            return self._pool.request(method, url, body=payload, headers=headers, timeout=timeout,
                                      retries=urllib3.Retry(total=2, connect=2, read=0, status=0, other=0,
                                                            redirect=0, raise_on_status=False),
                                      preload_content=not stream)
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._connection_error(method, path, exc.reason or exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._connection_error(method, path, exc) from None

    # -- error messages (errors.py) -----------------------------------------------------------
    def _connection_error(self, method: str, path: str, exc: BaseException) -> KubernetesConnectionError:
        return connection_error(self, method, path, exc)

    def _api_error(self, method: str, path: str, status: int, data: Any, raw: bytes) -> KubernetesApiError:
        return api_error(self, method, path, status, data, raw)


# ----------------------------------------------------------------------------------------------
def object_path(prefix: str, plural: str, name: str | None = None, namespace: str | None = None) -> str:
    """REST path of a collection or object, e.g. ``/apis/apps/v1/namespaces/ns/deployments/web``."""
    path = prefix
    if namespace:
        path += "/namespaces/" + quote(namespace, safe="")
    path += "/" + plural
    if name:
        path += "/" + quote(name, safe="")
    return path


def _pool_manager(settings: ClientSettings) -> Any:
    """One pool for the server, as the official client's RESTClientObject builds it."""
    pool_args: dict[str, Any] = {
        "cert_reqs": ssl.CERT_REQUIRED if settings.verify else ssl.CERT_NONE,
        "ca_certs": settings.ca_file, "ca_cert_data": settings.ca_data,
        "cert_file": settings.cert_file, "key_file": settings.key_file, "maxsize": POOL_MAXSIZE,
    }
    if settings.tls_server_name:
        pool_args["server_hostname"] = settings.tls_server_name
    proxy = settings.proxy_url
    if not proxy:
        return urllib3.PoolManager(**pool_args)
    if proxy.split("://", 1)[0].lower() in ("socks4", "socks4a", "socks5", "socks5h"):
        from urllib3.contrib.socks import SOCKSProxyManager  # pylint: disable=import-outside-toplevel

        return SOCKSProxyManager(proxy, **pool_args)
    return urllib3.ProxyManager(proxy, **pool_args)


def _decode_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return None


def _warnings(headers: Any) -> list[str]:
    """The API server's ``Warning: 299 - "text"`` headers (deprecations, unknown fields in Warn mode)."""
    found: list[str] = []
    values = headers.getlist("Warning") if hasattr(headers, "getlist") else [headers.get("Warning")]
    for value in values:
        if not value:
            continue
        text = value.split(" ", 2)[-1].strip() if value.startswith("299") else value.strip()
        found.append(text.strip('"'))
    return found
