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
import zoneinfo
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.common.yaml import yaml_dump
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

LABEL_NAME = "keycloak-admin-rotation"
MANAGED_BY = "atlas.hardening"
VARS_MOUNT = "/etc/atlas-hardening/vars"
VAULT_CA_MOUNT = "/etc/atlas-hardening/vault-ca"
KUBE_API_ACCESS_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
VAULT_TOKEN_MOUNT = "/var/run/secrets/atlas-hardening/vault"
# Pod Security Standard of the namespace the role creates for the job.
RESTRICTED_NAMESPACE_LABELS = {"pod-security.kubernetes.io/enforce": "restricted",
                               "pod-security.kubernetes.io/audit": "restricted",
                               "pod-security.kubernetes.io/warn": "restricted"}
# Same default as the keycloak_admin_rotation role.
DEFAULT_EVENT_NAMESPACE = "keycloak"


class ScheduleSettingsError(HardeningError):
    """The scheduled job cannot run with these settings."""


def image_warnings(settings: Mapping[str, Any]) -> list[str]:
    """A mutable image tag runs whatever the registry serves today: recommend a digest."""
    image = str(settings.get("image") or "")
    if not image or "@sha256:" in image:
        return []
    return [f"keycloak_rotation_schedule_image {image} is a tag, which the registry can point at another image: "
            "pin it by digest (registry/atlas-hardening-ee@sha256:...), above all in production."]


def adoption_finished(settings: Mapping[str, Any]) -> bool:
    """True once the job has succeeded: Vault then holds the password, and the job no longer needs to read
    the Secret it adopts from (adoption happens only while Vault holds nothing)."""
    if str(settings.get("adopt_grant") or "until_first_success") == "always":
        return False
    cronjobs = settings.get("current_cronjob") or []
    return any(((cronjob or {}).get("status") or {}).get("lastSuccessfulTime") for cronjob in cronjobs)


def secret_grants(rotation_vars: Mapping[str, Any], adopting: bool = True) -> dict[str, dict[str, Any]]:
    """Per namespace: the Secret copies to read and patch, the Secret to adopt (while ``adopting``),
    whether Events are written."""
    grants: dict[str, dict[str, Any]] = {}

    def grant(namespace: str) -> dict[str, Any]:
        return grants.setdefault(namespace, {"copies": [], "adopted": [], "events": False})

    for copy in rotation_vars.get("keycloak_admin_rotation_secret_copies") or []:
        if copy["name"] not in grant(copy["namespace"])["copies"]:
            grant(copy["namespace"])["copies"].append(copy["name"])
    adopt = (rotation_vars.get("keycloak_admin_rotation_adopt_from_secret") or {}) if adopting else {}
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
    problem = cron_problem(str(settings.get("cron") or ""))
    if problem:
        raise ScheduleSettingsError(f"keycloak_rotation_schedule_cron {settings.get('cron')!r} is not a schedule the API "
                                    f"server accepts: {problem}. Use five fields, e.g. \"17 3 * * *\" (03:17 daily).")
    zone = str(settings.get("time_zone") or "")
    if not known_time_zone(zone):
        raise ScheduleSettingsError(f"keycloak_rotation_schedule_time_zone {zone!r} is not an IANA time zone (such as "
                                    "Etc/UTC or Europe/Paris): the API server would refuse the CronJob.")
    _check_secret_refs(dict(settings["rotation_vars"]))
    if str(settings.get("adopt_grant") or "until_first_success") not in ("until_first_success", "always"):
        raise ScheduleSettingsError(f"keycloak_rotation_schedule_adopt_grant must be until_first_success or always, "
                                    f"not {_json_text(settings.get('adopt_grant'))}.")


def _check_secret_refs(rotation_vars: dict[str, Any]) -> None:
    """The rotation's Secret references must be complete before any grant is derived from them."""
    copies = rotation_vars.get("keycloak_admin_rotation_secret_copies") or []
    if not isinstance(copies, list):
        raise ScheduleSettingsError("keycloak_admin_rotation_secret_copies must be a list of {namespace, name} "
                                    f"mappings, not a {type(copies).__name__}.")
    adopt = rotation_vars.get("keycloak_admin_rotation_adopt_from_secret") or {}
    refs = [(f"keycloak_admin_rotation_secret_copies[{index}]", copy) for index, copy in enumerate(copies)]
    refs += [("keycloak_admin_rotation_adopt_from_secret", adopt)] if adopt else []
    for label, ref in refs:
        missing = [key for key in ("namespace", "name")
                   if not isinstance(ref, Mapping) or not isinstance(ref.get(key), str) or not ref.get(key)]
        if missing:
            raise ScheduleSettingsError(f"{label} needs {' and '.join(missing)} (the Secret's namespace and name); "
                                        f"got {_json_text(ref)}.")


# The fields of a standard cron schedule and their ranges (day of week 0-6, as robfig/cron parses it).
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_CRON_NAMES: tuple[dict[str, int], ...] = ({}, {}, {}, {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)},
    {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))})
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_problem(schedule: str) -> str:
    """What is wrong with a CronJob schedule (five fields or a descriptor), or "" when it is valid."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "set the time zone with keycloak_rotation_schedule_time_zone, not in the schedule"
    if text.startswith("@"):
        return "" if text in _CRON_DESCRIPTORS or text.startswith("@every ") else f"unknown descriptor {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"{len(fields)} fields instead of 5 (minute hour day-of-month month day-of-week)"
    for field, (low, high), names in zip(fields, _CRON_RANGES, _CRON_NAMES):
        for item in field.split(","):
            span, _slash, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f"step {step!r} in {item!r} must be a positive number"
            if span in ("*", "?"):
                continue
            bounds = span.split("-")
            found = [names.get(bound.lower(), int(bound) if bound.isdigit() else None) for bound in bounds]
            values = [value for value in found if value is not None]
            if len(bounds) > 2 or len(values) != len(found):
                return f"{item!r} is not a number, a name or a range"
            if any(not low <= value <= high for value in values):
                return f"{item!r} is outside {low}-{high}"
            if len(values) == 2 and values[0] > values[1]:
                return f"{item!r} is a range that ends before it starts"
    return ""


def known_time_zone(name: str) -> bool:
    """True for an IANA zone this machine knows (Go's time.LoadLocation answers the same on the API server)."""
    if not name or name.lower() == "local" or any(part in ("", ".", "..") for part in name.split("/")):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return not zoneinfo.available_timezones()  # no time zone database here: leave it to the API server
    return True


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
        "atlas_hardening_vault_kubernetes_token_path": f"{VAULT_TOKEN_MOUNT}/token",
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
        # Applied create-only by the role: an existing namespace (Keycloak's own) is left exactly as it is.
        objects.append({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": namespace, "labels": dict(RESTRICTED_NAMESPACE_LABELS)}})
    objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata()})
    allow_creation = boolean(settings["allow_secret_creation"], strict=False)
    for target, grant in sorted(secret_grants(rotation_vars, adopting=not adoption_finished(settings)).items()):
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
    mounts = [{"name": "kube-api-access", "mountPath": KUBE_API_ACCESS_MOUNT, "readOnly": True},
              {"name": "vault-token", "mountPath": VAULT_TOKEN_MOUNT, "readOnly": True},
              {"name": "rotation-vars", "mountPath": VARS_MOUNT, "readOnly": True},
              {"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [
        # What automountServiceAccountToken would mount, for the Kubernetes API only (its audience).
        {"name": "kube-api-access", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                          "fieldPath": "metadata.namespace"}}]}}]}},
        # A token for Vault alone: bound to Vault's audience and short-lived, so that Vault never holds a
        # token that the Kubernetes API would accept.
        {"name": "vault-token", "projected": {"sources": [{"serviceAccountToken": {
            "path": "token", "audience": settings["vault_token_audience"],
            "expirationSeconds": int(settings["vault_token_expiration_seconds"])}}]}},
        {"name": "rotation-vars", "configMap": {"name": name}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    if vault_ca:
        mounts.append({"name": "vault-ca", "mountPath": VAULT_CA_MOUNT, "readOnly": True})
        volumes.append({"name": "vault-ca", "configMap": {"name": vault_ca}})
    pod_spec: dict[str, Any] = {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
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
