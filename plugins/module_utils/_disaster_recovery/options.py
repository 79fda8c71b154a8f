# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the catalogue options every disaster-recovery module takes
(documented by the atlas.hardening.disaster_recovery doc fragment)."""

from __future__ import annotations

from typing import Any

CATALOGUE_ARGSPEC: dict[str, dict[str, Any]] = {
    "components": {"type": "list", "elements": "dict", "required": True},
    "names": {"type": "list", "elements": "str", "default": []},
    "velero_namespace": {"type": "str", "default": "velero"},
}
