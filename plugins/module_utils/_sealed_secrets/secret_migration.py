# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: which plaintext Secrets can move to SealedSecrets, and why not the others.

A Secret is a candidate when no SealedSecret and no other controller owns it and it holds data of
its own. Not candidates: service-account tokens, bootstrap tokens, Helm release records, the
controller's own keys (they must never be sealed with themselves), Secrets owned by an operator
(it would re-create them), immutable Secrets (the controller cannot update them in place).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.key_backup import KEY_LABEL
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_output import (
    MANAGED_ANNOTATION,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_plan import DesiredSecret

NOT_MIGRATED_TYPES = {
    "kubernetes.io/service-account-token": "a service-account token (the API server manages it)",
    "bootstrap.kubernetes.io/token": "a bootstrap token (kubeadm manages it)",
    "helm.sh/release.v1": "a Helm release record",
}
# Annotations that describe the live object, not the Secret to re-create (kubeseal strips them too).
DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", MANAGED_ANNOTATION)


@dataclass(frozen=True)
class Skipped:
    namespace: str
    name: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name, "reason": self.reason}


def _skip_reason(secret: dict[str, Any]) -> str | None:
    meta = secret.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    if any(owner.get("kind") == "SealedSecret" for owner in owners):
        return "already sealed (a SealedSecret owns it)"
    if owners:
        return f"owned by {owners[0].get('kind')}/{owners[0].get('name')}, which would re-create it"
    secret_type = secret.get("type") or "Opaque"
    if secret_type in NOT_MIGRATED_TYPES:
        return NOT_MIGRATED_TYPES[secret_type]
    if KEY_LABEL in (meta.get("labels") or {}):
        return "a sealing key of the controller (backed up to Vault, never sealed)"
    if secret.get("immutable"):
        return "immutable: the controller cannot take it over; re-create it from a SealedSecret"
    if not secret.get("data"):
        return "no data"
    return None


def classify(secrets: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Skipped]]:
    candidates, skipped = [], []
    for secret in sorted(secrets, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        reason = _skip_reason(secret)
        if reason is None:
            candidates.append(secret)
        else:
            skipped.append(Skipped(secret["metadata"].get("namespace", ""), secret["metadata"]["name"], reason))
    return candidates, skipped


def secret_values(secret: dict[str, Any]) -> dict[str, bytes]:
    return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


def desired_from_secret(secret: dict[str, Any], scope: str) -> DesiredSecret:
    meta = secret.get("metadata") or {}
    annotations = {key: value for key, value in (meta.get("annotations") or {}).items()
                   if key not in DROPPED_ANNOTATIONS}
    return DesiredSecret(name=meta["name"], namespace=meta.get("namespace", ""), values=secret_values(secret),
                         scope=scope, secret_type=secret.get("type") or "Opaque",
                         labels=dict(meta.get("labels") or {}), annotations=annotations)
