"""The audit's score formula (pinned: docs/audit.md's worked example) and its rows' judgments."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._audit.audit_report import cluster_audit, clusters_summary
from ansible_collections.atlas.hardening.plugins.module_utils._audit.audit_rows import (
    ROW_CATALOGUE,
    AuditInputs,
    AuditSettings,
    audit_rows,
)
from ansible_collections.atlas.hardening.plugins.module_utils._audit.score import maturity_score
from ansible_collections.atlas.hardening.plugins.module_utils._audit.workload_matching import selector_matches

NOW = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.timezone.utc)


def rows_with(statuses: dict[str, str], default: str = "missing") -> list[dict[str, Any]]:
    rows = [row.as_dict() for row in audit_rows(AuditInputs(evidence={}, now=NOW), AuditSettings())]
    for row in rows:
        row["status"] = statuses.get(row["id"], default)
    return rows


def test_the_audit_of_2026_02_10_scores_its_own_7_5() -> None:
    """The done table done, its nine backlog rows missing (it had no Sealed Secrets row): 7.5."""
    original = [row for row in rows_with({}) if row["in_original_audit"]]
    for row in original:
        row["status"] = "done" if row["section"] == "done" else "missing"
    assert len(original) == 16
    assert maturity_score(original)["score"] == 7.5


def test_the_worked_example_of_the_docs() -> None:
    """docs/audit.md: the done table done but Vault auto-unseal missing; image-scan gate partial (Audit mode);
    disaster recovery, rotation, Alertmanager HA and Sealed Secrets done; restore tests partial; CI/CD and
    the documentation unknown (not observable); dashboards and SLOs missing.
    10 - (6 + 6 + 6/2 + 3/2 + 1 + 1 + 1) / 12 = 10 - 19.5/12 = 8.375 -> 8.4."""
    done_table = {row["id"]: "done" for row in rows_with({}) if row["section"] == "done"}
    rows = rows_with({**done_table, "vault-auto-unseal": "missing", "image-scan-gate": "partial",
                      "disaster-recovery": "done", "keycloak-admin-rotation": "done", "alertmanager-ha": "done",
                      "sealed-secrets": "done", "restore-tests": "partial", "cicd-gitops": "unknown",
                      "english-documentation": "unknown"})
    score = maturity_score(rows)
    assert score["score"] == 8.4
    assert score["lost"] == 1.6
    assert score["by_status"] == {"done": 10, "partial": 2, "missing": 3, "unknown": 2}


@pytest.mark.parametrize(("status", "score"), [("done", 10.0), ("missing", 3.8)])
def test_the_score_runs_from_all_missing_to_ten(status: str, score: float) -> None:
    assert maturity_score(rows_with({}, default=status))["score"] == score


def test_a_partial_row_costs_half_its_weight() -> None:
    rows = rows_with({}, default="done")
    next(row for row in rows if row["id"] == "image-scan-gate")["status"] = "partial"
    assert maturity_score(rows)["score"] == 9.8  # 10 - 3/12 = 9.75, half up


def test_the_catalogue_has_every_row_of_the_audit_once() -> None:
    ids = [attributes["id"] for attributes, _judge in ROW_CATALOGUE]
    assert len(ids) == len(set(ids)) == 17
    rows = rows_with({})
    assert [row["audit_number"] for row in rows if row["section"] == "done"] == [1, 2, 3, 4, 5, 9, 10]
    assert {row["priority"] for row in rows if row["section"] == "backlog"} == {"high", "medium", "low"}


def workload(kind: str, namespace: str, name: str, labels: dict[str, str] | None = None, ready: int = 1,
             **container: Any) -> dict[str, Any]:
    pod_labels = labels or {"app.kubernetes.io/name": name}
    return {"kind": kind, "namespace": namespace, "name": name, "labels": pod_labels, "pod_labels": pod_labels,
            "desired": 1, "ready": ready,
            "containers": [{"name": name, "readiness_probe": True, "liveness_probe": True, "env_names": [],
                            "env_from": [], **container}]}


def row(rows: list[Any], row_id: str) -> Any:
    return next(r for r in rows if r.id == row_id)


def test_pod_disruption_budgets_are_judged_by_selector_per_component() -> None:
    evidence = {
        "workloads": [workload("StatefulSet", "data", "postgresql"), workload("StatefulSet", "data", "redis"),
                      workload("Deployment", "argocd", "argocd-server")],
        "pod_disruption_budgets": [
            {"namespace": "data", "name": "pg", "match_labels": {"app.kubernetes.io/name": "postgresql"},
             "match_expressions": [], "min_available": 1, "max_unavailable": None},
            # Same labels, another namespace: does not cover redis.
            {"namespace": "other", "name": "redis", "match_labels": {"app.kubernetes.io/name": "redis"},
             "match_expressions": [], "min_available": 1, "max_unavailable": None}],
    }
    settings = AuditSettings(pdb_components=("postgresql", "redis", "argocd"))
    judged = row(audit_rows(AuditInputs(evidence=evidence, now=NOW), settings), "pod-disruption-budgets")
    assert judged.status == "partial"
    assert "postgresql: StatefulSet data/postgresql covered by PodDisruptionBudget data/pg (minAvailable 1)" in \
        judged.evidence
    assert "redis: no PodDisruptionBudget selects StatefulSet data/redis" in judged.evidence


def test_a_kind_the_cluster_does_not_serve_is_unknown_not_missing() -> None:
    judged = row(audit_rows(AuditInputs(evidence={"horizontal_pod_autoscalers": None}, now=NOW), AuditSettings()),
                 "horizontal-pod-autoscalers")
    assert (judged.status, judged.evidence) == ("unknown", ["autoscaling/v2 HorizontalPodAutoscaler is not served"])


def test_the_image_scan_gate_is_done_only_when_enforced_with_nothing_running_refused() -> None:
    def judged(action: str, refused: list[dict[str, str]]) -> Any:
        # The rule for images without a report warns (Audit) by default: it does not decide.
        rule_actions = {"deny-fixable-vulnerabilities": action, "deny-fixable-vulnerabilities-ephemeral": action,
                        "unscanned-images": "Audit", "unscanned-images-ephemeral": "Audit"}
        evidence = {"image_scan_policy": {"exists": True, "rule_actions": rule_actions, "overrides": []}}
        return row(audit_rows(AuditInputs(evidence=evidence, now=NOW, image_scan={"refused": refused}),
                              AuditSettings()), "image-scan-gate")

    assert judged("Enforce", []).status == "done"
    audit_mode = judged("Audit", [])
    assert audit_mode.status == "partial"
    assert "Audit mode: vulnerable images are reported, not refused" in audit_mode.evidence
    running = judged("Enforce", [{"namespace": "apps", "kind": "Deployment", "name": "web"}])
    assert running.status == "partial"
    assert "running workloads the policy refuses: 1 (apps/Deployment/web)" in running.evidence


def test_the_rotation_row_ages_the_password_against_its_period() -> None:
    cronjob = {"namespace": "keycloak", "name": "keycloak-admin-rotation", "schedule": "17 3 * * *",
               "suspend": False}
    job = {"namespace": "keycloak", "name": "keycloak-admin-rotation-1", "cronjob": "keycloak-admin-rotation",
           "outcome": "succeeded", "started": "2026-12-02T03:17:00Z", "finished": "2026-12-02T03:18:00Z"}

    def judged(last_rotated: str | None, copies: list[str]) -> Any:
        inputs = AuditInputs(evidence={"cronjobs": [cronjob], "jobs": [job]}, now=NOW, rotation={
            "last_rotated": last_rotated, "next_due": "2027-03-01T00:00:00Z", "copies_updated": copies,
            "action": "not_due"})
        return row(audit_rows(inputs, AuditSettings()), "keycloak-admin-rotation")

    assert judged("2026-11-30T03:17:00Z", []).status == "done"
    aged = judged("2026-08-01T00:00:00Z", [])
    assert aged.status == "partial"
    assert any("(123 days ago, limit 90)" in line for line in aged.evidence), aged.evidence
    out_of_sync = judged("2026-11-30T03:17:00Z", ["keycloak/keycloak-admin"])
    assert out_of_sync.status == "partial"
    assert "Secret copies out of sync with Vault: keycloak/keycloak-admin" in out_of_sync.evidence
    assert judged(None, []).status == "partial"  # the CronJob is there, nothing rotated yet
    job["outcome"] = "failed"  # e.g. drift: the daily job's login was refused
    failing = judged("2026-11-30T03:17:00Z", [])
    assert failing.status == "partial"
    assert "last Job keycloak-admin-rotation-1: failed, started 2026-12-02T03:17:00Z" in failing.evidence


def test_a_failed_read_is_unknown_and_says_why() -> None:
    inputs = AuditInputs(evidence={}, now=NOW, alertmanager={"failed": True, "msg": "Alertmanager CRD missing"})
    judged = row(audit_rows(inputs, AuditSettings()), "alertmanager-ha")
    assert (judged.status, judged.evidence) == ("unknown", ["Alertmanager not read: Alertmanager CRD missing"])


@pytest.mark.parametrize(("match_labels", "expressions", "matches"), [
    ({"app": "a"}, [], True),
    ({"app": "b"}, [], False),
    ({}, [], True),  # policy/v1: an empty selector selects every pod of the namespace
    ({}, [{"key": "tier", "operator": "In", "values": ["db"]}], True),
    ({}, [{"key": "tier", "operator": "NotIn", "values": ["db"]}], False),
    ({}, [{"key": "zone", "operator": "Exists"}], False),
    ({}, [{"key": "zone", "operator": "DoesNotExist"}], True),
])
def test_label_selectors_are_evaluated_as_the_api_server_does(
        match_labels: dict[str, str], expressions: list[dict[str, Any]], matches: bool) -> None:
    assert selector_matches(match_labels, expressions, {"app": "a", "tier": "db"}) is matches


def test_the_gate_and_the_clusters_summary() -> None:
    inputs = AuditInputs(evidence={}, now=NOW)
    failing = cluster_audit("prod", inputs, AuditSettings(), minimum_score=8, fail_on_high_missing=True)
    assert not failing["gate"]["passed"]
    assert failing["gate"]["reasons"] == [
        f"score {failing['score']['score']} is under the minimum 8",
        "high-priority rows missing: image-scan-gate, disaster-recovery"]
    passing = cluster_audit("staging", inputs, AuditSettings())
    assert passing["gate"]["passed"]
    summary = clusters_summary([passing, failing])
    assert [line["cluster"] for line in summary["clusters"]] == ["prod", "staging"]
    assert "| prod |" in summary["markdown"] and "failed" in summary["markdown"]
    assert failing["markdown"].startswith("# Production-readiness audit: prod\n")
    assert "### High priority" in failing["markdown"] and "## Done in the audit's release" in failing["markdown"]


def test_disaster_recovery_without_a_catalogue_is_missing() -> None:
    inputs = AuditInputs(evidence={"custom_resource_definitions": ["backups.velero.io"]}, now=NOW, dr_catalogue=[],
                         backups={"skipped": True})
    judged = row(audit_rows(inputs, AuditSettings()), "disaster-recovery")
    assert judged.status == "missing"
    assert judged.evidence == ["no component catalogue (disaster_recovery_components): no RPO or RTO is defined"]
