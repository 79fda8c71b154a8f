# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the fields of the rotation's Vault secret and metadata, and fixed names.

The state of a rotation lives in the KV v2 data itself (see protocol.py), so any run can resume
what another left. Any key of the secret that is not named here is kept as it is.
"""

from __future__ import annotations

# Keys of the KV v2 data this protocol owns; any other key in the secret is kept as is.
PASSWORD = "password"
USERNAME = "username"
PREVIOUS_PASSWORD = "previous_password"
ROTATION_ID = "rotation_id"
PENDING_PASSWORD = "pending_password"
PENDING_ROTATION_ID = "pending_rotation_id"
PENDING_SINCE = "pending_since"
PENDING_KEYS = (PENDING_PASSWORD, PENDING_ROTATION_ID, PENDING_SINCE)

# Keys of the key's custom_metadata this protocol owns (other keys are kept).
META_ROTATED_AT = "rotated_at"
META_ROTATION_ID = "rotation_id"
META_ROTATED_BY = "rotated_by"
META_NEXT_DUE = "next_due"

TEMPORARY_ADMIN_ATTRIBUTE = "is_temporary_admin"
OPERATOR_INITIAL_ADMIN_SUFFIX = "-initial-admin"
RECOVERY_DOC = "docs/keycloak-admin-rotation.md (section 'Recovery by hand')"
