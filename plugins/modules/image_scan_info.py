#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_scan_info
short_description: Which running workloads the image-scan gate refuses, or would refuse
version_added: 0.1.0
description:
  - Reads Trivy Operator's VulnerabilityReports and the running Pods (grouped under their Deployment,
    StatefulSet, DaemonSet, Job, CronJob or bare Pod) and judges each by the rule of the
    C(verify-image-scan) ClusterPolicy that the M(atlas.hardening.kyverno_image_scan) role installs
    (RV(workloads)), with the same settings. Read-only; a handful of LISTs whatever the number of workloads.
  - "The verdicts: V(refused) (an image has a fixable vulnerability of a gated severity that no
    unexpired exception covers), V(unscanned) (no report of the image yet, and its registry is not one
    whose images are scanned elsewhere), V(admitted), V(excluded) (a namespace the gate skips),
    V(excepted) (refused or unscanned, but covered by a workload exception)."
  - Reports are matched to images whatever their spelling (C(nginx), C(docker.io/library/nginx),
    C(index.docker.io/library/nginx)), by digest when the image is pinned by one.
  - Also detects what the cluster's Kyverno serves (RV(capabilities)), and fails with a clear message
    when Kyverno or Trivy Operator's VulnerabilityReport CRD is missing.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - atlas.hardening.attributes
  - atlas.hardening.attributes.info_module
  - atlas.hardening.attributes.actiongroup_kubernetes
options:
  severities:
    description: The Trivy severities that are gated (when the vulnerability has a fix).
    type: list
    elements: str
    default: [CRITICAL, HIGH]
  unscanned_action:
    description: What the gate does with an image that has no report yet.
    type: str
    choices: [warn, deny]
    default: warn
  scanned_elsewhere:
    description: Registries (V(registry.example:5000)) or repository prefixes (V(ghcr.io/org)) whose
      images are scanned before they reach the cluster (in CI); their images are never V(unscanned).
    type: list
    elements: str
    default: []
  excluded_namespaces:
    description: Namespaces the gate does not look at.
    type: list
    elements: str
    default: [kube-system, kyverno, trivy-system]
  cve_exceptions:
    description:
      - "Accepted vulnerabilities: C(id) (as Trivy reports it), C(expires) (a date, the exception ends at
        00:00 UTC that day, or an RFC 3339 timestamp; required, at most O(exception_max_days) ahead),
        C(reason) (required), optionally C(images) (repositories, or images with a tag or digest) and
        C(namespaces)."
      - Expired entries are not applied and are listed in RV(expired_exceptions).
    type: list
    elements: dict
    default: []
  exception_max_days:
    description: How far ahead an exception may expire.
    type: int
    default: 90
  message_vulnerability_limit:
    description: How many vulnerabilities a denial message names.
    type: int
    default: 5
  workload_exceptions:
    description:
      - "Whole workloads the gate lets through (PolicyExceptions): C(namespace), C(kind) (Deployment,
        StatefulSet, DaemonSet, Job, CronJob or Pod), C(name), C(expires) and C(reason), all required."
      - A covered workload's verdict is V(excepted); expired entries are listed in RV(expired_workload_exceptions).
    type: list
    elements: dict
    default: []
  failure_action:
    description: The gate's action everywhere (V(Enforce) counts every refused workload as a blocker).
    type: str
    choices: [Audit, Enforce]
    default: Audit
  enforce_namespaces:
    description: Namespaces where the gate enforces while it audits elsewhere.
    type: list
    elements: str
    default: []
notes:
  - The identity needs C(list) on pods, replicasets (apps), jobs (batch) and vulnerabilityreports
    (aquasecurity.github.io) in every namespace, discovery, and C(get) on the non-resource URLs
    C(/openapi/v3) and C(/openapi/v3/*) (to see whether Kyverno's GlobalContextEntry has projections).
  - A container whose image is not a valid reference is not judged here; Kyverno fails to parse it
    (a processing error, which refuses the Pod under failurePolicy Fail).
seealso:
  - module: atlas.hardening.k8s_manifests
"""

EXAMPLES = r"""
- name: Which running workloads would Enforce refuse in the shop namespace?
  atlas.hardening.image_scan_info:
    enforce_namespaces: [shop]
  register: image_scan

- name: Show the impact report
  ansible.builtin.debug:
    msg: "{{ image_scan.markdown }}"
"""

RETURN = r"""
capabilities:
  description: What the cluster serves, and so how the policy reads the reports.
  returned: always
  type: dict
  sample: {"context_mode": "global_resource", "global_entry_api_version": "kyverno.io/v2alpha1",
           "policy_exception_api_version": "kyverno.io/v2", "trivy_reports": true}
workloads:
  description: Every running workload with its verdict, its Pods count, the denial message and each
    container's verdict, fixable and excepted vulnerabilities.
  returned: always
  type: list
  elements: dict
by_namespace:
  description: Per namespace, how many workloads get each verdict.
  returned: always
  type: dict
refused:
  description: The workloads the gate refuses (in Enforce) or reports (in Audit).
  returned: always
  type: list
  elements: dict
unscanned_images:
  description: Images of running workloads that have no VulnerabilityReport.
  returned: always
  type: list
  elements: str
enforcement_blockers:
  description: C(namespace/Kind/name) of the running workloads that O(failure_action) and
    O(enforce_namespaces) would refuse.
  returned: always
  type: list
  elements: str
active_exceptions:
  description: The exceptions in force.
  returned: always
  type: list
  elements: dict
expired_exceptions:
  description: The exceptions past their expiry (not applied).
  returned: always
  type: list
  elements: dict
active_workload_exceptions:
  description: The workload exceptions in force.
  returned: always
  type: list
  elements: dict
expired_workload_exceptions:
  description: The workload exceptions past their expiry (their PolicyExceptions are pruned by the role).
  returned: always
  type: list
  elements: dict
reports:
  description: How many VulnerabilityReports were read.
  returned: always
  type: int
markdown:
  description: The same, as a Markdown report.
  returned: always
  type: str
api_requests:
  description: Requests sent to the API server, by HTTP method.
  returned: always
  type: dict
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.image_scan_info_task import (
    image_scan_info_task,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    severities=dict(type="list", elements="str", default=["CRITICAL", "HIGH"]),
    unscanned_action=dict(type="str", choices=["warn", "deny"], default="warn"),
    scanned_elsewhere=dict(type="list", elements="str", default=[]),
    excluded_namespaces=dict(type="list", elements="str", default=["kube-system", "kyverno", "trivy-system"]),
    cve_exceptions=dict(type="list", elements="dict", default=[]),
    exception_max_days=dict(type="int", default=90),
    message_vulnerability_limit=dict(type="int", default=5),
    workload_exceptions=dict(type="list", elements="dict", default=[]),
    failure_action=dict(type="str", choices=["Audit", "Enforce"], default="Audit"),
    enforce_namespaces=dict(type="list", elements="str", default=[]),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes",)).run(image_scan_info_task)


if __name__ == "__main__":
    main()
