# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the daily backup of the Sealed Secrets keys, as a CronJob.

It runs ``playbooks/backup_sealed_secrets_keys.yml`` in the controller's namespace, as its own
ServiceAccount, whose one Role there allows listing Secrets (the key Secrets are found by label, and
RBAC cannot grant by label) and nothing else; the certificate comes through the service proxy, which
the controller's installation opens to every authenticated user. Vault is reached with Kubernetes
auth and a token bound to Vault's audience. A renewal (every 30 days by default) is in Vault within
a day.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.module_utils.common.yaml import yaml_dump

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.scheduled_playbook import (
    check_schedule,
    playbook_cronjob,
    vault_job_vars,
)

LABEL_NAME = "sealed-secrets-key-backup"
VARS_FILE = "key-backup-vars.yml"


def key_backup_schedule_manifests(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The role's settings (its variables without the prefix) -> ServiceAccount, Role, RoleBinding,
    ConfigMap and CronJob, in order."""
    missing = [key for key in ("image", "vault_url") if not settings.get(key)]
    if missing:
        raise HardeningError("The daily Sealed Secrets key backup needs sealed_secrets_key_backup_schedule_image (an "
                             "execution environment with ansible-core, atlas.hardening and its requirements.txt) and "
                             "sealed_secrets_key_backup_schedule_vault_url (as reachable from inside the cluster); "
                             f"missing: {', '.join(missing)}.")
    check_schedule("sealed_secrets_key_backup_schedule", settings)
    name, namespace = str(settings["name"]), str(settings["controller_namespace"])
    labels = {"app.kubernetes.io/name": LABEL_NAME, "app.kubernetes.io/instance": name,
              "app.kubernetes.io/managed-by": "atlas.hardening"}
    metadata = {"name": name, "namespace": namespace, "labels": labels}
    job_vars = {
        **vault_job_vars(settings),
        "sealed_secrets_keys_controller_namespace": namespace,
        "sealed_secrets_keys_controller_name": settings["controller_name"],
        "sealed_secrets_keys_kv_mount_point": settings["kv_mount_point"],
        "sealed_secrets_keys_kv_path": settings["kv_path"],
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(metadata)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": dict(metadata),
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": dict(metadata),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": dict(metadata),
         "data": {VARS_FILE: yaml_dump(job_vars, indent=2, sort_keys=True, default_flow_style=False)}},
        playbook_cronjob(settings, dict(metadata), labels, container="backup", vars_file=VARS_FILE, extra_env=[]),
    ]
