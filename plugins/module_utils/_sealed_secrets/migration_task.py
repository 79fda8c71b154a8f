# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the sealed_secrets_migrate module's run.

Reads (one LIST of Secrets, of SealedSecrets and of ConfigMaps per namespace, or one each for the
whole cluster) and loads the certificate before any write; then, per Secret to migrate: the Git file,
the annotation that lets the controller take the Secret over, the SealedSecret. A failure half-way
says which Secrets were migrated; a re-run skips them (a SealedSecret owns them by then).
"""

from __future__ import annotations

import base64
import os
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.certificate_sources import (
    sealing_certificate,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.credential_scan import scan_configmaps
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_output import (
    annotate_managed,
    apply_if_changed,
    read_sealed_secret_file,
    write_file_if_changed,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_plan import (
    ClusterEvidence,
    plan_sealed_secret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.secret_migration import (
    classify,
    desired_from_secret,
    secret_values,
)


def _list(objects: KubernetesObjects, api_version: str, kind: str, namespaces: list[str] | None,
          selector: str | None = None) -> list[dict[str, Any]]:
    resource = objects.resource(api_version, kind)
    if namespaces is None:
        return objects.list(resource, None, label_selector=selector)[0]
    return [item for namespace in namespaces for item in objects.list(resource, namespace, label_selector=selector)[0]]


def migration_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    if not params["apply"] and not params["directory"]:
        raise HardeningError("Nothing to write: set apply=true (the cluster) and/or directory (a Git checkout).")
    objects = KubernetesObjects(kubernetes_connection(module))
    namespaces = params["namespaces"] or None
    excluded = set(params["excluded_namespaces"])
    secrets = [s for s in _list(objects, "v1", "Secret", namespaces, params["label_selector"])
               if s["metadata"].get("namespace") not in excluded]
    for secret in secrets:  # hidden whether migrated or not
        for value in secret_values(secret).values():
            module.hide([value.decode("utf-8", errors="ignore"), base64.b64encode(value).decode()])
    candidates, skipped = classify(secrets)
    result: dict[str, Any] = {"changed": False, "migrated": [], "not_migrated": [s.as_dict() for s in skipped]}
    if candidates:
        _migrate(module, objects, candidates, result)
    result["changed"] = bool(result["migrated"])
    if params["scan_configmaps"]:
        configmaps = [c for c in _list(objects, "v1", "ConfigMap", namespaces)
                      if c["metadata"].get("namespace") not in excluded]
        result["configmap_findings"] = [finding.as_dict() for finding in scan_configmaps(configmaps)]
    return result


def _migrate(module: HardeningModule, objects: KubernetesObjects, candidates: list[dict[str, Any]],
             result: dict[str, Any]) -> None:
    params = module.params
    certificate = sealing_certificate(module, objects)
    for secret in candidates:
        meta = secret["metadata"]
        desired = desired_from_secret(secret, params["scope"])
        path = os.path.join(params["directory"], desired.namespace, f"{desired.name}.yaml") \
            if params["directory"] else None
        try:
            existing = read_sealed_secret_file(path) if path else None
            plan = plan_sealed_secret(desired, certificate, existing, ClusterEvidence(None, None))
            entry: dict[str, Any] = {"namespace": desired.namespace, "name": desired.name,
                                     "keys": sorted(desired.values), "file": path, "file_changed": False}
            if path:
                entry["file_changed"] = write_file_if_changed(path, plan.sealed_secret, module.check_mode)
            if params["apply"]:
                # The annotation first: a SealedSecret arriving before it would be refused by the controller.
                annotate_managed(objects, desired.namespace, desired.name, module.check_mode)
                apply_if_changed(objects, plan.sealed_secret, None, params["field_manager"], module.check_mode)
        except (KubernetesError, HardeningError, OSError) as exc:
            result["changed"] = bool(result["migrated"])
            done = ", ".join(f"{m['namespace']}/{m['name']}" for m in result["migrated"]) or "none"
            raise HardeningError(f"Migrating the Secret {meta.get('namespace')}/{meta['name']} failed: {exc} "
                                 f"Migrated before it: {done}; a re-run skips them.", **result) from None
        result["migrated"].append(entry)
