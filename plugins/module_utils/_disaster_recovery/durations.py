# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: durations as the catalogue and Velero write them (``1h``, ``90m``,
``720h0m0s``, or a number of seconds) and as reports show them."""

from __future__ import annotations

import re
from typing import Any

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any, where: str) -> float:
    """Seconds in ``value``; a ValueError naming ``where`` and the expected form otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: {value!r} is not a duration (write e.g. 1h, 30m or 3600)")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text and _PART.sub("", text) == "":
            seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))
        else:
            raise ValueError(f"{where}: {value!r} is not a duration (write e.g. 1h, 30m, 1h30m or 3600)")
    if seconds <= 0:
        raise ValueError(f"{where}: {value!r} must be longer than zero")
    return seconds


def go_duration(seconds: float) -> str:
    """What Velero writes for a duration (``72h0m0s``)."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


def human_duration(seconds: float | None) -> str:
    """``2 h 05 min``, ``12 min 30 s``, ``45 s``, ``0.4 s``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
