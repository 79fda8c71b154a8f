"""The disaster-recovery catalogue, schedule arithmetic and RPO status (no cluster needed)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import (
    CatalogueError,
    parse_catalogue,
    restore_order,
    select,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.cron_intervals import longest_interval
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.durations import (
    go_duration,
    human_duration,
    parse_duration,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.rpo_status import component_statuses
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import BackupRecord

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)


def backup(name: str, phase: str, age_minutes: float, namespaces: list[str], schedule: str = "",
           duration_minutes: float = 2.0) -> BackupRecord:
    completed = NOW - datetime.timedelta(minutes=age_minutes)
    started = completed - datetime.timedelta(minutes=duration_minutes)
    return BackupRecord.from_object({
        "metadata": {"name": name, "labels": {"velero.io/schedule-name": schedule} if schedule else {}},
        "spec": {"includedNamespaces": namespaces},
        "status": {"phase": phase, "startTimestamp": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "completionTimestamp": completed.strftime("%Y-%m-%dT%H:%M:%SZ")}})


@pytest.mark.parametrize(("schedule", "minutes"), [
    ("*/30 * * * *", 30), ("0 * * * *", 60), ("@hourly", 60), ("5,35 * * * *", 30), ("0 2 * * *", 1440),
    ("0 */6 * * *", 360), ("30 1-5 * * 1-5", 68 * 60), ("@every 45m", 45), ("0 0 * * 0", 7 * 1440),
    ("0 0 1,15 * *", 17 * 1440),  # the 15th of a 31-day month to the 1st of the next
])
def test_longest_interval_between_runs(schedule: str, minutes: int) -> None:
    assert longest_interval(schedule) == minutes * 60


@pytest.mark.parametrize("schedule", ["* * *", "61 * * * *", "@fortnightly", "CRON_TZ=UTC 0 * * * *"])
def test_a_schedule_the_api_server_refuses_is_refused(schedule: str) -> None:
    with pytest.raises(ValueError, match="schedule"):
        longest_interval(schedule)


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("90m", 5400), ("1h30m", 5400), ("720h0m0s", 2592000),
                                               (3600, 3600), ("45", 45), ("2d", 172800)])
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text, "rpo") == seconds


@pytest.mark.parametrize("text", ["an hour", "", "-1h", 0, True, "1 h"])
def test_a_bad_duration_names_the_option(text: Any) -> None:
    with pytest.raises(ValueError, match="rpo"):
        parse_duration(text, "rpo")


def test_duration_rendering() -> None:
    assert go_duration(72 * 3600) == "72h0m0s"
    assert human_duration(3 * 3600 + 300) == "3 h 05 min"
    assert human_duration(750) == "12 min 30 s"
    assert human_duration(None) == "-"


def test_defaults_and_restore_order() -> None:
    components = parse_catalogue([
        {"name": "keycloak", "namespaces": ["keycloak"], "depends_on": ["postgresql", "vault"]},
        {"name": "postgresql", "namespaces": ["databases"], "backup": "database", "depends_on": ["vault"]},
        {"name": "vault", "namespaces": ["vault"], "backup": "vault_raft_snapshot"},
        {"name": "gitea", "namespaces": ["gitea"]},
    ])
    assert components[0].rpo == 3600 and components[0].rto == 4 * 3600
    assert components[0].schedule == "*/30 * * * *" and components[0].schedule_name == "dr-keycloak"
    assert [c.name for c in restore_order(components)] == ["vault", "postgresql", "keycloak", "gitea"]
    assert [c.name for c in select(components, ["gitea"])] == ["gitea"]
    with pytest.raises(CatalogueError, match="unknown component.*nextcloud"):
        select(components, ["nextcloud"])


def test_every_problem_of_the_catalogue_is_listed_at_once() -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue([
            {"name": "Vault", "namespaces": ["vault"]},
            {"name": "keycloak", "namespaces": ["keycloak"], "depends_on": ["postgres"]},
            {"name": "redis", "namespaces": []},
            {"name": "loki", "namespaces": ["loki"], "rpo": "soon", "verify": {"ready": ["Pod/x"]}},
            {"name": "gitea", "namespaces": ["gitea"], "backup": "rsync"},
            {"name": "flipt", "namespaces": ["flipt"], "schedul": "0 * * * *"},
        ])
    message = str(caught.value)
    for expected in ("component Vault: name must be a DNS label", "depends_on names 'postgres'",
                     "component redis: namespaces", "component loki: rpo: 'soon'",
                     "component gitea: backup must be one of", "component flipt: unknown key(s) schedul"):
        assert expected in message


def test_a_dependency_cycle_is_refused() -> None:
    with pytest.raises(CatalogueError, match="cycle: a -> b -> a"):
        parse_catalogue([{"name": "a", "namespaces": ["a"], "depends_on": ["b"]},
                         {"name": "b", "namespaces": ["b"], "depends_on": ["a"]}])


def test_rpo_compliant_breached_and_missing() -> None:
    components = parse_catalogue([
        {"name": "shop", "namespaces": ["shop"]},
        {"name": "wiki", "namespaces": ["wiki"]},
        {"name": "chat", "namespaces": ["chat"]},
        {"name": "vault", "namespaces": ["vault"], "backup": "vault_raft_snapshot"},
    ])
    records = [
        backup("dr-shop-1", "Completed", 20, ["shop"], "dr-shop"),
        backup("dr-shop-2", "Failed", 5, ["shop"], "dr-shop"),
        backup("dr-wiki-1", "Completed", 180, ["wiki"], "dr-wiki", duration_minutes=7),
        backup("nightly", "PartiallyFailed", 10, ["*"]),
        backup("chat-manual", "PartiallyFailed", 30, ["chat"]),
    ]
    shop, wiki, chat, vault = [s.as_dict() for s in component_statuses(components, records, NOW)]
    assert (shop["verdict"], round(shop["achieved_rpo_seconds"])) == ("compliant", 1200)
    assert shop["newest_restorable_backup"]["name"] == "nightly"  # PartiallyFailed counts for restores only
    assert shop["failed_since_last_success"] == ["dr-shop-2", "nightly"]
    assert (wiki["verdict"], wiki["achieved_rpo"]) == ("breached", "3 h 00 min")
    assert wiki["worst_case_rpo_seconds"] == 30 * 60 + 7 * 60
    assert chat["verdict"] == "no backup" and chat["newest_restorable_backup"]["name"] == "nightly"
    assert vault["verdict"] == "no backup"  # the nightly covers every namespace: Velero holds a copy


def test_a_component_backed_up_by_its_own_tool_only_is_not_measured_here() -> None:
    [vault] = parse_catalogue([{"name": "vault", "namespaces": ["vault"], "backup": "vault_raft_snapshot"}])
    [status] = component_statuses([vault], [backup("apps", "Completed", 10, ["shop"])], NOW)
    assert status.verdict() == "not measured"
