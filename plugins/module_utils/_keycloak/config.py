# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: a :class:`KeycloakAdminAPI` from the ``keycloak_*`` options, checked before any
request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.files import require_readable_file
from ansible_collections.atlas.hardening.plugins.module_utils._common.urls import require_http_url
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.admin_api import KeycloakAdminAPI
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.errors import KeycloakConfigError
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.options import (
    DEFAULT_CLIENT_ID,
    DEFAULT_REALM,
    DEFAULT_TIMEOUT,
)

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule


def keycloak_admin_api(module: HardeningModule, credentials_required: bool = True) -> KeycloakAdminAPI:
    """A module's Keycloak Admin API client; every token it obtains later is hidden."""
    client = keycloak_client_from_params(module.params, credentials_required=credentials_required)
    client.no_log_values = module.no_log_values
    return client


def keycloak_client_from_params(params: Mapping[str, Any], credentials_required: bool = True) -> KeycloakAdminAPI:
    """Build a :class:`KeycloakAdminAPI` from module parameters (``keycloak_*`` options).

    Nothing is sent yet: the first call logs in (call ``authenticate()`` to check credentials early).
    With ``credentials_required=False`` the options may name no identity: the client then serves
    only as a base for :meth:`KeycloakAdminAPI.login` with credentials from elsewhere (Vault), and
    an admin call made with it directly fails with a clear message.
    """
    url = require_http_url(params.get("keycloak_url"), "keycloak_url",
                           "No Keycloak URL: set keycloak_url or the KEYCLOAK_URL environment variable (the server "
                           "root, e.g. https://sso.example).", "https://sso.example", KeycloakConfigError)
    username = params.get("keycloak_username")
    if username and not params.get("keycloak_password"):
        raise KeycloakConfigError("keycloak_username is set but keycloak_password is not (KEYCLOAK_PASSWORD).")
    if credentials_required and not username and not params.get("keycloak_client_secret"):
        raise KeycloakConfigError("No Keycloak credentials: set keycloak_username and keycloak_password, or "
                                  "keycloak_client_id and keycloak_client_secret for a service-account client.")
    ca_cert = params.get("keycloak_ca_cert")
    if ca_cert:
        require_readable_file(ca_cert, "keycloak_ca_cert", "the PEM file of the CA that signed Keycloak's certificate",
                              KeycloakConfigError)
    validate = params.get("keycloak_validate_certs")
    timeout = params.get("keycloak_timeout")
    return KeycloakAdminAPI(
        url,
        auth_realm=params.get("keycloak_realm") or DEFAULT_REALM,
        client_id=params.get("keycloak_client_id") or DEFAULT_CLIENT_ID,
        client_secret=params.get("keycloak_client_secret"),
        username=username,
        password=params.get("keycloak_password"),
        validate_certs=True if validate is None else bool(validate),
        ca_cert=ca_cert,
        timeout=DEFAULT_TIMEOUT if timeout is None else int(timeout),
    )
