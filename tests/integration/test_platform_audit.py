"""playbooks/audit.yml: the production-readiness audit recomputed from a lab of its own.

The lab is seeded with the platform as the audit of 2026-02-10 found it (tests/integration/fixtures/
atlas-platform-baseline/: the done table), audited, hardened by harden.yml (every item, the gate in
Enforce), the rotation and a drill run, audited again; then one thing at a time is broken and exactly
that row must turn back, with evidence naming the object. Every audit must write nothing anywhere.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
from keycloak_rotation_support import KEYCLOAK_WRITES, VAULT_WRITES

from atlas_lab.pytest_plugin import Lab, wait_for
from atlas_lab.services.kubernetes import writes

pytestmark = pytest.mark.timeout(900)
AUDIT = "playbooks/audit.yml"
BASELINE = Path(__file__).parent / "fixtures" / "atlas-platform-baseline"
KEYCLOAK = {"name": "keycloak", "namespaces": ["keycloak"], "rpo": "1h", "rto": "4h"}
VARIABLES: dict[str, Any] = {
    "disaster_recovery_components": [KEYCLOAK], "atlas_hardening_cluster_name": "lab",
    "atlas_hardening_items": ["alertmanager", "rotation", "image-scan", "sealed-secrets", "dr", "dr-drill"],
    "kyverno_image_scan_failure_action": "Enforce",
}
BACKLOG_FIXED_BY_THE_COLLECTION = ("image-scan-gate", "disaster-recovery", "restore-tests", "keycloak-admin-rotation",
                                   "alertmanager-ha", "sealed-secrets")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab.start(tmp_path_factory.mktemp("audit") / "lab")
    try:
        applied = lab.run(["kubectl", "apply", "-f", str(BASELINE)])
        assert applied.returncode == 0, applied.stderr
        yield lab
    finally:
        lab.stop()


def kubectl(lab: Lab, *args: str) -> Any:
    done = lab.run(["kubectl", *args])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "-o" in args and "json" in args else done.stdout


def all_writes(lab: Lab) -> dict[str, int]:
    """Writes seen by every service the audit talks to (Kubernetes, Vault, Keycloak)."""
    vault, keycloak = lab.vault_proxy.counts(), lab.keycloak.counts()
    return {**writes(lab.k8s.counts()),
            **{f"vault {kind}": vault[kind] for kind in VAULT_WRITES if vault.get(kind)},
            **{f"keycloak {kind}": keycloak[kind] for kind in KEYCLOAK_WRITES if keycloak.get(kind)}}


def audit(lab: Lab, tmp_path: Path, *args: str, check: bool = False, **variables: Any) -> dict[str, Any]:
    """Runs the audit (asserting it wrote nothing) and returns its JSON report."""
    lab.k8s.reset_requests()
    lab.vault_proxy.reset_requests()
    lab.keycloak.reset_requests()
    run = lab.ansible_playbook(AUDIT, *args, check=check, extra_vars={
        **VARIABLES, "platform_audit_report_dir": str(tmp_path), **variables})
    assert run.rc == 0, run.stdout[-4000:]
    assert all_writes(lab) == {}, "the audit wrote"
    assert sum(lab.keycloak.counts().values()) == 0, ("the audit talked to Keycloak", lab.keycloak.counts())
    report = tmp_path / "lab-audit.json"
    result = json.loads(report.read_text()) if not check else None
    if result is not None:
        assert (tmp_path / "lab-audit.md").read_text().startswith("# Production-readiness audit: lab")
    return result or {}


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {row["id"]: row["status"] for row in report["rows"]}


def evidence(report: dict[str, Any], row_id: str) -> str:
    return " ".join(next(row["evidence"] for row in report["rows"] if row["id"] == row_id))


@pytest.fixture(scope="module")
def before(platform: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return audit(platform, tmp_path_factory.mktemp("before"))


@pytest.fixture(scope="module")
def hardened(platform: Lab, before: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """harden.yml, a rotation, a drill and the monthly restore test's Job, then the audit."""
    lab = platform
    extra = {**VARIABLES, "disaster_recovery_drill_schedule_aws_credentials_secret": "drill-s3",
             "disaster_recovery_drill_schedule_aws_endpoint_url": lab.aws_endpoint_url}
    hardening = lab.ansible_playbook("playbooks/harden.yml", extra_vars=extra)
    assert hardening.rc == 0, hardening
    rotation = lab.ansible_playbook("playbooks/rotate_secrets.yml", extra_vars=VARIABLES)
    assert rotation.rc == 0, rotation
    wait_for(lambda: [b for b in kubectl(lab, "get", "backups", "-n", "velero", "-o", "json")["items"]
                      if b.get("status", {}).get("phase") == "Completed"], timeout=60, what="the first backup")
    drill = lab.ansible_playbook("playbooks/disaster_recovery.yml", extra_vars={
        **VARIABLES, "disaster_recovery_action": "drill",
        "disaster_recovery_report_dir": str(tmp_path_factory.mktemp("drill"))})
    assert drill.rc == 0, drill
    # The monthly restore test, run now as its schedule would (the lab runs its Job in the execution
    # environment), with the S3 keys its envFrom names.
    kubectl(lab, "create", "secret", "generic", "drill-s3", "-n", "velero",
            f"--from-literal=AWS_ACCESS_KEY_ID={lab.vars['AWS_ACCESS_KEY_ID']}",
            f"--from-literal=AWS_SECRET_ACCESS_KEY={lab.vars['AWS_SECRET_ACCESS_KEY']}")
    lab.k8s.call("POST", "k8s/cronjobs/run", {"namespace": "velero", "name": "disaster-recovery-drill",
                                              "job": "restore-test-1"})

    def finished() -> str | None:
        status = kubectl(lab, "get", "job", "restore-test-1", "-n", "velero", "-o", "json").get("status", {})
        return next((c["type"] for c in status.get("conditions", [])
                     if c["type"] in ("Complete", "Failed") and c["status"] == "True"), None)

    outcome = wait_for(finished, timeout=420, what="the restore test's Job")
    assert outcome == "Complete", kubectl(lab, "logs", "job/restore-test-1", "-n", "velero")
    return audit(lab, tmp_path_factory.mktemp("after"))


def test_a_fresh_platform_shows_the_done_table_and_the_backlog_missing(before: dict[str, Any]) -> None:
    rows = statuses(before)
    assert {row: rows[row] for row in BACKLOG_FIXED_BY_THE_COLLECTION} == dict.fromkeys(
        BACKLOG_FIXED_BY_THE_COLLECTION, "missing"), rows
    assert rows["grafana-dashboards"] == rows["slo-sli"] == "missing"
    # The done table, as the baseline seeds it; Vault's seal in the lab is Shamir (OpenBao's dev server).
    assert {row["id"]: row["status"] for row in before["rows"] if row["section"] == "done"} == {
        "vault-auto-unseal": "missing", "pod-disruption-budgets": "done", "centralized-logging": "done",
        "horizontal-pod-autoscalers": "done", "smtp-relay": "done", "health-probes": "done",
        "progressive-delivery": "done"}
    assert "type shamir" in evidence(before, "vault-auto-unseal")
    assert "StatefulSet keycloak/keycloak covered by PodDisruptionBudget keycloak/keycloak" in evidence(
        before, "pod-disruption-budgets")
    # Never guessed: what the cluster cannot show is unknown and says so.
    for row in ("cicd-gitops", "english-documentation"):
        assert rows[row] == "unknown"
        assert "not observable from the cluster" in evidence(before, row)
    assert before["score"]["score"] < before["score"]["original"]


def test_after_harden_each_hardened_row_is_done_with_its_evidence(hardened: dict[str, Any]) -> None:
    rows = statuses(hardened)
    assert {row: rows[row] for row in BACKLOG_FIXED_BY_THE_COLLECTION} == dict.fromkeys(
        BACKLOG_FIXED_BY_THE_COLLECTION, "done"), {row["id"]: row["evidence"] for row in hardened["rows"]}
    assert "ClusterPolicy verify-image-scan" in evidence(hardened, "image-scan-gate")
    assert "Enforce" in evidence(hardened, "image-scan-gate")
    assert "keycloak: RPO objective 1 h" in evidence(hardened, "disaster-recovery")
    assert "last drill" in evidence(hardened, "disaster-recovery")
    assert "last Job restore-test-1: succeeded" in evidence(hardened, "restore-tests")
    assert "verdict healthy" in evidence(hardened, "alertmanager-ha")
    assert "every key backed up in Vault" in evidence(hardened, "sealed-secrets")
    assert hardened["score"]["score"] > 7.5


def test_no_secret_reaches_the_reports_or_the_output(platform: Lab, hardened: dict[str, Any], tmp_path: Path) -> None:
    """The audit reads Vault (the rotation's state, the key backup) and Secrets (the copies): none of
    their values is in its output, at -vvv, or in its reports, plain or base64."""
    vault = hvac.Client(url=platform.openbao_url, token=platform.vault_token)
    stored = vault.secrets.kv.v2.read_secret_version(path="keycloak/admin", mount_point="secret",
                                                     raise_on_deleted_version=True)["data"]["data"]
    keys = kubectl(platform, "get", "secrets", "-n", "kube-system", "-l", "sealedsecrets.bitnami.com/sealed-secrets-key",
                   "-o", "json")["items"]
    secrets = [stored["password"], platform.keycloak_admin_password, platform.vault_token,
               *(base64.b64decode(key["data"]["tls.key"]).decode() for key in keys)]
    run = platform.ansible_playbook(AUDIT, "-vvv", extra_vars={**VARIABLES, "platform_audit_report_dir": str(tmp_path)})
    assert run.rc == 0, run.stdout[-3000:]
    printed = run.stdout + run.stderr + "".join(path.read_text() for path in tmp_path.iterdir())
    for secret in secrets:
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form not in printed


def test_the_audit_writes_nothing_in_check_mode_either(
        platform: Lab, hardened: dict[str, Any], tmp_path: Path) -> None:
    audit(platform, tmp_path, check=True)
    assert not list(tmp_path.iterdir()), "check mode wrote the report files"


def test_breaking_one_thing_at_a_time_turns_exactly_that_row_back(
        platform: Lab, hardened: dict[str, Any], tmp_path: Path) -> None:
    lab = platform
    vault = hvac.Client(url=lab.openbao_url, token=lab.vault_token)
    previous = hardened

    def broken(name: str, row_id: str, status: str, named: str) -> None:
        nonlocal previous
        report = audit(lab, tmp_path / name)
        changed = {row: state for row, state in statuses(report).items() if statuses(previous)[row] != state}
        assert changed == {row_id: status}, (name, changed, evidence(report, row_id))
        assert named in evidence(report, row_id), (name, evidence(report, row_id))
        previous = report

    kubectl(lab, "delete", "clusterpolicy", "verify-image-scan")
    broken("policy-deleted", "image-scan-gate", "missing", "ClusterPolicy verify-image-scan absent")

    old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for backup in kubectl(lab, "get", "backups", "-n", "velero", "-o", "json")["items"]:
        # Velero's Backup CRD has no status subresource: its status is written with the object.
        kubectl(lab, "patch", "backup", backup["metadata"]["name"], "-n", "velero", "--type=merge", "-p",
                json.dumps({"status": {"startTimestamp": old, "completionTimestamp": old}}))
    broken("backup-aged", "disaster-recovery", "missing", "keycloak: RPO objective 1 h 00 min, achieved 3 h")

    # The peer process that runs the Alertmanager StatefulSet's third pod (the lab names it <pod>.<namespace>).
    lab.stop_alertmanager_peer("alertmanager-kube-prometheus-stack-alertmanager-2.monitoring", "KILL")
    broken("peer-stopped", "alertmanager-ha", "partial", "alertmanager-kube-prometheus-stack-alertmanager-2: unreachable")

    key = vault.secrets.kv.v2.list_secrets(path="platform/sealed-secrets/keys", mount_point="secret")["data"]["keys"][0]
    vault.secrets.kv.v2.delete_metadata_and_all_versions(path=f"platform/sealed-secrets/keys/{key}",
                                                         mount_point="secret")
    broken("key-not-backed-up", "sealed-secrets", "partial", f"keys not backed up in Vault: {key}")

    metadata = vault.secrets.kv.v2.read_secret_metadata(path="keycloak/admin", mount_point="secret")["data"]
    aged = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    vault.secrets.kv.v2.update_metadata(path="keycloak/admin", mount_point="secret", custom_metadata={
        **(metadata.get("custom_metadata") or {}), "rotated_at": aged})
    broken("password-aged", "keycloak-admin-rotation", "partial", "100 days ago, limit 90")


def test_ci_gating_fails_under_the_minimum_score_or_on_a_missing_high_priority_row(
        platform: Lab, before: dict[str, Any]) -> None:
    run = platform.ansible_playbook(AUDIT, extra_vars={**VARIABLES, "platform_audit_minimum_score": 9.9})
    assert run.rc == 2, run
    assert "Audit of lab: score" in run.stdout and "is under the minimum 9.9" in run.stdout, run.stdout
    # The summary is printed before the gate fails, so a failing cluster is still in it.
    assert "| lab |" in run.stdout
    # Without a component catalogue, no objective is defined: disaster recovery (high) is missing.
    run = platform.ansible_playbook(AUDIT, extra_vars={**VARIABLES, "platform_audit_fail_on_high_missing": True,
                                                       "disaster_recovery_components": []})
    assert run.rc == 2, run
    assert re.search(r"high-priority rows missing: [a-z, -]*disaster-recovery", run.stdout), run.stdout[-3000:]


def test_the_demo_prints_every_row_and_the_score(platform: Lab, hardened: dict[str, Any]) -> None:
    """`make demo` ends with scripts/demo-audit (before harden.yml, and after)."""
    demo = platform.run([str(Path(__file__).parents[2] / "scripts" / "demo-audit"), "after"],
                        env=dict(platform.env, LAB_DIR=str(platform.dir)))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    printed = demo.stdout
    for row in hardened["rows"]:
        assert row["id"] in printed, row["id"]
    assert "score " in printed and "(the audit of 2026-02-10: 7.5/10)" in printed, printed
    assert str(platform.dir / "audit-after" / "lab-audit.md") in printed
