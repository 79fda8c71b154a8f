# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: which running workloads the gate refuses or would refuse.

Pods are grouped under the workload a person deployed (a Deployment through its ReplicaSet, a
CronJob through its Job), each judged by admission_verdicts.py; a workload takes the worst verdict of
its Pods. Three LISTs (Pods, ReplicaSets, Jobs) whatever the number of workloads.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.admission_verdicts import (
    ContainerVerdict,
    ReportIndex,
    pod_verdict,
)
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import GateSettings
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.workload_exceptions import WorkloadException

# Worst first: a workload takes the first of these that one of its Pods has.
OUTCOME_ORDER = ("refused", "unscanned", "admitted", "excluded")
OUTCOMES = OUTCOME_ORDER + ("excepted",)  # excepted: a PolicyException covers the workload
ACTIVE_PHASES = ("Pending", "Running", "Unknown", "")


@dataclass
class WorkloadImpact:
    namespace: str
    kind: str
    name: str
    outcome: str
    pods: int = 0
    message: str = ""
    containers: dict[tuple[str, str], ContainerVerdict] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "kind": self.kind, "name": self.name, "outcome": self.outcome,
                "pods": self.pods, "message": self.message,
                "containers": [item.as_dict() for item in self.containers.values()]}


def _controller(obj: dict[str, Any]) -> tuple[str, str] | None:
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("controller"):
            return str(reference.get("kind", "")), str(reference.get("name", ""))
    return None


def owning_workload(pod: dict[str, Any], owners: dict[tuple[str, str, str], tuple[str, str] | None]) -> tuple[str, str]:
    """(kind, name) of the workload a Pod belongs to: its controller, or that controller's controller
    for ReplicaSets and Jobs (read from ``owners``: (kind, namespace, name) -> their controller)."""
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    controller = _controller(pod)
    if controller is None:
        return "Pod", (pod.get("metadata") or {}).get("name", "")
    parent = owners.get((controller[0], namespace, controller[1]))
    return parent if parent else controller


def workload_impacts(pods: list[dict[str, Any]], replica_sets: list[dict[str, Any]], jobs: list[dict[str, Any]],
                     index: ReportIndex, settings: GateSettings, now: datetime.datetime,
                     exceptions: tuple[WorkloadException, ...] = ()) -> list[WorkloadImpact]:
    owners = {(obj.get("kind") or kind, (obj.get("metadata") or {}).get("namespace", ""),
               (obj.get("metadata") or {}).get("name", "")): _controller(obj)
              for kind, objects in (("ReplicaSet", replica_sets), ("Job", jobs)) for obj in objects}
    impacts: dict[tuple[str, str, str], WorkloadImpact] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase", "") not in ACTIVE_PHASES:
            continue
        namespace = (pod.get("metadata") or {}).get("namespace", "")
        kind, name = owning_workload(pod, owners)
        verdict = pod_verdict(pod.get("spec") or {}, namespace, index, settings, now)
        impact = impacts.setdefault((namespace, kind, name), WorkloadImpact(namespace, kind, name, verdict.outcome))
        impact.pods += 1
        if OUTCOME_ORDER.index(verdict.outcome) < OUTCOME_ORDER.index(impact.outcome) or not impact.message:
            impact.outcome, impact.message = verdict.outcome, verdict.message or impact.message
        for container in verdict.containers:
            impact.containers.setdefault((container.container, container.image), container)
    for impact in impacts.values():
        if impact.outcome in ("refused", "unscanned") and any(
                item.covers(impact.namespace, impact.kind, impact.name) for item in exceptions):
            impact.outcome = "excepted"
    return sorted(impacts.values(), key=lambda item: (item.namespace, item.kind, item.name))


def enforcement_blockers(impacts: list[WorkloadImpact], settings: GateSettings, failure_action: str,
                         enforce_namespaces: tuple[str, ...]) -> list[WorkloadImpact]:
    """The running workloads Enforce would refuse where it is (or is to be) enforced."""
    blocking = ("refused", "unscanned") if settings.unscanned_action == "deny" else ("refused",)
    return [item for item in impacts if item.outcome in blocking
            and (failure_action == "Enforce" or item.namespace in enforce_namespaces)]
