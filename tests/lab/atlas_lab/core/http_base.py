"""Threaded HTTP(S) server shared by the lab's emulators.

An emulator subclasses :class:`EmulatorApp` and implements ``classify`` (what kind of request is
this, for counters and fault rules), ``handle`` (the service itself), ``reset`` and optionally
``admin`` (its own ``/_lab/...`` routes). This module gives every emulator, for free:

- ``GET /_lab/health``; ``GET|DELETE /_lab/requests`` (counters per kind, recent entries);
  ``GET|POST|DELETE /_lab/faults`` and ``POST /_lab/faults/release``; ``POST /_lab/reset``.
  Admin requests are neither counted nor subject to faults.
- fault injection (see :mod:`atlas_lab.core.faults`) applied around ``handle``;
- streamed (chunked) responses for watches, keep-alive, optional TLS.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from atlas_lab.core.faults import Fault, FaultInjector
from atlas_lab.core.request_log import RequestLog

LOG = logging.getLogger(__name__)
ADMIN_PREFIX = "/_lab/"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    raw_path: str = ""
    kind: str = ""
    client: str = ""
    raw_query: str = ""  # the query string as sent (proxies forward it unchanged)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        merged = {"Content-Type": "application/json"}
        merged.update(headers or {})
        return cls(status=status, body=json.dumps(obj).encode("utf-8"), headers=merged)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status=status, body=text.encode("utf-8"), headers={"Content-Type": content_type})

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status=status)


class EmulatorApp:
    """Base class of an emulated service."""

    name = "emulator"

    def __init__(self) -> None:
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.lock = threading.RLock()

    def classify(self, request: Request) -> str:
        return f"{request.method} {request.path}"

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def reset(self) -> None:
        """Return the service to its initial state (between tests)."""

    def admin(self, request: Request, subpath: str) -> Response | None:
        """Serve ``/_lab/<subpath>`` routes specific to this emulator; ``None`` means 404."""
        return None

    def close(self) -> None:
        """Release resources when the server stops."""


class _Dropped(Exception):
    """The connection must be closed without a response."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LabHTTPServer
    # One send per response: the status line, headers and body are buffered (the base class flushes
    # after each request; streamed chunks flush themselves), and TCP_NODELAY is set. Two small sends
    # without it wait for the client's delayed ACK (Nagle): about 40 ms per request on Linux.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        LOG.debug("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        """The request body, sent with Content-Length or chunked (RFC 9112 7.1: size lines, data, trailers)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields: none that the emulators use
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)  # the CRLF after the chunk's data
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        app = self.server.app
        body = self._read_body()
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(split.path),
            raw_path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            client=self.client_address[0],
            raw_query=split.query,
        )
        if request.path.startswith(ADMIN_PREFIX) or request.path == ADMIN_PREFIX.rstrip("/"):
            self._send(self._admin(app, request))
            return
        try:
            request.kind = app.classify(request)
        except Exception:  # pylint: disable=broad-except
            request.kind = f"{request.method} {request.path}"
        fault = app.faults.take(request.kind, request.method, request.path)
        # Record before answering: a client that reads the counters right after its response
        # must see its own request counted.
        user_agent = self.headers.get("User-Agent") or ""
        app.requests.started()
        try:
            response = self._run(app, request, fault)
        except _Dropped:
            app.requests.record(request.method, request.path, request.kind, "dropped", user_agent)
            self._drop()
            return
        finally:
            app.requests.finished()
        app.requests.record(request.method, request.path, request.kind, response.status, user_agent)
        self._send(response)

    def _run(self, app: EmulatorApp, request: Request, fault: Fault | None) -> Response:
        if fault is None:
            return self._handle(app, request)
        if fault.action == "delay":
            time.sleep(fault.delay)
            return self._handle(app, request)
        if fault.apply_first:
            applied = self._handle(app, request)
            close = getattr(applied.stream, "close", None)
            if close is not None:
                close()  # the response is discarded: release what produces it (an upstream connection)
        if fault.action == "error":
            body = fault.body
            if body is None:
                body = {"error": "injected fault", "status": fault.status}
            if isinstance(body, (dict, list)):
                return Response.json(body, status=fault.status)
            return Response.text(str(body), status=fault.status)
        if fault.action == "hang":
            fault.released.wait(timeout=fault.delay)
        raise _Dropped()

    @staticmethod
    def _handle(app: EmulatorApp, request: Request) -> Response:
        try:
            return app.handle(request)
        except Exception as exc:  # pylint: disable=broad-except
            LOG.error("%s: unhandled error for %s %s\n%s", app.name, request.method, request.path,
                      traceback.format_exc())
            return Response.json({"error": "internal emulator error", "detail": str(exc)}, status=500)

    def _admin(self, app: EmulatorApp, request: Request) -> Response:
        sub = request.path[len(ADMIN_PREFIX):].strip("/")
        try:
            if sub == "health":
                return Response.json({"name": app.name, "ok": True})
            if sub == "requests":
                if request.method == "DELETE":
                    app.requests.reset()
                    return Response.empty()
                return Response.json(app.requests.snapshot())
            if sub == "faults":
                if request.method == "POST":
                    return Response.json(app.faults.add(request.json() or {}).to_dict(), status=201)
                if request.method == "DELETE":
                    app.faults.clear()
                    return Response.empty()
                return Response.json(app.faults.list())
            if sub == "faults/release" and request.method == "POST":
                return Response.json({"released": app.faults.release()})
            if sub == "reset" and request.method == "POST":
                app.faults.clear()
                app.requests.reset()
                app.reset()
                return Response.empty()
            response = app.admin(request, sub)
        except (ValueError, KeyError, TypeError) as exc:
            return Response.json({"error": str(exc)}, status=400)
        if response is None:
            return Response.json({"error": f"no lab admin route {request.method} /_lab/{sub}"}, status=404)
        return response

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for chunk in response.stream:
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True
            finally:
                close = getattr(response.stream, "close", None)
                if close is not None:
                    close()  # a client that went away must not leave the producer (or its upstream) open
            return
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError):
            self.close_connection = True

    # LIST is Vault's own verb (the OpenBao proxy forwards it).
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_LIST = _dispatch


class LabHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Lab clients open many short connections (ansible forks, kubectl); a longer backlog avoids resets.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp, ssl_context: ssl.SSLContext | None = None):
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.ssl_context is not None:
            # The TLS handshake happens on first read, in the handler thread, not in the accept loop.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address


class ServerHandle:
    """A running emulator: its server, thread and address."""

    def __init__(self, server: LabHTTPServer, thread: threading.Thread, scheme: str):
        self.server = server
        self.thread = thread
        self.scheme = scheme

    @property
    def app(self) -> EmulatorApp:
        return self.server.app

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.app.faults.release()
        self.server.shutdown()
        self.server.server_close()
        self.server.app.close()
        self.thread.join(timeout=5)


def serve(app: EmulatorApp, host: str = "127.0.0.1", port: int = 0,
          ssl_context: ssl.SSLContext | None = None) -> ServerHandle:
    """Start ``app`` on ``host:port`` (0 picks a free port) in a background thread.

    Raises ``OSError`` with errno EADDRINUSE when the port is taken; the caller turns that into a
    message naming the port and how to choose another.
    """
    server = LabHTTPServer((host, port), app, ssl_context)
    thread = threading.Thread(target=server.serve_forever, name=f"lab-{app.name}", daemon=True)
    thread.start()
    return ServerHandle(server, thread, "https" if ssl_context else "http")
