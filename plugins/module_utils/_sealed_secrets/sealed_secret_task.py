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
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.certificate_sources import (
    is_offline,
    sealing_certificate,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_output import (
    annotate_managed,
    apply_if_changed,
    needs_takeover,
    read_sealed_secret_file,
    write_file_if_changed,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_plan import (
    API_VERSION,
    ClusterEvidence,
    DesiredSecret,
    SealingPlan,
    plan_sealed_secret,
)


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


def sealed_secret_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    desired = desired_from_params(params)
    module.hide(value.decode("utf-8", errors="ignore") for value in desired.values.values())
    module.hide(base64.b64encode(value).decode() for value in desired.values.values())
    if params["hmac_key"]:
        module.hide([params["hmac_key"]])
    if not params["apply"] and not params["path"]:
        raise HardeningError("Nothing to write: set apply=true (the cluster) and/or path (a file in a Git checkout).")
    offline = is_offline(params)
    objects = KubernetesObjects(module.kubernetes()) if params["apply"] or not offline else None
    certificate = sealing_certificate(module, objects)
    ref = f"{desired.namespace}/{desired.name}"

    live_sealed = live_secret = None
    if objects is not None:
        live_sealed = objects.get(ObjectRef(API_VERSION, "SealedSecret", desired.name, desired.namespace))
        live_secret = objects.get(ObjectRef("v1", "Secret", desired.name, desired.namespace))
    adopt = needs_takeover(live_secret, live_sealed, params["adopt_existing"], ref) if params["apply"] else False
    existing = read_sealed_secret_file(params["path"]) if params["path"] else None
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
        result["file_changed"] = write_file_if_changed(params["path"], plan.sealed_secret, module.check_mode)
    if params["apply"] and objects is not None:
        if adopt:
            annotate_managed(objects, desired.namespace, desired.name, module.check_mode)
            result["adopted_secret"] = True
        result["cluster_changed"] = apply_if_changed(objects, plan.sealed_secret, live_sealed,
                                                     params["field_manager"], module.check_mode)
    result["changed"] = bool(result["file_changed"] or result["cluster_changed"] or result["adopted_secret"])
    if module.diff_mode:
        result["diff"] = _diff(ref, plan, result["changed"])
    result["sealed_secret"] = plan.sealed_secret
    return result


def _diff(ref: str, plan: SealingPlan, changed: bool) -> dict[str, str]:
    """Key names only: a ciphertext is noise to a reviewer and a value must never appear."""
    lines = [f"resealed: {key}" for key in plan.resealed] + [f"removed: {key}" for key in plan.removed]
    if changed and not lines:
        lines = ["metadata or template changed; no value re-sealed"]
    return {"before_header": f"SealedSecret {ref}", "after_header": f"SealedSecret {ref}",
            "before": "", "after": "\n".join(lines) + ("\n" if lines else "")}
