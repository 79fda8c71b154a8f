"""A fault-injecting HTTP proxy in front of the real OpenBao server.

Every request is forwarded unchanged (method including Vault's ``LIST``, path, raw query string,
body bytes, headers such as ``X-Vault-Token`` / ``X-Vault-Namespace``); the upstream answer comes
back unchanged (status, headers, body; large or unsized bodies are streamed). Tests get OpenBao's
real behaviour plus the lab's request counters and fault rules, e.g.
``add_fault("error", kind="kv2.write", status=500)`` or ``add_fault("drop", kind="kv2.write")``
(written upstream, response lost).

Request kinds (``classify``):

``kv2.read`` ``kv2.write`` ``kv2.patch`` ``kv2.delete`` ``kv2.undelete`` ``kv2.destroy``
``kv2.list`` ``kv2.subkeys`` ``kv2.metadata.read`` ``kv2.metadata.write`` ``kv2.metadata.delete``
``kv2.config.read`` ``kv2.config.write`` ``kv2.other``; ``kv1.read`` ``kv1.write`` ``kv1.delete``
``kv1.list``; ``auth.login`` (``auth/<mount>/login[/...]``), ``auth.read``, ``auth.write``;
``sys.read`` (GET/HEAD/LIST under ``sys/``), ``sys.write``; ``other`` (any other engine or path).

How KV mounts are told apart: the first request under an unknown mount asks the upstream once
``GET /v1/sys/internal/ui/mounts/<path>`` (the endpoint the ``bao kv`` CLI uses; any token with
access to the path may call it) with the caller's own token and namespace, and caches the mount's
path, type and KV version. Mount changes seen through the proxy (``sys/mounts/...`` writes) and
``/_lab/reset`` clear the cache. When that lookup is not possible (no or invalid token), the path
shape decides: ``<mount>/{data,metadata,delete,undelete,destroy,subkeys,config}/...`` is KV v2,
anything else ``other``; such guesses are not cached. ``create_app(kv_mounts=...)`` pins mounts
instead (no lookup).

Lab routes: ``GET /_lab/mounts`` (the cache), ``DELETE /_lab/mounts``, ``GET /_lab/upstream``.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

from atlas_lab.core.http_base import EmulatorApp, Request, Response

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length"})
# BaseHTTPRequestHandler writes its own Server and Date headers.
NOT_COPIED_BACK = HOP_BY_HOP | {"server", "date"}
BUFFER_LIMIT = 1 << 20  # larger (or unsized) upstream bodies are streamed
CHUNK = 64 * 1024
KV2_SEGMENTS = ("data", "metadata", "delete", "undelete", "destroy", "subkeys", "config")
READ_METHODS = frozenset({"GET", "HEAD", "LIST"})


# A mount as the proxy knows it: {"path": "secret/", "type": "kv", "version": "2"}.
MountInfo = dict


class _UpstreamStream:
    """Iterates an upstream body in chunks and closes the upstream connection when done."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse):
        self._connection = connection
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                chunk = self._response.read(CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self._connection.close()


class VaultProxyApp(EmulatorApp):
    name = "openbao-proxy"

    def __init__(self, upstream_url: str, *, kv_mounts: dict[str, int] | None = None,
                 ca_file: str | None = None, verify: bool = True, timeout: float = 60.0) -> None:
        super().__init__()
        split = urlsplit(upstream_url.rstrip("/"))
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ValueError(f"upstream_url must be http(s)://host:port, got {upstream_url!r}")
        self.upstream_url = upstream_url.rstrip("/")
        self._scheme = split.scheme
        self._host = split.hostname
        self._port = split.port or (443 if split.scheme == "https" else 80)
        self._base_path = split.path
        self.timeout = timeout
        self._ssl: ssl.SSLContext | None = None
        if split.scheme == "https":
            self._ssl = ssl.create_default_context(cafile=ca_file)
            if not verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._pinned = {self._mount_key(path): MountInfo(path=self._mount_key(path), type="kv", version=str(version))
                        for path, version in (kv_mounts or {}).items()}
        self._mounts: dict[tuple[str, str], MountInfo] = {}
        self._mounts_lock = threading.Lock()

    @staticmethod
    def _mount_key(path: str) -> str:
        return path.strip("/") + "/"

    # Upstream connection ---------------------------------------------------------------------
    def _connect(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _upstream_json(self, path: str, headers: dict[str, str]) -> tuple[int, object]:
        connection = self._connect()
        try:
            connection.request("GET", self._base_path + path, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            try:
                return response.status, json.loads(payload) if payload else None
            except ValueError:
                return response.status, None
        finally:
            connection.close()

    # Classification --------------------------------------------------------------------------
    def classify(self, request: Request) -> str:
        if not request.path.startswith("/v1/"):
            return "other"
        rest = request.path[len("/v1/"):]
        method = "LIST" if request.method == "GET" and (request.param("list") or "").lower() == "true" \
            else request.method
        if rest.startswith("sys/") or rest == "sys":
            return "sys.read" if method in READ_METHODS else "sys.write"
        if rest.startswith("auth/"):
            segments = rest.split("/")
            if "login" in segments[2:] and method in ("POST", "PUT"):
                return "auth.login"
            return "auth.read" if method in READ_METHODS else "auth.write"
        mount = self._mount_for(rest, request)
        if mount is None or mount.get("type") not in ("kv", "generic"):
            return "other"
        inner = rest[len(mount["path"]):]
        if mount.get("version") == "2":
            return _kv2_kind(method, inner.split("/", 1)[0])
        return {"GET": "kv1.read", "HEAD": "kv1.read", "LIST": "kv1.list", "DELETE": "kv1.delete"}.get(
            method, "kv1.write")

    def _mount_for(self, rest: str, request: Request) -> MountInfo | None:
        namespace = (request.headers.get("X-Vault-Namespace") or "").strip("/")
        candidates = [mount for path, mount in self._pinned.items() if _under(rest, path)]
        with self._mounts_lock:
            candidates += [mount for (ns, path), mount in self._mounts.items()
                           if ns == namespace and _under(rest, path)]
        if candidates:
            return max(candidates, key=lambda mount: len(mount["path"]))
        discovered = self._discover(rest, request, namespace)
        if discovered is not None:
            return discovered
        first, _slash, remainder = rest.partition("/")
        if remainder.split("/", 1)[0] in KV2_SEGMENTS:
            return MountInfo(path=first + "/", type="kv", version="2")
        return None

    def _discover(self, rest: str, request: Request, namespace: str) -> MountInfo | None:
        token = request.headers.get("X-Vault-Token")
        if not token:
            return None
        headers = {"X-Vault-Token": token}
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        try:
            status, body = self._upstream_json(f"/v1/sys/internal/ui/mounts/{quote(rest)}", headers)
        except OSError:
            return None
        data = body.get("data") if isinstance(body, dict) else None
        if status != 200 or not isinstance(data, dict) or not data.get("path"):
            return None
        options = data.get("options") or {}
        mount = MountInfo(path=self._mount_key(str(data["path"])), type=str(data.get("type", "")),
                          version=str(options.get("version", "1")) if data.get("type") in ("kv", "generic") else "")
        if not _under(rest, mount["path"]):
            return None  # e.g. a namespace embedded in the path: the mount path is relative to it
        with self._mounts_lock:
            self._mounts[(namespace, mount["path"])] = mount
        return mount

    # Forwarding ------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        target = self._base_path + request.raw_path + (f"?{request.raw_query}" if request.raw_query else "")
        headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
        headers["Host"] = f"{self._host}:{self._port}"
        connection = self._connect()
        try:
            connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            if request.body or request.method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(request.body)))
            connection.endheaders(request.body or None)
            upstream = connection.getresponse()
        except OSError as exc:
            connection.close()
            return Response.json({"errors": [f"lab OpenBao proxy: upstream {self.upstream_url} unreachable: {exc}"]},
                                 status=502)
        self._after(request, upstream.status)
        response_headers = {name: value for name, value in upstream.getheaders()
                            if name.lower() not in NOT_COPIED_BACK}
        length = upstream.getheader("Content-Length")
        if request.method == "HEAD" or upstream.status in (204, 304):
            connection.close()
            return Response(status=upstream.status, headers=response_headers)
        if length is not None and int(length) <= BUFFER_LIMIT:
            try:
                body = upstream.read()
            finally:
                connection.close()
            return Response(status=upstream.status, body=body, headers=response_headers)
        return Response(status=upstream.status, headers=response_headers,
                        stream=_UpstreamStream(connection, upstream))

    def _after(self, request: Request, status: int) -> None:
        """A mount enabled, disabled, moved or tuned through the proxy invalidates the cache."""
        path = request.path[len("/v1/"):] if request.path.startswith("/v1/") else ""
        if status < 400 and request.method not in READ_METHODS and (
                path.startswith("sys/mounts/") or path.startswith("sys/remount")):
            self.forget_mounts()

    def forget_mounts(self) -> None:
        with self._mounts_lock:
            self._mounts.clear()

    def reset(self) -> None:
        self.forget_mounts()

    def admin(self, request: Request, subpath: str) -> Response | None:
        if subpath == "mounts":
            if request.method == "DELETE":
                self.forget_mounts()
                return Response.empty()
            if request.method == "GET":
                with self._mounts_lock:
                    cached = [dict(mount, namespace=ns) for (ns, _path), mount in self._mounts.items()]
                return Response.json({"pinned": list(self._pinned.values()), "discovered": cached})
        if subpath == "upstream" and request.method == "GET":
            return Response.json({"url": self.upstream_url})
        return None


def _under(rest: str, mount_path: str) -> bool:
    """``legacy`` and ``legacy/x`` are under the mount ``legacy/``."""
    return rest == mount_path.rstrip("/") or rest.startswith(mount_path)


def _kv2_kind(method: str, segment: str) -> str:
    write = method not in READ_METHODS
    if segment == "data":
        return {"GET": "kv2.read", "HEAD": "kv2.read", "PATCH": "kv2.patch", "DELETE": "kv2.delete"}.get(
            method, "kv2.list" if method == "LIST" else "kv2.write")
    if segment == "metadata":
        if method == "LIST":
            return "kv2.list"
        if method == "DELETE":
            return "kv2.metadata.delete"
        return "kv2.metadata.write" if write else "kv2.metadata.read"
    if segment in ("delete", "undelete", "destroy"):
        return f"kv2.{segment}"
    if segment == "subkeys":
        return "kv2.subkeys"
    if segment == "config":
        return "kv2.config.write" if write else "kv2.config.read"
    return "kv2.other"


def create_app(upstream_url: str, *, kv_mounts: dict[str, int] | None = None, ca_file: str | None = None,
               verify: bool = True, timeout: float = 60.0) -> VaultProxyApp:
    """A proxy forwarding to ``upstream_url`` (e.g. ``http://127.0.0.1:8200``).

    ``kv_mounts`` pins KV mounts and their version (``{"secret": 2}``) instead of asking the
    upstream; ``ca_file``/``verify`` apply to an https upstream.
    """
    return VaultProxyApp(upstream_url, kv_mounts=kv_mounts, ca_file=ca_file, verify=verify, timeout=timeout)
