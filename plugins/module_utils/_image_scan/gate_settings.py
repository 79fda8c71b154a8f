# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the image-scan gate refuses, checked once before any request.

One object, built from the role's variables (or the info module's options), read by both the
policy renderer and the Python verdicts, so the two cannot be configured differently.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.image_references import (
    DOCKER_HUB,
    canonical_registry,
    names_registry,
)

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
UNSCANNED_ACTIONS = ("warn", "deny")
# Vulnerability ids as Trivy reports them: CVE and GitHub advisories, and the databases it reads.
_VULNERABILITY_ID = re.compile(
    r"^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}"
    r"|(GO|PYSEC|RUSTSEC|OSV|DLA|DSA|RHSA|ALAS|ALAS2|ELSA|TEMP|BIT|MAL)-[A-Za-z0-9.:-]+)$")
DEFAULT_EXCLUDED_NAMESPACES = ("kube-system", "kyverno", "trivy-system")


@dataclass(frozen=True)
class CveException:
    """One vulnerability accepted until ``expires`` (UTC), optionally only for some images or namespaces."""

    vulnerability_id: str
    expires: datetime.datetime
    reason: str
    images: tuple[str, ...] = ()  # repository keys (``docker.io/nginx``) or match keys (with a tag or digest)
    namespaces: tuple[str, ...] = ()

    def expired(self, now: datetime.datetime) -> bool:
        return now >= self.expires

    @property
    def expires_text(self) -> str:
        return self.expires.strftime("%Y-%m-%dT%H:%M:%SZ")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.vulnerability_id, "expires": self.expires_text, "reason": self.reason,
                "images": list(self.images), "namespaces": list(self.namespaces)}


@dataclass(frozen=True)
class GateSettings:
    severities: tuple[str, ...] = ("CRITICAL", "HIGH")
    unscanned_action: str = "warn"
    scanned_elsewhere: tuple[str, ...] = ()  # registry or repository prefixes whose images CI scans
    excluded_namespaces: tuple[str, ...] = DEFAULT_EXCLUDED_NAMESPACES
    exceptions: tuple[CveException, ...] = ()
    message_vulnerability_limit: int = 5
    expired_exceptions: tuple[CveException, ...] = ()  # dropped from the policy, reported

    def active_exceptions(self, now: datetime.datetime) -> tuple[CveException, ...]:
        return tuple(item for item in self.exceptions if not item.expired(now))


def parse_expiry(value: Any, where: str) -> datetime.datetime:
    """A date (the exception ends at 00:00 UTC that day) or an RFC 3339 timestamp."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime(value.year, value.month, value.day)
    else:
        text = str(value or "").strip()
        try:
            if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
                moment = datetime.datetime.strptime(text, "%Y-%m-%d")
            else:
                moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise HardeningError(f"{where}: expires {value!r} is not a date (2027-01-31) or an RFC 3339 "
                                 "timestamp (2027-01-31T12:00:00Z).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0)


def repository_prefix(entry: str) -> str:
    """A registry (``registry.example:5000``) or repository prefix (``docker.io/library/nginx``, or
    ``nginx`` as an image would name it) in the canonical spelling of match keys."""
    text = entry.strip().rstrip("/")
    registry, _slash, path = text.partition("/")
    if not names_registry(registry):
        registry, path = DOCKER_HUB, text
    registry = canonical_registry(registry)
    if registry == DOCKER_HUB and path.startswith("library/") and path.count("/") == 1:
        path = path[len("library/"):]
    return f"{registry}/{path}" if path else registry


def _image_scope(entry: Any, where: str) -> str:
    if not isinstance(entry, str) or not entry.strip() or " " in entry.strip():
        raise HardeningError(f"{where}: images entries are image repositories such as "
                             f"docker.io/library/nginx or registry.example:5000/team/app (got {entry!r}).")
    text = entry.strip()
    name, at, digest = text.partition("@")
    head, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:  # a tag (a colon after the last slash), not a registry port
        return repository_prefix(head) + ":" + tag + (at + digest if at else "")
    return repository_prefix(name) + (at + digest if at else "")


def check_entry_keys(entry: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """An inventory entry that is a mapping with only ``allowed`` keys."""
    if not isinstance(entry, dict):
        raise HardeningError(f"{where} must be a mapping with {', '.join(allowed)} (got {type(entry).__name__}).")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise HardeningError(f"{where} has unknown keys {', '.join(unknown)}: use {', '.join(allowed)}.")
    return entry


def expiry_and_reason(entry: dict[str, Any], where: str, now: datetime.datetime, max_days: int
                      ) -> tuple[datetime.datetime, str]:
    """Every exception ends, at most ``max_days`` ahead, so that it is looked at again, and says why."""
    if entry.get("expires") in (None, ""):
        raise HardeningError(f"{where} has no expires date: every exception must end (at most {max_days} "
                             "days ahead), so that it is looked at again.")
    expires = parse_expiry(entry["expires"], where)
    if expires > now + datetime.timedelta(days=max_days):
        raise HardeningError(f"{where}: expires {expires:%Y-%m-%d} is more than {max_days} days ahead "
                             "(kyverno_image_scan_exception_max_days); choose an earlier date.")
    reason = str(entry.get("reason") or "").strip()
    if not reason:
        raise HardeningError(f"{where} has no reason: say why it is accepted.")
    return expires, reason


def parse_exception(entry: Any, index: int, now: datetime.datetime, max_days: int) -> CveException:
    where = f"kyverno_image_scan_cve_exceptions[{index}]"
    entry = check_entry_keys(entry, where, ("id", "expires", "reason", "images", "namespaces"))
    vulnerability_id = str(entry.get("id") or "").strip()
    if not _VULNERABILITY_ID.match(vulnerability_id):
        raise HardeningError(f"{where}: id {entry.get('id')!r} is not a vulnerability id as Trivy reports it "
                             "(CVE-2024-12345, GHSA-xxxx-xxxx-xxxx, GO-2024-1234, ...).")
    where = f"{where} ({vulnerability_id})"
    expires, reason = expiry_and_reason(entry, where, now, max_days)
    images = entry.get("images") or []
    namespaces = entry.get("namespaces") or []
    if not isinstance(images, list) or not isinstance(namespaces, list):
        raise HardeningError(f"{where}: images and namespaces must be lists.")
    return CveException(vulnerability_id, expires, reason, tuple(_image_scope(image, where) for image in images),
                        tuple(str(namespace) for namespace in namespaces))


def gate_settings(values: dict[str, Any], now: datetime.datetime) -> GateSettings:
    """Settings from plain values (role variables without the ``kyverno_image_scan_`` prefix)."""
    severities = [str(item).upper() for item in values.get("severities") or ()]
    unknown = [item for item in severities if item not in SEVERITIES]
    if not severities or unknown:
        raise HardeningError(f"kyverno_image_scan_severities: {', '.join(unknown) or 'an empty list'} is not "
                             f"a Trivy severity; use some of {', '.join(SEVERITIES)}.")
    action = str(values.get("unscanned_action") or "warn")
    if action not in UNSCANNED_ACTIONS:
        raise HardeningError(f"kyverno_image_scan_unscanned_action must be warn or deny (got {action!r}).")
    max_days = int(values.get("exception_max_days") or 90)
    parsed = [parse_exception(entry, index, now, max_days)
              for index, entry in enumerate(values.get("cve_exceptions") or [])]
    limit = int(values.get("message_vulnerability_limit") or 5)
    if not 1 <= limit <= 20:
        raise HardeningError("kyverno_image_scan_message_vulnerability_limit must be between 1 and 20.")
    ordered = tuple(item for item in SEVERITIES if item in severities)
    return GateSettings(
        severities=ordered, unscanned_action=action,
        scanned_elsewhere=tuple(repository_prefix(str(item)) for item in values.get("scanned_elsewhere") or ()),
        excluded_namespaces=tuple(str(item) for item in values.get("excluded_namespaces", DEFAULT_EXCLUDED_NAMESPACES) or ()),
        exceptions=tuple(item for item in parsed if not item.expired(now)),
        expired_exceptions=tuple(item for item in parsed if item.expired(now)),
        message_vulnerability_limit=limit)
