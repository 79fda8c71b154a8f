# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: examine an Alertmanager cluster: find the replicas, ask them until the
verdict is healthy (or time runs out), check how alerts reach them, and probe gossip when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.gossip_probe import gossip_probe
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.replicas import (
    Replica,
    ReplicaStatus,
    gather,
)
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.verdict import (
    VERDICT_NOT_HA,
    Verdict,
    judge,
    wait_for_verdict,
)
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError


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
