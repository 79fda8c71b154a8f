# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Vault's seal status (which seal, sealed or not), read without a token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import verify_setting
from ansible_collections.atlas.hardening.plugins.module_utils._vault.connection import VaultConnection
from ansible_collections.atlas.hardening.plugins.module_utils._vault.options import DEFAULT_RETRIES, DEFAULT_TIMEOUT


def seal_status(params: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /v1/sys/seal-status`` (unauthenticated, so no login and no token is created): the seal type
    (``shamir``, ``awskms``, ``transit``...), whether it is sealed, the version; ``error`` when unreadable."""
    url = str(params["vault_url"]).rstrip("/")
    try:
        connection = VaultConnection(url, namespace=params.get("vault_namespace"), verify=verify_setting(params),
                                     timeout=params.get("vault_timeout") or DEFAULT_TIMEOUT,
                                     retries=DEFAULT_RETRIES if params.get("vault_retries") is None
                                     else int(params["vault_retries"]))
        response = connection.send("GET", "sys/seal-status", action="read the seal status", authenticated=False)
    except HardeningError as exc:
        return {"url": url, "error": str(exc)}
    body = response.body if isinstance(response.body, dict) else {}
    if response.status != 200:
        return {"url": url, "error": f"HTTP {response.status}: {'; '.join(body.get('errors') or [])}"}
    return {"url": url, "type": body.get("type"), "sealed": body.get("sealed"), "version": body.get("version"),
            "recovery_seal": body.get("recovery_seal")}
