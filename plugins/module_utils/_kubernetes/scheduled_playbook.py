# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: a CronJob that runs one of the collection's playbooks in the cluster
(the scheduled Keycloak rotation, the daily Sealed Secrets key backup, the monthly restore drill), and the checks of its schedule
and time zone that the API server would otherwise refuse late."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

VARS_MOUNT = "/etc/atlas-hardening/vars"
VAULT_CA_MOUNT = "/etc/atlas-hardening/vault-ca"
KUBE_API_ACCESS_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
VAULT_TOKEN_MOUNT = "/var/run/secrets/atlas-hardening/vault"


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
        return "set the time zone with the role's time_zone variable, not in the schedule"
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


def check_schedule(role: str, settings: Mapping[str, Any]) -> None:
    """Refuse, naming the role's variables, a schedule or time zone that the API server would refuse."""
    problem = cron_problem(str(settings.get("cron") or ""))
    if problem:
        raise HardeningError(f"{role}_cron {settings.get('cron')!r} is not a schedule the API server accepts: {problem}.")
    if not known_time_zone(str(settings.get("time_zone") or "")):
        raise HardeningError(f"{role}_time_zone {settings.get('time_zone')!r} is not an IANA time zone (such as "
                             "Etc/UTC).")


def vault_job_vars(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The playbook variables that make the job log in to Vault with its own Kubernetes identity."""
    return {
        "atlas_hardening_hosts": "localhost",
        "atlas_hardening_vault_auth_method": "kubernetes",
        "atlas_hardening_vault_kubernetes_token_path": f"{VAULT_TOKEN_MOUNT}/token",
        "atlas_hardening_vault_kubernetes_role": settings["vault_kubernetes_role"],
        "atlas_hardening_vault_auth_mount_point": settings["vault_auth_mount_point"],
    }


def playbook_cronjob(settings: Mapping[str, Any], metadata: dict[str, Any], labels: dict[str, str], *,
                     container: str, vars_file: str, extra_env: list[dict[str, Any]], vault: bool = True,
                     env_from: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A CronJob that runs ``settings["playbook"]`` with the variables of the ConfigMap named like the job
    (key ``vars_file``), as the job's ServiceAccount, logging in to Vault (unless ``vault`` is false) with a
    token bound to Vault's audience; restricted Pod security, nothing writable but /tmp."""
    name = metadata["name"]
    vars_volume = vars_file.rsplit(".", 1)[0]  # rotation-vars.yml -> rotation-vars
    vault_ca = (settings.get("vault_ca_configmap") or "") if vault else ""
    env: list[dict[str, Any]] = []
    if vault:
        env.append({"name": "VAULT_ADDR", "value": settings["vault_url"]})
        if settings.get("vault_namespace"):
            env.append({"name": "VAULT_NAMESPACE", "value": settings["vault_namespace"]})
    if vault_ca:
        env.append({"name": "VAULT_CACERT", "value": f"{VAULT_CA_MOUNT}/ca.crt"})
    env += [*extra_env,
            {"name": "HOME", "value": "/tmp"},
            {"name": "ANSIBLE_LOCAL_TEMP", "value": "/tmp/.ansible/tmp"},
            {"name": "ANSIBLE_NOCOLOR", "value": "1"}]
    mounts = [{"name": "kube-api-access", "mountPath": KUBE_API_ACCESS_MOUNT, "readOnly": True},
              *([{"name": "vault-token", "mountPath": VAULT_TOKEN_MOUNT, "readOnly": True}] if vault else []),
              {"name": vars_volume, "mountPath": VARS_MOUNT, "readOnly": True},
              {"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [
        # What automountServiceAccountToken would mount, for the Kubernetes API only (its audience).
        {"name": "kube-api-access", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                          "fieldPath": "metadata.namespace"}}]}}]}},
        {"name": vars_volume, "configMap": {"name": name}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    if vault:
        # A token for Vault alone: bound to Vault's audience and short-lived, so that Vault never holds a
        # token that the Kubernetes API would accept.
        volumes.insert(1, {"name": "vault-token", "projected": {"sources": [{"serviceAccountToken": {
            "path": "token", "audience": settings["vault_token_audience"],
            "expirationSeconds": int(settings["vault_token_expiration_seconds"])}}]}})
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
        "name": container,
        "image": settings["image"],
        "imagePullPolicy": settings["image_pull_policy"],
        "command": ["ansible-playbook", settings["playbook"], "--extra-vars", f"@{VARS_MOUNT}/{vars_file}"],
        "env": env,
        **({"envFrom": env_from} if env_from else {}),
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
            # Never two runs at once.
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
