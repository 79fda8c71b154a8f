# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vault / OpenBao connection options (plugins/module_utils/_vault/options.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # Keep in step with VAULT_CONNECTION_ARGSPEC in plugins/module_utils/_vault/options.py
    # (tests/unit/plugins/module_utils/test_vault_connection.py compares them).
    DOCUMENTATION = r"""
options:
  vault_url:
    description:
      - Address of the Vault or OpenBao server, for example V(https://vault.example:8200).
      - If not set, the value of the E(VAULT_ADDR) environment variable is used.
    type: str
  vault_token:
    description:
      - Token for O(vault_auth_method=token).
      - If not set, the value of the E(VAULT_TOKEN) environment variable is used.
    type: str
  vault_namespace:
    description:
      - Vault Enterprise / OpenBao namespace every request is sent to (C(X-Vault-Namespace) header).
      - If not set, the value of the E(VAULT_NAMESPACE) environment variable is used.
    type: str
  vault_auth_method:
    description:
      - How to authenticate.
      - V(token) uses O(vault_token).
      - V(approle) logs in with O(vault_role_id) and O(vault_secret_id).
      - V(kubernetes) logs in with the Pod's service-account token (O(vault_kubernetes_token_path))
        as O(vault_kubernetes_role); suited to a CronJob running in the cluster.
    type: str
    choices: [token, approle, kubernetes]
    default: token
  vault_auth_mount_point:
    description:
      - Path the auth method is mounted at, without C(auth/).
      - Defaults to the method name (V(approle), V(kubernetes)).
    type: str
  vault_role_id:
    description:
      - AppRole role ID, for O(vault_auth_method=approle).
    type: str
  vault_secret_id:
    description:
      - AppRole secret ID, for O(vault_auth_method=approle).
    type: str
  vault_kubernetes_role:
    description:
      - Vault role of the Kubernetes auth method, for O(vault_auth_method=kubernetes).
      - The role must bind the service account and namespace the token belongs to.
    type: str
  vault_kubernetes_token_path:
    description:
      - File holding the service-account JWT, for O(vault_auth_method=kubernetes).
    type: path
    default: /var/run/secrets/kubernetes.io/serviceaccount/token
  vault_ca_cert:
    description:
      - PEM file of the CA that signed Vault's TLS certificate.
      - If not set, the value of the E(VAULT_CACERT) environment variable is used; otherwise the
        system's trusted CAs.
    type: path
  vault_validate_certs:
    description:
      - Whether to verify Vault's TLS certificate.
      - When not set, certificates are verified unless the E(VAULT_SKIP_VERIFY) environment variable
        is true (V(1), V(t) or V(true)), as with the Vault CLI.
      - Only set V(false) for a test server.
    type: bool
  vault_timeout:
    description:
      - Seconds to wait for Vault to accept a connection and to answer each request.
    type: int
    default: 30
  vault_retries:
    description:
      - How many times a failed request is retried, with a backoff of 0, 1, 2, 4... seconds.
      - A request that could not be sent (connection refused, DNS, connect timeout) is retried
        whatever it is.
      - A server error (5xx, 429) or a lost answer is retried only for reads. A write is not
        retried blindly, since Vault may have applied it; KV v2 writes with check-and-set read
        the key back first and are retried only when it shows the write did not land.
      - V(0) disables retries.
    type: int
    default: 3
notes:
  - Secret options (O(vault_token), O(vault_role_id), O(vault_secret_id)) are never logged, nor are the
    tokens obtained by logging in.
  - Set these options once for a play with C(module_defaults) and the
    C(group/atlas.hardening.vault) action group.
requirements:
  - hvac >= 2.1.0 (Python library, on the host that runs the module)
"""
