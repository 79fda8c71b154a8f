# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: where the sealing certificate comes from - an option, a file, Vault
(offline sealing), or the controller through the API server's service proxy (the default)."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.controller_endpoint import (
    ControllerEndpoint,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealing_crypto import (
    SealingCertificate,
    load_certificate,
)

OFFLINE_SOURCES = ("certificate", "certificate_path", "certificate_vault_path")
# Documented by the doc fragment atlas.hardening.sealing_certificate.
SEALING_CERTIFICATE_ARGSPEC: dict[str, dict[str, Any]] = {
    "certificate": {"type": "str"},
    "certificate_path": {"type": "path"},
    "certificate_vault_path": {"type": "str"},
    "certificate_vault_mount_point": {"type": "str", "default": "secret"},
    "controller_name": {"type": "str", "default": "sealed-secrets-controller"},
    "controller_namespace": {"type": "str", "default": "kube-system"},
    "field_manager": {"type": "str", "default": "atlas-hardening-sealed-secrets"},
}


def is_offline(params: dict) -> bool:
    return any(params.get(option) for option in OFFLINE_SOURCES)


def sealing_certificate(module: HardeningModule, objects: KubernetesObjects | None) -> SealingCertificate:
    params = module.params
    if params["certificate"]:
        return load_certificate(params["certificate"], "the certificate option")
    if params["certificate_path"]:
        try:
            with open(params["certificate_path"], "rb") as handle:
                return load_certificate(handle.read(), params["certificate_path"])
        except OSError as exc:
            raise HardeningError(f"Cannot read certificate_path {params['certificate_path']}: {exc.strerror}.") \
                from None
    if params["certificate_vault_path"]:
        from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import vault_connection
        from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultKV2

        vault = VaultKV2(vault_connection(module), params["certificate_vault_mount_point"])
        stored = vault.read(params["certificate_vault_path"])
        pem = (stored.data or {}).get("tls.crt") if stored else None
        where = f"Vault {params['certificate_vault_mount_point']}/{params['certificate_vault_path']} (field tls.crt)"
        if not pem:
            raise HardeningError(f"No certificate at {where}: back the keys up first (sealed_secrets_keys "
                                 "state=backup) or give the certificate another way.")
        return load_certificate(pem, where)
    if objects is None:  # pragma: no cover - an offline source was given above
        raise HardeningError("No certificate source: give certificate, certificate_path or certificate_vault_path.")
    return ControllerEndpoint(objects, params["controller_namespace"], params["controller_name"]).certificate()
