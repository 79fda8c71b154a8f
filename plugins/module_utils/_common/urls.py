# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: checking service URLs given as options, and encoding query values."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

_HTTP_URL = re.compile(r"^https?://[^/]+")


def require_http_url(value: Any, option: str, missing: str, example: str,
                     error: type[HardeningError] = HardeningError) -> str:
    """The stripped URL; else ``error`` with ``missing`` (what to set) or the example of a good one."""
    url = (value or "").strip() if isinstance(value, str) else ""
    if not url:
        raise error(missing)
    if not _HTTP_URL.match(url):
        raise error(f"{option} {url!r} is not an http(s) URL: use e.g. {example}.")
    return url


def is_http_url(value: Any) -> bool:
    return isinstance(value, str) and bool(_HTTP_URL.match(value.strip()))


def query_value(value: Any) -> str:
    """A query-string value as Go and Java servers parse it: booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def path_segment(value: Any) -> str:
    """One URL path segment, every reserved character escaped."""
    return quote(str(value), safe="")
