# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what a rotation run shows with --diff: versions, dates and copies, never a value."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import StoredSecret
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.secret_fields import META_ROTATED_AT, PASSWORD
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import RotationRun


def run_diff(run: RotationRun) -> dict[str, Any]:
    """What changed, without any value: versions, dates, which copies."""
    result = run.result
    after: dict[str, Any] = {"vault_version": result.vault_version, "last_rotated": result.last_rotated,
                             "next_due": result.next_due}
    if result.rotated:
        after[PASSWORD] = "<changed, not shown>"
    if result.copies_updated:
        after["secret_copies_updated"] = list(result.copies_updated)
    return {"before": dict(run.before), "after": after}


def rotation_diff(run: RotationRun, secret: StoredSecret) -> dict[str, Any]:
    before = {"vault_version": secret.version, META_ROTATED_AT: run.result.last_rotated,
              PASSWORD: "<current>"}
    after = {"vault_version": secret.version + 2, META_ROTATED_AT: "<now>", PASSWORD: "<new, not shown>",
             "secret_copies": [copy.ref for copy in run.settings.secret_copies]}
    return {"before": before, "after": after}
