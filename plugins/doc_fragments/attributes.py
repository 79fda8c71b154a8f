# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every module of the collection declares: check mode, diff mode, idempotence, action group.

Each module extends ``atlas.hardening.attributes`` (the descriptions), one trait fragment
(``info_module`` or ``writes``) and the fragment of each action group it belongs to, and states its
own support where it differs (its own attributes win over the fragments').
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second run reports no
        change and writes nothing.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
  action_group:
    description: Part of action groups, for setting the connection options once with C(module_defaults).
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This module never changes anything.
  diff_mode:
    support: N/A
    details: This module never changes anything.
  idempotent:
    support: full
"""

    WRITES = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Check mode sends nothing that writes and reports what a real run would change.
  diff_mode:
    support: full
    details: Diffs never contain a secret value.
  idempotent:
    support: full
"""

    ACTIONGROUP_KUBERNETES = r"""
options: {}
attributes:
  action_group:
    support: full
    membership: [atlas.hardening.kubernetes]
"""

    ACTIONGROUP_ROTATION = r"""
options: {}
attributes:
  action_group:
    support: full
    membership: [atlas.hardening.vault, atlas.hardening.keycloak, atlas.hardening.kubernetes]
"""

    ACTIONGROUP_VAULT_KUBERNETES = r"""
options: {}
attributes:
  action_group:
    support: full
    membership: [atlas.hardening.vault, atlas.hardening.kubernetes]
"""

    ACTIONGROUP_AWS_KUBERNETES = r"""
options: {}
attributes:
  action_group:
    support: full
    membership: [atlas.hardening.aws, atlas.hardening.kubernetes]
"""

    ACTIONGROUP_VAULT_AWS = r"""
options: {}
attributes:
  action_group:
    support: full
    membership: [atlas.hardening.vault, atlas.hardening.aws]
"""

    ACTIONGROUP_AWS = r"""
options: {}
attributes:
  action_group:
    support: full
    membership: [atlas.hardening.aws]
"""

    ACTIONGROUP_NONE = r"""
options: {}
attributes:
  action_group:
    support: none
    membership: []
    details: Talks to no service; nothing to set with C(module_defaults).
"""
