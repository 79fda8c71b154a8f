# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the sealed_secret module's run.

Order: validate every option and load the certificate (nothing written yet), read what exists
(the Git file, the cluster's SealedSecret and Secret), plan without churn, then write the file
and/or apply to the cluster, only where something changed.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from typing import Any

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core; only sanity's import test lacks it
    yaml = None

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.change_detection import is_up_to_date
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.controller_endpoint import (
    ControllerEndpoint,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_plan import (
    API_VERSION,
    ClusterEvidence,
    DesiredSecret,
    SealingPlan,
    plan_sealed_secret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealing_crypto import (
    SealingCertificate,
    load_certificate,
)

MANAGED_ANNOTATION = "sealedsecrets.bitnami.com/managed"


def desired_from_params(params: dict[str, Any]) -> DesiredSecret:
    values: dict[str, bytes] = {}
    for key, value in (params["data"] or {}).items():
        text = "" if value is None else str(value)
        if params["data_encoding"] == "base64":
            try:
                values[key] = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise HardeningError(f"data.{key} is not valid base64 (data_encoding=base64); its value is not "
                                     "shown.") from None
        else:
            values[key] = text.encode()
    return DesiredSecret(name=params["name"], namespace=params["namespace"], values=values, scope=params["scope"],
                         secret_type=params["type"], labels=dict(params["labels"] or {}),
                         annotations=dict(params["annotations"] or {}), immutable=params["immutable"])


def _certificate(module: HardeningModule, objects: KubernetesObjects | None) -> SealingCertificate:
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
        from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultKV2

        stored = VaultKV2(module.vault(), params["certificate_vault_mount_point"]).read(params["certificate_vault_path"])
        pem = (stored.data or {}).get("tls.crt") if stored else None
        where = f"Vault {params['certificate_vault_mount_point']}/{params['certificate_vault_path']} (field tls.crt)"
        if not pem:
            raise HardeningError(f"No certificate at {where}: back the keys up first (sealed_secrets_keys "
                                 "state=backup) or give the certificate another way.")
        return load_certificate(pem, where)
    if objects is None:  # pragma: no cover - an offline source was given above
        raise HardeningError("No certificate source: give certificate, certificate_path or certificate_vault_path.")
    return ControllerEndpoint(objects, params["controller_namespace"], params["controller_name"]).certificate()


def _read_file(path: str) -> dict[str, Any] | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise HardeningError(f"Cannot read the SealedSecret file {path}: {exc}. Fix or remove it.") from None
    if not isinstance(document, dict) or document.get("kind") != "SealedSecret":
        raise HardeningError(f"{path} does not hold a SealedSecret: give the path of the SealedSecret's file.")
    return document


def render_file(sealed_secret: dict[str, Any]) -> str:
    """The Git file: stable key order and line layout, so an unchanged object gives identical bytes."""
    return "---\n" + yaml.safe_dump(sealed_secret, default_flow_style=False, sort_keys=False, width=1 << 20)


def _write_file(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".sealed-secret-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # ciphertexts only: meant for Git
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _check_secret_ownership(secret: dict[str, Any] | None, sealed: dict[str, Any] | None, adopt: bool,
                            ref: str) -> bool:
    """Whether the existing Secret must be annotated for the controller to take it over."""
    if secret is None:
        return False
    meta = secret.get("metadata") or {}
    owners = [owner for owner in meta.get("ownerReferences") or [] if owner.get("kind") == "SealedSecret"]
    if sealed is not None and any(owner.get("uid") == (sealed.get("metadata") or {}).get("uid") for owner in owners):
        return False
    if owners:
        raise HardeningError(f"The Secret {ref} belongs to another SealedSecret (uid {owners[0].get('uid')}): "
                             "delete that one first. Nothing was written.")
    if (meta.get("annotations") or {}).get(MANAGED_ANNOTATION) == "true":
        return False
    if not adopt:
        raise HardeningError(f"The Secret {ref} already exists and no SealedSecret owns it: the controller would "
                             "refuse to overwrite it. Set adopt_existing=true to let the controller take it over "
                             f"(annotation {MANAGED_ANNOTATION}), or delete it. Nothing was written.")
    return True


def sealed_secret_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    desired = desired_from_params(params)
    module.hide(value.decode("utf-8", errors="ignore") for value in desired.values.values())
    module.hide(base64.b64encode(value).decode() for value in desired.values.values())
    if params["hmac_key"]:
        module.hide([params["hmac_key"]])
    if not params["apply"] and not params["path"]:
        raise HardeningError("Nothing to write: set apply=true (the cluster) and/or path (a file in a Git checkout).")
    offline = bool(params["certificate"] or params["certificate_path"] or params["certificate_vault_path"])
    objects = KubernetesObjects(module.kubernetes()) if params["apply"] or not offline else None
    certificate = _certificate(module, objects)
    ref = f"{desired.namespace}/{desired.name}"

    live_sealed = live_secret = None
    if objects is not None:
        live_sealed = objects.get(ObjectRef(API_VERSION, "SealedSecret", desired.name, desired.namespace))
        live_secret = objects.get(ObjectRef("v1", "Secret", desired.name, desired.namespace))
    adopt = _check_secret_ownership(live_secret, live_sealed, params["adopt_existing"], ref) if params["apply"] else False
    existing = _read_file(params["path"]) if params["path"] else None
    if existing is None:
        existing = live_sealed
    if objects is None and not params["hmac_key"]:
        module.warn("Without a cluster to compare with and without hmac_key, unchanged values cannot be recognised: "
                    "every run seals every value again. Set hmac_key (kept in Vault) to avoid the churn.")
    plan = plan_sealed_secret(desired, certificate, existing, ClusterEvidence(live_sealed, live_secret),
                              hmac_key=params["hmac_key"], re_encrypt=params["re_encrypt"])

    result: dict[str, Any] = {"changed": False, "resealed_keys": plan.resealed, "kept_keys": plan.kept,
                              "removed_keys": plan.removed, "certificate_fingerprint": certificate.fingerprint,
                              "certificate_not_after": certificate.not_after, "file_changed": False,
                              "cluster_changed": False, "adopted_secret": False}
    if plan.reason:
        result["reason"] = plan.reason
    if params["path"]:
        text = render_file(plan.sealed_secret)
        current = _current_text(params["path"])
        if current != text:
            result["file_changed"] = True
            if not module.check_mode:
                _write_file(params["path"], text)
    if params["apply"] and objects is not None:
        field_manager = params["field_manager"]
        if adopt:
            result["adopted_secret"] = True
            if not module.check_mode:
                objects.connection.request(
                    "PATCH", objects.resource("v1", "Secret").object_path(desired.name, desired.namespace),
                    body={"metadata": {"annotations": {MANAGED_ANNOTATION: "true"}}},
                    content_type="application/merge-patch+json")
        if not is_up_to_date(plan.sealed_secret, live_sealed, field_manager):
            objects.apply(plan.sealed_secret, field_manager=field_manager, force=True, dry_run=module.check_mode)
            result["cluster_changed"] = True
    result["changed"] = bool(result["file_changed"] or result["cluster_changed"] or result["adopted_secret"])
    if module.diff_mode:
        result["diff"] = _diff(ref, plan, result["changed"])
    result["sealed_secret"] = plan.sealed_secret
    return result


def _current_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _diff(ref: str, plan: SealingPlan, changed: bool) -> dict[str, str]:
    """Key names only: a ciphertext is noise to a reviewer and a value must never appear."""
    lines = [f"resealed: {key}" for key in plan.resealed] + [f"removed: {key}" for key in plan.removed]
    if changed and not lines:
        lines = ["metadata or template changed; no value re-sealed"]
    return {"before_header": f"SealedSecret {ref}", "after_header": f"SealedSecret {ref}",
            "before": "", "after": "\n".join(lines) + ("\n" if lines else "")}
