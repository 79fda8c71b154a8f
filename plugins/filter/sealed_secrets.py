# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the sealed_secrets roles: the controller's objects and the daily key backup's (logic in
module_utils/_sealed_secrets/controller_manifests.py and key_backup_schedule_manifests.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.controller_manifests import (
    ControllerSettings,
    controller_manifests,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.key_backup_schedule_manifests import (
    key_backup_schedule_manifests,
)


def _plain(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Templated values as plain Python data (Ansible's str subclasses become str, dates text)."""
    return json.loads(json.dumps(dict(settings), default=str))


def _manifests(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        return controller_manifests(ControllerSettings.from_options(_plain(settings)))
    except (HardeningError, TypeError) as exc:
        raise AnsibleFilterError(str(exc)) from None


def _backup_manifests(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        return key_backup_schedule_manifests(_plain(settings))
    except HardeningError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"sealed_secrets_controller_manifests": _manifests,
                "sealed_secrets_key_backup_manifests": _backup_manifests}
