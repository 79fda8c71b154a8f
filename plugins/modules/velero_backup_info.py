#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: velero_backup_info
short_description: Each disaster-recovery component's newest restorable backup and achieved RPO
version_added: 0.1.0
description:
  - For every component of the catalogue, finds the Velero backups that hold its namespaces (its Schedule
    C(dr-<name>), or any backup covering them), the newest restorable one (V(Completed) or V(PartiallyFailed)),
    the achieved RPO now (the age of the newest V(Completed) one, as C(velero_backup_last_successful_timestamp)
    measures it), the worst case the schedule allows (longest interval plus the longest recent backup), and
    whether the objective is met.
  - With O(source=cluster) it reads the Backups and BackupStorageLocations from the API server (one LIST
    each). With O(source=object_store) it reads C(backups/*/velero-backup.json) straight from the bucket, for
    when the cluster is gone; Kubernetes is not contacted at all.
  - Read-only.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.disaster_recovery
  - atlas.hardening.kubernetes
  - atlas.hardening.aws
  - atlas.hardening.attributes
  - atlas.hardening.attributes.info_module
  - atlas.hardening.attributes.actiongroup_aws_kubernetes
options:
  source:
    description: Where the backups are read.
    type: str
    choices: [cluster, object_store]
    default: cluster
  bucket:
    description: The BackupStorageLocation's bucket (O(source=object_store)).
    type: str
  prefix:
    description: The BackupStorageLocation's prefix in the bucket, if any (O(source=object_store)).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: RPO of every component, from the cluster
  atlas.hardening.velero_backup_info:
    components: "{{ disaster_recovery_components }}"
  register: dr_status

- name: The same from the bucket, the cluster being gone
  atlas.hardening.velero_backup_info:
    components: "{{ disaster_recovery_components }}"
    source: object_store
    bucket: atlas-velero
    prefix: velero
"""

RETURN = r"""
components:
  description:
    - Per component (catalogue order) its objectives, C(achieved_rpo_seconds) (null without a Completed backup),
      C(worst_case_rpo_seconds), C(last_successful_backup) and C(newest_restorable_backup) (name, phase,
      timestamps, duration), C(failed_since_last_success), C(compliant) and C(verdict) (V(compliant),
      V(breached), V(no backup), or V(not measured) for a component backed up by its own tool only).
  returned: always
  type: list
  elements: dict
compliant:
  description: Whether every selected component meets its RPO.
  returned: always
  type: bool
breached:
  description: The components whose RPO is breached or that have no successful backup.
  returned: always
  type: list
  elements: str
locations:
  description:
    - The BackupStorageLocations (name, default, access_mode, bucket, prefix, phase, message).
    - Empty for O(source=object_store).
  returned: always
  type: list
  elements: dict
unavailable_locations:
  description: Names of the locations whose phase is not Available.
  returned: always
  type: list
  elements: str
source:
  description: Where the backups were read (O(source)).
  returned: always
  type: str
requests:
  description: The requests this run sent, by HTTP method (Kubernetes) or as C(s3) (the object store).
  returned: always
  type: dict
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.options import CATALOGUE_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.status_task import status_task

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    CATALOGUE_ARGSPEC,
    source=dict(type="str", choices=["cluster", "object_store"], default="cluster"),
    bucket=dict(type="str"),
    prefix=dict(type="str", default=""),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes", "aws")).run(status_task)


if __name__ == "__main__":
    main()
