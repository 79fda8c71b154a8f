# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keycloak Admin API connection options (plugins/module_utils/_keycloak/options.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # Keep in step with KEYCLOAK_CONNECTION_ARGSPEC in plugins/module_utils/_keycloak/options.py
    # (tests/unit/plugins/module_utils/test_keycloak_admin_api.py compares them).
    DOCUMENTATION = r"""
options:
  keycloak_url:
    description:
      - Root URL of the Keycloak server, for example V(https://sso.example).
      - With or without the C(/auth) prefix of Keycloak before 17; when the first request finds no
        token endpoint, the other form is probed once (without credentials) and used.
      - If not set, the value of the E(KEYCLOAK_URL) environment variable is used.
    type: str
  keycloak_realm:
    description:
      - Realm the identity logs in to (not necessarily the realm acted on).
      - If not set, the value of the E(KEYCLOAK_REALM) environment variable is used.
    type: str
    default: master
  keycloak_client_id:
    description:
      - OpenID Connect client used to get tokens.
      - With O(keycloak_username), a client that allows direct access grants (V(admin-cli) does).
      - Without it, a confidential client with a service account (client credentials grant), which
        is the better identity for automation, since rotating a user's password cannot lock it out.
      - If not set, the value of the E(KEYCLOAK_CLIENT_ID) environment variable is used.
    type: str
    default: admin-cli
  keycloak_client_secret:
    description:
      - Secret of O(keycloak_client_id), for the client credentials grant or a confidential client.
      - If not set, the value of the E(KEYCLOAK_CLIENT_SECRET) environment variable is used.
    type: str
  keycloak_username:
    description:
      - User to log in as (password grant). Leave unset to use the client credentials grant.
      - If not set, the value of the E(KEYCLOAK_USER) environment variable is used.
    type: str
  keycloak_password:
    description:
      - Password of O(keycloak_username).
      - A password Keycloak rejects is never sent again by the same task, so that brute-force
        detection cannot lock the account.
      - If not set, the value of the E(KEYCLOAK_PASSWORD) environment variable is used.
    type: str
  keycloak_validate_certs:
    description:
      - Whether to verify Keycloak's TLS certificate. Only set V(false) for a test server.
    type: bool
    default: true
  keycloak_ca_cert:
    description:
      - PEM file of the CA that signed Keycloak's TLS certificate; otherwise the system's trusted CAs.
    type: path
  keycloak_timeout:
    description:
      - Seconds to wait for Keycloak to connect and to answer each request.
    type: int
    default: 30
notes:
  - Access tokens are refreshed before they expire (master realm tokens live 60 seconds), so long
    runs keep working; an admin call answered 401 gets one new token and one retry.
  - Secret options and the tokens obtained are never logged.
  - Set these options once for a play with C(module_defaults) and the
    C(group/atlas.hardening.keycloak) action group.
"""
