#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sealed_secrets_keys
short_description: Back up, check and restore the Sealed Secrets controller's keys with Vault
version_added: 0.1.0
description:
  - V(backup) copies every Secret labelled C(sealedsecrets.bitnami.com/sealed-secrets-key) (all of
    them, since renewal adds keys and the old ones still decrypt) into Vault KV v2, one entry per key at
    C(<kv_path>/keys/<name>), with check-and-set, writing nothing when Vault already holds it; and the
    newest certificate at C(<kv_path>/certificate) (field C(tls.crt)) for offline sealing.
  - V(check) fails when the cluster holds a key that Vault does not.
  - V(restore) creates the keys from Vault in the cluster (never overwriting a different key), then
    restarts the controller, which reads keys only at start. If the newest restored key is older than
    the renewal period, the controller creates a fresh key at once; it is backed up before returning.
  - No key is ever shown in any output.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - atlas.hardening.vault
  - atlas.hardening.attributes
  - atlas.hardening.attributes.writes
  - atlas.hardening.attributes.actiongroup_vault_kubernetes
attributes:
  check_mode:
    details: Reads the cluster and Vault and reports what would be written; writes nothing.
  diff_mode:
    support: none
    details: No diff; the result lists the keys written or restored by name.
  idempotent:
    details: A key Vault already holds is not written again; a restore creates only missing keys.
options:
  state:
    description: What to do.
    type: str
    choices: [backup, check, restore]
    default: backup
  kv_mount_point:
    description: The KV v2 mount.
    type: str
    default: secret
  kv_path:
    description: Where the keys live below the mount.
    type: str
    default: platform/sealed-secrets
  controller_namespace:
    description: The controller's namespace (where its key Secrets are).
    type: str
    default: kube-system
  controller_name:
    description: The controller's Deployment and Service name.
    type: str
    default: sealed-secrets-controller
  store_certificate:
    description: With V(backup), also store the newest certificate (fetched from the controller).
    type: bool
    default: true
  restart_controller:
    description: With V(restore), restart the controller when keys were restored.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the restarted controller.
    type: int
    default: 300
  field_manager:
    description: Field manager of the restored Secrets.
    type: str
    default: atlas-hardening-sealed-secrets
"""

EXAMPLES = r"""
- name: Back up every sealing key (run daily, after the controller's renewals)
  atlas.hardening.sealed_secrets_keys:
    state: backup

- name: Fail when a key is missing from Vault
  atlas.hardening.sealed_secrets_keys:
    state: check

- name: Disaster recovery, before any application is restored
  atlas.hardening.sealed_secrets_keys:
    state: restore
"""

RETURN = r"""
cluster_keys:
  description: Names of the key Secrets in the cluster (before a restore).
  returned: always
  type: list
  elements: str
written:
  description: With V(backup), keys written to Vault.
  returned: when state is backup
  type: list
  elements: str
unchanged:
  description: With V(backup), keys Vault already held.
  returned: when state is backup
  type: list
  elements: str
certificate_written:
  description: With V(backup), whether the certificate entry was written.
  returned: when state is backup
  type: bool
missing_in_vault:
  description: Keys of the cluster that Vault does not hold.
  returned: when state is check or backup
  type: list
  elements: str
restored:
  description: With V(restore), key Secrets created in the cluster.
  returned: when state is restore
  type: list
  elements: str
restarted:
  description: With V(restore), whether the controller was restarted.
  returned: when state is restore
  type: bool
backed_up_after_restart:
  description:
    - With V(restore), keys Vault lacked after the restart, now backed up - created by the rebuilt
      controller before the restore, or at its restart because the restored keys were older than the
      renewal period.
  returned: when state is restore
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secrets_keys_task import (
    sealed_secrets_keys_task,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    state=dict(type="str", choices=["backup", "check", "restore"], default="backup"),
    kv_mount_point=dict(type="str", default="secret"),
    kv_path=dict(type="str", default="platform/sealed-secrets"),
    controller_namespace=dict(type="str", default="kube-system"),
    controller_name=dict(type="str", default="sealed-secrets-controller"),
    store_certificate=dict(type="bool", default=True),
    restart_controller=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
    field_manager=dict(type="str", default="atlas-hardening-sealed-secrets"),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes", "vault")).run(sealed_secrets_keys_task)


if __name__ == "__main__":
    main()
