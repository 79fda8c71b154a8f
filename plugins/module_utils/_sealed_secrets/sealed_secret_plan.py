# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: build a SealedSecret without churn.

Sealing is randomized: sealing the same value twice gives two ciphertexts, so a naive re-run
rewrites every value and every GitOps diff. A value keeps its existing ciphertext when it is known
to be unchanged, and only then. Known means one of:

- **the unsealed Secret**: the cluster's SealedSecret holds that very ciphertext, the controller
  synced it (``Synced`` True for the current generation), and the Secret it owns holds the value;
- **a keyed HMAC** (``hmac_key``, a secret the user keeps in Vault): the SealedSecret's annotation
  ``atlas.hardening/value-hmacs`` holds HMAC-SHA256(key, label, name, value) per value. Without the
  key nobody can test a guess against it, unlike a plain hash.

Anything else re-seals the value. A change of scope, name or namespace re-seals everything (the
label binds each value to them), and so does ``re_encrypt`` when the values were sealed with
another certificate (annotation ``atlas.hardening/sealed-with``: the certificate's fingerprint).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealing_crypto import (
    SCOPES,
    SealingCertificate,
    scope_annotations,
    scope_label,
    scope_of,
)

API_VERSION = "bitnami.com/v1alpha1"
HMAC_ANNOTATION = "atlas.hardening/value-hmacs"
SEALED_WITH_ANNOTATION = "atlas.hardening/sealed-with"


@dataclass(frozen=True)
class DesiredSecret:
    name: str
    namespace: str
    values: dict[str, bytes]  # plaintexts: never in an output
    scope: str = "strict"
    secret_type: str = "Opaque"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    immutable: bool | None = None

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise HardeningError(f"Unknown scope {self.scope!r} for the SealedSecret {self.namespace}/{self.name}: "
                                 f"use one of {', '.join(SCOPES)}.")
        if not self.values:
            raise HardeningError(f"The Secret {self.namespace}/{self.name} has no value to seal: give at least one "
                                 "key in data.")

    @property
    def label(self) -> bytes:
        return scope_label(self.scope, self.namespace, self.name)


@dataclass(frozen=True)
class ClusterEvidence:
    """What the cluster shows about the values it unsealed: the live SealedSecret and its Secret."""

    sealed_secret: dict[str, Any] | None
    secret: dict[str, Any] | None

    def unsealed_value(self, key: str, ciphertext: str) -> bytes | None:
        """The plaintext the controller unsealed from ``ciphertext`` for ``key``, when provable."""
        sealed, secret = self.sealed_secret, self.secret
        if not sealed or not secret:
            return None
        if ((sealed.get("spec") or {}).get("encryptedData") or {}).get(key) != ciphertext:
            return None
        meta = sealed.get("metadata") or {}
        status = sealed.get("status") or {}
        synced = any(c.get("type") == "Synced" and c.get("status") == "True" for c in status.get("conditions") or [])
        if not synced or status.get("observedGeneration", meta.get("generation")) != meta.get("generation"):
            return None
        owners = (secret.get("metadata") or {}).get("ownerReferences") or []
        if not any(ref.get("uid") == meta.get("uid") and ref.get("kind") == "SealedSecret" for ref in owners):
            return None
        encoded = (secret.get("data") or {}).get(key)
        try:
            return base64.b64decode(encoded) if encoded is not None else None
        except ValueError:
            return None


@dataclass
class SealingPlan:
    sealed_secret: dict[str, Any]
    resealed: list[str]
    kept: list[str]
    removed: list[str]
    reason: str = ""


def value_hmac(hmac_key: str, desired: DesiredSecret, key: str, value: bytes) -> str:
    message = b"\0".join([desired.label, key.encode(), value])
    return base64.b64encode(hmac.new(hmac_key.encode(), message, hashlib.sha256).digest()).decode()


def existing_label(existing: dict[str, Any]) -> bytes:
    meta = existing.get("metadata") or {}
    return scope_label(scope_of(meta.get("annotations")), str(meta.get("namespace", "")), str(meta.get("name", "")))


def _sealed_with(old: str | None, current: str, kept: list[str], resealed: list[str]) -> str:
    """The fingerprint of the certificate that sealed every value, or "mixed" when that is not one
    certificate (or not known), which ``re_encrypt`` then seals again."""
    if not kept:
        return current
    if not resealed:
        return old or "mixed"
    return current if old == current else "mixed"


def plan_sealed_secret(desired: DesiredSecret, certificate: SealingCertificate, existing: dict[str, Any] | None,
                       evidence: ClusterEvidence, hmac_key: str | None = None,
                       re_encrypt: bool = False) -> SealingPlan:
    """The SealedSecret to write, keeping every ciphertext whose value is known to be unchanged."""
    old_data: dict[str, str] = {}
    old_hmacs: dict[str, str] = {}
    reason = ""
    if existing:
        old_annotations = (existing.get("metadata") or {}).get("annotations") or {}
        old_data = dict((existing.get("spec") or {}).get("encryptedData") or {})
        try:
            old_hmacs = json.loads(old_annotations.get(HMAC_ANNOTATION) or "{}")
        except ValueError:
            old_hmacs = {}
        if existing_label(existing) != desired.label:
            old_data, reason = {}, "the scope, name or namespace changed: every value is sealed again"
        elif re_encrypt and old_annotations.get(SEALED_WITH_ANNOTATION) != certificate.fingerprint:
            old_data, reason = {}, "re_encrypt: the values were sealed with another certificate"
    encrypted: dict[str, str] = {}
    hmacs: dict[str, str] = {}
    resealed, kept = [], []
    for key in sorted(desired.values):
        value = desired.values[key]
        digest = value_hmac(hmac_key, desired, key, value) if hmac_key else ""
        ciphertext = old_data.get(key)
        unchanged = ciphertext is not None and (
            (bool(hmac_key) and hmac.compare_digest(old_hmacs.get(key, ""), digest))
            or evidence.unsealed_value(key, ciphertext) == value)
        if unchanged and ciphertext is not None:  # (unchanged implies it; said again for the type checker)
            encrypted[key] = ciphertext
            kept.append(key)
        else:
            encrypted[key] = certificate.seal(value, desired.label)
            resealed.append(key)
        if hmac_key:
            hmacs[key] = digest
    removed = sorted(set(((existing or {}).get("spec") or {}).get("encryptedData") or {}) - set(desired.values))
    annotations = scope_annotations(desired.scope)
    old_fingerprint = ((existing or {}).get("metadata") or {}).get("annotations", {}).get(SEALED_WITH_ANNOTATION)
    annotations[SEALED_WITH_ANNOTATION] = _sealed_with(old_fingerprint, certificate.fingerprint, kept, resealed)
    if hmac_key:
        annotations[HMAC_ANNOTATION] = json.dumps(hmacs, sort_keys=True, separators=(",", ":"))
    template_meta: dict[str, Any] = {"name": desired.name, "namespace": desired.namespace}
    template_annotations = dict(desired.annotations, **scope_annotations(desired.scope))  # as kubeseal writes them
    if desired.labels:
        template_meta["labels"] = dict(desired.labels)
    if template_annotations:
        template_meta["annotations"] = template_annotations
    template: dict[str, Any] = {"metadata": template_meta, "type": desired.secret_type}
    if desired.immutable is not None:
        template["immutable"] = desired.immutable
    sealed_secret = {
        "apiVersion": API_VERSION, "kind": "SealedSecret",
        "metadata": {"name": desired.name, "namespace": desired.namespace, "annotations": annotations},
        "spec": {"encryptedData": encrypted, "template": template},
    }
    return SealingPlan(sealed_secret, resealed, kept, removed, reason)
