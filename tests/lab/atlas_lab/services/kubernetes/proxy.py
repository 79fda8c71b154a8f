"""The API server's pod and service proxy, forwarding to backends registered by the lab.

``GET /api/v1/namespaces/{ns}/pods/{name}[:{port}]/proxy/{path}`` and
``/api/v1/namespaces/{ns}/services/{[scheme:]name[:port]}/proxy/{path}`` reach a real process on
loopback (e.g. an Alertmanager the lab started), as they would reach a pod through a real API
server. Backends are found, in order:

1. an explicit registration: ``app.proxy_targets.set_pod(ns, pod, port, "127.0.0.1:9093")`` or
   ``app.proxy_targets.set_service(ns, service, port, "127.0.0.1:9093")``;
2. a pod annotation ``proxy.atlas-lab.io/<port>: "127.0.0.1:9093"`` (or ``proxy.atlas-lab.io/default``);
3. for a service: its ``spec.selector`` selects running, ready pods (like the Endpoints the real
   proxy uses); the service port's ``targetPort`` (number or container port name) is resolved on each
   pod, and the first pod with a backend for it answers.

No backend gives 503 ServiceUnavailable like a real proxy that cannot dial the pod.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

from atlas_lab.services.kubernetes.errors import ApiError, not_found

ANNOTATION_PREFIX = "proxy.atlas-lab.io/"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length", "host", "authorization"}


def service_unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)


class ProxyTargets:
    """Registry of proxy backends (``host:port`` or ``http(s)://host:port``), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str, str], str] = {}
        self._services: dict[tuple[str, str, str], str] = {}

    @staticmethod
    def _port(port: int | str | None) -> str:
        return "" if port is None else str(port)

    def set_pod(self, namespace: str, pod: str, port: int | str | None, target: str) -> None:
        """Send ``pods/<pod>:<port>/proxy`` to ``target``; ``port=None`` matches any port."""
        with self._lock:
            self._pods[(namespace, pod, self._port(port))] = target

    # The short name the lab's other components use.
    set = set_pod

    def set_service(self, namespace: str, service: str, port: int | str | None, target: str) -> None:
        with self._lock:
            self._services[(namespace, service, self._port(port))] = target

    def remove_pod(self, namespace: str, pod: str, port: int | str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._pods if k[:2] == (namespace, pod)
                        and (port is None or k[2] == self._port(port))]:
                del self._pods[key]

    def remove_service(self, namespace: str, service: str, port: int | str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._services if k[:2] == (namespace, service)
                        and (port is None or k[2] == self._port(port))]:
                del self._services[key]

    def clear(self) -> None:
        with self._lock:
            self._pods.clear()
            self._services.clear()

    def restore(self, snapshot: dict[str, dict[str, str]]) -> None:
        """Replace every registration by those of a :meth:`snapshot`."""
        with self._lock:
            self._pods = {tuple(k.split("/", 2)): v for k, v in snapshot.get("pods", {}).items()}  # type: ignore[misc]
            self._services = {tuple(k.split("/", 2)): v  # type: ignore[misc]
                              for k, v in snapshot.get("services", {}).items()}

    def snapshot(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return {"pods": {"/".join(k): v for k, v in self._pods.items()},
                    "services": {"/".join(k): v for k, v in self._services.items()}}

    def pod_target(self, pod: dict[str, Any], port: str) -> str | None:
        meta = pod.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        with self._lock:
            for candidate in (port, ""):
                target = self._pods.get((namespace, name, candidate))
                if target:
                    return target
        annotations = meta.get("annotations") or {}
        if port and annotations.get(ANNOTATION_PREFIX + port):
            return annotations[ANNOTATION_PREFIX + port]
        return annotations.get(ANNOTATION_PREFIX + "default")

    def service_target(self, namespace: str, service: str, port: str) -> str | None:
        with self._lock:
            return self._services.get((namespace, service, port)) or self._services.get((namespace, service, ""))


def resolve_container_port(pod: dict[str, Any], port: str) -> str:
    """A named container port -> its number (as text); numbers pass through."""
    if not port or port.isdigit():
        return port
    for container in (pod.get("spec") or {}).get("containers") or []:
        for entry in container.get("ports") or []:
            if entry.get("name") == port:
                return str(entry.get("containerPort"))
    return port


def pod_is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def forward(target: str, method: str, path: str, query: str, headers: Any, body: bytes,
            timeout: float = 30.0) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send the request to ``target`` and return (status, headers, body)."""
    if "://" not in target:
        target = "http://" + target
    parts = urlsplit(target)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kwargs: dict[str, Any] = {"timeout": timeout}
    if parts.scheme == "https":
        import ssl  # pylint: disable=import-outside-toplevel
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        kwargs["context"] = context
    connection = connection_class(parts.hostname or "127.0.0.1", parts.port, **kwargs)
    forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
    url = (parts.path.rstrip("/") + (path or "/")) + (f"?{query}" if query else "")
    try:
        connection.request(method, url, body=body or None, headers=forwarded)
        response = connection.getresponse()
        data = response.read()
        response_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        return response.status, response_headers, data
    except ConnectionRefusedError as exc:
        raise service_unavailable(f"error trying to reach service: dial tcp {parts.hostname}:{parts.port}: "
                                  f"connect: connection refused") from exc
    except TimeoutError as exc:
        raise service_unavailable(f"error trying to reach service: dial tcp {parts.hostname}:{parts.port}: "
                                  f"i/o timeout") from exc
    except OSError as exc:
        raise service_unavailable(f"error trying to reach service: {exc}") from exc
    finally:
        connection.close()


__all__ = ["ProxyTargets", "forward", "pod_is_ready", "resolve_container_port", "service_unavailable", "not_found"]
