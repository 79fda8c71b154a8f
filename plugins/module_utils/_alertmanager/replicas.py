# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what each Alertmanager replica says about its cluster.

Each replica is asked for ``GET /api/v2/status``; the answer says whether gossip is on
(``cluster.status``: ready, settling or disabled), the replica's own peer name and the peers it
sees. How a replica is reached (a URL, or the Kubernetes API server's pod proxy) is the caller's
business: it hands in :class:`Replica` objects whose ``client`` implements :class:`ReplicaClient`.
"""

from __future__ import annotations

import json
from typing import Any


class ReplicaRequestError(Exception):
    """A request to one replica failed. ``status`` is the HTTP status when there was an answer."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class ReplicaClient:
    """How to reach one replica. ``request`` returns the decoded JSON body (None when empty)."""

    description = ""

    def request(self, method: str, path: str, body: Any = None) -> Any:
        raise NotImplementedError


class UrlReplicaClient(ReplicaClient):
    """A replica reached at a base URL, with Ansible's ``open_url``."""

    def __init__(self, base_url: str, timeout: float = 5.0, validate_certs: bool = True,
                 ca_path: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.headers = dict(headers or {})
        self.description = self.base_url

    def request(self, method: str, path: str, body: Any = None) -> Any:
        # Imported here so that the verdict logic stays importable (and testable) on its own.
        from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
        from ansible.module_utils.urls import open_url

        url = self.base_url + path
        headers = dict(self.headers, Accept="application/json")
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            response = open_url(url, data=data, headers=headers, method=method, timeout=self.timeout,
                                validate_certs=self.validate_certs, ca_path=self.ca_path,
                                follow_redirects="none", use_proxy=True)
            payload = response.read()
        except HTTPError as exc:
            detail = _short(exc.read() if hasattr(exc, "read") else b"")
            raise ReplicaRequestError("%s %s answered HTTP %s%s" % (method, url, exc.code, detail), exc.code) from None
        except URLError as exc:
            raise ReplicaRequestError("cannot connect to %s: %s" % (url, getattr(exc, "reason", exc))) from None
        except (OSError, ValueError) as exc:
            raise ReplicaRequestError("cannot connect to %s: %s" % (url, exc)) from None
        return decode_json(payload, "%s %s" % (method, url))


def decode_json(payload: bytes | str, what: str) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        raise ReplicaRequestError("%s did not answer JSON (is this an Alertmanager?)%s" % (what, _short(payload))) from None


def _short(payload: bytes | str, limit: int = 200) -> str:
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", "replace")
    payload = " ".join(payload.split())
    if not payload:
        return ""
    return ": " + (payload[:limit] + "..." if len(payload) > limit else payload)


class Replica:
    """One replica to ask.

    ``pod_ready``/``pod_reason``: what Kubernetes says of its pod (None when given as a URL).
    ``mesh_address``: the ``host:port`` its peers list it under, which names it in their peer
    lists when it does not answer itself.
    """

    def __init__(self, name: str, client: ReplicaClient, pod_ready: bool | None = None,
                 pod_reason: str = "", mesh_address: str | None = None) -> None:
        self.name = name
        self.client = client
        self.pod_ready = pod_ready
        self.pod_reason = pod_reason
        self.mesh_address = mesh_address


class ReplicaStatus:
    """What one replica said about the cluster (or why it said nothing)."""

    def __init__(self, name: str, reached_through: str = "", reachable: bool = False, error: str = "",
                 cluster_status: str | None = None, peer_name: str | None = None,
                 peers: list[dict[str, str]] | None = None, version: str | None = None,
                 pod_ready: bool | None = None, pod_reason: str = "", mesh_address: str | None = None) -> None:
        self.name = name
        self.reached_through = reached_through
        self.reachable = reachable
        self.error = error
        self.cluster_status = cluster_status
        self.peer_name = peer_name
        self.peers = peers or []
        self.version = version
        self.pod_ready = pod_ready
        self.pod_reason = pod_reason
        self.mesh_address = mesh_address
        # Filled in by judge(): the replicas this one sees, by replica name.
        self.sees: list[str] = []

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reached_through": self.reached_through,
            "reachable": self.reachable,
            "error": self.error,
            "pod_ready": self.pod_ready,
            "cluster_status": self.cluster_status,
            "peer_name": self.peer_name,
            "peer_count": len(self.peers),
            "peers": [dict(peer) for peer in self.peers],
            "sees": list(self.sees),
            "version": self.version,
        }


def read_status(replica: Replica) -> ReplicaStatus:
    """Ask one replica for ``/api/v2/status``; a failure is recorded, never raised."""
    status = ReplicaStatus(replica.name, reached_through=replica.client.description, pod_ready=replica.pod_ready,
                           pod_reason=replica.pod_reason, mesh_address=replica.mesh_address)
    try:
        body = replica.client.request("GET", "/api/v2/status")
    except ReplicaRequestError as exc:
        status.error = str(exc)
        return status
    if not isinstance(body, dict) or not isinstance(body.get("cluster"), dict):
        status.error = "GET /api/v2/status answered without a cluster section (is this an Alertmanager >= 0.16?)"
        return status
    cluster = body["cluster"]
    status.reachable = True
    status.cluster_status = cluster.get("status")
    status.peer_name = cluster.get("name")
    status.peers = [{"name": str(peer.get("name", "")), "address": str(peer.get("address", ""))}
                    for peer in cluster.get("peers") or [] if isinstance(peer, dict)]
    status.version = (body.get("versionInfo") or {}).get("version")
    return status


def gather(replicas: list[Replica]) -> list[ReplicaStatus]:
    return [read_status(replica) for replica in replicas]
