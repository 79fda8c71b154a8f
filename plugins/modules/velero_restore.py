#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: velero_restore
short_description: Disaster restore of the catalogued components, in dependency order, each verified
version_added: 0.1.0
description:
  - For a real disaster, on a new or damaged cluster whose Velero points at the lost cluster's bucket. Sets the
    default BackupStorageLocation to V(ReadOnly), restores each chosen component from its newest V(Completed)
    backup into its own namespaces, dependencies first, verifies it as the catalogue says (objects of the
    backup present, workloads ready, HTTP checks) before the next one, and sets the location back to
    V(ReadWrite) whatever happened.
  - A failed component stops the run (those after it depend on it); running again after the fix is safe,
    as objects already there are skipped with a warning.
  - Components whose data has its own backup (C(vault_raft_snapshot), C(database)) get their manifests from
    Velero and a manual step naming their runbook in RV(manual_steps).
  - In check mode, returns the plan (which backup of which component, in which order) and writes nothing.
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
    support: partial
    details: A second run creates new Restores, which skip the objects already restored.
options:
  timeout:
    description: Seconds for the Restore and the verification of one component.
    type: int
    default: 3600
"""

EXAMPLES = r"""
- name: Show what a disaster restore would do
  atlas.hardening.velero_restore:
    components: "{{ disaster_recovery_components }}"
  check_mode: true

- name: Restore every component in order
  atlas.hardening.velero_restore:
    components: "{{ disaster_recovery_components }}"
"""

RETURN = r"""
order:
  description: The components in restore order.
  returned: always
  type: list
  elements: str
plans:
  description: Per component the backup and the Restore name.
  returned: always
  type: list
  elements: dict
manual_steps:
  description: What a person does after Velero for components whose data has its own backup.
  returned: always
  type: list
  elements: str
restores:
  description: Per component restored, the checks, failures, duration and verdict.
  returned: always
  type: list
  elements: dict
location_access_mode:
  description: The location's access mode at the end (V(ReadWrite) unless it was ReadOnly before).
  returned: unless check mode
  type: str
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.options import CATALOGUE_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.restore_task import restore_task

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    CATALOGUE_ARGSPEC,
    timeout=dict(type="int", default=3600),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes", "aws")).run(restore_task)


if __name__ == "__main__":
    main()
