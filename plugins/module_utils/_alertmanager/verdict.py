# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: is an Alertmanager cluster really highly available? The verdict on the answers.

The verdict is ``healthy`` only when every expected replica answers, is ready, and sees exactly the
expected replicas as peers; ``degraded`` names what is wrong, ``not_ha`` is one replica by design,
``down`` is no answer at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.replicas import ReplicaStatus

VERDICT_HEALTHY = "healthy"


VERDICT_DEGRADED = "degraded"


VERDICT_NOT_HA = "not_ha"


VERDICT_DOWN = "down"


VERDICTS = (VERDICT_HEALTHY, VERDICT_DEGRADED, VERDICT_NOT_HA, VERDICT_DOWN)


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


def failure(replica: str, reason: str) -> dict[str, str]:
    return {"replica": replica, "reason": reason}


def judge(expected_replicas: int, statuses: list[ReplicaStatus], missing_replicas: list[str] | None = None,
          extra_failures: list[dict[str, str]] | None = None) -> Verdict:
    """Judge the cluster from every replica's answer.

    ``missing_replicas``: replicas that should exist but were not found (no pod), by name.
    ``extra_failures``: failures found elsewhere (such as a Prometheus that does not send alerts
    to every replica); they make a clustered verdict ``degraded``.
    """
    missing_replicas = list(missing_replicas or [])
    failures: list[dict[str, str]] = [failure(name, "no pod: the StatefulSet has not created it (yet)")
                                      for name in missing_replicas]
    expected_names = [status.name for status in statuses] + missing_replicas
    by_peer_name = {status.peer_name: status.name for status in statuses if status.peer_name}
    by_address = {status.mesh_address: status.name for status in statuses if status.mesh_address}
    identifiable = set(by_peer_name.values()) | set(by_address.values())
    reachable = [status for status in statuses if status.reachable]

    for status in statuses:
        if not status.reachable:
            failures.append(failure(status.name, "unreachable: %s" % status.error))
            continue
        if status.pod_ready is False:
            failures.append(failure(status.name, "pod is not Ready%s" % (
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
            failures.append(failure(status.name, "clustering is disabled (status disabled) although %d replicas "
                                    "are expected: the replica runs without --cluster.listen-address"
                                    % expected_replicas))
            continue
        if status.cluster_status != "ready":
            failures.append(failure(status.name, "cluster status is %s, not ready (the mesh has not settled)"
                                    % status.cluster_status))
        problem = _membership_problem(status, expected_replicas, expected_names, unknown, identifiable)
        if problem:
            failures.append(failure(status.name, problem))

    failures.extend(extra_failures or [])
    if expected_replicas <= 0:
        return Verdict(VERDICT_DOWN, expected_replicas, failures,
                       "replicas is %d: Alertmanager is scaled to zero" % expected_replicas)
    if expected_replicas == 1:
        if not reachable:
            return Verdict(VERDICT_DOWN, expected_replicas, failures,
                           "the only replica does not answer: Alertmanager is down")
        status = reachable[0]
        return Verdict(VERDICT_NOT_HA, expected_replicas, failures + [failure(
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
