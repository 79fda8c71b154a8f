# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: RFC 3339 timestamps as Kubernetes, Vault and Alertmanager write them."""

from __future__ import annotations

import datetime


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(moment: datetime.datetime, milliseconds: bool = False) -> str:
    """``2026-12-01T08:00:00Z`` (or with ``.123`` milliseconds), always in UTC."""
    moment = moment.astimezone(datetime.timezone.utc)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> datetime.datetime | None:
    """Parse an RFC 3339 time as Vault writes it (nanoseconds, ``Z``); None when absent/invalid."""
    if not text or not isinstance(text, str):
        return None
    value = text.strip().replace("Z", "+00:00")
    if "." in value:
        head, _dot, tail = value.partition(".")
        digits = "".join(char for char in tail if char.isdigit())
        zone = tail[len(digits):]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment
