# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the image_scan_info module does with its parameters."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan import kyverno_capabilities
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.admission_verdicts import ReportIndex
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import gate_settings
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.impact_report import markdown_report
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.policy_manifests import Rollout, check_rollout
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.workload_exceptions import (
    parse_workload_exceptions,
)
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.workload_impact import (
    OUTCOMES,
    enforcement_blockers,
    workload_impacts,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.published_schemas import PublishedSchemas

SETTING_OPTIONS = ("severities", "unscanned_action", "scanned_elsewhere", "excluded_namespaces", "cve_exceptions",
                   "exception_max_days", "message_vulnerability_limit")


def image_scan_info_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    now = utc_now()
    # Every setting is checked before the first request.
    settings = gate_settings({name: params[name] for name in SETTING_OPTIONS}, now)
    rollout = Rollout(failure_action=params["failure_action"], enforce_namespaces=tuple(params["enforce_namespaces"]))
    check_rollout(rollout)
    workload_exceptions, expired_workload_exceptions = parse_workload_exceptions(
        params["workload_exceptions"], now, params["exception_max_days"])
    connection = kubernetes_connection(module, user_agent="atlas.hardening/image_scan_info")
    before = dict(connection.request_counts)
    capabilities = kyverno_capabilities.detect(connection, PublishedSchemas(connection))
    objects = KubernetesObjects(connection)
    reports = objects.list(objects.resource(kyverno_capabilities.TRIVY_GROUP_VERSION, "VulnerabilityReport"))[0]
    pods = objects.list(objects.resource("v1", "Pod"))[0]
    replica_sets = objects.list(objects.resource("apps/v1", "ReplicaSet"))[0]
    jobs = objects.list(objects.resource("batch/v1", "Job"))[0]
    impacts = workload_impacts(pods, replica_sets, jobs, ReportIndex(reports, settings.severities), settings, now,
                               tuple(workload_exceptions))
    blockers = enforcement_blockers(impacts, settings, rollout.failure_action, rollout.enforce_namespaces)
    by_namespace: dict[str, dict[str, int]] = {}
    for item in impacts:
        counts = by_namespace.setdefault(item.namespace, dict.fromkeys(OUTCOMES, 0))
        counts[item.outcome] += 1
    unscanned_images = sorted({container.image for item in impacts if item.outcome != "excluded"
                               for container in item.containers.values() if container.outcome == "unscanned"})
    return {
        "changed": False,
        "capabilities": capabilities.as_dict(),
        "workloads": [item.as_dict() for item in impacts],
        "by_namespace": by_namespace,
        "refused": [item.as_dict() for item in impacts if item.outcome == "refused"],
        "unscanned_images": unscanned_images,
        "enforcement_blockers": [f"{item.namespace}/{item.kind}/{item.name}" for item in blockers],
        "active_exceptions": [item.as_dict() for item in settings.exceptions],
        "expired_exceptions": [item.as_dict() for item in settings.expired_exceptions],
        "active_workload_exceptions": [item.as_dict() for item in workload_exceptions],
        "expired_workload_exceptions": [item.as_dict() for item in expired_workload_exceptions],
        "reports": len(reports),
        "markdown": markdown_report(impacts, settings, now, blockers),
        "api_requests": connection.requests_since(before),
    }
