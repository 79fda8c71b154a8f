# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the Velero Schedules that meet each component's RPO, and the Prometheus
alert rules that say when one does not.

A schedule meets the RPO when its longest interval plus the longest measured backup duration stays
under the objective (the worst case: a change made right after a backup started waits for the next
backup to complete); one that cannot is refused with the arithmetic and a schedule that would do.
Backups are kept ``ttl`` (Velero's garbage collection), which must outlast the interval, and
``useOwnerReferencesInBackup: false`` keeps them when a Schedule is deleted.

The rules read Velero's metrics: ``velero_backup_last_successful_timestamp{schedule}`` (RPO breach),
``velero_backup_last_status{schedule}`` and ``velero_backup_failure_total`` (failed backups), and
``velero_backup_location_status_gauge`` (1 when a location is Available).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import Component
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.durations import (
    go_duration,
    human_duration,
)

MANAGED_LABELS = {"app.kubernetes.io/managed-by": "atlas.hardening"}
COMPONENT_LABEL = "atlas.hardening/dr-component"
RULE_NAME = "atlas-hardening-disaster-recovery"


class ScheduleCannotMeetRpo(ValueError):
    pass


def suggested_schedule(budget_seconds: float) -> str:
    """A cron expression whose runs are less than ``budget_seconds`` apart (room for the backup itself)."""
    for step in (60, 30, 20, 15, 10, 5, 1):
        if step * 60 < budget_seconds:
            return "0 * * * *" if step == 60 else f"*/{step} * * * *"
    return "* * * * *"


def rpo_problems(components: list[Component], measured: Mapping[str, float | None]) -> list[str]:
    """Why each schedule cannot meet its RPO or keep its backups (empty when all can)."""
    problems: list[str] = []
    for component in components:
        duration = float(measured.get(component.name) or 0.0)
        interval = component.interval
        worst = interval + duration
        if worst > component.rpo:
            budget = component.rpo - duration
            fix = (f"run it more often than every {human_duration(budget)} (e.g. '{suggested_schedule(budget)}')"
                   if budget >= 60 else "its backups alone take longer than the objective: split the component "
                   "or back its data up with its own tool")
            problems.append(f"component {component.name}: schedule '{component.schedule}' waits up to "
                            f"{human_duration(interval)} between backups"
                            + (f" and its backups take up to {human_duration(duration)} (measured)" if duration else "")
                            + f": the worst-case RPO {human_duration(worst)} exceeds the objective "
                            f"{human_duration(component.rpo)}; {fix}.")
        if component.ttl <= worst:
            problems.append(f"component {component.name}: ttl {human_duration(component.ttl)} expires backups before "
                            f"the next one completes (up to {human_duration(worst)}): keep them longer.")
    return problems


def schedule_manifest(component: Component, velero_namespace: str, storage_location: str,
                      snapshot_volumes: bool) -> dict[str, Any]:
    labels = {**MANAGED_LABELS, COMPONENT_LABEL: component.name}
    template: dict[str, Any] = {
        "includedNamespaces": list(component.namespaces),
        "ttl": go_duration(component.ttl),
        "snapshotVolumes": snapshot_volumes and component.backup == "velero",
        "metadata": {"labels": {COMPONENT_LABEL: component.name}},
    }
    if storage_location:
        template["storageLocation"] = storage_location
    return {"apiVersion": "velero.io/v1", "kind": "Schedule",
            "metadata": {"name": component.schedule_name, "namespace": velero_namespace, "labels": labels},
            "spec": {"schedule": component.schedule, "useOwnerReferencesInBackup": False, "paused": False,
                     "template": template}}


def _prometheus_duration(seconds: float) -> str:
    return f"{int(math.ceil(seconds))}s"


def alert_rule_groups(components: list[Component], runbook_base_url: str = "") -> list[dict[str, Any]]:
    """The rule groups of the PrometheusRule (also what ``promtool check rules`` reads)."""
    def runbook(component: str) -> dict[str, str]:
        return {"runbook_url": f"{runbook_base_url.rstrip('/')}/{component}.md"} if runbook_base_url else {}

    rpo_rules: list[dict[str, Any]] = []
    for component in components:
        selector = f'schedule="{component.schedule_name}"'
        labels = {"severity": "critical", "component": component.name}
        rpo_rules.append({
            "alert": "DisasterRecoveryRPOBreached",
            "expr": f"time() - max(velero_backup_last_successful_timestamp{{{selector}}}) > {int(component.rpo)}",
            "for": "5m", "labels": labels,
            "annotations": {"summary": f"{component.name}: newest successful backup older than its RPO",
                            "description": f"The newest Completed backup of Velero schedule {component.schedule_name} "
                                           f"is {{{{ $value | humanizeDuration }}}} old; the RPO of {component.name} "
                                           f"is {human_duration(component.rpo)}.", **runbook(component.name)}})
        rpo_rules.append({
            "alert": "DisasterRecoveryNoSuccessfulBackup",
            "expr": f"absent(velero_backup_last_successful_timestamp{{{selector}}})",
            "for": _prometheus_duration(component.rpo), "labels": labels,
            "annotations": {"summary": f"{component.name}: no successful backup recorded",
                            "description": f"Velero has reported no Completed backup of schedule "
                                           f"{component.schedule_name} for longer than the RPO "
                                           f"({human_duration(component.rpo)}).", **runbook(component.name)}})
    schedules = "|".join(component.schedule_name for component in components)
    failure_rules = [
        {"alert": "DisasterRecoveryBackupFailed",
         "expr": f'velero_backup_last_status{{schedule=~"{schedules}"}} == 0',
         "for": "15m", "labels": {"severity": "warning"},
         "annotations": {"summary": "Velero schedule {{ $labels.schedule }}: last backup failed",
                         "description": "The last backup of {{ $labels.schedule }} did not complete; "
                                        "velero backup describe --details shows why."}},
        {"alert": "DisasterRecoveryBackupFailures",
         "expr": f'increase(velero_backup_failure_total{{schedule=~"{schedules}"}}[1h]) > 0',
         "labels": {"severity": "warning"},
         "annotations": {"summary": "Velero schedule {{ $labels.schedule }}: backups failed in the past hour",
                         "description": "{{ $value }} backup(s) of {{ $labels.schedule }} failed in the past hour."}},
        {"alert": "DisasterRecoveryLocationUnavailable",
         "expr": "velero_backup_location_status_gauge == 0",
         "for": "10m", "labels": {"severity": "critical"},
         "annotations": {"summary": "Velero backup location {{ $labels.backup_location_name }} unavailable",
                         "description": "Velero cannot reach backup storage location "
                                        "{{ $labels.backup_location_name }}: no backup can be written to it."}},
    ]
    return [{"name": "disaster-recovery.rpo", "rules": rpo_rules},
            {"name": "disaster-recovery.backups", "rules": failure_rules}]


def prometheus_rule_manifest(components: list[Component], namespace: str, labels: Mapping[str, str],
                             runbook_base_url: str = "") -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": RULE_NAME, "namespace": namespace, "labels": {**MANAGED_LABELS, **labels}},
            "spec": {"groups": alert_rule_groups(components, runbook_base_url)}}
