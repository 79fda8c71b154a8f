# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the kyverno_image_scan role's objects, from its variables and what
image_scan_info detected (the context mode, the served API versions)."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import gate_settings
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.policy_manifests import (
    Rollout,
    gate_manifests,
)
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.workload_exceptions import (
    parse_workload_exceptions,
    policy_exception,
)


def image_scan_gate_manifests(values: dict[str, Any], capabilities: dict[str, Any]) -> list[dict[str, Any]]:
    now = utc_now()
    settings = gate_settings(values, now)
    rollout = Rollout(failure_action=str(values.get("failure_action") or "Audit"),
                      enforce_namespaces=tuple(values.get("enforce_namespaces") or ()),
                      failure_policy=str(values.get("failure_policy") or "auto"),
                      timeout_seconds=int(values.get("timeout_seconds") or 10))
    active, _expired = parse_workload_exceptions(values.get("workload_exceptions") or [], now,
                                                 int(values.get("exception_max_days") or 90))
    exception_version = capabilities.get("policy_exception_api_version") or ""
    if active and not exception_version:
        raise HardeningError("kyverno_image_scan_workload_exceptions needs Kyverno's PolicyException (kyverno.io/v2), "
                             "which this cluster does not serve: enable it (--enablePolicyException) or remove them.")
    exceptions = [policy_exception(item, exception_version, str(values.get("exception_namespace") or "kyverno"))
                  for item in active]
    return gate_manifests(settings, rollout, str(capabilities.get("context_mode") or ""),
                          str(capabilities.get("global_entry_api_version") or ""), exceptions)
