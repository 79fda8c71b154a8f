#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: helm_values_merge
short_description: Merge settings into a Helm values file, keeping its comments and layout
version_added: 0.1.0
description:
  - Sets the given keys in a YAML values file (such as the values of kube-prometheus-stack), so that
    the next C(helm upgrade) keeps a change that a role made to the live objects instead of reverting it.
  - Mappings are merged key by key; any other value (scalar, list) replaces the old one. Every key
    the module does not set stays as it was, with its comments, order, quoting and indentation.
  - Values compare with their types (C(3) differs from C("3")). When nothing differs the file is not
    written at all, so a second run reports no change and leaves the file byte for byte the same.
  - A key that holds a scalar or a list where a mapping is needed is an error, not an overwrite.
requirements:
  - ruamel.yaml >= 0.17 (round-trip YAML that keeps comments)
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.attributes
  - atlas.hardening.attributes.writes
  - atlas.hardening.attributes.actiongroup_none
attributes:
  diff_mode:
    details: The diff shows the file before and after, as text.
options:
  path:
    description:
      - The values file to update.
    type: path
    required: true
  values:
    description:
      - The settings to merge, as nested mappings. For example the chart value
        C(alertmanager.alertmanagerSpec.replicas) is the mapping C(alertmanager) holding
        C(alertmanagerSpec) holding C(replicas).
    type: dict
    required: true
  create:
    description:
      - Create O(path) when it does not exist. Off by default, so that a mistyped path fails instead
        of producing a values file nobody passes to Helm.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
notes:
  - The file must hold a YAML mapping (or be empty). Multi-document files are not supported.
"""

EXAMPLES = r"""
- name: Keep three Alertmanager replicas across helm upgrades
  atlas.hardening.helm_values_merge:
    path: /srv/gitops/monitoring/kube-prometheus-stack.values.yaml
    values:
      alertmanager:
        alertmanagerSpec:
          replicas: 3
          podAntiAffinity: hard
        podDisruptionBudget:
          enabled: true
          minAvailable: 2
"""

RETURN = r"""
changes:
  description: The keys that changed (dotted), with their old and new values. Empty when nothing changed.
  returned: always
  type: list
  elements: dict
  sample:
    - key: alertmanager.alertmanagerSpec.replicas
      before: 1
      after: 3
path:
  description: The values file.
  returned: always
  type: str
  sample: /srv/gitops/monitoring/kube-prometheus-stack.values.yaml
created:
  description: Whether the file did not exist before (and was, or in check mode would be, created).
  returned: always
  type: bool
backup_file:
  description: The copy made before the change, when O(backup=true) and the file changed.
  returned: changed and backup was requested
  type: str
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._helm.values_file_task import merge_values_file_task

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    path=dict(type="path", required=True),
    values=dict(type="dict", required=True),
    create=dict(type="bool", default=False),
    backup=dict(type="bool", default=False),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC).run(merge_values_file_task)


if __name__ == "__main__":
    main()
