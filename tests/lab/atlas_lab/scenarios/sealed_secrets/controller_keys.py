"""Sealing keys as the Sealed Secrets controller (v0.38) keeps them, and its own decryption.

Written from the upstream code (pkg/crypto, pkg/controller/keys.go, pkg/apis/.../sealedsecret_expansion.go),
independently of the collection's sealing code: the lab's tests check the two against each other and
against PyPI kubesealpy.

- A key is a ``kubernetes.io/tls`` Secret (``tls.crt`` self-signed, CN ``sealed-secret``; ``tls.key``
  PKCS#1 ``RSA PRIVATE KEY``) created with ``generateName`` = the key prefix and the label
  ``sealedsecrets.bitnami.com/sealed-secrets-key=active``.
- The newest key by certificate NotBefore seals; every key decrypts, tried in random order.
"""

from __future__ import annotations

import base64
import datetime
import random
import re
import struct
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
NO_KEY_MESSAGE = "no key could decrypt secret"


class NoKeyCouldDecrypt(Exception):
    pass


@dataclass
class SealingKey:
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    secret_name: str = ""

    @property
    def not_before(self) -> datetime.datetime:
        return self.certificate.not_valid_before_utc

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def secret(self, namespace: str, prefix: str) -> dict[str, Any]:
        key_pem = self.private_key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                                 serialization.NoEncryption())
        return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"generateName": prefix, "namespace": namespace, "labels": {KEY_LABEL: "active"}},
                "data": {"tls.crt": base64.b64encode(self.certificate_pem()).decode(),
                         "tls.key": base64.b64encode(key_pem).decode()}}


def generate_key(key_size: int, ttl: datetime.timedelta) -> SealingKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(private_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(seconds=1)).not_valid_after(now + ttl)
                   .sign(private_key, hashes.SHA256()))
    return SealingKey(private_key, certificate)


def key_from_secret(secret: dict[str, Any]) -> SealingKey | None:
    data = secret.get("data") or {}
    try:
        private_key = serialization.load_pem_private_key(base64.b64decode(data["tls.key"]), password=None)
        certificate = x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"]))
    except (KeyError, ValueError, TypeError):
        return None
    if not isinstance(private_key, rsa.RSAPrivateKey):
        return None
    return SealingKey(private_key, certificate, (secret.get("metadata") or {}).get("name", ""))


def label_for(sealed_secret: dict[str, Any]) -> bytes:
    """The controller's SecretScope + label: from the SealedSecret's OWN annotations (exactly "true")."""
    meta = sealed_secret.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if annotations.get(CLUSTER_WIDE) == "true":
        return b""
    if annotations.get(NAMESPACE_WIDE) == "true":
        return str(meta.get("namespace", "")).encode()
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}".encode()


def decrypt(keys: list[SealingKey], label: bytes, value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise NoKeyCouldDecrypt(NO_KEY_MESSAGE) from None
    if len(raw) < 2:
        raise NoKeyCouldDecrypt(NO_KEY_MESSAGE)
    (length,) = struct.unpack(">H", raw[:2])
    wrapped, sealed = raw[2:2 + length], raw[2 + length:]
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    for key in random.sample(keys, len(keys)):
        try:
            return AESGCM(key.private_key.decrypt(wrapped, oaep)).decrypt(bytes(12), sealed, None)
        except (ValueError, InvalidTag):
            continue
    raise NoKeyCouldDecrypt(NO_KEY_MESSAGE)


def encrypt(key: SealingKey, label: bytes, plaintext: bytes) -> str:
    """What /v1/rotate does with the newest key (kubeseal's HybridEncrypt)."""
    import os  # pylint: disable=import-outside-toplevel
    session = os.urandom(32)
    wrapped = key.certificate.public_key().encrypt(  # type: ignore[union-attr]
        session, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label))
    return base64.b64encode(struct.pack(">H", len(wrapped)) + wrapped
                            + AESGCM(session).encrypt(bytes(12), plaintext, None)).decode()


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: str) -> float:
    """Seconds of a Go duration ("720h", "1h30m", "30s", "0")."""
    text = text.strip()
    if text in ("0", ""):
        return 0.0
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)
