# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the error types shared by the connection layers and the feature logic.

Every error a user can meet is a HardeningError whose message already says what failed, against
which endpoint, and what to check; modules turn it into one fail_json message.
"""

from __future__ import annotations

from typing import Any


class HardeningError(Exception):
    """A failure the user can act on. ``details`` are extra, non-secret fields for fail_json."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details
