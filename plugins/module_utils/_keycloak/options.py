# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the keycloak_* connection options (argument spec, defaults, env fallbacks)."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import env_fallback

DEFAULT_REALM = "master"
DEFAULT_CLIENT_ID = "admin-cli"
DEFAULT_TIMEOUT = 30

KEYCLOAK_CONNECTION_ARGSPEC: dict[str, dict[str, Any]] = {
    # no_log is explicit everywhere: validate-modules takes the "key" in "keycloak" for a secret.
    "keycloak_url": {"type": "str", "no_log": False, "fallback": (env_fallback, ["KEYCLOAK_URL"])},
    "keycloak_realm": {"type": "str", "no_log": False, "default": DEFAULT_REALM,
                       "fallback": (env_fallback, ["KEYCLOAK_REALM"])},
    "keycloak_client_id": {"type": "str", "no_log": False, "default": DEFAULT_CLIENT_ID,
                           "fallback": (env_fallback, ["KEYCLOAK_CLIENT_ID"])},
    "keycloak_client_secret": {"type": "str", "no_log": True, "fallback": (env_fallback, ["KEYCLOAK_CLIENT_SECRET"])},
    "keycloak_username": {"type": "str", "no_log": False, "fallback": (env_fallback, ["KEYCLOAK_USER"])},
    "keycloak_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["KEYCLOAK_PASSWORD"])},
    "keycloak_validate_certs": {"type": "bool", "no_log": False, "default": True},
    "keycloak_ca_cert": {"type": "path", "no_log": False},
    "keycloak_timeout": {"type": "int", "no_log": False, "default": DEFAULT_TIMEOUT},
}
