#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: disaster_recovery_report
short_description: Disaster-recovery report (JSON and Markdown) with its history kept next to the backups
version_added: 0.1.0
description:
  - Builds the report of a status (M(atlas.hardening.velero_backup_info) result) and/or a drill
    (M(atlas.hardening.velero_drill) result), per component - objectives, achieved RPO, drill RTO,
    verification details, verdict.
  - With O(history_bucket), reads the newest O(history_size) earlier reports of the same kind from
    C(s3://<history_bucket>/<history_prefix>/<cluster>/) and stores this one there, so that the Markdown shows
    RPO and RTO over the past reports. A history inside Velero's own prefix is refused before anything is
    written (Velero would mark its location Unavailable).
  - Writes nothing locally; the roles save RV(report) and RV(markdown) to files.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.aws
  - atlas.hardening.attributes
  - atlas.hardening.attributes.actiongroup_aws
attributes:
  check_mode:
    support: full
    details: Reads the history, writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each run adds a report to the history.
options:
  status:
    description: A M(atlas.hardening.velero_backup_info) result (the result of a skipped task counts as none).
    type: dict
  drill:
    description: A M(atlas.hardening.velero_drill) result (the result of a skipped task counts as none).
    type: dict
  cluster:
    description: The cluster's name in the report and the history path.
    type: str
    required: true
  history_bucket:
    description:
      - The bucket of the history.
      - Default the bucket of Velero's default location in O(status), beside its prefix, when it has one.
    type: str
  keep_history:
    description: Keep a history; V(false) only renders this report.
    type: bool
    default: true
  history_prefix:
    description: The history's prefix in O(history_bucket).
    type: str
    default: atlas-hardening/disaster-recovery
  history_size:
    description: How many earlier reports the Markdown shows.
    type: int
    default: 12
  velero_bucket:
    description:
      - The BackupStorageLocation's bucket (to refuse a history inside Velero's prefix).
      - Default the default location's, from O(status).
    type: str
  velero_prefix:
    description: The BackupStorageLocation's prefix.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Report the drill, with its history next to the backups
  atlas.hardening.disaster_recovery_report:
    drill: "{{ dr_drill }}"
    status: "{{ dr_status }}"
    cluster: staging
    history_bucket: atlas-velero
    velero_bucket: atlas-velero
    velero_prefix: velero
  register: dr_report
"""

RETURN = r"""
report:
  description: The report (version, kind, cluster, generated, passed, components with their figures and verdicts).
  returned: always
  type: dict
markdown:
  description: The report as Markdown, with the history table when there is one.
  returned: always
  type: str
history:
  description: The earlier reports read (generated, passed).
  returned: always
  type: list
  elements: dict
history_key:
  description: Where this report is (or would be, in check mode) stored.
  returned: always
  type: str
history_note:
  description: Why no history is kept, when none is.
  returned: always
  type: str
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.report_task import report_task

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    status=dict(type="dict"),
    drill=dict(type="dict"),
    cluster=dict(type="str", required=True),
    history_bucket=dict(type="str"),
    keep_history=dict(type="bool", default=True),
    history_prefix=dict(type="str", default="atlas-hardening/disaster-recovery"),
    history_size=dict(type="int", default=12),
    velero_bucket=dict(type="str"),
    velero_prefix=dict(type="str", default=""),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("aws",)).run(report_task)


if __name__ == "__main__":
    main()
