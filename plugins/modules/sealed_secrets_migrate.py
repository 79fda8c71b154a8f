#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sealed_secrets_migrate
short_description: Move plaintext Secrets to SealedSecrets, and find credentials kept in ConfigMaps
version_added: 0.1.0
description:
  - Finds the Secrets of the chosen namespaces (and labels) that no SealedSecret owns and produces
    their SealedSecrets - to files in a Git checkout (C(<directory>/<namespace>/<name>.yaml)) and/or
    the cluster, where the existing Secret is first annotated C(sealedsecrets.bitnami.com/managed=true)
    so that the controller takes it over instead of refusing it.
  - Leaves alone, and says why, Secrets it must not migrate - service-account and bootstrap tokens, Helm
    release records, the controller's own keys, Secrets owned by another controller, immutable ones.
  - Reports the ConfigMap keys that look like credentials (by name, private keys, URLs with a
    password, random-looking values) by namespace, name and key, never by value.
  - A re-run migrates nothing again - the SealedSecrets own the Secrets by then - and rewrites no file.
  - No value is ever shown.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - atlas.hardening.vault
  - atlas.hardening.sealing_certificate
  - atlas.hardening.attributes
  - atlas.hardening.attributes.writes
  - atlas.hardening.attributes.actiongroup_vault_kubernetes
attributes:
  check_mode:
    details: Lists what would be migrated; writes no file and sends dry-run requests only.
  diff_mode:
    support: none
    details: No diff; RV(migrated) names each Secret and its keys.
  idempotent:
    details: Migrated Secrets are owned by their SealedSecret and skipped by the next run.
options:
  namespaces:
    description: Namespaces to migrate; all of them (but O(excluded_namespaces)) when empty.
    type: list
    elements: str
    default: []
  excluded_namespaces:
    description: Namespaces never migrated.
    type: list
    elements: str
    default: [kube-system, kube-public, kube-node-lease]
  label_selector:
    description: Only Secrets with these labels (a Kubernetes label selector).
    type: str
  scope:
    description: The scope of the SealedSecrets produced.
    type: str
    choices: [strict, namespace-wide, cluster-wide]
    default: strict
  directory:
    description: Write each SealedSecret to C(<directory>/<namespace>/<name>.yaml) (a Git checkout).
    type: path
  apply:
    description: Annotate each Secret for the takeover and apply its SealedSecret to the cluster.
    type: bool
    default: false
  scan_configmaps:
    description: Report ConfigMap keys that look like credentials.
    type: bool
    default: true
notes:
  - Reading the Secrets needs C(list) on Secrets in the chosen namespaces.
"""

EXAMPLES = r"""
- name: Produce the SealedSecrets of the apps namespaces for the GitOps repository (nothing applied)
  atlas.hardening.sealed_secrets_migrate:
    namespaces: [shop, billing]
    directory: "{{ gitops_checkout }}/sealed"
  register: migration

- name: Migrate in place, once the files are reviewed
  atlas.hardening.sealed_secrets_migrate:
    namespaces: [shop, billing]
    apply: true
"""

RETURN = r"""
migrated:
  description: Each migrated Secret (namespace, name, keys, file, file_changed).
  returned: always
  type: list
  elements: dict
not_migrated:
  description: Secrets not migrated, with the reason (namespace, name, reason).
  returned: always
  type: list
  elements: dict
configmap_findings:
  description: ConfigMap keys that look like credentials (namespace, name, key, reason); never a value.
  returned: when O(scan_configmaps) is true
  type: list
  elements: dict
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.certificate_sources import (
    OFFLINE_SOURCES,
    SEALING_CERTIFICATE_ARGSPEC,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.migration_task import migration_task

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    **SEALING_CERTIFICATE_ARGSPEC,
    namespaces=dict(type="list", elements="str", default=[]),
    excluded_namespaces=dict(type="list", elements="str", default=["kube-system", "kube-public", "kube-node-lease"]),
    label_selector=dict(type="str"),
    scope=dict(type="str", choices=["strict", "namespace-wide", "cluster-wide"], default="strict"),
    directory=dict(type="path"),
    apply=dict(type="bool", default=False),
    scan_configmaps=dict(type="bool", default=True),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes", "vault"), mutually_exclusive=[OFFLINE_SOURCES]).run(
        migration_task)


if __name__ == "__main__":
    main()
