# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disaster-recovery catalogue options (plugins/module_utils/_disaster_recovery/catalogue.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  components:
    description:
      - The component catalogue (inventory variable C(disaster_recovery_components); the documented example is
        C(docs/examples/inventory/group_vars/atlas_control/disaster_recovery.yml)).
      - Each entry has C(name) (a DNS label), C(namespaces), C(backup) (V(velero), V(vault_raft_snapshot) or
        V(database)), C(schedule) (cron, default V(*/30 * * * *)), C(rpo) and C(rto) (durations such as V(1h),
        defaults V(1h) and V(4h)), C(ttl) (default V(720h)), C(depends_on) (component names restored first),
        and C(verify) (C(objects), C(ready) as V(Kind/name) entries, C(http) checks through the API server's
        service proxy with C(service), C(port), C(path), C(expect)).
      - The whole catalogue is checked before anything is read or written; every problem is listed at once.
    type: list
    elements: dict
    required: true
  names:
    description: The components to act on; all of them when empty. An unknown name is refused.
    type: list
    elements: str
    default: []
  velero_namespace:
    description: Velero's namespace (its Backups, Restores, Schedules and BackupStorageLocations).
    type: str
    default: velero
"""
