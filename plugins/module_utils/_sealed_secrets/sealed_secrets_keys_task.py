# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the sealed_secrets_keys module's run (backup, check, restore)."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.option_checks import check_vault_path
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339, utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import (
    WaitTarget,
    readiness_condition,
    wait_for,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.controller_endpoint import (
    ControllerEndpoint,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.key_backup import (
    SealingKeySecret,
    VaultKeyStore,
    cluster_keys,
)
from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import vault_connection
from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultKV2

RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"


class KeysNotBackedUp(HardeningError):
    """The cluster holds a key that Vault does not."""


def _hide(module: HardeningModule, keys: list[SealingKeySecret]) -> None:
    for key in keys:
        module.hide(key.secret_values())


def _backup(module: HardeningModule, keys: list[SealingKeySecret], store: VaultKeyStore) -> dict[str, list[str]]:
    written: list[str] = []
    unchanged: list[str] = []
    for key in keys:
        stored, version = store.read(key.name)
        if stored is not None and not stored.same_key(key):
            raise HardeningError(
                f"Vault {store.kv.mount_point}/{store.key_path(key.name)} holds a different key than the cluster's "
                f"Secret {key.name}: a key never changes, so one of them was replaced. Nothing was overwritten; "
                "find out which is right before backing up again.", written=written)
        if stored is not None and stored.label == key.label:
            unchanged.append(key.name)
            continue
        if not module.check_mode:
            store.kv.write(store.key_path(key.name), key.vault_data(), cas=version)
        written.append(key.name)
    return {"written": written, "unchanged": unchanged}


def _store_certificate(module: HardeningModule, store: VaultKeyStore, certificate_pem: str) -> bool:
    current = store.kv.read(store.certificate_path)
    if current is not None and (current.data or {}).get("tls.crt") == certificate_pem:
        return False
    if not module.check_mode:
        store.kv.write(store.certificate_path, {"tls.crt": certificate_pem}, cas=current.version if current else 0)
    return True


def _missing_in_vault(keys: list[SealingKeySecret], store: VaultKeyStore) -> list[str]:
    stored = set(store.names())
    return [key.name for key in keys if key.name not in stored]


def _restart_controller(objects: KubernetesObjects, namespace: str, name: str, timeout: float) -> None:
    """A rollout restart (what `kubectl rollout restart` does), then wait for the new Pod and /healthz."""
    ref = ObjectRef("apps/v1", "Deployment", name, namespace)
    resource = objects.resource("apps/v1", "Deployment")
    objects.connection.request("PATCH", resource.object_path(name, namespace), body={
        "spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: rfc3339(utc_now())}}}}},
        content_type="application/strategic-merge-patch+json")
    wait_for(objects, [WaitTarget(ref, resource, readiness_condition("apps/v1", "Deployment"))], timeout)
    endpoint = ControllerEndpoint(objects, namespace, name)
    if not endpoint.wait_healthy(timeout):
        raise HardeningError(f"{endpoint.where} did not answer /healthz within {timeout:g} s after the restart.")


def sealed_secrets_keys_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    state = params["state"]
    namespace, name = params["controller_namespace"], params["controller_name"]
    kv_path = check_vault_path(params["kv_path"], "kv_path")
    mount_point = check_vault_path(params["kv_mount_point"], "kv_mount_point")
    objects = KubernetesObjects(kubernetes_connection(module))
    store = VaultKeyStore(VaultKV2(vault_connection(module), mount_point), kv_path)
    keys = cluster_keys(objects, namespace)
    _hide(module, keys)
    result: dict[str, Any] = {"changed": False, "state": state, "cluster_keys": [k.name for k in keys]}

    if state == "check":
        missing = _missing_in_vault(keys, store)
        result["missing_in_vault"] = missing
        if missing:
            raise KeysNotBackedUp(f"{len(missing)} sealing key(s) of {namespace} are not in Vault "
                                  f"{mount_point}/{kv_path}/keys: {', '.join(missing)}. Run sealed_secrets_keys "
                                  "state=backup now: a cluster rebuilt without them cannot decrypt what they sealed.",
                                  **result)
        return result

    if state == "backup":
        if not keys:
            raise HardeningError(f"No sealing key in {namespace} (Secrets labelled "
                                 "sealedsecrets.bitnami.com/sealed-secrets-key): is the controller installed there? "
                                 "Set controller_namespace.", **result)
        outcome = _backup(module, keys, store)
        certificate = ControllerEndpoint(objects, namespace, name).certificate() if params["store_certificate"] \
            else None
        certificate_written = _store_certificate(module, store, certificate.pem) if certificate else False
        result.update(written=outcome["written"], unchanged=outcome["unchanged"],
                      certificate_written=certificate_written,
                      changed=bool(outcome["written"]) or certificate_written)
        if not module.check_mode:
            result["missing_in_vault"] = _missing_in_vault(keys, store)
            if result["missing_in_vault"]:
                raise KeysNotBackedUp(f"After the backup, Vault still lacks {', '.join(result['missing_in_vault'])}.",
                                      **result)
        return result

    # restore: every key of Vault into the cluster, then the controller restarted so it loads them.
    stored_keys = []
    for key_name in store.names():
        stored, _version = store.read(key_name)
        if stored is not None:
            stored_keys.append(stored)
    _hide(module, stored_keys)
    if not stored_keys:
        raise HardeningError(f"Vault {mount_point}/{kv_path}/keys holds no sealing key: nothing to restore "
                             "(was state=backup ever run against this path?).", **result)
    in_cluster = {key.name: key for key in keys}
    restored: list[str] = []
    for stored in stored_keys:
        live = in_cluster.get(stored.name)
        if live is not None:
            if not live.same_key(stored):
                raise HardeningError(f"The cluster's key Secret {namespace}/{stored.name} differs from Vault's copy: "
                                     f"nothing was overwritten (restored so far: {restored or 'none'}).",
                                     restored=restored)
            continue
        if not module.check_mode:
            objects.create(stored.secret_manifest(namespace), field_manager=params["field_manager"])
        restored.append(stored.name)
    result.update(restored=restored, changed=bool(restored), restarted=False, backed_up_after_restart=[])
    if restored and not module.check_mode and params["restart_controller"]:
        _restart_controller(objects, namespace, name, params["wait_timeout"])
        result["restarted"] = True
        # A restored set whose newest key is older than the renewal period makes the controller
        # create a key at once, and a rebuilt controller made one before the restore: back up every
        # key Vault lacks before anything is sealed with it.
        after = cluster_keys(objects, namespace)
        _hide(module, after)
        fresh = [key for key in after if key.name not in {k.name for k in stored_keys}]
        if fresh:
            _backup(module, fresh, store)
            result["backed_up_after_restart"] = [key.name for key in fresh]
    return result
