"""The controller's objects (upstream's names and RBAC, hardened) and the daily key backup job's."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.controller_manifests import (
    ControllerSettings,
    controller_manifests,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.key_backup_schedule_manifests import (
    key_backup_schedule_manifests,
)

IMAGE = "docker.io/bitnami/sealed-secrets-controller:0.38.4@sha256:" + "a" * 64


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def test_the_controller_keeps_kubeseals_names_and_is_pss_restricted() -> None:
    objects = controller_manifests(ControllerSettings.from_options({"image": IMAGE, "key_renew_period": "168h"}))
    [deployment] = by_kind(objects, "Deployment")
    where = (deployment["metadata"]["namespace"], deployment["metadata"]["name"])
    assert where == ("kube-system", "sealed-secrets-controller")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--key-renew-period=168h" in container["args"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "runAsNonRoot": True, "runAsUser": 1001, "capabilities": {"drop": ["ALL"]}}
    services = {s["metadata"]["name"]: s["spec"]["ports"][0]["name"] for s in by_kind(objects, "Service")}
    assert services == {"sealed-secrets-controller": "http", "sealed-secrets-controller-metrics": "metrics"}
    [unsealer] = [r for r in by_kind(objects, "ClusterRole") if r["metadata"]["name"] == "secrets-unsealer"]
    assert {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets/status"], "verbs": ["update"]} in unsealer["rules"]
    proxier = next(r for r in by_kind(objects, "Role") if r["metadata"]["name"] == "sealed-secrets-service-proxier")
    assert proxier["rules"][1]["resourceNames"] == ["http:sealed-secrets-controller:",
                                                    "http:sealed-secrets-controller:http", "sealed-secrets-controller"]


def test_an_image_without_a_digest_is_refused() -> None:
    with pytest.raises(HardeningError, match="not pinned by digest"):
        ControllerSettings.from_options({"image": "docker.io/bitnami/sealed-secrets-controller:0.38.4"})


def schedule_settings(**overrides: Any) -> dict[str, Any]:
    values = {
        "name": "sealed-secrets-key-backup", "controller_namespace": "kube-system",
        "controller_name": "sealed-secrets-controller", "kv_mount_point": "secret", "kv_path": "platform/ss",
        "cron": "43 2 * * *", "time_zone": "Etc/UTC", "suspend": False, "starting_deadline_seconds": 3600,
        "active_deadline_seconds": 600, "backoff_limit": 2, "successful_jobs_history_limit": 3,
        "failed_jobs_history_limit": 5, "image": "registry.example/ee@sha256:" + "b" * 64,
        "image_pull_policy": "IfNotPresent", "image_pull_secrets": [], "playbook": "/pb.yml",
        "resources": {}, "vault_url": "https://vault.example", "vault_namespace": "",
        "vault_kubernetes_role": "sealed-secrets-key-backup", "vault_auth_mount_point": "kubernetes",
        "vault_ca_configmap": "", "vault_token_audience": "vault", "vault_token_expiration_seconds": 600}
    values.update(overrides)
    return values


def test_the_backup_job_may_list_secrets_of_its_namespace_and_nothing_else() -> None:
    objects = key_backup_schedule_manifests(schedule_settings())
    assert [obj["kind"] for obj in objects] == ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "CronJob"]
    assert by_kind(objects, "Role")[0]["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
    pod = by_kind(objects, "CronJob")[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "sealed-secrets-key-backup"
    assert pod["containers"][0]["command"] == ["ansible-playbook", "/pb.yml", "--extra-vars",
                                               "@/etc/atlas-hardening/vars/key-backup-vars.yml"]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"image": ""}, "needs sealed_secrets_key_backup_schedule_image"),
    ({"vault_url": ""}, "missing: vault_url"),
    ({"cron": "every day"}, "is not a schedule"),
    ({"time_zone": "Mars/Olympus"}, "is not an IANA time zone"),
])
def test_a_job_that_cannot_run_is_refused_before_any_write(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(HardeningError, match=message):
        key_backup_schedule_manifests(schedule_settings(**overrides))
