#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sealed_secrets_controller_info
short_description: Find the Sealed Secrets controller, check it answers, read its certificate
version_added: 0.1.0
description:
  - Lists every Deployment of the cluster running the Sealed Secrets controller image, says whether
    the one at O(controller_namespace)/O(controller_name) exists, and otherwise what to set to adopt
    an existing installation (the Helm chart names it after its release).
  - Waits up to O(wait_timeout) seconds for the designated controller to answer C(/healthz) through
    the API server's service proxy, then reads its sealing certificate (C(/v1/cert.pem)).
  - Read-only.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - atlas.hardening.attributes
  - atlas.hardening.attributes.info_module
  - atlas.hardening.attributes.actiongroup_kubernetes
options:
  controller_namespace:
    description: The controller's namespace.
    type: str
    default: kube-system
  controller_name:
    description: The controller's Deployment and Service name.
    type: str
    default: sealed-secrets-controller
  wait_timeout:
    description: Seconds to wait for C(/healthz); 0 only looks once.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Wait for the controller and read its certificate
  atlas.hardening.sealed_secrets_controller_info:
    wait_timeout: 120
  register: sealed_secrets_controller
"""

RETURN = r"""
installed:
  description: Every Deployment running the controller image (namespace, name, image, ready_replicas, helm_release).
  returned: always
  type: list
  elements: dict
present:
  description: Whether the designated controller exists.
  returned: always
  type: bool
other_installations:
  description: Installations other than the designated one.
  returned: always
  type: list
  elements: dict
adopt_hint:
  description: What to set to adopt the existing installation, when the designated one is absent.
  returned: when another installation exists
  type: str
healthy:
  description: Whether the controller answered /healthz.
  returned: always
  type: bool
certificate:
  description: The sealing certificate (fingerprint, not_before, not_after, pem), when healthy.
  returned: always
  type: dict
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.controller_info_task import (
    controller_info_task,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    controller_namespace=dict(type="str", default="kube-system"),
    controller_name=dict(type="str", default="sealed-secrets-controller"),
    wait_timeout=dict(type="int", default=0),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes",)).run(controller_info_task)


if __name__ == "__main__":
    main()
