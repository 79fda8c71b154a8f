# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the sealed_secret module's run, for one Secret or many (``secrets``).

Order: validate every option and every Secret, load the certificate once, read what exists (the Git
files; the cluster's SealedSecrets and Secrets, with one GET each for one Secret, one LIST of each
per namespace for many), plan every Secret without churn, and only then write the files and/or
apply to the cluster, where something changed. A failure while writing names what was written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesError
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

# What each element of ``secrets`` sets; what it leaves out comes from the module's options.
SECRET_FIELDS = ("name", "namespace", "data", "type", "labels", "annotations", "immutable", "scope", "path")


@dataclass
class _Planned:
    desired: DesiredSecret
    path: str | None
    live_sealed: dict[str, Any] | None
    plan: SealingPlan
    takeover: bool

    @property
    def ref(self) -> str:
        return f"{self.desired.namespace}/{self.desired.name}"


def _values(data: Mapping[str, Any], encoding: str, where: str) -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    for key, value in (data or {}).items():
        text = "" if value is None else str(value)
        if encoding == "base64":
            try:
                values[key] = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise HardeningError(f"{where}.{key} is not valid base64 (data_encoding=base64); its value is not "
                                     "shown.") from None
        else:
            values[key] = text.encode()
    return values


def requested_secrets(params: dict[str, Any]) -> list[tuple[DesiredSecret, str | None]]:
    """(the Secret, its file) for ``name``/``namespace``/``data`` or for each element of ``secrets``."""
    # The argument spec checks each element's keys (suboptions) and that exactly one form is given.
    if params["secrets"] is None:
        entries = [{field: params[field] for field in SECRET_FIELDS}]
    else:
        entries = [{field: entry.get(field) for field in SECRET_FIELDS} for entry in params["secrets"]]
    requested, seen = [], set()
    for index, entry in enumerate(entries):
        where = "data" if params["secrets"] is None else f"secrets[{index}].data"
        desired = DesiredSecret(name=str(entry["name"]), namespace=str(entry["namespace"]),
                                values=_values(entry["data"], params["data_encoding"], where),
                                scope=str(entry["scope"] or params["scope"]),
                                secret_type=str(entry["type"] or params["type"]),
                                labels=dict(entry["labels"] or params["labels"] or {}),
                                annotations=dict(entry["annotations"] or params["annotations"] or {}),
                                immutable=entry["immutable"] if entry["immutable"] is not None else params["immutable"])
        if (desired.namespace, desired.name) in seen:
            raise HardeningError(f"The Secret {desired.namespace}/{desired.name} is given twice.")
        seen.add((desired.namespace, desired.name))
        requested.append((desired, entry["path"] or (params["path"] if params["secrets"] is None else None)))
    return requested


def _live(objects: KubernetesObjects, requested: list[tuple[DesiredSecret, str | None]]
          ) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The cluster's SealedSecrets and Secrets of the requested names, by (kind, namespace, name)."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    if len(requested) == 1:
        desired = requested[0][0]
        for api_version, kind in ((API_VERSION, "SealedSecret"), ("v1", "Secret")):
            obj = objects.get(ObjectRef(api_version, kind, desired.name, desired.namespace))
            if obj is not None:
                found[(kind, desired.namespace, desired.name)] = obj
        return found
    wanted = {(desired.namespace, desired.name) for desired, _path in requested}
    for namespace in sorted({namespace for namespace, _name in wanted}):
        for api_version, kind in ((API_VERSION, "SealedSecret"), ("v1", "Secret")):
            for obj in objects.list(objects.resource(api_version, kind), namespace)[0]:
                name = (obj.get("metadata") or {}).get("name", "")
                if (namespace, name) in wanted:
                    found[(kind, namespace, name)] = obj
    return found


def sealed_secret_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    requested = requested_secrets(params)
    for desired, _path in requested:
        module.hide(value.decode("utf-8", errors="ignore") for value in desired.values.values())
        module.hide(base64.b64encode(value).decode() for value in desired.values.values())
    if params["hmac_key"]:
        module.hide([params["hmac_key"]])
    if not params["apply"] and not all(path for _desired, path in requested):
        raise HardeningError("Nothing to write for a Secret: set apply=true (the cluster) and/or path (a file in a "
                             "Git checkout) for each Secret.")
    objects = KubernetesObjects(kubernetes_connection(module)) if params["apply"] or not is_offline(params) else None
    certificate = sealing_certificate(module, objects)
    live = _live(objects, requested) if objects is not None else {}
    if objects is None and not params["hmac_key"]:
        module.warn("Without a cluster to compare with and without hmac_key, unchanged values cannot be recognised: "
                    "every run seals every value again. Set hmac_key (kept in Vault) to avoid the churn.")

    planned = []
    for desired, path in requested:  # every check before the first write
        key = (desired.namespace, desired.name)
        live_sealed, live_secret = live.get(("SealedSecret", *key)), live.get(("Secret", *key))
        ref = f"{desired.namespace}/{desired.name}"
        takeover = needs_takeover(live_secret, live_sealed, params["adopt_existing"], ref) if params["apply"] else False
        existing = (read_sealed_secret_file(path) if path else None) or live_sealed
        plan = plan_sealed_secret(desired, certificate, existing, ClusterEvidence(live_sealed, live_secret),
                                  hmac_key=params["hmac_key"], re_encrypt=params["re_encrypt"])
        planned.append(_Planned(desired, path, live_sealed, plan, takeover))

    results: list[dict[str, Any]] = []
    for item in planned:
        try:
            results.append(_write(module, objects, item))
        except (KubernetesError, OSError) as exc:
            written = ", ".join(r["namespace"] + "/" + r["name"] for r in results if r["changed"]) or "none"
            raise HardeningError(f"Writing the SealedSecret {item.ref} failed: {exc} Written before it: {written}; "
                                 "a re-run keeps what was written and finishes the rest.", results=results) from None
    result: dict[str, Any] = {"changed": any(r["changed"] for r in results),
                              "certificate_fingerprint": certificate.fingerprint,
                              "certificate_not_after": certificate.not_after}
    if params["secrets"] is None:
        result.update({key: value for key, value in results[0].items() if key not in ("name", "namespace")})
    else:
        result["results"] = results
    if module.diff_mode:
        result["diff"] = [_diff(item, entry["changed"]) for item, entry in zip(planned, results)]
        if params["secrets"] is None:
            result["diff"] = result["diff"][0]
    return result


def _write(module: HardeningModule, objects: KubernetesObjects | None, item: _Planned) -> dict[str, Any]:
    params = module.params
    entry: dict[str, Any] = {"name": item.desired.name, "namespace": item.desired.namespace,
                             "resealed_keys": item.plan.resealed, "kept_keys": item.plan.kept,
                             "removed_keys": item.plan.removed, "file_changed": False, "cluster_changed": False,
                             "adopted_secret": False, "path": item.path}
    if item.plan.reason:
        entry["reason"] = item.plan.reason
    if item.path:
        entry["file_changed"] = write_file_if_changed(item.path, item.plan.sealed_secret, module.check_mode)
    if params["apply"] and objects is not None:
        if item.takeover:
            annotate_managed(objects, item.desired.namespace, item.desired.name, module.check_mode)
            entry["adopted_secret"] = True
        entry["cluster_changed"] = apply_if_changed(objects, item.plan.sealed_secret, item.live_sealed,
                                                    params["field_manager"], module.check_mode)
    entry["changed"] = bool(entry["file_changed"] or entry["cluster_changed"] or entry["adopted_secret"])
    entry["sealed_secret"] = item.plan.sealed_secret
    return entry


def _diff(item: _Planned, changed: bool) -> dict[str, str]:
    """Key names only: a ciphertext is noise to a reviewer and a value must never appear."""
    plan = item.plan
    lines = [f"resealed: {key}" for key in plan.resealed] + [f"removed: {key}" for key in plan.removed]
    if changed and not lines:
        lines = ["metadata or template changed; no value re-sealed"]
    return {"before_header": f"SealedSecret {item.ref}", "after_header": f"SealedSecret {item.ref}",
            "before": "", "after": "\n".join(lines) + ("\n" if lines else "")}
