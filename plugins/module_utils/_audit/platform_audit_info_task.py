# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the platform_audit_info module does (read-only)."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._audit.cluster_evidence import ClusterEvidence
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339, utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_plan import RESULTS_CONFIGMAP
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._vault.seal_status import seal_status


def platform_audit_info_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    connection = kubernetes_connection(module, user_agent="atlas.hardening/platform_audit_info")
    before = dict(connection.request_counts)
    evidence = ClusterEvidence(KubernetesObjects(connection)).collect(params["velero_namespace"], RESULTS_CONFIGMAP)
    evidence["vault_seal"] = seal_status(params) if params.get("vault_url") else None
    return {"changed": False, "evidence": evidence, "read_at": rfc3339(utc_now()),
            "api_requests": connection.requests_since(before)}
