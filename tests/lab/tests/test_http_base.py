"""The HTTP base every emulator shares, on a raw socket: request bodies framed by Content-Length
or chunked (RFC 9112 section 7.1), and the framing consumed exactly, so that the next request on the
connection is parsed as a request."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from atlas_lab.core.http_base import EmulatorApp, Request, Response, ServerHandle, serve


class EchoApp(EmulatorApp):
    name = "echo"

    def handle(self, request: Request) -> Response:
        return Response.json({"method": request.method, "path": request.path, "body": request.body.decode()})


@pytest.fixture
def echo() -> Iterator[ServerHandle]:
    handle = serve(EchoApp())
    yield handle
    handle.stop()


def exchange(handle: ServerHandle, data: bytes) -> list[dict[str, str]]:
    """Send ``data`` on one connection (the last request says Connection: close); the JSON bodies back."""
    with socket.create_connection((handle.host, handle.port), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    bodies = []
    for part in answer.split(b"HTTP/1.1 ")[1:]:
        bodies.append(json.loads(part.split(b"\r\n\r\n", 1)[1]))
    return bodies


LAST = b"GET /next HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n"


def test_a_chunked_body_is_read_whole_and_the_next_request_follows(echo: ServerHandle) -> None:
    body = b'{"data": {"password": "value"}}'
    framed = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in (body[:7], body[7:])) + b"0\r\n\r\n"
    answers = exchange(echo, b"POST /chunked HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n" + framed + LAST)
    assert answers == [{"method": "POST", "path": "/chunked", "body": body.decode()},
                       {"method": "GET", "path": "/next", "body": ""}]


def test_chunked_trailers_are_skipped(echo: ServerHandle) -> None:
    framed = b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n"
    answers = exchange(echo, b"PUT /t HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n" + framed + LAST)
    assert [answer["body"] for answer in answers] == ["hello", ""]


def test_a_content_length_body_is_read_as_before(echo: ServerHandle) -> None:
    answers = exchange(echo, b"POST /cl HTTP/1.1\r\nHost: lab\r\nContent-Length: 5\r\n\r\nhello" + LAST)
    assert [answer["body"] for answer in answers] == ["hello", ""]


def test_a_response_is_one_send_without_nagle_delay(echo: ServerHandle) -> None:
    """Headers and body leave in one segment with TCP_NODELAY: 50 requests on one keep-alive connection
    take well under a second (two small sends wait for the client's delayed ACK, ~40 ms each on Linux)."""
    import http.client  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel

    connection = http.client.HTTPConnection(echo.host, echo.port, timeout=10)
    started = time.monotonic()
    for index in range(50):
        connection.request("GET", f"/ping/{index}")
        response = connection.getresponse()
        assert json.loads(response.read())["path"] == f"/ping/{index}"
    elapsed = time.monotonic() - started
    connection.close()
    assert elapsed < 1.0, f"50 requests took {elapsed:.2f} s"
