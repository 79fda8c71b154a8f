#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: platform_audit_info
short_description: Read the evidence of the production-readiness audit from one cluster
version_added: 0.1.0
description:
  - Reads, with one LIST per kind, what the rows of the production-readiness audit are judged on
    (M(atlas.hardening.platform_audit) role, C(playbooks/audit.yml)) - Deployments, StatefulSets and
    DaemonSets (names, name labels, pod labels, readiness, whether each container has readiness and
    liveness probes, the I(names) of its environment variables), PodDisruptionBudgets,
    HorizontalPodAutoscalers, CustomResourceDefinitions (names), ConfigMaps labelled C(grafana_dashboard)
    (names and file names), PrometheusRules (rule names), CronJobs and Jobs (schedules and outcomes), the
    C(verify-image-scan) ClusterPolicy (its modes), and the drills' outcome ConfigMap.
  - With O(vault_url), also Vault's C(sys/seal-status), which needs no token (no login, nothing created).
  - "Read-only: no write to any system. Values are never read into the result: not a Secret's, not a
    ConfigMap's (except the drills' outcome), not an environment variable's."
  - A kind the cluster does not serve is returned as V(null), not as an error.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - atlas.hardening.attributes
  - atlas.hardening.attributes.info_module
  - atlas.hardening.attributes.actiongroup_kubernetes
options:
  velero_namespace:
    description: Velero's namespace, where the drills record their outcome (ConfigMap C(atlas-hardening-dr-drills)).
    type: str
    default: velero
  vault_url:
    description: Vault's address, for its seal status; without it the Vault auto-unseal row is unknown.
    type: str
  vault_namespace:
    description: The Vault Enterprise namespace, if any.
    type: str
  vault_ca_cert:
    description: CA bundle to verify Vault's certificate.
    type: path
  vault_validate_certs:
    description: Whether to verify Vault's certificate; default yes unless C(VAULT_SKIP_VERIFY) is set.
    type: bool
  vault_timeout:
    description: Seconds to wait for Vault.
    type: int
    default: 30
  vault_retries:
    description: Retries of the seal-status request on connection errors and 5xx answers.
    type: int
    default: 3
notes:
  - The identity needs C(list) on the kinds above (cluster-wide) and C(get) on the C(verify-image-scan)
    ClusterPolicy and the outcome ConfigMap; nothing else.
seealso:
  - module: atlas.hardening.image_scan_info
  - module: atlas.hardening.velero_backup_info
  - module: atlas.hardening.alertmanager_cluster_info
"""

EXAMPLES = r"""
- name: Read the audit's evidence
  atlas.hardening.platform_audit_info:
    vault_url: https://vault.example:8200
  register: audit_evidence

- name: The PodDisruptionBudgets of the cluster
  ansible.builtin.debug:
    msg: "{{ audit_evidence.evidence.pod_disruption_budgets | map(attribute='name') | list }}"
"""

RETURN = r"""
evidence:
  description:
    - The facts per source - C(workloads), C(pod_disruption_budgets), C(horizontal_pod_autoscalers),
      C(custom_resource_definitions), C(dashboards), C(prometheus_rules), C(image_scan_policy), C(cronjobs),
      C(jobs), C(drill_results), C(vault_seal).
    - V(null) for a kind the cluster does not serve (and for C(vault_seal) without O(vault_url)).
  returned: always
  type: dict
  sample:
    image_scan_policy: {exists: true, failure_actions: [Audit], overrides: [], rules: 4}
    vault_seal: {type: awskms, sealed: false, version: 2.4.1, url: "https://vault.example:8200"}
read_at:
  description: When the evidence was read (UTC, RFC 3339).
  returned: always
  type: str
api_requests:
  description: Requests sent to the API server, by HTTP method (only GETs).
  returned: always
  type: dict
  sample: {GET: 14}
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._audit.platform_audit_info_task import (
    platform_audit_info_task,
)
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    velero_namespace=dict(type="str", default="velero"),
    vault_url=dict(type="str"),
    vault_namespace=dict(type="str"),
    vault_ca_cert=dict(type="path"),
    vault_validate_certs=dict(type="bool"),
    vault_timeout=dict(type="int", default=30),
    vault_retries=dict(type="int", default=3),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes",)).run(platform_audit_info_task)


if __name__ == "__main__":
    main()
