"""The Velero Schedules, the RPO refusal and the alert rules, checked and unit-tested with the real promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.backup_manifests import (
    alert_rule_groups,
    prometheus_rule_manifest,
    rpo_problems,
    schedule_manifest,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import parse_catalogue
from ansible_collections.atlas.hardening.plugins.module_utils._velero.locations import location_problem

COMPONENTS = parse_catalogue([
    {"name": "keycloak", "namespaces": ["keycloak"], "rpo": "1h", "ttl": "72h"},
    {"name": "gitea", "namespaces": ["gitea"], "schedule": "*/15 * * * *", "rpo": "30m"},
])
PROMTOOL = shutil.which("promtool")


def test_schedule_keeps_backups_when_deleted_and_expires_them() -> None:
    schedule = schedule_manifest(COMPONENTS[0], "velero", "", snapshot_volumes=True)
    assert schedule["metadata"]["name"] == "dr-keycloak"
    assert schedule["spec"]["useOwnerReferencesInBackup"] is False
    assert schedule["spec"]["template"]["includedNamespaces"] == ["keycloak"]
    assert schedule["spec"]["template"]["ttl"] == "72h0m0s"
    assert schedule["spec"]["template"]["snapshotVolumes"] is True
    assert "storageLocation" not in schedule["spec"]["template"]


def test_a_schedule_that_cannot_meet_its_rpo_is_refused_with_the_arithmetic() -> None:
    components = parse_catalogue([{"name": "nextcloud", "namespaces": ["nextcloud"], "schedule": "0 2 * * *"},
                                  {"name": "loki", "namespaces": ["loki"], "schedule": "0 * * * *"},
                                  {"name": "flipt", "namespaces": ["flipt"], "ttl": "20m"}])
    problems = rpo_problems(components, {"loki": 120.0})
    assert len(problems) == 3
    assert "nextcloud: schedule '0 2 * * *' waits up to 1 d 00 h" in problems[0]
    assert "exceeds the objective 1 h 00 min" in problems[0] and "'*/30 * * * *'" in problems[0]
    assert "loki" in problems[1] and "take up to 2 min 00 s (measured)" in problems[1]
    assert "flipt: ttl 20 min 00 s expires backups" in problems[2]
    assert rpo_problems(COMPONENTS, {"keycloak": 300.0}) == []


@pytest.mark.parametrize(("locations", "expected"), [
    ([], "No default BackupStorageLocation in namespace velero (found: none)"),
    ([{"name": "default", "default": True, "phase": "Unavailable", "message": "bucket gone", "bucket": "b",
       "prefix": "p", "access_mode": "ReadWrite"}], "velero/default is Unavailable: bucket gone"),
    ([{"name": "default", "default": True, "phase": "Available", "bucket": "b", "prefix": "",
       "access_mode": "ReadOnly"}], "is ReadOnly"),
    ([{"name": "default", "default": True, "phase": "Available", "bucket": "b", "prefix": "",
       "access_mode": "ReadWrite"}], ""),
])
def test_location_problems(locations: list[dict[str, object]], expected: str) -> None:
    problem = location_problem(locations, "", "velero")
    assert (expected in problem) if expected else problem == ""


def test_the_prometheus_rule_object() -> None:
    rule = prometheus_rule_manifest(COMPONENTS, "monitoring", {"release": "kube-prometheus-stack"},
                                    "https://git.example/atlas/docs/runbooks")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    first = rule["spec"]["groups"][0]["rules"][0]
    assert first["annotations"]["runbook_url"] == "https://git.example/atlas/docs/runbooks/keycloak.md"


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": alert_rule_groups(COMPONENTS)}), encoding="utf-8")
    return path


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL, "promtool is missing: install the Debian package prometheus (bindep.txt, make sysdeps)"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_checks_the_rules(rules_file: Path) -> None:
    result = promtool("check", "rules", str(rules_file), cwd=rules_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_promtool_unit_tests_breaching_and_healthy_series(rules_file: Path) -> None:
    # Time starts at 0 in promtool. keycloak: last success at t=0, RPO 1 h -> breached from 60m, firing
    # after `for: 5m`. gitea: a success every 15 min -> never breached. One failed backup of gitea at 30m.
    # Location default Available, then Unavailable from 20m.
    tests = {"rule_files": [rules_file.name], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": 'velero_backup_last_successful_timestamp{schedule="dr-keycloak"}', "values": "0x100"},
            {"series": 'velero_backup_last_successful_timestamp{schedule="dr-gitea"}',
             "values": " ".join(str(60 * 15 * (minute // 15)) for minute in range(101))},
            {"series": 'velero_backup_last_status{schedule="dr-gitea"}', "values": "1x29 0x20 1x50"},
            {"series": 'velero_backup_failure_total{schedule="dr-gitea"}', "values": "0x29 1x71"},
            {"series": 'velero_backup_location_status_gauge{backup_location_name="default"}', "values": "1x19 0x80"},
        ],
        "alert_rule_test": [
            {"eval_time": "64m", "alertname": "DisasterRecoveryRPOBreached", "exp_alerts": []},
            {"eval_time": "66m", "alertname": "DisasterRecoveryRPOBreached", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "component": "keycloak"},
                "exp_annotations": {
                    "summary": "keycloak: newest successful backup older than its RPO",
                    "description": "The newest Completed backup of Velero schedule dr-keycloak is 1h 6m 0s old; "
                                   "the RPO of keycloak is 1 h 00 min."}}]},
            {"eval_time": "90m", "alertname": "DisasterRecoveryNoSuccessfulBackup", "exp_alerts": []},
            {"eval_time": "25m", "alertname": "DisasterRecoveryLocationUnavailable", "exp_alerts": []},
            {"eval_time": "31m", "alertname": "DisasterRecoveryLocationUnavailable", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "backup_location_name": "default"},
                "exp_annotations": {
                    "summary": "Velero backup location default unavailable",
                    "description": "Velero cannot reach backup storage location default: no backup can be "
                                   "written to it."}}]},
            {"eval_time": "46m", "alertname": "DisasterRecoveryBackupFailed", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "schedule": "dr-gitea"},
                "exp_annotations": {"summary": "Velero schedule dr-gitea: last backup failed",
                                    "description": "The last backup of dr-gitea did not complete; velero backup "
                                                   "describe --details shows why."}}]},
            {"eval_time": "60m", "alertname": "DisasterRecoveryBackupFailed", "exp_alerts": []},
        ]}, {
        "interval": "1m",
        "input_series": [{"series": 'velero_backup_last_successful_timestamp{schedule="dr-keycloak"}',
                          "values": "0x100"}],
        "alert_rule_test": [
            # gitea (RPO 30 min) never reported a success: absent() carries the schedule label.
            {"eval_time": "29m", "alertname": "DisasterRecoveryNoSuccessfulBackup", "exp_alerts": []},
            {"eval_time": "31m", "alertname": "DisasterRecoveryNoSuccessfulBackup", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "component": "gitea", "schedule": "dr-gitea"},
                "exp_annotations": {
                    "summary": "gitea: no successful backup recorded",
                    "description": "Velero has reported no Completed backup of schedule dr-gitea for longer than "
                                   "the RPO (30 min 00 s)."}}]},
        ]}]}
    test_file = rules_file.parent / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    result = promtool("test", "rules", test_file.name, cwd=rules_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
