"""The scheduled rotation's objects and RBAC grants, derived in Python from the rotation's variables."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.module_utils._rotation.schedule_manifests import (
    ScheduleSettingsError,
    keycloak_rotation_schedule_manifests,
    secret_grants,
)


def settings(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "keycloak-admin-rotation", "namespace": "keycloak", "create_namespace": True,
        "cron": "17 3 * * *", "time_zone": "Etc/UTC", "suspend": False, "starting_deadline_seconds": "3600",
        "active_deadline_seconds": 900, "backoff_limit": 2, "successful_jobs_history_limit": 3,
        "failed_jobs_history_limit": 5, "image": "registry.example/ee@sha256:" + "a" * 64,
        "image_pull_policy": "IfNotPresent", "image_pull_secrets": [], "playbook": "/pb/rotate_secrets.yml",
        "resources": {"requests": {"cpu": "50m"}}, "vault_url": "https://vault:8200", "vault_namespace": "",
        "vault_kubernetes_role": "keycloak-admin-rotation", "vault_auth_mount_point": "kubernetes",
        "vault_ca_configmap": "", "keycloak_url": "https://sso", "allow_secret_creation": False,
        "vault_token_audience": "vault", "vault_token_expiration_seconds": 600,
        "rotation_vars": {
            "keycloak_admin_rotation_secret_copies": [{"namespace": "apps", "name": "kc-admin"},
                                                      {"namespace": "keycloak", "name": "kc-copy"}],
            "keycloak_admin_rotation_adopt_from_secret": {"namespace": "keycloak", "name": "keycloak-initial-admin"},
        },
    }
    values.update(overrides)
    return values


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def test_objects_in_order() -> None:
    kinds = [obj["kind"] for obj in keycloak_rotation_schedule_manifests(settings())]
    assert kinds == ["Namespace", "ServiceAccount", "Role", "RoleBinding", "Role", "RoleBinding", "ConfigMap",
                     "CronJob"]


def test_grants_are_per_namespace_and_by_name() -> None:
    roles = {role["metadata"]["namespace"]: role["rules"]
             for role in by_kind(keycloak_rotation_schedule_manifests(settings()), "Role")}
    assert roles["apps"] == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["kc-admin"],
                              "verbs": ["get", "patch"]}]
    assert roles["keycloak"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["kc-copy"], "verbs": ["get", "patch"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["keycloak-initial-admin"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]


def test_an_adopted_secret_that_is_also_a_copy_gets_no_second_grant() -> None:
    grants = secret_grants({"keycloak_admin_rotation_secret_copies": [{"namespace": "keycloak", "name": "a"}],
                            "keycloak_admin_rotation_adopt_from_secret": {"namespace": "keycloak", "name": "a"},
                            "keycloak_admin_rotation_event_namespace": ""})
    assert grants == {"keycloak": {"copies": ["a"], "adopted": [], "events": False}}


@pytest.mark.parametrize(("adopt_grant", "status", "granted"), [
    ("until_first_success", None, True),  # no CronJob yet
    ("until_first_success", {"lastScheduleTime": "2026-12-01T03:17:00Z"}, True),  # scheduled, never succeeded
    ("until_first_success", {"lastSuccessfulTime": "2026-12-01T03:18:00Z"}, False),
    ("always", {"lastSuccessfulTime": "2026-12-01T03:18:00Z"}, True),
])
def test_the_adopt_grant_lasts_until_the_first_success(adopt_grant: str, status: Any, granted: bool) -> None:
    current = [] if status is None else [{"kind": "CronJob", "status": status}]
    values = settings(adopt_grant=adopt_grant, current_cronjob=current)
    values["rotation_vars"]["keycloak_admin_rotation_adopt_from_secret"] = {"namespace": "keycloak",
                                                                            "name": "keycloak-initial-admin"}
    roles = [obj for obj in keycloak_rotation_schedule_manifests(values)
             if obj["kind"] == "Role" and obj["metadata"]["namespace"] == "keycloak"]
    names = [name for rule in roles[0]["rules"] for name in rule.get("resourceNames", [])]
    assert ("keycloak-initial-admin" in names) is granted


def test_an_unknown_adopt_grant_is_refused() -> None:
    with pytest.raises(ScheduleSettingsError, match="adopt_grant must be until_first_success or always"):
        keycloak_rotation_schedule_manifests(settings(adopt_grant="forever"))


def test_job_variables_and_cronjob() -> None:
    objects = keycloak_rotation_schedule_manifests(settings(vault_ca_configmap="vault-ca"))
    job_vars = yaml.safe_load(by_kind(objects, "ConfigMap")[0]["data"]["rotation-vars.yml"])
    assert job_vars["atlas_hardening_vault_auth_method"] == "kubernetes"
    assert job_vars["keycloak_admin_rotation_rotated_by"] == "cronjob/keycloak/keycloak-admin-rotation"
    cronjob = by_kind(objects, "CronJob")[0]
    assert cronjob["spec"]["startingDeadlineSeconds"] == 3600 and cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["ansible-playbook", "/pb/rotate_secrets.yml", "--extra-vars",
                                    "@/etc/atlas-hardening/vars/rotation-vars.yml"]
    assert {"name": "VAULT_CACERT", "value": "/etc/atlas-hardening/vault-ca/ca.crt"} in container["env"]


@pytest.mark.parametrize("missing", ["image", "vault_url", "keycloak_url"])
def test_what_the_job_needs_is_checked_first(missing: str) -> None:
    with pytest.raises(ScheduleSettingsError, match="needs keycloak_rotation_schedule_image"):
        keycloak_rotation_schedule_manifests(settings(**{missing: ""}))


@pytest.mark.parametrize("cron, problem", [
    ("99 * * * *", "'99' is outside 0-59"), ("0 0 * * 7", "'7' is outside 0-6"), ("1 2 3", "3 fields instead of 5"),
    ("*/0 * * * *", "step '0'"), ("5-3 * * * *", "ends before it starts"), ("TZ=UTC 0 0 * * *", "time_zone"),
])
def test_a_schedule_the_api_server_refuses_is_refused_first(cron: str, problem: str) -> None:
    with pytest.raises(ScheduleSettingsError, match="keycloak_rotation_schedule_cron") as raised:
        keycloak_rotation_schedule_manifests(settings(cron=cron))
    assert problem in str(raised.value)


@pytest.mark.parametrize("cron", ["17 3 * * *", "*/15 * * * *", "0 4 1-7 JAN-MAR mon-fri", "@daily", "@every 6h"])
def test_valid_schedules_pass(cron: str) -> None:
    assert keycloak_rotation_schedule_manifests(settings(cron=cron))[-1]["spec"]["schedule"] == cron


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Local", "", "../../etc/passwd"])
def test_an_unknown_time_zone_is_refused_first(zone: str) -> None:
    with pytest.raises(ScheduleSettingsError, match="is not an IANA time zone"):
        keycloak_rotation_schedule_manifests(settings(time_zone=zone))


@pytest.mark.parametrize("copies, message", [
    ([{"name": "kc-admin"}], r"secret_copies\[0\] needs namespace"),
    ("keycloak/kc-admin", "must be a list of"),
    ([{"namespace": "apps", "name": ""}], r"secret_copies\[0\] needs name"),
])
def test_incomplete_secret_references_are_one_clear_message(copies: Any, message: str) -> None:
    with pytest.raises(ScheduleSettingsError, match=message):
        keycloak_rotation_schedule_manifests(settings(rotation_vars={"keycloak_admin_rotation_secret_copies": copies}))


def test_the_job_sends_vault_a_token_minted_for_vault_only() -> None:
    objects = keycloak_rotation_schedule_manifests(settings())
    pod = by_kind(objects, "CronJob")[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    vault_token = volumes["vault-token"]["projected"]["sources"][0]["serviceAccountToken"]
    assert vault_token == {"path": "token", "audience": "vault", "expirationSeconds": 600}
    api_token = volumes["kube-api-access"]["projected"]["sources"][0]["serviceAccountToken"]
    assert "audience" not in api_token  # the API server's own audience, for the Secret copies and Events
    mounts = {mount["name"]: mount["mountPath"] for mount in pod["containers"][0]["volumeMounts"]}
    job_vars = yaml.safe_load(by_kind(objects, "ConfigMap")[0]["data"]["rotation-vars.yml"])
    assert job_vars["atlas_hardening_vault_kubernetes_token_path"] == mounts["vault-token"] + "/token"
    assert mounts["kube-api-access"] == "/var/run/secrets/kubernetes.io/serviceaccount"


def test_the_namespace_it_creates_is_restricted() -> None:
    namespace = by_kind(keycloak_rotation_schedule_manifests(settings()), "Namespace")[0]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_an_image_tag_is_warned_about_and_a_digest_is_not() -> None:
    from ansible_collections.atlas.hardening.plugins.module_utils._rotation.schedule_manifests import image_warnings

    assert image_warnings(settings()) == []  # pinned by digest
    warnings = image_warnings(settings(image="registry.example/ee:0.1.0"))
    assert len(warnings) == 1 and "pin it by digest" in warnings[0]
