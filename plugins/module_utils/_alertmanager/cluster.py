# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: is an Alertmanager cluster really highly available? Ask every replica, then judge.

Each replica is asked for ``GET /api/v2/status``; the answers say whether gossip is on
(``cluster.status``: ready, settling or disabled), the replica's own peer name and the peers it
sees. The verdict is ``healthy`` only when every expected replica answers, is ready, and sees
exactly the expected replicas as peers. An optional gossip probe creates a short silence on one
replica, waits for it on every other, and expires it: silences are what the peers replicate, so
this proves the mesh carries state, not only membership.

How a replica is reached (a URL, or the Kubernetes API server's pod proxy) is the caller's
business: it hands in :class:`Replica` objects whose ``client`` implements :class:`ReplicaClient`.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339

VERDICT_HEALTHY = "healthy"
VERDICT_DEGRADED = "degraded"
VERDICT_NOT_HA = "not_ha"
VERDICT_DOWN = "down"
VERDICTS = (VERDICT_HEALTHY, VERDICT_DEGRADED, VERDICT_NOT_HA, VERDICT_DOWN)

# The probe silence matches nothing real, and lives only a few minutes if the probe cannot expire it.
PROBE_ALERTNAME = "AtlasHardeningGossipProbe"
PROBE_LABEL = "atlas_hardening_probe"
PROBE_LIFETIME = timedelta(minutes=5)


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


class Verdict:
    """``status`` is one of VERDICTS; ``failures`` name the replica and the reason."""

    def __init__(self, status: str, expected_replicas: int, failures: list[dict[str, str]], summary: str) -> None:
        self.status = status
        self.expected_replicas = expected_replicas
        self.failures = failures
        self.summary = summary

    @property
    def healthy(self) -> bool:
        return self.status == VERDICT_HEALTHY

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "healthy": self.healthy, "expected_replicas": self.expected_replicas,
                "failures": [dict(failure) for failure in self.failures], "summary": self.summary}


def _failure(replica: str, reason: str) -> dict[str, str]:
    return {"replica": replica, "reason": reason}


def judge(expected_replicas: int, statuses: list[ReplicaStatus], missing_replicas: list[str] | None = None,
          extra_failures: list[dict[str, str]] | None = None) -> Verdict:
    """Judge the cluster from every replica's answer.

    ``missing_replicas``: replicas that should exist but were not found (no pod), by name.
    ``extra_failures``: failures found elsewhere (such as a Prometheus that does not send alerts
    to every replica); they make a clustered verdict ``degraded``.
    """
    missing_replicas = list(missing_replicas or [])
    failures: list[dict[str, str]] = [_failure(name, "no pod: the StatefulSet has not created it (yet)")
                                      for name in missing_replicas]
    expected_names = [status.name for status in statuses] + missing_replicas
    by_peer_name = {status.peer_name: status.name for status in statuses if status.peer_name}
    by_address = {status.mesh_address: status.name for status in statuses if status.mesh_address}
    identifiable = set(by_peer_name.values()) | set(by_address.values())
    reachable = [status for status in statuses if status.reachable]

    for status in statuses:
        if not status.reachable:
            failures.append(_failure(status.name, "unreachable: %s" % status.error))
            continue
        if status.pod_ready is False:
            failures.append(_failure(status.name, "pod is not Ready%s" % (
                ": " + status.pod_reason if status.pod_reason else "")))
        status.sees = []
        unknown = []
        for peer in status.peers:
            name = by_peer_name.get(peer["name"]) or by_address.get(peer["address"])
            if name:
                status.sees.append(name)
            else:
                unknown.append("%s at %s" % (peer["name"] or "?", peer["address"] or "?"))
        if expected_replicas <= 1:
            continue
        if status.cluster_status == "disabled":
            failures.append(_failure(status.name, "clustering is disabled (status disabled) although %d replicas "
                                     "are expected: the replica runs without --cluster.listen-address"
                                     % expected_replicas))
            continue
        if status.cluster_status != "ready":
            failures.append(_failure(status.name, "cluster status is %s, not ready (the mesh has not settled)"
                                     % status.cluster_status))
        problem = _membership_problem(status, expected_replicas, expected_names, unknown, identifiable)
        if problem:
            failures.append(_failure(status.name, problem))

    failures.extend(extra_failures or [])
    if expected_replicas <= 0:
        return Verdict(VERDICT_DOWN, expected_replicas, failures,
                       "replicas is %d: Alertmanager is scaled to zero" % expected_replicas)
    if expected_replicas == 1:
        if not reachable:
            return Verdict(VERDICT_DOWN, expected_replicas, failures,
                           "the only replica does not answer: Alertmanager is down")
        status = reachable[0]
        return Verdict(VERDICT_NOT_HA, expected_replicas, failures + [_failure(
            status.name, "single replica (cluster status %s): not highly available, alerts are lost while it is "
            "down; run at least 3 replicas" % status.cluster_status)],
            "1 replica, cluster status %s: not highly available" % status.cluster_status)

    if not reachable:
        return Verdict(VERDICT_DOWN, expected_replicas, failures,
                       "none of the %d replicas answers" % expected_replicas)
    if failures:
        return Verdict(VERDICT_DEGRADED, expected_replicas, failures, "%d problem(s): %s" % (
            len(failures), "; ".join("%s: %s" % (failure["replica"], failure["reason"]) for failure in failures)))
    return Verdict(VERDICT_HEALTHY, expected_replicas, failures,
                   "%d replicas ready, each sees all %d peers" % (expected_replicas, expected_replicas))


def _membership_problem(status: ReplicaStatus, expected_replicas: int, expected_names: list[str],
                        unknown: list[str], identifiable: set[str]) -> str:
    """Why the peers ``status`` sees are not exactly the expected replicas ('' when they are).

    A replica that does not answer and has no known mesh address cannot be recognised in the peer
    lists of the others; an unknown peer is taken to be such a replica before it is called a stranger.
    """
    not_seen = [name for name in expected_names if name not in status.sees]
    unidentified = [name for name in not_seen if name not in identifiable]
    explained = min(len(unknown), len(unidentified))
    strangers = len(unknown) - explained
    count = len(status.peers)
    if count == expected_replicas and len(not_seen) == explained and not strangers:
        return ""
    reason = "sees %d of %d peers" % (count, expected_replicas)
    missing = [name for name in not_seen if name in identifiable]
    if explained < len(unidentified):
        missing += unidentified if not explained else ["%d of %s" % (len(unidentified) - explained,
                                                                     "/".join(unidentified))]
    if missing:
        reason += "; missing: %s" % ", ".join(missing)
    if strangers:
        reason += "; unexpected peers: %s (another Alertmanager cluster merged in? set clusterLabel)" % (
            ", ".join(unknown))
    return reason


def wait_for_verdict(collect: Callable[[], tuple[list[ReplicaStatus], Verdict]], timeout: float,
                     interval: float = 1.0, sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> tuple[list[ReplicaStatus], Verdict, float, int]:
    """Call ``collect`` until the verdict is healthy or ``timeout`` seconds passed.

    Returns the last statuses and verdict, the seconds waited and the number of rounds. A single
    replica (``not_ha``) cannot become healthy by waiting, so it returns at once.
    """
    started = clock()
    rounds = 0
    while True:
        statuses, verdict = collect()
        rounds += 1
        waited = clock() - started
        if verdict.healthy or verdict.status == VERDICT_NOT_HA or waited + interval > timeout:
            return statuses, verdict, round(waited, 3), rounds
        sleep(interval)


def probe_silence(now: datetime | None = None) -> dict[str, Any]:
    """A silence that matches no real alert and ends by itself a few minutes later."""
    now = now or datetime.now(timezone.utc)
    token = uuid.uuid4().hex
    return {
        "matchers": [
            {"name": "alertname", "value": PROBE_ALERTNAME, "isRegex": False, "isEqual": True},
            {"name": PROBE_LABEL, "value": token, "isRegex": False, "isEqual": True},
        ],
        "startsAt": rfc3339(now, milliseconds=True),
        "endsAt": rfc3339(now + PROBE_LIFETIME, milliseconds=True),
        "createdBy": "atlas.hardening.alertmanager_cluster_info",
        "comment": "Gossip probe: created, checked on every replica and expired by atlas.hardening.",
    }


def gossip_probe(replicas: list[Replica], statuses: list[ReplicaStatus], timeout: float = 10.0,
                 interval: float = 0.1, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Create a silence on the first reachable replica, wait for it on every other, expire it.

    Returns ``performed``, ``passed``, ``origin``, ``silence_id``, ``propagation_seconds`` (per
    replica), ``failures`` (replica and reason) and ``expired``.
    """
    reachable = [replica for replica, status in zip(replicas, statuses) if status.reachable]
    result: dict[str, Any] = {"performed": False, "passed": False, "origin": None, "silence_id": None,
                              "propagation_seconds": {}, "failures": [], "expired": False, "reason": ""}
    if len(reachable) < 2:
        result["reason"] = "needs at least two reachable replicas (%d reachable)" % len(reachable)
        return result
    origin = reachable[0]
    result["origin"] = origin.name
    try:
        created = origin.client.request("POST", "/api/v2/silences", probe_silence())
    except ReplicaRequestError as exc:
        result["performed"] = True
        result["failures"].append(_failure(origin.name, "could not create the probe silence: %s" % exc))
        return result
    silence_id = (created or {}).get("silenceID")
    if not silence_id:
        result["performed"] = True
        result["failures"].append(_failure(origin.name, "creating the probe silence returned no silenceID"))
        return result
    result.update(performed=True, silence_id=silence_id)
    pending = {replica.name: replica for replica in reachable[1:]}
    last_error: dict[str, str] = {}
    started = clock()
    try:
        while pending:
            for name, replica in list(pending.items()):
                try:
                    found = replica.client.request("GET", "/api/v2/silence/%s" % silence_id)
                except ReplicaRequestError as exc:
                    if exc.status != 404:
                        last_error[name] = str(exc)
                    continue
                if isinstance(found, dict) and found.get("id") == silence_id:
                    result["propagation_seconds"][name] = round(clock() - started, 3)
                    del pending[name]
            if not pending or clock() - started > timeout:
                break
            sleep(interval)
    finally:
        try:
            origin.client.request("DELETE", "/api/v2/silence/%s" % silence_id)
            result["expired"] = True
        except ReplicaRequestError as exc:
            result["failures"].append(_failure(origin.name, "could not expire probe silence %s (it ends by itself "
                                               "within %d minutes): %s" % (silence_id, PROBE_LIFETIME.seconds // 60,
                                                                           exc)))
    for name in sorted(pending):
        reason = "the probe silence created on %s did not reach it within %.0f s" % (origin.name, timeout)
        if name in last_error:
            reason += " (last error: %s)" % last_error[name]
        result["failures"].append(_failure(name, reason))
    result["passed"] = not pending
    return result


class AlertmanagerClusterError(HardeningError):
    """The cluster could not be examined at all (bad input, nothing to ask)."""


def examine(discover: Callable[[], tuple[int, list[Replica], list[str]]], wait_timeout: float = 0.0,
            interval: float = 1.0, gossip: bool = False, gossip_timeout: float = 10.0, check_mode: bool = False,
            routing_check: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Find the replicas, ask them (until healthy or ``wait_timeout``), check routing, probe gossip.

    ``discover`` returns (expected replica count, replicas to ask, names of missing replicas); it
    is called every round, so replicas that appear while waiting (a scale-up) are picked up.
    ``routing_check`` returns ``{failures, ...}`` about how alerts reach the replicas; it runs once.
    """
    found: dict[str, Any] = {}

    def collect() -> tuple[list[ReplicaStatus], Verdict]:
        expected, replicas, missing = discover()
        found.update(expected=expected, replicas=replicas, missing=missing)
        statuses = gather(replicas)
        return statuses, judge(expected, statuses, missing)

    statuses, verdict, waited, rounds = wait_for_verdict(collect, wait_timeout, interval)
    extra_failures: list[dict[str, str]] = []
    routing: dict[str, Any] = {"checked": False, "reason": "not requested"}
    if routing_check is not None:
        routing = routing_check()
        extra_failures.extend(routing.get("failures") or [])

    probe: dict[str, Any] = {"performed": False, "passed": False, "reason": "not requested (gossip_check=false)"}
    if gossip:
        if check_mode:
            probe["reason"] = "skipped in check mode: the probe creates and expires a silence"
        elif verdict.status == VERDICT_NOT_HA:
            probe["reason"] = "skipped: a single replica has no peer to gossip with"
        else:
            probe = gossip_probe(found["replicas"], statuses, timeout=gossip_timeout)
            if probe["performed"] and not probe["passed"]:
                extra_failures.extend(probe["failures"])
    if extra_failures:
        verdict = judge(found["expected"], statuses, found["missing"], extra_failures)
    result = verdict.to_dict()
    return {
        "verdict": result["status"],
        "healthy": result["healthy"],
        "summary": result["summary"],
        "failures": result["failures"],
        "expected_replicas": result["expected_replicas"],
        "replicas": [status.to_dict() for status in statuses],
        "gossip_check": probe,
        "alert_routing": routing,
        "waited_seconds": waited,
        "rounds": rounds,
    }
