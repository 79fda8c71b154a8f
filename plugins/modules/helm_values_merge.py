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
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: the diff shows the file before and after, as text.
  platform:
    platforms: posix
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

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._helm.values_merge import (
    HAS_RUAMEL, RUAMEL_IMPORT_ERROR, merge_values_text)


def write_atomically(module: AnsibleModule, path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".helm_values_merge.", dir=directory)
    with os.fdopen(handle, "wb") as stream:
        stream.write(to_bytes(text))
    module.atomic_move(temporary, path)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            values=dict(type="dict", required=True),
            create=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if not HAS_RUAMEL:
        module.fail_json(msg=missing_required_lib("ruamel.yaml"), exception=to_native(RUAMEL_IMPORT_ERROR))
    path = module.params["path"]
    result = dict(changed=False, changes=[], path=path, created=False)

    exists = os.path.exists(path)
    if exists and not os.path.isfile(path):
        module.fail_json(msg="%s is not a regular file: give the path of the Helm values file." % path, **result)
    if not exists and not module.params["create"]:
        module.fail_json(msg="Helm values file %s does not exist: check the path, or set create: true to start a "
                             "new one." % path, **result)
    try:
        before = ""
        if exists:
            with open(path, "rb") as stream:
                before = stream.read().decode("utf-8")
        after, changes = merge_values_text(before, module.params["values"], source=path)
    except UnicodeDecodeError:
        module.fail_json(msg="%s is not UTF-8 text: is it really a Helm values file?" % path, **result)
    except HardeningError as exc:
        module.fail_json(msg=str(exc), **result)
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (path, to_native(exc)), **result)

    result["created"] = not exists
    result["changes"] = changes
    result["changed"] = bool(changes) or not exists
    if module._diff and result["changed"]:
        result["diff"] = dict(before=before, after=after, before_header=path, after_header=path)
    if result["changed"] and not module.check_mode:
        try:
            if exists and module.params["backup"]:
                result["backup_file"] = module.backup_local(path)
            write_atomically(module, path, after)
        except OSError as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
