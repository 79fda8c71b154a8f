# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: a logged-in :class:`VaultConnection` from the ``vault_*`` options.

Token auth sends nothing here (a bad token shows at the first call, with a clear message);
AppRole and Kubernetes auth log in at once. Everything is checked before the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.atlas.hardening.plugins.module_utils._common.files import require_readable_file
from ansible_collections.atlas.hardening.plugins.module_utils._common.urls import require_http_url
from ansible_collections.atlas.hardening.plugins.module_utils._vault.auth import read_service_account_token
from ansible_collections.atlas.hardening.plugins.module_utils._vault.connection import (
    HAS_HVAC,
    HVAC_IMPORT_ERROR,
    VaultConnection,
)
from ansible_collections.atlas.hardening.plugins.module_utils._vault.errors import VaultConfigError
from ansible_collections.atlas.hardening.plugins.module_utils._vault.options import (
    AUTH_METHODS,
    DEFAULT_KUBERNETES_TOKEN_PATH,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
)

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

# Vault CLI semantics (Go strconv.ParseBool) for VAULT_SKIP_VERIFY.
_TRUE_STRINGS = frozenset(("1", "t", "true"))


def vault_connection(module: HardeningModule) -> VaultConnection:
    """A module's Vault connection, its token hidden, and the tokens of later logins too."""
    connection = vault_client_from_params(module.params)
    module.hide(connection.no_log_values)
    connection.no_log_values = module.no_log_values
    return connection


def vault_client_from_params(params: Mapping[str, Any]) -> VaultConnection:
    """Build and authenticate a :class:`VaultConnection` from module parameters (``vault_*`` options)."""
    if not HAS_HVAC:
        raise VaultConfigError(missing_required_lib("hvac"), exception=HVAC_IMPORT_ERROR)
    url = require_http_url(params.get("vault_url"), "vault_url",
                           "No Vault address: set vault_url or the VAULT_ADDR environment variable "
                           "(e.g. https://vault.example:8200).", "https://vault.example:8200", VaultConfigError)
    method = params.get("vault_auth_method") or "token"
    if method not in AUTH_METHODS:
        raise VaultConfigError("vault_auth_method {!r} is not supported: use "
                               "one of {}.".format(method, ", ".join(AUTH_METHODS)))
    timeout = params.get("vault_timeout")
    retries = params.get("vault_retries")
    connection = VaultConnection(
        url,
        token=params.get("vault_token") if method == "token" else None,
        namespace=params.get("vault_namespace"),
        verify=verify_setting(params),
        timeout=DEFAULT_TIMEOUT if timeout is None else int(timeout),
        retries=DEFAULT_RETRIES if retries is None else int(retries),
        auth_method=method,
    )
    mount_point = params.get("vault_auth_mount_point") or method
    if method == "token":
        if not params.get("vault_token"):
            raise VaultConfigError("No Vault token: set vault_token or VAULT_TOKEN, or use vault_auth_method "
                                   "approle or kubernetes.")
    elif method == "approle":
        missing = [name for name in ("vault_role_id", "vault_secret_id") if not params.get(name)]
        if missing:
            raise VaultConfigError("vault_auth_method=approle needs {}.".format(" and ".join(missing)))
        connection.login_approle(params["vault_role_id"], params["vault_secret_id"], mount_point)
    else:
        role = params.get("vault_kubernetes_role")
        if not role:
            raise VaultConfigError("vault_auth_method=kubernetes needs vault_kubernetes_role (the Vault role bound "
                                   "to this service account).")
        jwt = read_service_account_token(params.get("vault_kubernetes_token_path") or DEFAULT_KUBERNETES_TOKEN_PATH)
        connection.no_log_values.add(jwt)
        connection.login_kubernetes(role, jwt, mount_point)
    return connection


def verify_setting(params: Mapping[str, Any]) -> Any:
    """requests' ``verify``: False, True, or the CA bundle path (VAULT_SKIP_VERIFY honoured)."""
    validate = params.get("vault_validate_certs")
    if validate is None:
        validate = os.environ.get("VAULT_SKIP_VERIFY", "").strip().lower() not in _TRUE_STRINGS
    if not validate:
        return False
    ca_cert = params.get("vault_ca_cert")
    if ca_cert:
        return require_readable_file(ca_cert, "vault_ca_cert", "the PEM file of the CA that signed Vault's "
                                     "certificate (or set VAULT_CACERT)", VaultConfigError)
    return True
