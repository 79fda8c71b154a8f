#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_info
short_description: Read Kubernetes objects of any kind, never returning a Secret's values
version_added: 0.1.0
description:
  - Reads one object (with O(name), one GET) or the objects of a collection (one LIST, optionally
    filtered by label and field selectors) in a namespace, or in every namespace without O(namespace).
  - "A Secret's C(data) and C(stringData) keep their keys, but every value is replaced by
    C(<withheld: Secret value>), and its C(kubectl.kubernetes.io/last-applied-configuration) annotation is
    hidden: Secret values never reach a return value, a log or the output, at any verbosity."
  - "A missing object, or a namespace that does not exist, is not an error: RV(objects) is empty and
    RV(exists) is V(false)."
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - atlas.hardening.attributes
  - atlas.hardening.attributes.info_module
  - atlas.hardening.attributes.actiongroup_kubernetes
options:
  api_version:
    description: The kind's apiVersion, for example V(v1) or V(batch/v1).
    type: str
    required: true
  kind:
    description: The kind, for example V(CronJob); custom resources are resolved by discovery.
    type: str
    required: true
  name:
    description: The object's name; without it, every object of the collection (selectors apply).
    type: str
  namespace:
    description: The namespace of namespaced objects; without it, a LIST covers every namespace.
    type: str
  label_selector:
    description: Label selector for a LIST, for example V(app.kubernetes.io/managed-by=atlas.hardening).
    type: str
  field_selector:
    description: Field selector for a LIST, for example V(status.phase=Running).
    type: str
notes:
  - The identity needs C(get) (with O(name)) or C(list) on the resource.
seealso:
  - module: atlas.hardening.k8s_manifests
"""

EXAMPLES = r"""
- name: Read the rotation CronJob
  atlas.hardening.k8s_info:
    api_version: batch/v1
    kind: CronJob
    name: keycloak-admin-rotation
    namespace: keycloak
  register: rotation_cronjob

- name: The Secrets this collection manages (keys only, values withheld)
  atlas.hardening.k8s_info:
    api_version: v1
    kind: Secret
    label_selector: app.kubernetes.io/managed-by=atlas.hardening
  register: managed_secrets
"""

RETURN = r"""
objects:
  description: "The objects read, as the API server serves them (list items get their apiVersion and kind);
    Secret values replaced by C(<withheld: Secret value>)."
  returned: always
  type: list
  elements: dict
exists:
  description: Whether at least one object was found.
  returned: always
  type: bool
api_requests:
  description: Requests sent to the API server, by HTTP method.
  returned: always
  type: dict
  sample: {"GET": 1}
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.k8s_info_task import (
    read_objects_task,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    api_version=dict(type="str", required=True),
    kind=dict(type="str", required=True),
    name=dict(type="str"),
    namespace=dict(type="str"),
    label_selector=dict(type="str"),
    field_selector=dict(type="str"),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes",),
                    mutually_exclusive=[("name", "label_selector"), ("name", "field_selector")]).run(read_objects_task)


if __name__ == "__main__":
    main()
