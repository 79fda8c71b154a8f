# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Vault logins (AppRole, Kubernetes service-account JWT) and token lookups.

A login's token replaces the connection's and is added to its ``no_log_values`` at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ansible_collections.atlas.hardening.plugins.module_utils._vault.errors import (
    VaultAuthError,
    VaultConfigError,
    VaultError,
    VaultResponse,
)

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.atlas.hardening.plugins.module_utils._vault.connection import VaultConnection


def login_approle(connection: VaultConnection, role_id: str, secret_id: str, mount_point: str = "approle") -> None:
    """Log in with AppRole; the resulting token is used for every later call."""
    mount = mount_point.strip("/")
    response = connection.send("POST", "auth/%s/login" % mount, json={"role_id": role_id, "secret_id": secret_id},
                               action="log in with AppRole (mount auth/%s)" % mount, authenticated=False)
    if response.status != 200:
        raise _login_error(connection, response, "AppRole", mount,
                           "check vault_role_id and vault_secret_id (the secret ID may be expired, used up or bound "
                           "to other CIDRs) and that AppRole is enabled at auth/%s" % mount)
    _use_login_token(connection, response)


def login_kubernetes(connection: VaultConnection, role: str, jwt: str, mount_point: str = "kubernetes") -> None:
    """Log in with a Kubernetes service-account token (JWT); Vault checks it with a TokenReview."""
    mount = mount_point.strip("/")
    response = connection.send("POST", "auth/%s/login" % mount, json={"role": role, "jwt": jwt},
                               action="log in with Kubernetes auth as role %r (mount auth/%s)" % (role, mount),
                               authenticated=False)
    if response.status != 200:
        raise _login_error(connection, response, "Kubernetes", mount,
                           "check vault_kubernetes_role (the role must bind this service account and namespace), "
                           "that the kubernetes auth method is enabled at auth/%s, and that Vault can reach the "
                           "Kubernetes TokenReview API" % mount)
    _use_login_token(connection, response)


def lookup_self(connection: VaultConnection) -> dict[str, Any] | None:
    """The token's own metadata (policies, ttl...), or None when Vault rejects the token."""
    response = connection.send("GET", "auth/token/lookup-self", action="look up the token")
    if response.status in (401, 403):
        return None
    if response.status != 200:
        raise connection.http_error(response, "look up the token")
    data = dict(response.data)
    # The token itself comes back in "id": never keep it in a value that could be returned.
    data.pop("id", None)
    return data


def revoke_self(connection: VaultConnection) -> None:
    """Revoke the connection's own token (a login token at the end of a run); one request."""
    connection.request("POST", "auth/token/revoke-self", action="revoke this run's token")


def read_service_account_token(path: str) -> str:
    """The JWT of the Pod's service account (or of the file given), checked non-empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            jwt = handle.read().strip()
    except FileNotFoundError:
        raise VaultConfigError(
            "Vault Kubernetes auth: no service-account token at %s. Run inside a Pod whose service account token "
            "is mounted, or set vault_kubernetes_token_path to the JWT file." % path) from None
    except OSError as exc:
        raise VaultConfigError("Vault Kubernetes auth: cannot read the service-account token %s (%s): check "
                               "vault_kubernetes_token_path and file permissions." % (path, exc.strerror)) from None
    if not jwt:
        raise VaultConfigError("Vault Kubernetes auth: the service-account token file %s is empty: check "
                               "vault_kubernetes_token_path." % path)
    return jwt


def _use_login_token(connection: VaultConnection, response: VaultResponse) -> None:
    auth = response.body.get("auth") if isinstance(response.body, dict) else None
    token = auth.get("client_token") if isinstance(auth, dict) else None
    if not token:
        raise VaultAuthError("%s answered the login without a client token: is this a Vault API?" % connection.where)
    connection.no_log_values.add(token)
    connection.client.token = token


def _login_error(connection: VaultConnection, response: VaultResponse, method: str, mount: str,
                 hint: str) -> VaultError:
    reason = "; ".join(response.errors) or "HTTP %d" % response.status
    if response.status in (400, 401, 403):
        return VaultAuthError("%s rejected the %s login at auth/%s (%s): %s."
                              % (connection.where, method, mount, reason, hint))
    return connection.http_error(response, "log in with %s at auth/%s" % (method, mount))
