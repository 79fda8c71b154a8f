# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the disaster-recovery report, per component: objectives, achieved RPO,
drill RTO, verification details and verdict; as JSON (for machines and the history) and Markdown
(for people, with RPO and RTO over the past reports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.durations import human_duration

REPORT_VERSION = 1


def build_report(cluster: str, generated: str, status: Mapping[str, Any] | None,
                 drill: Mapping[str, Any] | None) -> dict[str, Any]:
    """One report from a velero_backup_info result and/or a velero_drill result."""
    components: dict[str, dict[str, Any]] = {}
    for entry in (status or {}).get("components") or []:
        components[entry["component"]] = {
            "component": entry["component"], "rpo_objective_seconds": entry["rpo_objective_seconds"],
            "rto_objective_seconds": entry["rto_objective_seconds"],
            "achieved_rpo_seconds": entry["achieved_rpo_seconds"], "rpo_verdict": entry["verdict"],
            "last_successful_backup": (entry.get("last_successful_backup") or {}).get("name"),
            "failed_since_last_success": entry.get("failed_since_last_success") or []}
    for entry in (drill or {}).get("drills") or []:
        row = components.setdefault(entry["component"], {"component": entry["component"]})
        row.update({"rto_objective_seconds": entry["rto_objective_seconds"], "drill_rto_seconds": entry["rto_seconds"],
                    "drill_verdict": entry["verdict"], "drill_backup": entry["backup"], "drill_restore": entry["restore"],
                    "drill_checks": [f"{'pass' if c['passed'] else 'FAIL'} {c['check']}: {c['detail']}"
                                     for c in entry.get("checks") or []],
                    "drill_failures": entry.get("failures") or []})
    rows = list(components.values())
    for row in rows:
        verdicts = [row.get("rpo_verdict"), row.get("drill_verdict")]
        row["verdict"] = ("failed" if "failed" in verdicts or row.get("rpo_verdict") in ("breached", "no backup")
                          else "passed" if any(verdicts) else "unknown")
    kind = "drill" if drill is not None else "status"
    return {"version": REPORT_VERSION, "kind": kind, "cluster": cluster, "generated": generated,
            "passed": all(row["verdict"] == "passed" or row.get("rpo_verdict") == "not measured" for row in rows),
            "components": rows}


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"# Disaster recovery {report['kind']}: {report['cluster']}", "",
             f"Generated {report['generated']}. Overall: **{'passed' if report['passed'] else 'FAILED'}**.", "",
             "| Component | RPO objective | Achieved RPO | RTO objective | Drill RTO | Verdict |",
             "|---|---|---|---|---|---|"]
    for row in report["components"]:
        lines.append("| " + " | ".join(_cell(v) for v in (
            row["component"], human_duration(row.get("rpo_objective_seconds")),
            human_duration(row.get("achieved_rpo_seconds")) + (f" ({row['rpo_verdict']})" if row.get("rpo_verdict") else ""),
            human_duration(row.get("rto_objective_seconds")),
            human_duration(row.get("drill_rto_seconds")) if row.get("drill_verdict") else "-",
            row["verdict"])) + " |")
    details = [row for row in report["components"] if row.get("drill_checks") or row.get("failed_since_last_success")]
    if details:
        lines += ["", "## Details", ""]
        for row in details:
            lines.append(f"### {row['component']}")
            lines.append("")
            if row.get("drill_backup"):
                lines.append(f"Drill of backup `{row['drill_backup']}` (Restore `{row['drill_restore']}`):")
                lines.append("")
                lines += [f"- {_cell(check)}" for check in row["drill_checks"]]
            if row.get("failed_since_last_success"):
                lines.append(f"- backups failed since the last success: {', '.join(row['failed_since_last_success'])}")
            lines.append("")
    past = [entry for entry in history if entry.get("components")] + [report]
    if len(past) > 1:
        names = [row["component"] for row in report["components"]]
        lines += ["", "## History", "", "| Report | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for entry in past:
            by_name = {row["component"]: row for row in entry["components"]}
            cells = []
            for name in names:
                row = by_name.get(name) or {}
                rpo = human_duration(row.get("achieved_rpo_seconds")) if "achieved_rpo_seconds" in row else ""
                rto = human_duration(row.get("drill_rto_seconds")) if row.get("drill_verdict") else ""
                cells.append(" / ".join(part for part in (f"RPO {rpo}" if rpo else "", f"RTO {rto}" if rto else "")
                                        if part) or "-")
            lines.append(f"| {entry['generated']} ({entry['kind']}) | " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines).rstrip() + "\n"
