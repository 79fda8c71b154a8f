# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: one cluster's audit (rows, score, gate) and its Markdown, in the layout
of the audit of 2026-02-10: the table of done items, then the backlog by priority."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._audit.audit_rows import (
    AuditInputs,
    AuditSettings,
    audit_rows,
)
from ansible_collections.atlas.hardening.plugins.module_utils._audit.score import maturity_score
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339

STATUS_MARK = {"done": "done", "partial": "partial", "missing": "**missing**", "unknown": "unknown"}
PRIORITY_TITLE = {"high": "High priority", "medium": "Medium priority", "low": "Low priority"}


def cluster_audit(cluster: str, inputs: AuditInputs, settings: AuditSettings, minimum_score: float | None = None,
                  fail_on_high_missing: bool = False) -> dict[str, Any]:
    rows = [row.as_dict() for row in audit_rows(inputs, settings)]
    score = maturity_score(rows)
    reasons = []
    if minimum_score is not None and score["score"] < minimum_score:
        reasons.append(f"score {score['score']} is under the minimum {minimum_score}")
    high_missing = [row["id"] for row in rows if row["priority"] == "high" and row["status"] == "missing"]
    if fail_on_high_missing and high_missing:
        reasons.append(f"high-priority rows missing: {', '.join(high_missing)}")
    audit: dict[str, Any] = {
        "cluster": cluster, "generated": rfc3339(inputs.now), "rows": rows, "score": score,
        "gate": {"passed": not reasons, "reasons": reasons, "minimum_score": minimum_score,
                 "fail_on_high_missing": fail_on_high_missing}}
    audit["lines"] = [f"{row['id']} | {row['status']} | " + "; ".join(row["evidence"][:2]) for row in rows] + [
        f"score {score['score']}/10 (the audit of 2026-02-10: {score['original']}/10)"
        + ("" if audit["gate"]["passed"] else "; gate failed: " + "; ".join(reasons))]
    audit["markdown"] = markdown(audit)
    return audit


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(audit: Mapping[str, Any]) -> str:
    score = audit["score"]
    rows = audit["rows"]
    lines = [f"# Production-readiness audit: {audit['cluster']}", "",
             f"> Date: {audit['generated']}",
             f"> Score: {score['score']} / 10 (the audit of 2026-02-10: {score['original']} / 10); "
             f"{score['lost']} lost, of which {score['lost_to_not_observable']} to rows not observable from the "
             "cluster", ""]
    if not audit["gate"]["passed"]:
        lines += [f"> Gate failed: {'; '.join(audit['gate']['reasons'])}", ""]
    lines += ["## Done in the audit's release", "", "| # | Item | Status | Evidence | Fix |", "|---|---|---|---|---|"]
    for row in rows:
        if row["section"] == "done":
            lines.append(_table_row(row, str(row["audit_number"])))
    lines += ["", "## Hardening backlog"]
    for priority, title in PRIORITY_TITLE.items():
        lines += ["", f"### {title}", "", "| Item | Status | Evidence | Fix |", "|---|---|---|---|"]
        for row in rows:
            if row["section"] == "backlog" and row["priority"] == priority:
                lines.append(_table_row(row, None))
    lines += ["", "Status: done, partial, missing, or unknown (could not be read, or not observable from the "
              "cluster). The score: docs/audit.md."]
    return "\n".join(lines) + "\n"


def _table_row(row: Mapping[str, Any], number: str | None) -> str:
    title = row["title"] + ("" if row["in_original_audit"] else " (added by atlas.hardening)")
    cells = [title, STATUS_MARK[row["status"]], "<br>".join(_cell(e) for e in row["evidence"]), _cell(row["fix"])]
    return "| " + " | ".join(([number] if number is not None else []) + cells) + " |"


def clusters_summary(audits: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One line per cluster (for an inventory of several), worst first."""
    lines = sorted(({"cluster": a["cluster"], "score": a["score"]["score"], "gate_passed": a["gate"]["passed"],
                     **a["score"]["by_status"],
                     "missing_rows": [r["id"] for r in a["rows"] if r["status"] == "missing"]} for a in audits),
                   key=lambda line: (line["score"], line["cluster"]))
    table = ["| Cluster | Score | Done | Partial | Missing | Unknown | Gate | Missing rows |",
             "|---|---|---|---|---|---|---|---|"]
    table += [f"| {line['cluster']} | {line['score']} | {line['done']} | {line['partial']} | {line['missing']} | "
              f"{line['unknown']} | {'passed' if line['gate_passed'] else 'failed'} | "
              f"{', '.join(line['missing_rows']) or '-'} |" for line in lines]
    return {"clusters": lines, "markdown": "\n".join(table) + "\n"}


def audit_inputs(results: Mapping[str, Any], now: datetime) -> AuditInputs:
    evidence = results.get("evidence") or {}
    return AuditInputs(evidence=evidence, now=now, image_scan=results.get("image_scan"),
                       backups=results.get("backups"), alertmanager=results.get("alertmanager"),
                       sealed_secrets_controller=results.get("sealed_secrets_controller"),
                       sealed_secrets_keys=results.get("sealed_secrets_keys"), rotation=results.get("rotation"),
                       dr_catalogue=results.get("dr_catalogue"))
