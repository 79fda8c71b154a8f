# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the k8s_manifests module does with its parameters."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.option_checks import check_range
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.apply import (
    MAX_CONCURRENCY,
    ApplyOptions,
    apply_manifests,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.diff import secret_values
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.manifests import load_manifests


def apply_manifests_task(module: HardeningModule) -> dict[str, Any]:
    """Load the manifests, hide their secret values, apply them (or delete them) as one set."""
    params = module.params
    check_range(params["wait_timeout"], "wait_timeout", 0, 86400)
    check_range(params["concurrency"], "concurrency", 1, MAX_CONCURRENCY)
    manifests = load_manifests(params["manifests"], params["definition"], params["src"])
    # Before any request: a value in a manifest must not leak through an error message either.
    for manifest in manifests:
        module.hide(secret_values(manifest))
    connection = kubernetes_connection(module, user_agent="atlas.hardening/k8s_manifests")
    options = ApplyOptions(
        state=params["state"], field_manager=params["field_manager"], force_conflicts=params["force_conflicts"],
        field_validation=params["field_validation"], check_mode=module.check_mode, diff=module.diff_mode,
        wait=params["wait"], wait_timeout=params["wait_timeout"], wait_condition=params["wait_condition"],
        update_only=tuple(params["update_only"]), create_only=tuple(params["create_only"]),
        validate_first=params["validate_first"],
        concurrency=params["concurrency"],
        prune=None if not params["prune"] else {
            "selector": params["prune"]["selector"],
            "kinds": [(kind["api_version"], kind["kind"]) for kind in params["prune"]["kinds"]]},
    )
    report = apply_manifests(connection, manifests, options, default_namespace=params["namespace"])
    module.hide(report.secret_values)
    return report.module_result(diff=module.diff_mode)
