# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Sealed Secrets' hybrid encryption and its sealing certificate.

The format of the controller (bitnami sealed-secrets, pkg/crypto ``HybridEncrypt``): a random
32-byte session key encrypts the value with AES-256-GCM (all-zero 12-byte nonce, which is safe
because the key is used once, no additional data); the session key is wrapped with RSA-OAEP
(SHA-256) under a label that binds the value to its scope; the output is the RSA ciphertext's
length (2 bytes, big-endian), the RSA ciphertext, then the GCM output. One value per key of the
Secret, base64 in ``spec.encryptedData``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = None
except ImportError as import_error:  # pragma: no cover - reported by the modules with missing_required_lib
    CRYPTOGRAPHY_IMPORT_ERROR = import_error

SESSION_KEY_BYTES = 32
GCM_NONCE = bytes(12)
# Scopes and the annotations that select them (the controller reads them from the SealedSecret's
# own metadata; the values must be exactly "true").
STRICT, NAMESPACE_WIDE, CLUSTER_WIDE = "strict", "namespace-wide", "cluster-wide"
SCOPES = (STRICT, NAMESPACE_WIDE, CLUSTER_WIDE)
SCOPE_ANNOTATIONS = {NAMESPACE_WIDE: "sealedsecrets.bitnami.com/namespace-wide",
                     CLUSTER_WIDE: "sealedsecrets.bitnami.com/cluster-wide"}


class SealingCertificateError(HardeningError):
    """The sealing certificate cannot be used (not a certificate, not RSA, expired)."""


def scope_label(scope: str, namespace: str, name: str) -> bytes:
    """The RSA-OAEP label of a scope: ``namespace/name``, ``namespace`` or empty (the controller's code
    puts a slash between namespace and name)."""
    if scope == STRICT:
        return f"{namespace}/{name}".encode()
    if scope == NAMESPACE_WIDE:
        return namespace.encode()
    if scope == CLUSTER_WIDE:
        return b""
    raise HardeningError(f"Unknown sealing scope {scope!r}: use one of {', '.join(SCOPES)}.")


def scope_of(annotations: dict[str, Any] | None) -> str:
    """The scope the controller derives from a SealedSecret's annotations (cluster-wide wins)."""
    annotations = annotations or {}
    if annotations.get(SCOPE_ANNOTATIONS[CLUSTER_WIDE]) == "true":
        return CLUSTER_WIDE
    if annotations.get(SCOPE_ANNOTATIONS[NAMESPACE_WIDE]) == "true":
        return NAMESPACE_WIDE
    return STRICT


def scope_annotations(scope: str) -> dict[str, str]:
    return {SCOPE_ANNOTATIONS[scope]: "true"} if scope in SCOPE_ANNOTATIONS else {}


@dataclass(frozen=True)
class SealingCertificate:
    """The controller's public certificate: what sealing needs, and what a report may show."""

    public_key: Any  # cryptography RSAPublicKey
    fingerprint: str  # sha256 of the DER certificate, hex
    not_before: str
    not_after: str
    pem: str

    def seal(self, plaintext: bytes, label: bytes) -> str:
        """One value of ``spec.encryptedData`` (base64)."""
        session_key = os.urandom(SESSION_KEY_BYTES)
        wrapped = self.public_key.encrypt(session_key, padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label))
        sealed = AESGCM(session_key).encrypt(GCM_NONCE, plaintext, None)
        return base64.b64encode(struct.pack(">H", len(wrapped)) + wrapped + sealed).decode("ascii")


def load_certificate(pem: bytes | str, where: str, now: datetime | None = None) -> SealingCertificate:
    """Parse the controller's certificate (``/v1/cert.pem``, a file, or a copy in Vault)."""
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        raise SealingCertificateError("Sealing needs the Python library cryptography on the host that runs the "
                                      "module: pip install cryptography.")
    data = pem.encode() if isinstance(pem, str) else bytes(pem)
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise SealingCertificateError(
            f"The sealing certificate from {where} is not a PEM X.509 certificate (it should start with "
            "'-----BEGIN CERTIFICATE-----', as `kubeseal --fetch-cert` prints it).") from None
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SealingCertificateError(f"The sealing certificate from {where} does not hold an RSA key: Sealed "
                                      "Secrets seals with RSA-OAEP only.")
    moment = now or datetime.now(timezone.utc)
    not_after = certificate.not_valid_after_utc
    if not_after < moment:
        raise SealingCertificateError(f"The sealing certificate from {where} expired on {not_after.isoformat()}: "
                                      "fetch the controller's current certificate.")
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return SealingCertificate(public_key, fingerprint, certificate.not_valid_before_utc.isoformat(),
                              not_after.isoformat(), data.decode("ascii", errors="replace"))
