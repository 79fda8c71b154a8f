# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: ConfigMap keys that look like credentials.

A key is reported when its name says so (``password``, ``token``, ``api_key``...), when its value
holds a private key or a URL with a password, or when the value looks random (long, no spaces, high
Shannon entropy, as generated secrets are). Findings name namespace, ConfigMap and key, and the
reason; never the value, not even a part of it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

CREDENTIAL_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|credential|auth[_.-]?key"
    r"|client[_.-]?secret|bearer|jwt|dsn)", re.IGNORECASE)
# Names that contain a credential word but hold none (a path, a switch, a reference to a Secret).
HARMLESS_NAME = re.compile(r"(_file|_path|_enabled|_secret_name|_secretref|_length|_ttl|_expiry|_policy)$",
                           re.IGNORECASE)
PRIVATE_KEY = re.compile(r"-----BEGIN (RSA |EC |OPENSSH |ENCRYPTED )?PRIVATE KEY-----")
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
RANDOM_MIN_LENGTH = 20
RANDOM_MIN_ENTROPY = 4.0  # bits per character: English text is near 3, base64 of random bytes near 6


@dataclass(frozen=True)
class Finding:
    namespace: str
    name: str
    key: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name, "key": self.key, "reason": self.reason}


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    total = len(text)
    return -sum(count / total * math.log2(count / total) for count in counts.values()) if total else 0.0


def _looks_random(value: str) -> bool:
    token = value.strip()
    # Paths, URLs and dotted names are long and varied too, but are not secrets.
    if token.startswith(("/", "http://", "https://")) or token.count(".") >= 2:
        return False
    return (len(token) >= RANDOM_MIN_LENGTH and not any(c.isspace() for c in token)
            and shannon_entropy(token) >= RANDOM_MIN_ENTROPY
            and any(c.isdigit() for c in token) and any(c.isalpha() for c in token))


def reason_for(key: str, value: str) -> str | None:
    """Why ``key`` looks like a credential, or None."""
    if PRIVATE_KEY.search(value):
        return "the value holds a private key"
    if URL_WITH_PASSWORD.search(value):
        return "the value is a URL with a password"
    if CREDENTIAL_NAME.search(key) and not HARMLESS_NAME.search(key) and value.strip():
        return "the key's name looks like a credential"
    if _looks_random(value):
        return f"the value looks random ({shannon_entropy(value.strip()):.1f} bits per character)"
    return None


def scan_configmaps(configmaps: list[dict[str, Any]]) -> list[Finding]:
    findings = []
    for configmap in configmaps:
        meta = configmap.get("metadata") or {}
        for key, value in sorted((configmap.get("data") or {}).items()):
            reason = reason_for(key, str(value))
            if reason:
                findings.append(Finding(meta.get("namespace", ""), meta.get("name", ""), key, reason))
    return findings
