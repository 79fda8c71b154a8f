"""The gate's settings: bad input gets one message that says what to fix."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import gate_settings

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)


def _exception(**overrides: object) -> dict:
    entry = {"id": "CVE-2024-12345", "expires": "2027-01-15", "reason": "no fixed image yet"}
    entry.update(overrides)
    return entry


@pytest.mark.parametrize(("values", "message"), [
    ({"severities": ["HIGH", "SEVERE"]}, "SEVERE is not a Trivy severity"),
    ({"severities": []}, "an empty list is not a Trivy severity"),
    ({"severities": ["HIGH"], "unscanned_action": "block"}, "must be warn or deny"),
    ({"severities": ["HIGH"], "cve_exceptions": [_exception(expires=None)]}, r"\(CVE-2024-12345\) has no expires date"),
    ({"severities": ["HIGH"], "cve_exceptions": [_exception(id="CVE-24-1")]}, "'CVE-24-1' is not a vulnerability id"),
    ({"severities": ["HIGH"], "cve_exceptions": [_exception(id="CVE-2024-1; rm")]}, "is not a vulnerability id"),
    ({"severities": ["HIGH"], "cve_exceptions": [_exception(expires="next month")]}, "is not a date"),
    ({"severities": ["HIGH"], "cve_exceptions": [_exception(expires="2028-01-01")]}, "more than 90 days ahead"),
    ({"severities": ["HIGH"], "cve_exceptions": [_exception(reason="")]}, "has no reason"),
    ({"severities": ["HIGH"], "cve_exceptions": [_exception(image="nginx")]}, "unknown keys image"),
    ({"severities": ["HIGH"], "cve_exceptions": [_exception(images=["a b"])]}, "images entries are image repositories"),
    ({"severities": ["HIGH"], "cve_exceptions": ["CVE-2024-12345"]}, r"cve_exceptions\[0\] must be a mapping"),
])
def test_bad_settings_are_refused_with_what_to_fix(values: dict, message: str) -> None:
    with pytest.raises(HardeningError, match=message):
        gate_settings(values, NOW)


def test_expired_exceptions_leave_the_policy_and_are_reported() -> None:
    settings = gate_settings({"severities": ["critical", "HIGH"], "cve_exceptions": [
        _exception(), _exception(id="GHSA-2c8c-84w2-j38j", expires="2026-11-30")]}, NOW)
    assert settings.severities == ("CRITICAL", "HIGH")
    assert [item.vulnerability_id for item in settings.exceptions] == ["CVE-2024-12345"]
    assert [item.vulnerability_id for item in settings.expired_exceptions] == ["GHSA-2c8c-84w2-j38j"]
    assert settings.exceptions[0].expires_text == "2027-01-15T00:00:00Z"


def test_exception_scopes_are_spelled_as_match_keys() -> None:
    scopes = ["nginx", "docker.io/library/redis:7", "registry.local:5000/app"]
    elsewhere = ["registry.local:5000", "index.docker.io/library/nginx"]
    settings = gate_settings({"severities": ["HIGH"], "scanned_elsewhere": elsewhere,
                              "cve_exceptions": [_exception(images=scopes)]}, NOW)
    assert settings.exceptions[0].images == ("docker.io/nginx", "docker.io/redis:7", "registry.local:5000/app")
    assert settings.scanned_elsewhere == ("registry.local:5000", "docker.io/nginx")
