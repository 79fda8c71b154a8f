# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the disaster-recovery roles: the Velero Schedules and the alert rules of the catalogue,
refused when a schedule cannot meet its RPO, and the monthly restore test's objects (logic in
module_utils/_disaster_recovery/backup_manifests.py and drill_schedule_manifests.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.backup_manifests import (
    prometheus_rule_manifest,
    rpo_problems,
    schedule_manifest,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import (
    CatalogueError,
    parse_catalogue,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_schedule_manifests import (
    drill_schedule_manifests,
)
from ansible_collections.atlas.hardening.plugins.module_utils._velero.locations import location_problem


def _plain(value: Any) -> Any:
    """Templated values as plain Python data (Ansible's str subclasses become str)."""
    return json.loads(json.dumps(value, default=str))


def _components(settings: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    options = _plain(dict(settings))
    try:
        components = parse_catalogue(options.get("components"))
    except CatalogueError as exc:
        raise AnsibleFilterError(str(exc)) from None
    measured = {entry["component"]: entry.get("longest_backup_seconds")
                for entry in (options.get("status") or {}).get("components") or []}
    return options, components, measured


def schedule_problems(settings: Mapping[str, Any]) -> list[str]:
    """Why schedules cannot meet their RPO (``status``: a velero_backup_info result with measured durations)."""
    _options, components, measured = _components(settings)
    return rpo_problems(components, measured)


def backup_manifests(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Schedules (one per component) and the PrometheusRule, from the role's settings and the measured
    backup durations (``status``: a velero_backup_info result, or none before the first backup)."""
    options, components, measured = _components(settings)
    problems = rpo_problems(components, measured)
    if problems:
        raise AnsibleFilterError("The backups cannot meet their RPO, nothing was changed: " + " ".join(problems))
    manifests = [schedule_manifest(component, options.get("velero_namespace") or "velero",
                                   options.get("storage_location") or "", bool(options.get("snapshot_volumes")))
                 for component in components]
    if options.get("alert_rules", True):
        manifests.append(prometheus_rule_manifest(components, options.get("rule_namespace") or "monitoring",
                                                  options.get("rule_labels") or {},
                                                  options.get("runbook_base_url") or ""))
    return manifests


def _location_problem(locations: list[dict[str, Any]], name: str = "", namespace: str = "velero") -> str:
    return location_problem(_plain(locations), str(name or ""), str(namespace))


def _drill_schedule_manifests(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        return drill_schedule_manifests(_plain(dict(settings)))
    except HardeningError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"disaster_recovery_backup_manifests": backup_manifests,
                "disaster_recovery_schedule_problems": schedule_problems,
                "disaster_recovery_location_problem": _location_problem,
                "disaster_recovery_drill_schedule_manifests": _drill_schedule_manifests}
