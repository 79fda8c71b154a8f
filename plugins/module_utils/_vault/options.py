# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the vault_* connection options (argument spec, defaults, env fallbacks).

Importing this file costs nothing: hvac is imported only by the files that talk to Vault.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import env_fallback

AUTH_METHODS = ("token", "approle", "kubernetes")
DEFAULT_KUBERNETES_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
DEFAULT_TIMEOUT = 30
DEFAULT_RETRIES = 3

VAULT_CONNECTION_ARGSPEC: dict[str, dict[str, Any]] = {
    "vault_url": {"type": "str", "fallback": (env_fallback, ["VAULT_ADDR"])},
    "vault_token": {"type": "str", "no_log": True, "fallback": (env_fallback, ["VAULT_TOKEN"])},
    "vault_namespace": {"type": "str", "fallback": (env_fallback, ["VAULT_NAMESPACE"])},
    "vault_auth_method": {"type": "str", "default": "token", "choices": list(AUTH_METHODS)},
    "vault_auth_mount_point": {"type": "str"},
    "vault_role_id": {"type": "str", "no_log": True},
    "vault_secret_id": {"type": "str", "no_log": True},
    "vault_kubernetes_role": {"type": "str"},
    "vault_kubernetes_token_path": {"type": "path", "default": DEFAULT_KUBERNETES_TOKEN_PATH},
    "vault_ca_cert": {"type": "path", "fallback": (env_fallback, ["VAULT_CACERT"])},
    "vault_validate_certs": {"type": "bool"},
    "vault_timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
    "vault_retries": {"type": "int", "default": DEFAULT_RETRIES},
}
