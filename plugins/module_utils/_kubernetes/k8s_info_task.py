# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the k8s_info module does with its parameters."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.object_info import read_objects
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects


def read_objects_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    objects = KubernetesObjects(kubernetes_connection(module, user_agent="atlas.hardening/k8s_info"))
    result, secret_values = read_objects(objects, params["api_version"], params["kind"], name=params["name"],
                                         namespace=params["namespace"], label_selector=params["label_selector"],
                                         field_selector=params["field_selector"])
    module.hide(secret_values)
    result["changed"] = False
    return result
