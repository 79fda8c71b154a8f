# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the monthly restore test, as a CronJob that runs
``playbooks/disaster_recovery.yml`` with ``disaster_recovery_action=drill`` from the execution environment.

Its ServiceAccount may do the drill and nothing else:

- in Velero's namespace (a Role): read Backups and BackupStorageLocations, create and watch Restores,
  write Events, and patch the one ConfigMap that records drill outcomes (installed here, empty, so the
  job never needs ``create`` on ConfigMaps);
- Namespaces (a ClusterRole): ``create`` (RBAC cannot restrict a create by name), and ``get``, ``watch``
  and ``delete`` only by ``resourceNames``: the drill namespaces, whose names are fixed by
  ``namespace_suffix`` (``drill-<namespace>-<suffix>``). Deleting any other namespace is refused by the
  API server; listing namespaces too;
- the restored objects: read (get, list, watch) only the kinds in ``readable_resources``, by default
  workloads, Services and PersistentVolumeClaims; a ClusterRoleBinding cannot be limited to namespaces
  that do not exist yet, so these reads are cluster-wide, which is why Secrets and ConfigMaps are not in
  the default: the drill checks them against Velero's restore resource list instead;
- the HTTP checks of the catalogue: ``get`` on ``services/proxy`` only for the ``<service>:<port>``
  names the catalogue checks.

RBAC cannot look inside a Restore, and Velero executes any Restore with its own rights; so the Kyverno
ClusterPolicy ``atlas-hardening-dr-drill-restores`` (``restore_policy``) refuses this ServiceAccount's
Restores unless they include only catalogued namespaces, map every one of them to a drill namespace,
never update existing objects, include no cluster resources explicitly and leave out CronJobs and Jobs:
the job cannot restore over the source namespaces, nor start the components' scheduled work from a
drill namespace.

S3 access (the backups' resource lists, the restore's, the report history) is the cloud's business: an
IAM role through the ServiceAccount's annotations (IRSA), or a Secret with static keys as environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.module_utils.common.yaml import yaml_dump
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import (
    chosen_in_restore_order,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_plan import (
    DRILL_EXCLUDED,
    RESULTS_CONFIGMAP,
    check_suffix,
    drill_namespace,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.scheduled_playbook import (
    check_schedule,
    playbook_cronjob,
)

LABEL_NAME = "disaster-recovery-drill"
VARS_FILE = "drill-vars.yml"
REPORT_DIR = "/tmp/disaster-recovery-reports"
RBAC = "rbac.authorization.k8s.io"


def readable_rules(resources: list[str]) -> list[dict[str, Any]]:
    """``deployments.apps`` / ``services`` (kubectl's resource.group) -> read rules, one per API group."""
    by_group: dict[str, list[str]] = {}
    for resource in resources:
        plural, _dot, group = str(resource).partition(".")
        if not plural or plural == "*" or group == "*":
            raise HardeningError(f"disaster_recovery_drill_schedule_readable_resources: {resource!r} must name one "
                                 "resource as kubectl spells it (deployments.apps, services), not a wildcard.")
        by_group.setdefault(group, []).append(plural)
    return [{"apiGroups": [group], "resources": sorted(plurals), "verbs": ["get", "list", "watch"]}
            for group, plurals in sorted(by_group.items())]


RESTORE_POLICY = "atlas-hardening-dr-drill-restores"


def restore_policy_manifest(subject: dict[str, str], sources: list[str], drill_namespaces: list[str],
                            labels: dict[str, str]) -> dict[str, Any]:
    """The Kyverno ClusterPolicy that keeps the job's Restores to drills (background off: it judges
    requests by their user, which a background scan does not have)."""
    spec = "request.object.spec"
    return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": RESTORE_POLICY, "labels": labels},
            "spec": {"background": False, "rules": [{
                "name": "drill-restores-only",
                "match": {"any": [{"resources": {"kinds": ["velero.io/v1/Restore"], "operations": ["CREATE", "UPDATE"]},
                                   "subjects": [subject]}]},
                "validate": {
                    "failureAction": "Enforce",
                    "message": (f"{subject['namespace']}/{subject['name']} may only restore the catalogued namespaces "
                                "into their drill namespaces (drill-<namespace>-<suffix>), without updating existing "
                                f"objects and without {' or '.join(DRILL_EXCLUDED)} (excludedResources)."),
                    "deny": {"conditions": {"any": [
                        {"key": f"{{{{ length({spec}.includedNamespaces || `[]`) }}}}", "operator": "Equals", "value": 0},
                        {"key": f"{{{{ {spec}.includedNamespaces || `[]` }}}}", "operator": "AnyNotIn", "value": sources},
                        {"key": f"{{{{ {spec}.includedNamespaces || `[]` }}}}", "operator": "AnyNotIn",
                         "value": f"{{{{ keys({spec}.namespaceMapping || `{{}}`) }}}}"},
                        {"key": f"{{{{ values({spec}.namespaceMapping || `{{}}`) }}}}", "operator": "AnyNotIn",
                         "value": drill_namespaces},
                        {"key": f"{{{{ {spec}.existingResourcePolicy || 'none' }}}}", "operator": "NotEquals",
                         "value": "none"},
                        {"key": f"{{{{ {spec}.includeClusterResources || `false` }}}}", "operator": "Equals",
                         "value": True},
                        {"key": list(DRILL_EXCLUDED), "operator": "AnyNotIn",
                         "value": f"{{{{ {spec}.excludedResources || `[]` }}}}"},
                    ]}},
                }}]}}


def drill_schedule_manifests(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The role's settings (its variables without the prefix) -> the Restore policy (unless
    ``restore_policy`` is false), ServiceAccount, Role, RoleBinding, ClusterRole, ClusterRoleBinding, the
    drill results ConfigMap, the job's variables and the CronJob."""
    if not settings.get("image"):
        raise HardeningError("The monthly restore test needs disaster_recovery_drill_schedule_image (an execution "
                             "environment with ansible-core, atlas.hardening and its requirements.txt).")
    check_schedule("disaster_recovery_drill_schedule", settings)
    try:
        suffix = check_suffix(str(settings.get("namespace_suffix") or ""))
    except HardeningError as exc:
        raise HardeningError(f"disaster_recovery_drill_schedule_{exc}") from None
    components = chosen_in_restore_order(settings.get("components"), list(settings.get("names") or []) or None)
    sources = sorted({source for component in components for source in component.namespaces})
    drill_namespaces = sorted({drill_namespace(source, suffix) for source in sources})
    proxied = sorted({f"{check.service}:{check.port}" for component in components for check in component.verify.http})

    name, namespace, velero_namespace = str(settings["name"]), str(settings["namespace"]), str(settings["velero_namespace"])
    labels = {"app.kubernetes.io/name": LABEL_NAME, "app.kubernetes.io/instance": name,
              "app.kubernetes.io/managed-by": "atlas.hardening"}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    cluster_name = f"atlas-hardening:{namespace}:{name}"
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    account: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(metadata)}
    if settings.get("service_account_annotations"):
        account["metadata"] = {**metadata, "annotations": dict(settings["service_account_annotations"])}
    velero_rules = [
        {"apiGroups": ["velero.io"], "resources": ["backups", "backupstoragelocations"], "verbs": ["get", "list"]},
        {"apiGroups": ["velero.io"], "resources": ["restores"], "verbs": ["create", "get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [RESULTS_CONFIGMAP], "verbs": ["get", "patch"]},
    ]
    velero_role: dict[str, Any] = {"apiVersion": f"{RBAC}/v1", "kind": "Role", "rules": velero_rules,
                                   "metadata": {**metadata, "name": cluster_name, "namespace": velero_namespace}}
    namespace_rules: list[dict[str, Any]] = [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": drill_namespaces,
         "verbs": ["get", "watch", "delete"]},
    ]
    if proxied:
        namespace_rules.append({"apiGroups": [""], "resources": ["services/proxy"], "resourceNames": proxied,
                                "verbs": ["get"]})
    namespace_rules += readable_rules(list(settings.get("readable_resources") or []))
    cluster_role: dict[str, Any] = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "rules": namespace_rules,
                                    "metadata": {"name": cluster_name, "labels": labels}}
    job_vars = {
        "atlas_hardening_hosts": "localhost",
        "disaster_recovery_action": "drill",
        "disaster_recovery_components": settings.get("components"),
        "disaster_recovery_drill_names": [component.name for component in components],
        "disaster_recovery_drill_namespace_suffix": suffix,
        "disaster_recovery_drill_velero_namespace": velero_namespace,
        "disaster_recovery_drill_timeout": int(settings["drill_timeout"]),
        "disaster_recovery_status_velero_namespace": velero_namespace,
        "disaster_recovery_report_dir": REPORT_DIR,
        "disaster_recovery_report_cluster": str(settings["cluster_name"]),
    }
    if settings.get("aws_region"):
        job_vars["atlas_hardening_aws_region"] = settings["aws_region"]
    if settings.get("aws_endpoint_url"):
        job_vars["atlas_hardening_aws_endpoint_url"] = settings["aws_endpoint_url"]
    env_from = ([{"secretRef": {"name": settings["aws_credentials_secret"]}}]
                if settings.get("aws_credentials_secret") else None)
    manifests = [
        account,
        velero_role,
        {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": dict(velero_role["metadata"]),
         "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": cluster_name}, "subjects": [subject]},
        cluster_role,
        {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": dict(cluster_role["metadata"]),
         "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": cluster_name}, "subjects": [subject]},
        # Empty here: each drill writes its own key under its own field manager; re-applying keeps them.
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": RESULTS_CONFIGMAP, "namespace": velero_namespace,
                      "labels": {"app.kubernetes.io/managed-by": "atlas.hardening"}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": dict(metadata),
         "data": {VARS_FILE: yaml_dump(job_vars, indent=2, sort_keys=True, default_flow_style=False)}},
        playbook_cronjob(settings, dict(metadata), labels, container="drill", vars_file=VARS_FILE, extra_env=[],
                         vault=False, env_from=env_from),
    ]
    if boolean(settings.get("restore_policy", True), strict=False):
        manifests.insert(0, restore_policy_manifest(subject, sources, drill_namespaces, labels))
    return manifests
