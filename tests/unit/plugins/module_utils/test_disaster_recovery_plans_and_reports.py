"""Drill and restore plans (which backup, which namespaces), the report and its history location, and the
raft snapshot integrity check, without a cluster."""

from __future__ import annotations

import datetime
import hashlib
import io
import tarfile

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import parse_catalogue
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_plan import (
    DRILL_LABEL,
    RESTORE_LABEL,
    plan_drill,
    plan_restore,
    restore_manifest,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_verification import (
    expected_objects,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.report import (
    build_report,
    render_markdown,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.report_task import history_problem
from ansible_collections.atlas.hardening.plugins.module_utils._vault.raft_snapshots import (
    CorruptSnapshot,
    check_snapshot,
)
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import BackupRecord

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
[SHOP] = parse_catalogue([{"name": "shop", "namespaces": ["shop", "shop-workers"]}])


def record(name: str, phase: str, minutes_ago: int, namespaces: tuple[str, ...] = ("shop", "shop-workers"),
           schedule: str = "dr-shop") -> BackupRecord:
    stamp = (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return BackupRecord.from_object({"metadata": {"name": name, "labels": {"velero.io/schedule-name": schedule}},
                                     "spec": {"includedNamespaces": list(namespaces)},
                                     "status": {"phase": phase, "startTimestamp": stamp, "completionTimestamp": stamp}})


RECORDS = [record("old", "Completed", 90), record("new", "Completed", 10), record("partial", "PartiallyFailed", 5),
           record("broken", "Failed", 2), record("other", "Completed", 1, ("wiki",), "dr-wiki")]


def test_a_drill_restores_the_newest_completed_backup_into_labelled_namespaces() -> None:
    plan = plan_drill(SHOP, RECORDS, None, NOW, suffix="abc123")
    assert plan.backup.name == "new"
    assert dict(plan.namespace_mapping) == {"shop": "drill-shop-abc123", "shop-workers": "drill-shop-workers-abc123"}
    restore = restore_manifest(plan, "velero")
    assert restore["spec"]["includedNamespaces"] == ["shop", "shop-workers"]
    assert restore["spec"]["namespaceMapping"] == dict(plan.namespace_mapping)
    assert restore["metadata"]["labels"] == {DRILL_LABEL: "shop"}
    assert plan.restore_name == "drill-shop-20261201120000-abc123"
    # The copy must not run the component's scheduled work from the drill namespace.
    assert restore["spec"]["excludedResources"] == ["cronjobs.batch", "jobs.batch"]
    assert plan.as_dict()["excluded_resources"] == ["cronjobs.batch", "jobs.batch"]


BACKED_UP = {"apps/v1/Deployment": ["shop/web"], "batch/v1/CronJob": ["shop/nightly-export"],
             "batch/v1/Job": ["shop/migrate"], "v1/Pod": ["shop/web-1"], "v1/ConfigMap": ["shop/flags", "other/x"]}


def test_a_drill_does_not_expect_what_it_leaves_out_a_restore_does() -> None:
    drill = expected_objects(plan_drill(SHOP, RECORDS, None, NOW, suffix="abc123"), BACKED_UP)
    assert drill == {("apps/v1/Deployment", "drill-shop-abc123"): ["web"], ("v1/ConfigMap", "drill-shop-abc123"): ["flags"]}
    restore = expected_objects(plan_restore(SHOP, RECORDS, None, NOW), BACKED_UP)
    assert restore[("batch/v1/CronJob", "shop")] == ["nightly-export"]
    assert restore[("batch/v1/Job", "shop")] == ["migrate"]


@pytest.mark.parametrize(("name", "message"), [
    ("partial", "Backup partial is PartiallyFailed: a drill restores a Completed backup only"),
    ("broken", "Backup broken is Failed"),
    ("missing", "Backup missing does not exist in the cluster: choose one of the component's backups (old, new, "
                "partial, broken)"),
    ("other", "Backup other does not hold every namespace of shop (shop, shop-workers)"),
])
def test_a_chosen_backup_must_be_completed_and_hold_the_component(name: str, message: str) -> None:
    with pytest.raises(HardeningError) as caught:
        plan_drill(SHOP, RECORDS, name, NOW)
    assert str(caught.value).startswith(message)


def test_no_completed_backup_says_what_to_run() -> None:
    with pytest.raises(HardeningError, match=r"shop has no Completed backup to drill \(1 backup\(s\), phases Failed\)"):
        plan_drill(SHOP, [record("broken", "Failed", 2)], None, NOW)


def test_a_real_restore_goes_into_the_components_own_namespaces() -> None:
    plan = plan_restore(SHOP, RECORDS, None, NOW)
    restore = restore_manifest(plan, "velero")
    assert "namespaceMapping" not in restore["spec"] and "excludedResources" not in restore["spec"]
    assert restore["metadata"]["labels"] == {RESTORE_LABEL: "shop"}


def test_the_report_and_its_markdown() -> None:
    status = {"components": [{"component": "shop", "rpo_objective_seconds": 3600.0, "rto_objective_seconds": 14400.0,
                              "achieved_rpo_seconds": 600.0, "verdict": "compliant",
                              "last_successful_backup": {"name": "new"}, "failed_since_last_success": ["broken"]}]}
    drill = {"drills": [{"component": "shop", "rto_objective_seconds": 14400.0, "rto_seconds": 95.0,
                         "verdict": "passed", "backup": "new", "restore": "drill-shop-1",
                         "checks": [{"check": "objects", "passed": True, "detail": "8/8 objects"}], "failures": []}]}
    report = build_report("staging", "2026-12-01T12:00:00Z", status, drill)
    assert report["kind"] == "drill" and report["passed"] is True
    past = build_report("staging", "2026-11-01T12:00:00Z", status, drill)
    markdown = render_markdown(report, [past])
    assert "| shop | 1 h 00 min | 10 min 00 s (compliant) | 4 h 00 min | 1 min 35 s | passed |" in markdown
    assert "- pass objects: 8/8 objects" in markdown and "backups failed since the last success: broken" in markdown
    assert markdown.count("(drill) | RPO 10 min 00 s / RTO 1 min 35 s |") == 2
    breached = build_report("staging", "now", {"components": [dict(status["components"][0], verdict="breached")]}, None)
    assert breached["passed"] is False and breached["kind"] == "status"


@pytest.mark.parametrize(("history", "velero", "refused"), [
    (("atlas-velero", "atlas-hardening/dr"), ("atlas-velero", "velero"), False),
    (("atlas-velero", "velero/reports"), ("atlas-velero", "velero"), True),
    (("atlas-velero", "anything"), ("atlas-velero", ""), True),
    (("elsewhere", "x"), ("atlas-velero", ""), False),
])
def test_the_history_never_goes_inside_veleros_prefix(history: tuple[str, str], velero: tuple[str, str],
                                                      refused: bool) -> None:
    problem = history_problem(history[0], history[1], velero[0], velero[1])
    assert bool(problem) is refused
    if refused:
        assert "Velero would mark the location Unavailable" in problem


def snapshot_archive(state: bytes, sums_for: bytes | None = None) -> io.BytesIO:
    meta = b'{"Index": 42, "Term": 3, "Version": 1}'
    sums = (f"{hashlib.sha256(meta).hexdigest()}  meta.json\n"
            f"{hashlib.sha256(sums_for if sums_for is not None else state).hexdigest()}  state.bin\n").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("meta.json", meta), ("state.bin", state), ("SHA256SUMS", sums)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def test_a_sound_snapshot_passes_and_says_its_raft_index() -> None:
    facts = check_snapshot(snapshot_archive(b"raft state" * 1000), "test")
    assert (facts.index, facts.term) == (42, 3) and facts.size > 0


def test_a_snapshot_whose_sums_do_not_match_is_refused() -> None:
    with pytest.raises(CorruptSnapshot, match=r"fails its integrity check \(state.bin: checksum mismatch\)"):
        check_snapshot(snapshot_archive(b"raft state", sums_for=b"other state"), "test")


def test_a_truncated_snapshot_is_refused() -> None:
    whole = snapshot_archive(b"raft state" * 1000).getvalue()
    with pytest.raises(CorruptSnapshot, match="not a readable snapshot archive"):
        check_snapshot(io.BytesIO(whole[: len(whole) // 2]), "test")
