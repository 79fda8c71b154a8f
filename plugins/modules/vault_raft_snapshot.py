#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vault_raft_snapshot
short_description: Vault/OpenBao raft snapshots to S3, checked, pruned, and verified by a scratch restore
version_added: 0.1.0
description:
  - O(state=backup) streams a raft snapshot from the server (never held whole in memory) to a temporary file,
    checks its integrity (the C(SHA256SUMS) inside it against C(meta.json) and C(state.bin)), uploads it to
    C(s3://<bucket>/<prefix>/<UTC time>.snap) with server-side encryption (SSE-KMS with O(kms_key_id), SSE-S3
    otherwise), and deletes all but the newest O(keep).
  - O(state=verify) downloads a stored snapshot (the newest, or O(snapshot_key)), checks it, restores it into a
    scratch server (C(snapshot-force); never the server of the vault_* options), unseals that with the
    original cluster's keys and reads the canary secret with the source's token, which the snapshot holds.
  - Vault Enterprise takes automatic snapshots itself; OpenBao and Vault Community need this module on a
    schedule.
  - In check mode the snapshot is taken and checked (or downloaded and checked) and nothing is stored,
    deleted or restored.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.vault
  - atlas.hardening.aws
  - atlas.hardening.attributes
  - atlas.hardening.attributes.actiongroup_vault_aws
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each backup run stores a new snapshot.
options:
  state:
    description: Take and store a snapshot, or verify a stored one.
    type: str
    choices: [backup, verify]
    default: backup
  bucket:
    description: The bucket of the snapshots.
    type: str
    required: true
  prefix:
    description: The snapshots' prefix in O(bucket), one per cluster.
    type: str
    default: vault-raft-snapshots
  keep:
    description: How many snapshots to keep (O(state=backup)).
    type: int
    default: 48
  kms_key_id:
    description: KMS key for SSE-KMS; empty for SSE-S3 (AES256).
    type: str
  snapshot_key:
    description: The stored snapshot to verify; default the newest.
    type: str
  scratch_url:
    description: The scratch server to restore into (O(state=verify)); its data is replaced.
    type: str
  scratch_token:
    description: A token of the scratch server allowed to restore snapshots (its root token).
    type: str
  scratch_unseal_keys:
    description: The unseal keys of the cluster the snapshot comes from (Shamir seal).
    type: list
    elements: str
  unseal_timeout:
    description: Seconds to wait for the scratch server to reload the snapshot before unsealing.
    type: int
    default: 60
  canary_path:
    description: The KV v2 secret C(<mount>/<path>) that must be readable in the restored snapshot.
    type: str
"""

EXAMPLES = r"""
- name: Snapshot Vault to S3 (hourly, from the scheduled job)
  atlas.hardening.vault_raft_snapshot:
    bucket: atlas-dr
    prefix: vault-raft-snapshots/production
    kms_key_id: alias/atlas-dr
  register: vault_snapshot

- name: Prove the newest snapshot restores
  atlas.hardening.vault_raft_snapshot:
    state: verify
    bucket: atlas-dr
    prefix: vault-raft-snapshots/production
    scratch_url: http://vault-scratch.dr-drill.svc:8200
    scratch_token: "{{ scratch_root_token }}"
    scratch_unseal_keys: "{{ production_unseal_keys }}"
    canary_path: secret/platform/dr-canary
"""

RETURN = r"""
key:
  description: The snapshot stored (backup) or verified (verify).
  returned: always
  type: str
snapshot:
  description: Size, SHA-256 of the file, raft index and term, version, from the checked snapshot.
  returned: always
  type: dict
deleted:
  description: Snapshots deleted to keep O(keep) (to delete, in check mode).
  returned: when state is backup
  type: list
  elements: str
kept:
  description: The snapshots stored after this run.
  returned: when state is backup
  type: list
  elements: str
encryption:
  description: The server-side encryption used.
  returned: when state is backup
  type: str
restored:
  description: Whether the snapshot was restored into the scratch server.
  returned: when state is verify
  type: bool
canary_read:
  description: Whether the canary secret was read from the restored snapshot.
  returned: when state is verify
  type: bool
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.vault_snapshot_task import (
    vault_snapshot_task,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    state=dict(type="str", choices=["backup", "verify"], default="backup"),
    bucket=dict(type="str", required=True),
    prefix=dict(type="str", default="vault-raft-snapshots"),
    keep=dict(type="int", default=48),
    kms_key_id=dict(type="str", no_log=False),
    snapshot_key=dict(type="str", no_log=False),
    scratch_url=dict(type="str"),
    scratch_token=dict(type="str", no_log=True),
    scratch_unseal_keys=dict(type="list", elements="str", no_log=True),
    unseal_timeout=dict(type="int", default=60),
    canary_path=dict(type="str"),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("vault", "aws")).run(vault_snapshot_task)


if __name__ == "__main__":
    main()
