#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: velero_drill
short_description: Restore drill of disaster-recovery components into ephemeral namespaces, with RTO
version_added: 0.1.0
description:
  - For each chosen component, dependencies first, restores its newest V(Completed) Velero backup (or
    O(backup_name)) into ephemeral namespaces C(drill-<namespace>-<suffix>) with a Restore's
    C(namespaceMapping), waits for the Restore, verifies as the catalogue says (every object of the backup's
    resource list present, workloads ready, HTTP checks through the API server's service proxy), measures
    the RTO from the Restore's creation to a passing verification, and deletes the drill namespaces
    B(always), also when the verification fails or the module receives SIGTERM.
  - Drill namespaces carry the label C(atlas.hardening/disaster-recovery-drill); every run first deletes the
    namespaces with that label, and only those, which a killed drill left behind. With O(namespace_suffix) the
    drill namespaces have fixed names, and only those names are read and deleted (no list of namespaces),
    which lets a scheduled drill run with a ClusterRole that may delete those namespaces and no other.
  - The source namespaces are never written; the Restore includes only them and maps each elsewhere.
  - The Restore leaves out CronJobs and Jobs (C(excludedResources)), and the verification does not expect them;
    restored into a drill namespace, a CronJob would fire the component's scheduled work (a backup, a
    rotation, an export) against the same external systems, and a Job that had not finished would run again.
    Each entry of RV(plans) lists them in C(excluded_resources); a real restore brings them back.
  - The outcome is recorded in the cluster, as an Event on the Restore (C(DrillPassed) or C(DrillFailed)) and
    a key C(<component>.json) of the ConfigMap C(atlas-hardening-dr-drills) in Velero's namespace.
  - The backup's resource list is read from the BackupStorageLocation's bucket through S3 (the aws_* options).
    A kind the module's identity may not list in the drill namespaces (HTTP 403, such as Secrets for the
    scheduled drill of role P(atlas.hardening.disaster_recovery_drill_schedule#role)) is compared with the
    Restore's own resource list in the bucket instead, and the check says so.
  - Everything is checked before the first write; in check mode the module reports the plan (which backup
    of which component, into which namespaces) and writes nothing.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.disaster_recovery
  - atlas.hardening.kubernetes
  - atlas.hardening.aws
  - atlas.hardening.attributes
  - atlas.hardening.attributes.actiongroup_aws_kubernetes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: none
    details: A drill is an action; each run restores, verifies and cleans up again.
options:
  namespace_suffix:
    description:
      - The suffix of the drill namespaces, C(drill-<namespace>-<suffix>); lowercase letters, digits and
        hyphens. Default a random one per run.
      - A namespace of that name that exists without the drill label is refused before any write.
    type: str
  backup_name:
    description: The backup to restore (one component only); it must be V(Completed). Default the newest Completed one.
    type: str
  timeout:
    description: Seconds for the Restore and the verification of one component.
    type: int
    default: 1800
  cleanup_timeout:
    description: Seconds to wait for the drill namespaces to be gone (0 does not wait).
    type: int
    default: 300
  fail_on_failure:
    description: Fail the task when a drill fails (its report is in the failure's fields).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Drill every component (staging)
  atlas.hardening.velero_drill:
    components: "{{ disaster_recovery_components }}"
  register: dr_drill

- name: Drill Keycloak from a chosen backup
  atlas.hardening.velero_drill:
    components: "{{ disaster_recovery_components }}"
    names: [keycloak]
    backup_name: dr-keycloak-20261201020000
"""

RETURN = r"""
plans:
  description:
    - Per component the backup, the Restore name, the namespace mapping and C(excluded_resources), what the
      Restore leaves out (also in check mode).
  returned: always
  type: list
  elements: dict
leftovers_removed:
  description: Drill namespaces of earlier, interrupted runs, deleted before this drill (to delete, in check mode).
  returned: always
  type: list
  elements: str
drills:
  description:
    - Per component C(verdict) (V(passed) or V(failed)), C(rto_seconds), C(rto_met), C(restore_phase), the
      C(checks) with their details, C(failures), and the namespaces created and deleted.
  returned: unless check mode
  type: list
  elements: dict
passed:
  description: Whether every drill passed.
  returned: unless check mode
  type: bool
requests:
  description: The Kubernetes requests this run sent, by HTTP method.
  returned: unless check mode
  type: dict
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.drill_task import drill_task
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.options import CATALOGUE_ARGSPEC

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    CATALOGUE_ARGSPEC,
    backup_name=dict(type="str"),
    namespace_suffix=dict(type="str"),
    timeout=dict(type="int", default=1800),
    cleanup_timeout=dict(type="int", default=300),
    fail_on_failure=dict(type="bool", default=True),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes", "aws")).run(drill_task)


if __name__ == "__main__":
    main()
