# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter of the keycloak_rotation_schedule role: its objects (logic in
module_utils/_rotation/schedule_manifests.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.schedule_manifests import (
    image_warnings,
    keycloak_rotation_schedule_manifests,
)


def _plain(value: Any) -> Any:
    """Templated values as plain Python data (Ansible's str subclasses become str)."""
    return json.loads(json.dumps(value))


def _manifests(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        return keycloak_rotation_schedule_manifests(_plain(settings))
    except HardeningError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"keycloak_rotation_schedule_manifests": _manifests,
                "keycloak_rotation_schedule_warnings": lambda settings: image_warnings(_plain(settings))}
