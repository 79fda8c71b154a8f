# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the objects of the scheduled Keycloak admin rotation.

The ServiceAccount, one Role and RoleBinding per namespace the job touches (named Secrets only,
Events), the ConfigMap holding the playbook variables, and the CronJob. Every grant is derived
here from the rotation's own variables, so the job can do its job and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.common.yaml import yaml_dump
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

LABEL_NAME = "keycloak-admin-rotation"
MANAGED_BY = "atlas.hardening"
VARS_MOUNT = "/etc/atlas-hardening/vars"
VAULT_CA_MOUNT = "/etc/atlas-hardening/vault-ca"
# Same default as the keycloak_admin_rotation role.
DEFAULT_EVENT_NAMESPACE = "keycloak"


class ScheduleSettingsError(HardeningError):
    """The scheduled job cannot run with these settings."""


def secret_grants(rotation_vars: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per namespace: the Secret copies to read and patch, the Secret to adopt, whether Events are written."""
    grants: dict[str, dict[str, Any]] = {}

    def grant(namespace: str) -> dict[str, Any]:
        return grants.setdefault(namespace, {"copies": [], "adopted": [], "events": False})

    for copy in rotation_vars.get("keycloak_admin_rotation_secret_copies") or []:
        if copy["name"] not in grant(copy["namespace"])["copies"]:
            grant(copy["namespace"])["copies"].append(copy["name"])
    adopt = rotation_vars.get("keycloak_admin_rotation_adopt_from_secret") or {}
    if adopt and adopt["name"] not in grant(adopt["namespace"])["copies"] + grant(adopt["namespace"])["adopted"]:
        grant(adopt["namespace"])["adopted"].append(adopt["name"])
    event_namespace = rotation_vars.get("keycloak_admin_rotation_event_namespace", DEFAULT_EVENT_NAMESPACE)
    if event_namespace:
        grant(event_namespace)["events"] = True
    return grants


def _role_rules(grant: Mapping[str, Any], allow_secret_creation: bool) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if grant["copies"]:
        # Read and update the password keys of these Secret copies only.
        rules.append({"apiGroups": [""], "resources": ["secrets"], "resourceNames": list(grant["copies"]),
                      "verbs": ["get", "patch"]})
    if grant["adopted"]:
        # First run: read the current password to adopt it.
        rules.append({"apiGroups": [""], "resources": ["secrets"], "resourceNames": list(grant["adopted"]),
                      "verbs": ["get"]})
    if grant["copies"] and allow_secret_creation:
        rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]})
    if grant["events"]:
        # The audit trail of each rotation.
        rules.append({"apiGroups": [""], "resources": ["events"], "verbs": ["create"]})
    return rules


def _check(settings: Mapping[str, Any]) -> None:
    if not (settings.get("image") and settings.get("vault_url") and settings.get("keycloak_url")
            and isinstance(settings.get("rotation_vars"), Mapping)):
        raise ScheduleSettingsError(
            "The Keycloak rotation CronJob needs keycloak_rotation_schedule_image (an execution environment with "
            "ansible-core, atlas.hardening and its requirements.txt), keycloak_rotation_schedule_vault_url (or "
            "atlas_hardening_vault_url) and keycloak_rotation_schedule_keycloak_url (or atlas_hardening_keycloak_url), "
            "as reachable from inside the cluster. Got "
            + ", ".join(f"{key}={_json_text(settings.get(key))}" for key in ("image", "vault_url", "keycloak_url"))
            + ".")


def _json_text(value: Any) -> str:
    return json.dumps(value if value is not None else "")


def keycloak_rotation_schedule_manifests(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The role's settings (its variables without the prefix) -> the objects to apply, in order."""
    _check(settings)
    name = str(settings["name"])
    namespace = str(settings["namespace"])
    rotation_vars = dict(settings["rotation_vars"])
    labels = {"app.kubernetes.io/name": LABEL_NAME, "app.kubernetes.io/instance": name,
              "app.kubernetes.io/managed-by": MANAGED_BY}
    job_vars = {
        "atlas_hardening_hosts": "localhost",
        "atlas_hardening_vault_auth_method": "kubernetes",
        "atlas_hardening_vault_kubernetes_role": settings["vault_kubernetes_role"],
        "atlas_hardening_vault_auth_mount_point": settings["vault_auth_mount_point"],
    }
    job_vars.update(rotation_vars)
    job_vars.setdefault("keycloak_admin_rotation_rotated_by", f"cronjob/{namespace}/{name}")

    def metadata(object_namespace: str = namespace) -> dict[str, Any]:
        return {"name": name, "namespace": object_namespace, "labels": dict(labels)}

    objects: list[dict[str, Any]] = []
    if boolean(settings["create_namespace"], strict=False):
        # Created when missing; an existing namespace is left as it is (the manifest sets no field).
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata()})
    allow_creation = boolean(settings["allow_secret_creation"], strict=False)
    for target, grant in sorted(secret_grants(rotation_vars).items()):
        objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata(target),
                        "rules": _role_rules(grant, allow_creation)})
        objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                        "metadata": metadata(target),
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
    objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(),
                    "data": {"rotation-vars.yml": yaml_dump(job_vars, indent=2, sort_keys=True,
                                                            default_flow_style=False, allow_unicode=True)}})
    objects.append(_cronjob(settings, metadata(), labels))
    return objects


def _cronjob(settings: Mapping[str, Any], metadata: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    name = metadata["name"]
    vault_ca = settings.get("vault_ca_configmap") or ""
    env = [{"name": "VAULT_ADDR", "value": settings["vault_url"]}]
    if settings.get("vault_namespace"):
        env.append({"name": "VAULT_NAMESPACE", "value": settings["vault_namespace"]})
    if vault_ca:
        env.append({"name": "VAULT_CACERT", "value": f"{VAULT_CA_MOUNT}/ca.crt"})
    env += [{"name": "KEYCLOAK_URL", "value": settings["keycloak_url"]},
            {"name": "HOME", "value": "/tmp"},
            {"name": "ANSIBLE_LOCAL_TEMP", "value": "/tmp/.ansible/tmp"},
            {"name": "ANSIBLE_NOCOLOR", "value": "1"}]
    mounts = [{"name": "rotation-vars", "mountPath": VARS_MOUNT, "readOnly": True},
              {"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "rotation-vars", "configMap": {"name": name}},
                                     {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    if vault_ca:
        mounts.append({"name": "vault-ca", "mountPath": VAULT_CA_MOUNT, "readOnly": True})
        volumes.append({"name": "vault-ca", "configMap": {"name": vault_ca}})
    pod_spec: dict[str, Any] = {
        "serviceAccountName": name,
        "automountServiceAccountToken": True,
        "restartPolicy": "Never",
    }
    if settings.get("image_pull_secrets"):
        pod_spec["imagePullSecrets"] = [{"name": secret} for secret in settings["image_pull_secrets"]]
    pod_spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                   "seccompProfile": {"type": "RuntimeDefault"}}
    pod_spec["containers"] = [{
        "name": "rotate",
        "image": settings["image"],
        "imagePullPolicy": settings["image_pull_policy"],
        "command": ["ansible-playbook", settings["playbook"], "--extra-vars", f"@{VARS_MOUNT}/rotation-vars.yml"],
        "env": env,
        "resources": settings["resources"],
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": mounts,
    }]
    pod_spec["volumes"] = volumes
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata,
        "spec": {
            "schedule": settings["cron"],
            "timeZone": settings["time_zone"],
            "suspend": boolean(settings["suspend"], strict=False),
            # Never two rotations at once (the protocol would stop the second one anyway).
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": int(settings["starting_deadline_seconds"]),
            "successfulJobsHistoryLimit": int(settings["successful_jobs_history_limit"]),
            "failedJobsHistoryLimit": int(settings["failed_jobs_history_limit"]),
            "jobTemplate": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "backoffLimit": int(settings["backoff_limit"]),
                    "activeDeadlineSeconds": int(settings["active_deadline_seconds"]),
                    "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
                },
            },
        },
    }
