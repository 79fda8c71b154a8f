# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the gate's verdict on a Pod, computed in Python.

The same rule as the ClusterPolicy's (policy_manifests.py), for the impact report and the audit:
a container is refused when a VulnerabilityReport of its image lists a vulnerability of a gated
severity with a fix, not covered by an unexpired exception; it is unscanned when no report of its
image exists and its registry is not one whose images are scanned elsewhere. Reports are matched
across namespaces: a vulnerability is a property of the image, not of the workload that ran it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import GateSettings
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.image_references import (
    ImageReference,
    parse_image,
    report_keys,
)

CONTAINER_FIELDS = ("initContainers", "ephemeralContainers", "containers")
# The policy's messages say the same, with Kyverno variables in place of the fields (policy_manifests.py).
DENIAL_MESSAGE = ("container {container} runs {image}; fixable vulnerabilities found: {count} ({first}). Upgrade the "
                  "image (kubectl get vulnerabilityreports -A lists the findings) or ask for an exception.")
UNSCANNED_MESSAGE = ("container {container} runs {image}, which Trivy Operator has not scanned yet (no "
                     "VulnerabilityReport for this image).")


@dataclass(frozen=True)
class Finding:
    """One fixable vulnerability of a gated severity."""

    vulnerability_id: str
    severity: str
    resource: str
    installed_version: str
    fixed_version: str

    @property
    def text(self) -> str:
        """How the denial message names it (sorted as text, so CRITICAL comes before HIGH)."""
        return f"{self.severity} {self.vulnerability_id} in {self.resource} (fixed in {self.fixed_version})"

    def as_dict(self) -> dict[str, str]:
        return {"id": self.vulnerability_id, "severity": self.severity, "resource": self.resource,
                "installed_version": self.installed_version, "fixed_version": self.fixed_version}


class ReportIndex:
    """The reports' fixable findings by image match key (what the GlobalContextEntry keeps)."""

    def __init__(self, reports: list[dict[str, Any]], severities: tuple[str, ...]) -> None:
        self._findings: dict[str, dict[str, Finding]] = {}
        self.report_names: dict[str, list[str]] = {}
        for report in reports:
            findings = fixable_findings(report, severities)
            metadata = report.get("metadata") or {}
            name = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"
            for key in report_keys(report):
                known = self._findings.setdefault(key, {})
                for finding in findings:
                    known.setdefault(finding.text, finding)
                self.report_names.setdefault(key, []).append(name)

    def has_report(self, key: str) -> bool:
        return key in self._findings

    def findings(self, key: str) -> list[Finding]:
        return [self._findings[key][text] for text in sorted(self._findings.get(key, {}))]


def fixable_findings(report: dict[str, Any], severities: tuple[str, ...]) -> list[Finding]:
    found = []
    for item in (report.get("report") or {}).get("vulnerabilities") or []:
        if item.get("fixedVersion") and item.get("severity") in severities:
            found.append(Finding(str(item.get("vulnerabilityID", "")), item["severity"], str(item.get("resource", "")),
                                 str(item.get("installedVersion", "")), str(item["fixedVersion"])))
    return found


@dataclass
class ContainerVerdict:
    container: str
    container_field: str  # containers, initContainers or ephemeralContainers
    image: str
    match_key: str
    outcome: str  # refused, unscanned, scanned_elsewhere, admitted, invalid_image
    fixable: list[Finding] = field(default_factory=list)
    excepted: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"container": self.container, "container_field": self.container_field, "image": self.image,
                "match_key": self.match_key, "outcome": self.outcome,
                "fixable": [item.as_dict() for item in self.fixable],
                "excepted": [item.as_dict() for item in self.excepted]}


@dataclass
class PodVerdict:
    """``outcome``: refused (a fixable vulnerability), unscanned (no report, under unscanned_action
    deny it is refused too), excluded (a namespace the gate skips) or admitted."""

    namespace: str
    containers: list[ContainerVerdict]
    outcome: str
    message: str = ""

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"


def repository_key(match_key: str) -> str:
    """``docker.io/nginx:1.25`` -> ``docker.io/nginx`` (a registry port stays: only a tag or digest
    after the last slash goes)."""
    head, slash, last = match_key.rpartition("/")
    for mark in "@:":
        last = last.split(mark, 1)[0]
    return f"{head}{slash}{last}"


def _scanned_elsewhere(key: str, prefixes: tuple[str, ...]) -> bool:
    repository = repository_key(key) + "/"
    return any(repository.startswith(prefix + "/") for prefix in prefixes)


def _excepted_ids(settings: GateSettings, key: str, namespace: str, now: datetime.datetime) -> set[str]:
    repository = repository_key(key)
    return {item.vulnerability_id for item in settings.active_exceptions(now)
            if (not item.images or key in item.images or repository in item.images)
            and (not item.namespaces or namespace in item.namespaces)}


def container_verdict(name: str, container_field: str, image: str, namespace: str, index: ReportIndex,
                      settings: GateSettings, now: datetime.datetime) -> ContainerVerdict:
    try:
        reference: ImageReference = parse_image(image)
    except HardeningError:
        return ContainerVerdict(name, container_field, image, "", "invalid_image")
    key = reference.match_key
    if not index.has_report(key):
        outcome = "scanned_elsewhere" if _scanned_elsewhere(key, settings.scanned_elsewhere) else "unscanned"
        return ContainerVerdict(name, container_field, image, key, outcome)
    excepted_ids = _excepted_ids(settings, key, namespace, now)
    findings = index.findings(key)
    fixable = [item for item in findings if item.vulnerability_id not in excepted_ids]
    excepted = [item for item in findings if item.vulnerability_id in excepted_ids]
    return ContainerVerdict(name, container_field, image, key, "refused" if fixable else "admitted", fixable, excepted)


def denial_message(verdict: ContainerVerdict, limit: int) -> str:
    """What the person who deployed reads: the container, the image, the first CVEs and their fixes."""
    shown = ", ".join(item.text for item in verdict.fixable[:limit])
    return DENIAL_MESSAGE.format(container=verdict.container, image=verdict.image, count=len(verdict.fixable),
                                 first=shown)


def unscanned_message(verdict: ContainerVerdict) -> str:
    return UNSCANNED_MESSAGE.format(container=verdict.container, image=verdict.image)


def pod_verdict(pod_spec: dict[str, Any], namespace: str, index: ReportIndex, settings: GateSettings,
                now: datetime.datetime) -> PodVerdict:
    containers = [
        container_verdict(str(item.get("name", "")), container_field, str(item.get("image", "")), namespace, index,
                          settings, now)
        for container_field in CONTAINER_FIELDS for item in pod_spec.get(container_field) or []]
    if namespace in settings.excluded_namespaces:
        return PodVerdict(namespace, containers, "excluded")
    # Kyverno's foreach stops at the first element that fails: the message names that container.
    refused = [item for item in containers if item.outcome == "refused"]
    if refused:
        return PodVerdict(namespace, containers, "refused", denial_message(refused[0], settings.message_vulnerability_limit))
    unscanned = [item for item in containers if item.outcome == "unscanned"]
    if unscanned:
        return PodVerdict(namespace, containers, "unscanned", unscanned_message(unscanned[0]))
    return PodVerdict(namespace, containers, "admitted")
