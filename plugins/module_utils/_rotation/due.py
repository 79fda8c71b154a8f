# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: whether a rotation is due, from the rotation recorded in the Vault metadata."""

from __future__ import annotations

import datetime

from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import parse_rfc3339, rfc3339
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import StoredSecret
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.secret_fields import (
    META_ROTATED_AT,
    META_ROTATION_ID,
    ROTATION_ID,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import RotationRun


def is_promoted_but_unrecorded(secret: StoredSecret) -> bool:
    """A rotation promoted its password in the data but did not record itself in the metadata."""
    data_rotation = secret.data.get(ROTATION_ID)
    return bool(data_rotation) and data_rotation != secret.custom_metadata.get(META_ROTATION_ID)


def evaluate_due(run: RotationRun, secret: StoredSecret) -> None:
    """Set the result's due, due_reason, last_rotated and next_due."""
    result = run.result
    settings = run.settings
    last = parse_rfc3339(secret.custom_metadata.get(META_ROTATED_AT))
    max_age = datetime.timedelta(days=settings.max_age_days)
    result.last_rotated = rfc3339(last) if last else None
    if last is None:
        result.due = True
        result.due_reason = ("no rotation is recorded in the Vault metadata (first run): the password's "
                             "age is unknown")
        result.next_due = rfc3339(run.now())
    else:
        next_due = last + max_age
        result.next_due = rfc3339(next_due)
        result.due = run.now() >= next_due
        within = "is older than" if result.due else "is within"
        result.due_reason = f"last rotation {result.last_rotated} {within} {settings.max_age_days} days"
    if settings.force and not result.due:
        result.due = True
        result.due_reason = f"force=true ({result.due_reason})"
