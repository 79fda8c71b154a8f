# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: checking files named by options before anything is sent."""

from __future__ import annotations

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError


def require_readable_file(path: str, option: str, what: str,
                          error: type[HardeningError] = HardeningError) -> str:
    """``path`` when it is a file this process can read; else ``error`` naming the option and what it holds."""
    try:
        with open(path, "rb"):
            pass
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise error(f"{option} {path} does not exist or is not a file: give {what}.") from None
    except OSError as exc:
        raise error(f"{option} {path} cannot be read ({exc.strerror}): give {what}.") from None
    return path
