# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the gossip probe, the one part of the Alertmanager check that writes.

It creates a short silence on one replica, waits for it on every other, and expires it: silences
are what the peers replicate, so this proves the mesh carries state, not only membership.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.replicas import (
    Replica,
    ReplicaRequestError,
    ReplicaStatus,
)
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.verdict import failure
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339

# The probe silence matches nothing real, and lives only a few minutes if the probe cannot expire it.
PROBE_ALERTNAME = "AtlasHardeningGossipProbe"


PROBE_LABEL = "atlas_hardening_probe"


PROBE_LIFETIME = timedelta(minutes=5)


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
        result["failures"].append(failure(origin.name, "could not create the probe silence: %s" % exc))
        return result
    silence_id = (created or {}).get("silenceID")
    if not silence_id:
        result["performed"] = True
        result["failures"].append(failure(origin.name, "creating the probe silence returned no silenceID"))
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
            result["failures"].append(failure(origin.name, "could not expire probe silence %s (it ends by itself "
                                              "within %d minutes): %s" % (silence_id, PROBE_LIFETIME.seconds // 60,
                                                                          exc)))
    for name in sorted(pending):
        reason = "the probe silence created on %s did not reach it within %.0f s" % (origin.name, timeout)
        if name in last_error:
            reason += " (last error: %s)" % last_error[name]
        result["failures"].append(failure(name, reason))
    result["passed"] = not pending
    return result
