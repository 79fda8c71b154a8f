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
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.scheduled_playbook import (
    cron_problem,
    known_time_zone,
    playbook_cronjob,
    vault_job_vars,
)

LABEL_NAME = "keycloak-admin-rotation"
MANAGED_BY = "atlas.hardening"
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
    job_vars = vault_job_vars(settings)
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
    return playbook_cronjob(settings, metadata, labels, container="rotate", vars_file="rotation-vars.yml",
                            extra_env=[{"name": "KEYCLOAK_URL", "value": settings["keycloak_url"]}])
