# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter of the kyverno_image_scan role: its objects (logic in module_utils/_image_scan/gate_plan.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_plan import image_scan_gate_manifests


def _plain(value: Any) -> Any:
    """Templated values as plain Python data (Ansible's str subclasses become str, dates text)."""
    return json.loads(json.dumps(value, default=str))


def _manifests(settings: Mapping[str, Any], capabilities: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        return image_scan_gate_manifests(_plain(settings), _plain(capabilities))
    except HardeningError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"kyverno_image_scan_manifests": _manifests}
