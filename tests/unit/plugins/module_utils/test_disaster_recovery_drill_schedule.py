"""The monthly restore test's objects (role disaster_recovery_drill_schedule): what its identity is
granted, what it is not, and the settings refused before any request. The grants are proven against the
lab's RBAC in tests/integration/test_disaster_recovery_drill_schedule.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_plan import (
    check_suffix,
    drill_namespace,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_schedule_manifests import (
    drill_schedule_manifests,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_verification import (
    restored_by_velero,
)

ROLE = Path(__file__).resolve().parents[4] / "roles" / "disaster_recovery_drill_schedule"
PREFIX = "disaster_recovery_drill_schedule_"
CATALOGUE = [
    {"name": "keycloak", "namespaces": ["keycloak"], "depends_on": ["postgresql"],
     "verify": {"http": [{"service": "keycloak", "port": "http", "path": "/health/ready"}]}},
    {"name": "postgresql", "namespaces": ["postgresql", "postgresql-backups"]},
    {"name": "wiki", "namespaces": ["wiki"]},
]


def settings(**changes: Any) -> dict[str, Any]:
    """The role's defaults (templated ones given as the inventory would resolve them), then ``changes``."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    values = {key[len(PREFIX):]: value for key, value in defaults.items()}
    values.update(namespace="velero", velero_namespace="velero", components=CATALOGUE, names=[], cluster_name="staging",
                  image="registry.example/atlas-hardening-ee@sha256:" + "a" * 64, aws_region="eu-west-3")
    values.update(changes)
    return values


def by_kind(manifests: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for manifest in manifests:
        kinds.setdefault(manifest["kind"], []).append(manifest)
    return kinds


def test_the_role_settings_cover_every_default() -> None:
    """vars/main.yml passes every default to the filter (a default it forgot would be silently ignored)."""
    defaults = set(yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8")))
    passed = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))[PREFIX + "settings"]
    assert {PREFIX + key for key in passed} == defaults
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    assert set(specs["argument_specs"]["main"]["options"]) == defaults


def test_namespaces_may_be_deleted_only_by_their_drill_names() -> None:
    kinds = by_kind(drill_schedule_manifests(settings()))
    [cluster_role] = kinds["ClusterRole"]
    namespace_rules = [rule for rule in cluster_role["rules"] if rule["resources"] == ["namespaces"]]
    assert namespace_rules == [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "watch", "delete"],
         "resourceNames": ["drill-keycloak-monthly", "drill-postgresql-backups-monthly", "drill-postgresql-monthly",
                           "drill-wiki-monthly"]},
    ]
    granted = {(group, resource, verb) for rule in cluster_role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert not [grant for grant in granted if grant[1] in ("secrets", "configmaps") or "*" in grant]
    assert not [grant for grant in granted if grant[2] in ("update", "patch", "deletecollection", "bind", "escalate",
                                                           "impersonate")]
    proxy = [rule for rule in cluster_role["rules"] if rule["resources"] == ["services/proxy"]]
    assert proxy == [{"apiGroups": [""], "resources": ["services/proxy"], "resourceNames": ["keycloak:http"],
                      "verbs": ["get"]}]
    [role] = kinds["Role"]
    assert role["metadata"]["namespace"] == "velero"
    assert {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["atlas-hardening-dr-drills"],
            "verbs": ["get", "patch"]} in role["rules"]
    assert not [rule for rule in role["rules"] if "delete" in rule["verbs"] or "update" in rule["verbs"]]


def test_the_job_drills_the_chosen_components_with_fixed_names_and_no_vault() -> None:
    kinds = by_kind(drill_schedule_manifests(settings(names=["wiki", "keycloak"], aws_credentials_secret="drill-s3")))
    job_vars = yaml.safe_load(next(c for c in kinds["ConfigMap"] if c["metadata"]["name"] == "disaster-recovery-drill")
                              ["data"]["drill-vars.yml"])
    assert job_vars["disaster_recovery_action"] == "drill"
    assert job_vars["disaster_recovery_drill_names"] == ["keycloak", "wiki"]
    assert job_vars["disaster_recovery_drill_namespace_suffix"] == "monthly"
    assert job_vars["disaster_recovery_report_dir"].startswith("/tmp/")
    [cronjob] = kinds["CronJob"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"][:2] == ["ansible-playbook", settings()["playbook"]]
    assert container["envFrom"] == [{"secretRef": {"name": "drill-s3"}}]
    assert not [env for env in container["env"] if env["name"].startswith("VAULT")]
    assert [volume["name"] for volume in pod["volumes"]] == ["kube-api-access", "drill-vars", "tmp"]
    assert cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    [cluster_role] = kinds["ClusterRole"]
    deletable = next(rule for rule in cluster_role["rules"] if "delete" in rule["verbs"])["resourceNames"]
    assert deletable == ["drill-keycloak-monthly", "drill-wiki-monthly"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"image": ""}, "needs disaster_recovery_drill_schedule_image"),
    ({"cron": "0 3 1 *"}, "4 fields instead of 5"),
    ({"time_zone": "Europe/Nowhere"}, "is not an IANA time zone"),
    ({"namespace_suffix": "Monthly"}, "disaster_recovery_drill_schedule_namespace_suffix 'Monthly' must be 1 to 20"),
    ({"names": ["nextcloud"]}, "nextcloud"),
    ({"components": []}, "disaster_recovery_components: must be a non-empty list of components"),
    ({"readable_resources": ["*.apps"]}, "not a wildcard"),
])
def test_settings_the_job_cannot_run_with_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(HardeningError) as raised:
        drill_schedule_manifests(settings(**changes))
    assert message in str(raised.value)


@pytest.mark.parametrize("suffix", ["", "-x", "x-", "a" * 21, "a_b", "ab.c"])
def test_a_suffix_that_cannot_end_a_namespace_name_is_refused(suffix: str) -> None:
    with pytest.raises(HardeningError, match="lowercase letters, digits or hyphens"):
        check_suffix(suffix)


def test_drill_names_stay_valid_namespace_names() -> None:
    name = drill_namespace("n" * 63, check_suffix("m" * 20))
    assert len(name) <= 63 and name.endswith("-" + "m" * 20)


def test_veleros_restore_resource_list_counts_what_is_there_not_what_failed() -> None:
    listing = {"v1/Secret": ["drill-shop-monthly/db(created)", "drill-shop-monthly/tls(failed)",
                             "drill-shop-monthly/old(skipped)", "shop/db(created)", "drill-shop-monthly/x(updated)"]}
    assert set(restored_by_velero(listing, "v1/Secret", "drill-shop-monthly")) == {"db", "old", "x"}
    assert restored_by_velero(listing, "v1/ConfigMap", "drill-shop-monthly") == {}


def test_the_jobs_restores_are_kept_to_drills_unless_the_policy_is_turned_off() -> None:
    [policy] = by_kind(drill_schedule_manifests(settings()))["ClusterPolicy"]
    [rule] = policy["spec"]["rules"]
    assert policy["spec"]["background"] is False  # it judges the requesting user, which a scan lacks
    job = {"kind": "ServiceAccount", "name": "disaster-recovery-drill", "namespace": "velero"}
    assert rule["match"]["any"][0]["subjects"] == [job]
    conditions = rule["validate"]["deny"]["conditions"]["any"]
    assert ["keycloak", "postgresql", "postgresql-backups", "wiki"] in [c["value"] for c in conditions]
    assert ["drill-keycloak-monthly", "drill-postgresql-backups-monthly", "drill-postgresql-monthly",
            "drill-wiki-monthly"] in [c["value"] for c in conditions]
    # A Restore that would bring CronJobs or Jobs into a drill namespace is refused (they would run there).
    assert {"key": ["cronjobs.batch", "jobs.batch"], "operator": "AnyNotIn",
            "value": "{{ request.object.spec.excludedResources || `[]` }}"} in conditions
    assert "ClusterPolicy" not in by_kind(drill_schedule_manifests(settings(restore_policy=False)))
