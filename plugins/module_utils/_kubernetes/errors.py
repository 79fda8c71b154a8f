# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Kubernetes error types, and failures turned into one readable message.

Every failure becomes a :class:`KubernetesError` whose message says what failed, against which
URL or file, and what to check.
"""

from __future__ import annotations

import socket
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.network_errors import short_reason


class KubernetesError(HardeningError):
    """Any failure talking to Kubernetes."""


class KubernetesConfigError(KubernetesError):
    """No usable connection settings: missing or invalid kubeconfig, unknown context, ..."""


class KubernetesConnectionError(KubernetesError):
    """The API server could not be reached or the connection broke (DNS, TCP, TLS, timeout)."""


class KubernetesApiError(KubernetesError):
    """The API server answered with an error Status."""

    def __init__(self, message: str, status: int, reason: str = "", api_message: str = "",
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(message, status=status, reason=reason)
        self.status = status
        self.reason = reason
        self.api_message = api_message
        self.body = body or {}


class KubernetesAuthError(KubernetesApiError):
    """401: the credentials were rejected."""


class KubernetesForbiddenError(KubernetesApiError):
    """403: authenticated, but RBAC (or an admission plugin) denies the request."""


def connection_error(connection: Any, method: str, path: str, exc: BaseException) -> KubernetesConnectionError:
    """No answer from the API server (DNS, TCP, TLS, timeout, a broken connection) as one message."""
    import urllib3  # pylint: disable=import-outside-toplevel

    if isinstance(exc, urllib3.exceptions.SSLError) or "SSL" in type(exc).__name__:
        return KubernetesConnectionError(
            f"TLS connection to the Kubernetes API server at {connection.server} failed: {short_reason(exc)}. "
            f"Check the CA certificate used to verify it (k8s_ca_cert, or certificate-authority in "
            f"{connection.source.description}) and that the URL is the API server's; "
            "k8s_validate_certs=false turns verification off (never in production).", url=connection.server)
    # NewConnectionError subclasses ConnectTimeoutError: a refused connection is no timeout.
    if not isinstance(exc, urllib3.exceptions.NewConnectionError) and isinstance(
            exc, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError, socket.timeout)):
        return KubernetesConnectionError(
            f"The Kubernetes API server at {connection.server} did not answer {method} {path} within "
            f"{connection.timeout:g} s. Check that the cluster is up and reachable from this host, or raise "
            "k8s_request_timeout.", url=connection.server)
    if isinstance(exc, urllib3.exceptions.ProtocolError) and method != "GET":
        return KubernetesConnectionError(
            f"The connection to the Kubernetes API server at {connection.server} broke during {method} {path} "
            f"({short_reason(exc)}): the change may or may not have been made. Run the task again; applying "
            "the same manifests twice is safe.", url=connection.server)
    return KubernetesConnectionError(
        f"Cannot reach the Kubernetes API server at {connection.server} ({short_reason(exc)}). Check the server "
        f"address (from {connection.source.description}), that the cluster is running, and that this host "
        "can reach it (VPN, firewall, proxy).", url=connection.server)


def api_error(connection: Any, method: str, path: str, status: int, data: Any, raw: bytes) -> KubernetesApiError:
    """An error Status from the API server as one message (401 and 403 say what to check)."""
    body = data if isinstance(data, dict) else {}
    reason = str(body.get("reason") or "")
    api_message = str(body.get("message") or raw[:300].decode("utf-8", "replace").strip())
    if status == 401:
        return KubernetesAuthError(
            f"The Kubernetes API server at {connection.server} rejected the credentials from "
            f"{connection.source.description} (401 Unauthorized). Check {connection.source.credentials_hint}: "
            "the token may be wrong or expired.", status, reason or "Unauthorized", api_message, body)
    if status == 403:
        return KubernetesForbiddenError(
            f"The Kubernetes API server at {connection.server} refused {method} {path} (403 Forbidden): "
            f"{api_message}. Grant the missing permission to the identity from "
            f"{connection.source.description} (Role/ClusterRole and binding), or use other credentials.",
            status, reason or "Forbidden", api_message, body)
    return KubernetesApiError(
        f"{method} {path} failed on {connection.server}: {status} {reason or 'error'}: {api_message}",
        status, reason, api_message, body)
