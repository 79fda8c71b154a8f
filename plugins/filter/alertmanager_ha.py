# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the alertmanager_ha role: its plan and its summary line (logic in module_utils/_alertmanager)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.ha_plan import alertmanager_ha_plan
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.ha_report import alertmanager_ha_report
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError


def _plain(value: Any) -> Any:
    """Templated values as plain Python data (Ansible's str subclasses become str)."""
    return json.loads(json.dumps(value))


def _plan(settings: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return alertmanager_ha_plan(_plain(settings))
    except HardeningError as exc:
        raise AnsibleFilterError(str(exc)) from None


def _report(plan: Mapping[str, Any], settings: Mapping[str, Any], **results: Any) -> dict[str, Any]:
    return alertmanager_ha_report(plan, settings, **results)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"alertmanager_ha_plan": _plan, "alertmanager_ha_report": _report}
