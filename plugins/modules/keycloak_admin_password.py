#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: keycloak_admin_password
short_description: Rotate a Keycloak admin password with Vault or OpenBao KV v2 as the source of truth
version_added: 0.1.0
description:
  - Rotates the password of a Keycloak admin user (by default C(admin) in the C(master) realm) when the
    last rotation recorded in the Vault secret's metadata is older than O(max_age_days), or when
    O(force=true). Meant to run daily (for example from a CronJob), since it decides itself whether a
    rotation is due.
  - The Vault/OpenBao KV version 2 secret at O(kv_mount_point)/O(kv_path) is the source of truth. It holds
    C(username), C(password), C(previous_password), C(rotation_id), and while a rotation is in progress
    C(pending_password), C(pending_rotation_id) and C(pending_since). Other keys of the secret are kept.
  - "A rotation has four steps, each safe to interrupt: (1) generate a new password meeting the realm's
    password policy and store it as C(pending_password) with check-and-set; (2) set it in Keycloak through
    the Admin API (never as a temporary password); (3) log in with it and make an admin call with that
    token; (4) promote it to C(password) (check-and-set), record the rotation in the secret's custom
    metadata (C(rotated_at), C(rotation_id), C(rotated_by), C(next_due)), update every Kubernetes Secret
    copy in O(secret_copies), and create a Kubernetes Event in O(event_namespace)."
  - A later run resumes a pending rotation. When the outcome of step 2 is unknown (timeout, lost answer),
    the module logs in to find which password is live; it never generates a new password while the
    live one is unknown.
  - Keycloak's refusals of the new password (password policy, password history) are reported with
    Keycloak's own message; the pending value is removed and nothing else changes.
  - The first run adopts the current password, from the Vault secret or, when the secret does not exist
    yet, from the Kubernetes Secret in O(adopt_from_secret), after proving that it logs in. A password
    whose age is unknown (no rotation recorded) is rotated in the same run.
  - Two runs started at the same moment cannot both rotate; every Vault write uses check-and-set and the
    run that loses stops without changing anything more.
  - Refuses to rotate a Keycloak 26 temporary bootstrap admin (attribute C(is_temporary_admin)), and warns
    when a Secret copy is the Keycloak Operator's C(<name>-initial-admin) Secret.
  - No password appears in the module's output, in the diff, in warnings or in the Event.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.vault
  - atlas.hardening.keycloak
  - atlas.hardening.kubernetes
  - atlas.hardening.attributes
  - atlas.hardening.attributes.writes
  - atlas.hardening.attributes.actiongroup_rotation
attributes:
  check_mode:
    details: Reads Vault (and the Secret copies with dry-run requests); says whether a rotation is due
      and when the next one is; talks to no Keycloak endpoint and writes nothing.
  diff_mode:
    details: Shows the change to the rotation metadata and which Secret copies change, never a password.
  idempotent:
    details: A run that is not due changes nothing; a rotation happens at most once per O(max_age_days).
options:
  username:
    description:
      - The Keycloak user whose password is rotated.
    type: str
    default: admin
  realm:
    description:
      - The realm of O(username).
    type: str
    default: master
  kv_mount_point:
    description:
      - Mount point of the KV version 2 secrets engine. A KV version 1 mount is refused before anything is written.
    type: str
    default: secret
  kv_path:
    description:
      - Path of the secret below O(kv_mount_point), for example V(keycloak/admin).
    type: str
    required: true
  max_age_days:
    description:
      - Rotate when the last rotation is older than this many days.
    type: int
    default: 90
  force:
    description:
      - Rotate now even when the last rotation is recent. A pending rotation is always resumed first.
    type: bool
    default: false
  password_length:
    description:
      - Length of generated passwords. Raised to the realm's C(length) policy and lowered to its
        C(maxLength) policy when needed.
    type: int
    default: 32
  password_min_lowercase:
    description:
      - Minimum number of lower-case letters; the realm's C(lowerCase) policy can raise it.
    type: int
    default: 1
  password_min_uppercase:
    description:
      - Minimum number of upper-case letters; the realm's C(upperCase) policy can raise it.
    type: int
    default: 1
  password_min_digits:
    description:
      - Minimum number of digits; the realm's C(digits) policy can raise it.
    type: int
    default: 1
  password_min_special:
    description:
      - Minimum number of special characters; the realm's C(specialChars) policy can raise it.
    type: int
    default: 1
  password_special_characters:
    description:
      - The special characters generated passwords may contain (punctuation only).
      - The default set needs no quoting in form bodies, JSON, YAML or shell variables.
    type: str
    default: "!#%+-.:=@^_~"
  secret_copies:
    description:
      - Kubernetes Secrets that must hold a copy of the current password. The module sets only the
        named keys (server-side apply, its own field manager) and writes nothing when they already match.
      - Checked on every run, so a copy that failed to update (or was edited by hand) is repaired by the
        next run.
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Namespace of the Secret.
        type: str
        required: true
      name:
        description: Name of the Secret.
        type: str
        required: true
      password_key:
        description: Key that holds the password.
        type: str
        default: password
      username_key:
        description: Key that holds the username, if the Secret should carry it too.
        type: str
  adopt_from_secret:
    description:
      - On the first run, when the Vault secret does not exist yet, read the current admin password from
        this Kubernetes Secret, prove that it logs in, and store it in Vault before rotating it.
      - For example the Keycloak Operator's C(<name>-initial-admin) Secret (keys C(username) and C(password)),
        which is only read, never written.
    type: dict
    suboptions:
      namespace:
        description: Namespace of the Secret.
        type: str
        required: true
      name:
        description: Name of the Secret.
        type: str
        required: true
      password_key:
        description: Key that holds the password.
        type: str
        default: password
      username_key:
        description: Key that holds the username (checked against O(username) when present).
        type: str
  event_namespace:
    description:
      - Namespace (usually Keycloak's) where a Kubernetes Event records each rotation and each repair of
        the Secret copies. No Event when not set.
    type: str
  event_involved_object:
    description:
      - The object the Event is about (shown by C(kubectl describe)).
    type: dict
    default: {}
    suboptions:
      api_version:
        description: API version of the object.
        type: str
        default: k8s.keycloak.org/v2alpha1
      kind:
        description: Kind of the object.
        type: str
        default: Keycloak
      name:
        description: Name of the object.
        type: str
        default: keycloak
  rotated_by:
    description:
      - Who rotates, recorded in the Vault metadata (C(rotated_by)) and in the Event, for example the
        CronJob's name or the AWX job template.
    type: str
    default: atlas.hardening.keycloak_admin_password
  logout_sessions:
    description:
      - After a rotation, end every existing session of the user (a password reset does not end them).
      - Logs out people using the admin console with that account.
    type: bool
    default: false
notes:
  - "Least privilege in Vault: C(create), C(update), C(read) on C(<mount>/data/<path>), C(read), C(update) on
    C(<mount>/metadata/<path>). See docs/keycloak-admin-rotation.md in the collection for the policy, the
    Kubernetes auth role, the failure matrix and recovery by hand."
  - "Cost of a run: a run that is not due makes 2 Vault requests (mount check, read), 1 Kubernetes read per
    Secret copy and 1 Keycloak token request (the stored password still logs in; a password changed by hand
    fails the run with a drift message the same day); a due rotation adds 3 Vault writes and 1 metadata read,
    6 Keycloak requests, 1 Kubernetes write per changed copy and 1 Event. A Vault login (AppRole, Kubernetes)
    adds the login and the revocation of its token at the end."
requirements:
  - hvac
  - kubernetes (only with O(secret_copies), O(adopt_from_secret) or O(event_namespace))
seealso:
  - module: atlas.hardening.k8s_manifests
"""

EXAMPLES = r"""
- name: Rotate the Keycloak admin password every 90 days (run daily)
  atlas.hardening.keycloak_admin_password:
    kv_path: keycloak/admin
    secret_copies:
      - namespace: keycloak
        name: keycloak-admin
        username_key: username
    event_namespace: keycloak
    rotated_by: cronjob/keycloak-admin-rotation
  register: rotation

- name: First run on a cluster installed by the Keycloak Operator
  atlas.hardening.keycloak_admin_password:
    kv_path: keycloak/admin
    adopt_from_secret:
      namespace: keycloak
      name: keycloak-initial-admin
      username_key: username
    event_namespace: keycloak

- name: Is a rotation due? (writes nothing)
  atlas.hardening.keycloak_admin_password:
    kv_path: keycloak/admin
  check_mode: true
  register: due

- name: Rotate now, with connection options set once for the play
  atlas.hardening.keycloak_admin_password:
    kv_path: keycloak/admin
    force: true
  module_defaults:
    group/atlas.hardening.vault:
      vault_url: https://vault.example:8200
      vault_auth_method: kubernetes
      vault_kubernetes_role: keycloak-admin-rotation
    group/atlas.hardening.keycloak:
      keycloak_url: https://sso.example
"""

RETURN = r"""
rotated:
  description: Whether this run changed the password (a new password is live in Keycloak and promoted in Vault).
  returned: always
  type: bool
  sample: true
action:
  description:
    - What the run did. V(not_due), V(rotated), V(resumed) (finished a pending rotation),
      V(adopted_and_rotated), V(completed) (recorded an interrupted rotation's metadata),
      V(copies_synced) (repaired Secret copies), V(stopped) (another run holds the rotation).
    - On failure V(failed), V(refused) for a temporary bootstrap admin or a password Keycloak refused, or
      V(drift) when Keycloak refuses the stored password of a run that was not due (changed by hand).
    - In check mode V(would_rotate), V(would_resume), V(would_adopt), V(would_complete), V(would_sync_copies).
  returned: always
  type: str
  sample: rotated
due:
  description: Whether a rotation is due after this run (false after a successful rotation).
  returned: always
  type: bool
  sample: false
due_reason:
  description: Why a rotation is (or is not) due.
  returned: always
  type: str
  sample: last rotation 2026-08-01T03:17:02Z is older than 90 days
last_rotated:
  description: When the password was last rotated (UTC, RFC 3339), from the Vault metadata; null when never.
  returned: always
  type: str
  sample: "2026-11-21T03:17:05Z"
next_due:
  description: When the next rotation is due (UTC, RFC 3339).
  returned: always
  type: str
  sample: "2027-02-19T03:17:05Z"
vault_version:
  description: Current version of the Vault secret after this run.
  returned: when the secret exists
  type: int
  sample: 14
rotation_id:
  description: Id of the rotation this run performed, resumed or recorded.
  returned: when a rotation was involved
  type: str
  sample: 8a4f2c1e-7d0b-4a57-9b55-1d0f4b3a9c21
copies_updated:
  description: The Kubernetes Secret copies (namespace/name) this run updated (or would update in check mode).
  returned: always
  type: list
  elements: str
  sample: [keycloak/keycloak-admin]
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.keycloak_admin_password_task import (
    rotate_keycloak_admin_password_task,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.password_generator import (
    DEFAULT_SPECIAL_CHARACTERS,
)

_SECRET_REF: dict[str, dict[str, Any]] = {
    "namespace": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
    "password_key": {"type": "str", "default": "password", "no_log": False},
    "username_key": {"type": "str", "no_log": False},
}

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "username": {"type": "str", "default": "admin"},
    "realm": {"type": "str", "default": "master"},
    "kv_mount_point": {"type": "str", "default": "secret"},
    "kv_path": {"type": "str", "required": True},
    "max_age_days": {"type": "int", "default": 90},
    "force": {"type": "bool", "default": False},
    "password_length": {"type": "int", "default": 32, "no_log": False},
    "password_min_lowercase": {"type": "int", "default": 1, "no_log": False},
    "password_min_uppercase": {"type": "int", "default": 1, "no_log": False},
    "password_min_digits": {"type": "int", "default": 1, "no_log": False},
    "password_min_special": {"type": "int", "default": 1, "no_log": False},
    "password_special_characters": {"type": "str", "default": DEFAULT_SPECIAL_CHARACTERS, "no_log": False},
    "secret_copies": {"type": "list", "elements": "dict", "default": [], "no_log": False,
                      "options": dict(_SECRET_REF)},
    "adopt_from_secret": {"type": "dict", "no_log": False, "options": dict(_SECRET_REF)},
    "event_namespace": {"type": "str"},
    "event_involved_object": {"type": "dict", "default": {}, "options": {
        "api_version": {"type": "str", "default": "k8s.keycloak.org/v2alpha1"},
        "kind": {"type": "str", "default": "Keycloak"},
        "name": {"type": "str", "default": "keycloak"},
    }},
    "rotated_by": {"type": "str", "default": "atlas.hardening.keycloak_admin_password"},
    "logout_sessions": {"type": "bool", "default": False},
}


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("vault", "keycloak", "kubernetes")).run(
        rotate_keycloak_admin_password_task)


if __name__ == "__main__":
    main()
