# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the impact report as Markdown (the pre-enforcement and day-2 view)."""

from __future__ import annotations

import datetime

from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import GateSettings
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.workload_impact import WorkloadImpact


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_report(impacts: list[WorkloadImpact], settings: GateSettings, now: datetime.datetime,
                    blockers: list[WorkloadImpact]) -> str:
    lines = [f"# Image-scan gate: impact on running workloads ({now:%Y-%m-%d %H:%M} UTC)", "",
             f"Gated severities: {', '.join(settings.severities)} with a fix; images without a report: "
             f"{settings.unscanned_action}.", ""]
    counted = [item for item in impacts if item.outcome != "excluded"]
    lines.append("Running workloads by verdict:")
    for outcome in ("refused", "unscanned", "excepted", "admitted"):
        lines.append(f"- {outcome}: {sum(1 for item in counted if item.outcome == outcome)}")
    lines += ["", "| Namespace | Workload | Verdict | Container | Image | Fixable vulnerabilities | Excepted |",
              "|---|---|---|---|---|---|---|"]
    for item in counted:
        if item.outcome == "admitted" and not any(container.excepted for container in item.containers.values()):
            continue
        for container in item.containers.values():
            if container.outcome == "admitted" and not container.excepted:
                continue
            fixable = ", ".join(f"{finding.vulnerability_id} ({finding.resource} {finding.fixed_version})"
                                for finding in container.fixable) or "-"
            excepted = ", ".join(finding.vulnerability_id for finding in container.excepted) or "-"
            lines.append(f"| {item.namespace} | {item.kind}/{item.name} | {container.outcome} | {_cell(container.container)} "
                         f"| {_cell(container.image)} | {_cell(fixable)} | {excepted} |")
    if blockers:
        lines += ["", "Enforce would refuse these running workloads: "
                  + ", ".join(f"{item.namespace}/{item.kind}/{item.name}" for item in blockers) + "."]
    if settings.expired_exceptions:
        lines += ["", "Expired exceptions (no longer applied; remove them from the inventory): "
                  + ", ".join(f"{item.vulnerability_id} (expired {item.expires_text})" for item in settings.expired_exceptions)
                  + "."]
    return "\n".join(lines) + "\n"
