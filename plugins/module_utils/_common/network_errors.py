# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the human part of a network error, for one-line messages."""

from __future__ import annotations

import re
import socket
import ssl
from typing import Any

_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_SSL_TEXT = re.compile(r"\[SSL: ([A-Z_]+)\] ?([^'\"]*)")
# Phrases that urllib3/requests bury in long wrapper texts, most specific first.
_MARKERS = ("Name or service not known", "nodename nor servname", "Temporary failure in name resolution",
            "Connection refused", "Connection reset", "Remote end closed connection",
            "certificate verify failed", "Read timed out", "timed out")


def short_reason(exc: BaseException) -> str:
    """``Connection refused``, ``timed out``, ``certificate verify failed: ...``: what a person can act on."""
    reason: Any = getattr(exc, "reason", None)
    if not isinstance(reason, BaseException):
        reason = exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {reason.verify_message or reason}"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(reason, OSError) and not isinstance(reason, ssl.SSLError) and reason.strerror:
        return str(reason.strerror)
    text = str(reason)
    match = _SSL_TEXT.search(text)
    if match:  # "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ...": the text, then the code
        return f"{match.group(2).strip().rstrip(')') or 'TLS error'} ({match.group(1)})"
    match = _ERRNO_TEXT.search(text)
    if match:
        return match.group(1).strip()
    lowered = text.lower()
    for marker in _MARKERS:
        if marker.lower() in lowered:
            return marker
    return text[:300] if text else type(reason).__name__
