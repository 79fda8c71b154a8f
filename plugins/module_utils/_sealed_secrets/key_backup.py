# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the controller's sealing keys, kept in Vault so none is ever lost.

Layout under ``<kv_path>`` in a KV v2 mount:

- ``keys/<Secret name>``: one entry per key Secret (``tls.crt``, ``tls.key``, the key label's value),
  written with check-and-set, rewritten only when it differs (a key never changes: a difference
  means someone replaced it, which the backup refuses to hide);
- ``certificate``: the newest certificate (field ``tls.crt``), for offline sealing.

Every key is backed up, not only the newest: renewal adds a key and the old ones still decrypt
what was sealed with them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultKV2

KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
FIELDS = ("tls.crt", "tls.key")


@dataclass(frozen=True)
class SealingKeySecret:
    name: str
    label: str  # "active", or "compromised" for a key taken out of sealing
    certificate: str  # PEM
    private_key: str  # PEM: never in an output

    def same_key(self, other: SealingKeySecret) -> bool:
        """The same key pair (a key never changes: a difference means one copy was replaced)."""
        return (self.certificate, self.private_key) == (other.certificate, other.private_key)

    def vault_data(self) -> dict[str, str]:
        return {"name": self.name, "label": self.label, "tls.crt": self.certificate, "tls.key": self.private_key}

    def secret_manifest(self, namespace: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": self.name, "namespace": namespace, "labels": {KEY_LABEL: self.label}},
                "data": {"tls.crt": base64.b64encode(self.certificate.encode()).decode(),
                         "tls.key": base64.b64encode(self.private_key.encode()).decode()}}

    def secret_values(self) -> list[str]:
        """What to hide: the private key as PEM, base64, and each of its lines."""
        encoded = base64.b64encode(self.private_key.encode()).decode()
        lines = [line for line in self.private_key.splitlines() if line and not line.startswith("-----")]
        return [self.private_key, encoded, *lines]


def cluster_keys(objects: KubernetesObjects, namespace: str) -> list[SealingKeySecret]:
    """Every Secret of ``namespace`` carrying the key label (any value), in one LIST."""
    secrets, _version = objects.list(objects.resource("v1", "Secret"), namespace, label_selector=KEY_LABEL)
    keys = []
    for secret in secrets:
        meta = secret.get("metadata") or {}
        data = secret.get("data") or {}
        try:
            certificate, private_key = (base64.b64decode(data[field]).decode() for field in FIELDS)
        except (KeyError, ValueError, UnicodeDecodeError):
            raise HardeningError(f"The key Secret {namespace}/{meta.get('name')} has no readable tls.crt and tls.key: "
                                 "it is not a sealing key the controller could load. Fix or unlabel it.") from None
        keys.append(SealingKeySecret(meta.get("name", ""), (meta.get("labels") or {}).get(KEY_LABEL, ""),
                                     certificate, private_key))
    return sorted(keys, key=lambda key: key.name)


class VaultKeyStore:
    def __init__(self, kv: VaultKV2, path: str) -> None:
        self.kv = kv
        self.path = path.strip("/")

    def key_path(self, name: str) -> str:
        return f"{self.path}/keys/{name}"

    @property
    def certificate_path(self) -> str:
        return f"{self.path}/certificate"

    def names(self) -> list[str]:
        return [name for name in self.kv.list_keys(f"{self.path}/keys") if not name.endswith("/")]

    def read(self, name: str) -> tuple[SealingKeySecret | None, int]:
        stored = self.kv.read(self.key_path(name))
        if stored is None:
            return None, 0
        data = stored.data or {}
        if not all(data.get(field) for field in FIELDS):
            return None, stored.version
        return SealingKeySecret(name, str(data.get("label") or "active"), str(data["tls.crt"]),
                                str(data["tls.key"])), stored.version
