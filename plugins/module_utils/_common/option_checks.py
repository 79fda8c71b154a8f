# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: bounds and shapes of options that an argument spec cannot express.

Checked before the first request, each with one message that says what to set.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

_PATH_SEGMENT = re.compile(r"^[^\s/]+$")


def check_range(value: Any, option: str, minimum: float | None = None, maximum: float | None = None,
                why: str = "") -> None:
    """``minimum <= value <= maximum`` (either bound optional); None is left to the argument spec."""
    if value is None:
        return
    low = minimum is not None and value < minimum
    high = maximum is not None and value > maximum
    if low or high:
        if minimum is not None and maximum is not None:
            wanted = f"between {minimum:g} and {maximum:g}"
        elif minimum is not None:
            wanted = f"at least {minimum:g}"
        else:
            wanted = f"at most {maximum:g}"
        raise HardeningError(f"{option} must be {wanted} (got {value}){': ' + why if why else ''}.")


def check_vault_path(value: str, option: str) -> str:
    """A KV mount point or secret path: segments without whitespace, never ``.`` or ``..`` (a path
    must not climb out of its mount, e.g. to ``sys/policy``). Returns it without outer slashes."""
    path = (value or "").strip("/")
    segments = path.split("/")
    if not path or any(segment in (".", "..") or not _PATH_SEGMENT.match(segment) for segment in segments):
        raise HardeningError(f"{option} {value!r} is not a plain Vault path: use segments like keycloak/admin, "
                             "without empty, '.' or '..' segments or whitespace.")
    return path
