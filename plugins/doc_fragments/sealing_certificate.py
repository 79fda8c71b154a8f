# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the Sealed Secrets sealing certificate comes from (plugins/module_utils/_sealed_secrets/certificate_sources.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # Keep in step with SEALING_CERTIFICATE_ARGSPEC in plugins/module_utils/_sealed_secrets/certificate_sources.py.
    DOCUMENTATION = r"""
options:
  certificate:
    description:
      - The sealing certificate (PEM), for offline sealing.
      - Without O(certificate), O(certificate_path) or O(certificate_vault_path), the certificate is fetched
        from the controller through the API server's service proxy, as kubeseal does.
    type: str
  certificate_path:
    description: A file holding the sealing certificate (PEM), for offline sealing.
    type: path
  certificate_vault_path:
    description:
      - A Vault KV v2 path whose field C(tls.crt) holds the sealing certificate, for offline sealing
        (C(<kv_path>/certificate), where M(atlas.hardening.sealed_secrets_keys) stores it).
    type: str
  certificate_vault_mount_point:
    description: The KV v2 mount of O(certificate_vault_path).
    type: str
    default: secret
  controller_name:
    description: The controller's Service name (where kubeseal looks by default).
    type: str
    default: sealed-secrets-controller
  controller_namespace:
    description: The controller's namespace.
    type: str
    default: kube-system
  field_manager:
    description: The server-side apply field manager of the SealedSecrets.
    type: str
    default: atlas-hardening-sealed-secrets
"""
