# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the keycloak_admin_password module does with its parameters.

Module parameters become settings and adapters, one protocol run, and the module result (never a
password).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.option_checks import check_range, check_vault_path
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.adapters import (
    KeycloakAdminPort,
    KubernetesCluster,
    VaultSecretStore,
)
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.password_generator import PasswordRequirements
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.ports import RotationError, SecretCopy
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.protocol import KeycloakAdminRotation
from ansible_collections.atlas.hardening.plugins.module_utils._rotation.state import RotationSettings
from ansible_collections.atlas.hardening.plugins.module_utils._vault.auth import revoke_self
from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import vault_connection
from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultKV2

# A generated admin password: long, but within what Keycloak and its hashing accept comfortably.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 512


def settings_from_params(params: dict[str, Any], check_mode: bool) -> RotationSettings:
    def secret_copy(spec: dict[str, Any]) -> SecretCopy:
        return SecretCopy(namespace=spec["namespace"], name=spec["name"],
                          password_key=spec.get("password_key") or "password", username_key=spec.get("username_key"))

    involved = params.get("event_involved_object") or {}
    requirements = PasswordRequirements(
        length=params["password_length"], min_digits=params["password_min_digits"],
        min_lowercase=params["password_min_lowercase"], min_uppercase=params["password_min_uppercase"],
        min_special=params["password_min_special"], special_characters=params["password_special_characters"])
    for name in ("password_min_digits", "password_min_lowercase", "password_min_uppercase", "password_min_special"):
        if params[name] < 0:
            raise HardeningError(f"{name} must not be negative (got {params[name]}).")
    check_range(params["password_length"], "password_length", MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH,
                "the master realm's admin password is generated, so there is no reason for a short one")
    check_range(params["max_age_days"], "max_age_days", 1, 3650)
    return RotationSettings(
        username=params["username"], realm=params["realm"], max_age_days=params["max_age_days"],
        force=params["force"], check_mode=check_mode, requirements=requirements,
        secret_copies=tuple(secret_copy(spec) for spec in params.get("secret_copies") or []),
        adopt_from=secret_copy(params["adopt_from_secret"]) if params.get("adopt_from_secret") else None,
        rotated_by=params["rotated_by"], event_namespace=params.get("event_namespace"),
        event_object={"apiVersion": involved.get("api_version") or "k8s.keycloak.org/v2alpha1",
                      "kind": involved.get("kind") or "Keycloak", "name": involved.get("name") or "keycloak"},
        logout_sessions=params["logout_sessions"])


def rotate_keycloak_admin_password_task(module: HardeningModule) -> dict[str, Any]:
    """Run one rotation for an AnsibleModule; return the module result (never a password)."""
    params = module.params
    register = module.no_log_values.add
    settings = settings_from_params(params, module.check_mode)
    mount_point = check_vault_path(params["kv_mount_point"], "kv_mount_point")
    kv_path = check_vault_path(params["kv_path"], "kv_path")
    vault = vault_connection(module)
    store = VaultSecretStore(VaultKV2(vault, mount_point), kv_path)
    keycloak = KeycloakAdminPort(params, register)
    if keycloak.ignored_own_credentials:
        module.warn("keycloak_username is the user being rotated, so its configured password is ignored (the "
                    "rotation uses the passwords stored in Vault).")
    cluster = None
    if settings.secret_copies or settings.adopt_from or settings.event_namespace:
        cluster = KubernetesCluster(lambda: _kubernetes_connection(module), register)
    rotation = KeycloakAdminRotation(settings, store, keycloak, cluster, register)

    def requests() -> dict[str, int]:
        return {"vault": vault.request_count, "keycloak": keycloak.request_count,
                "kubernetes": sum(cluster.request_counts.values()) if cluster is not None else 0}

    try:
        try:
            result = rotation.run()
        finally:
            _revoke_login_token(module, vault)
    except RotationError as err:
        partial = rotation.result.as_dict()
        partial.pop("msg", None)
        if partial["action"] not in ("refused", "drift"):
            partial["action"] = "failed"
        partial["changed"] = rotation.wrote
        partial["api_requests"] = requests()
        for warning in rotation.result.warnings:
            module.warn(warning)
        raise RotationError(str(err), **partial) from None
    for warning in result.warnings:
        module.warn(warning)
    output = result.as_dict()
    output["api_requests"] = requests()
    if module.diff_mode and result.diff:
        output["diff"] = result.diff
    return output


def _revoke_login_token(module: HardeningModule, vault: Any) -> None:
    """A token this run obtained by logging in (AppRole, Kubernetes) dies with the run, whatever its TTL."""
    if vault.auth_method == "token":
        return  # the caller's own token: not ours to revoke
    try:
        revoke_self(vault)
    except HardeningError as err:
        module.warn(f"Could not revoke the Vault token of this run ({err}); it expires with its TTL.")


def _kubernetes_connection(module: HardeningModule) -> Any:
    # Imported on first use: a run that is not due and has no copies never talks to Kubernetes.
    from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection

    return kubernetes_connection(module)
