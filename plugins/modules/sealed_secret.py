#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sealed_secret
short_description: Seal a Secret into a SealedSecret, without churn, for the cluster and/or Git
version_added: 0.1.0
description:
  - Seals the values of a Secret given in the inventory into a Bitnami SealedSecret (the hybrid
    RSA-OAEP/AES-256-GCM format of the controller; one ciphertext per key) that the controller
    unseals into the Secret.
  - "No churn: sealing is randomized, so a value keeps its existing ciphertext when it is known to
    be unchanged: the cluster's SealedSecret holds that ciphertext, the controller synced it and the
    Secret it owns holds the same value; or, with O(hmac_key), the keyed HMAC in the annotation
    C(atlas.hardening/value-hmacs) matches. A re-run with the same values writes nothing; one changed
    value re-seals that key only."
  - The certificate comes from the controller through the API server's service proxy (as
    kubeseal fetches it), from O(certificate) or O(certificate_path), or from Vault
    (O(certificate_vault_path), what M(atlas.hardening.sealed_secrets_keys) backs up) for offline sealing.
  - The values are never shown, in any output, diff or file.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - atlas.hardening.vault
  - atlas.hardening.sealing_certificate
  - atlas.hardening.attributes
  - atlas.hardening.attributes.writes
  - atlas.hardening.attributes.actiongroup_vault_kubernetes
attributes:
  check_mode:
    details: Reads the cluster and plans; nothing is written to the cluster (dry-run apply) or to the file.
  diff_mode:
    details: Names the keys that are sealed again or removed, never a value or a ciphertext.
  idempotent:
    details: Unchanged values keep their ciphertext, so a re-run writes nothing.
options:
  name:
    description: Name of the Secret (and of the SealedSecret). With O(namespace) and O(data), or use O(secrets).
    type: str
  namespace:
    description: Namespace of the Secret.
    type: str
  data:
    description: The Secret's keys and values (never shown).
    type: dict
  secrets:
    description:
      - Several Secrets in one task (one certificate fetch, one LIST of SealedSecrets and of Secrets per
        namespace, instead of a task per Secret). Each element takes the keys below; what it leaves out
        comes from the module's options of the same name.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the Secret.
        type: str
        required: true
      namespace:
        description: Namespace of the Secret.
        type: str
        required: true
      data:
        description: The Secret's keys and values (never shown).
        type: dict
        required: true
      type:
        description: Type of the unsealed Secret (default O(type)).
        type: str
      labels:
        description: Labels of the unsealed Secret (default O(labels)).
        type: dict
      annotations:
        description: Annotations of the unsealed Secret (default O(annotations)).
        type: dict
      immutable:
        description: Make the unsealed Secret immutable (default O(immutable)).
        type: bool
      scope:
        description: The scope (default O(scope)).
        type: str
        choices: [strict, namespace-wide, cluster-wide]
      path:
        description: The file of this SealedSecret in a Git checkout.
        type: path
  data_encoding:
    description: V(text) values are used as given (UTF-8); V(base64) values are decoded first (binary data).
    type: str
    choices: [text, base64]
    default: text
  type:
    description: Type of the unsealed Secret.
    type: str
    default: Opaque
  labels:
    description: Labels of the unsealed Secret (the SealedSecret's template).
    type: dict
    default: {}
  annotations:
    description: Annotations of the unsealed Secret (the SealedSecret's template).
    type: dict
    default: {}
  immutable:
    description: Make the unsealed Secret immutable.
    type: bool
  scope:
    description:
      - V(strict) binds each value to the namespace and name; V(namespace-wide) to the namespace
        (the Secret may be renamed); V(cluster-wide) to nothing (it may be moved too).
    type: str
    choices: [strict, namespace-wide, cluster-wide]
    default: strict
  apply:
    description: Server-side apply the SealedSecret to the cluster.
    type: bool
    default: true
  path:
    description:
      - Also write the SealedSecret to this YAML file (in a Git checkout); rewritten only when its
        content changes, so an unchanged Secret keeps identical bytes.
    type: path
  hmac_key:
    description:
      - A secret key for the keyed HMACs that recognise unchanged values without the cluster (for
        Git-only sealing). Keep it in Vault; without it the HMACs cannot be tested against guesses.
    type: str
  re_encrypt:
    description:
      - Seal every value again with the current certificate when they were sealed with another one
        (after a key renewal; the equivalent of C(kubeseal --re-encrypt)). Values already sealed with
        the current certificate are kept.
    type: bool
    default: false
  adopt_existing:
    description:
      - When a Secret of that name exists and no SealedSecret owns it, annotate it
        C(sealedsecrets.bitnami.com/managed=true) so the controller takes it over. Without this the
        module refuses (the controller would).
    type: bool
    default: false
notes:
  - Requires the Python library C(cryptography).
"""

EXAMPLES = r"""
- name: Seal the Grafana admin credentials into the cluster and the GitOps repository
  atlas.hardening.sealed_secret:
    name: grafana-admin
    namespace: monitoring
    data:
      admin-user: admin
      admin-password: "{{ grafana_admin_password }}"
    path: "{{ gitops_checkout }}/monitoring/grafana-admin.sealedsecret.yaml"
  no_log: true

- name: Seal the shop's Secrets in one task (one certificate fetch, no task per Secret)
  atlas.hardening.sealed_secret:
    secrets:
      - {name: shop-db, namespace: shop, data: {password: "{{ shop_db_password }}"}, path: shop/shop-db.yaml}
      - {name: shop-smtp, namespace: shop, data: {password: "{{ shop_smtp_password }}"}, path: shop/shop-smtp.yaml}

- name: Seal offline with the certificate backed up in Vault, for Git only
  atlas.hardening.sealed_secret:
    name: registry-credentials
    namespace: ci
    type: kubernetes.io/dockerconfigjson
    data:
      .dockerconfigjson: "{{ registry_auth | to_json }}"
    apply: false
    path: ci/registry-credentials.yaml
    certificate_vault_path: platform/sealed-secrets/certificate
    hmac_key: "{{ lookup('community.hashi_vault.vault_kv2_get', 'platform/sealed-secrets/hmac').secret.key }}"
"""

RETURN = r"""
results:
  description:
    - With O(secrets), one entry per Secret, in order - name, namespace and the keys below
      (resealed_keys, kept_keys, removed_keys, file_changed, cluster_changed, adopted_secret, path,
      sealed_secret).
  returned: when O(secrets) is given
  type: list
  elements: dict
resealed_keys:
  description: Keys sealed in this run (new or changed values).
  returned: when O(name) is given
  type: list
  elements: str
kept_keys:
  description: Keys whose existing ciphertext was kept (value unchanged).
  returned: when O(name) is given
  type: list
  elements: str
removed_keys:
  description: Keys of the existing SealedSecret that are no longer in O(data).
  returned: when O(name) is given
  type: list
  elements: str
path:
  description: The file of the SealedSecret, when O(path) is given.
  returned: when O(name) is given
  type: str
certificate_fingerprint:
  description: SHA-256 fingerprint of the sealing certificate (DER).
  returned: always
  type: str
certificate_not_after:
  description: Expiry of the sealing certificate.
  returned: always
  type: str
file_changed:
  description: Whether O(path) was (or, in check mode, would be) rewritten.
  returned: when O(name) is given
  type: bool
cluster_changed:
  description: Whether the cluster's SealedSecret was (or would be) changed.
  returned: when O(name) is given
  type: bool
adopted_secret:
  description: Whether the existing Secret was annotated for the controller to take it over.
  returned: when O(name) is given
  type: bool
sealed_secret:
  description: The SealedSecret (ciphertexts only).
  returned: when O(name) is given
  type: dict
"""

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.certificate_sources import (
    OFFLINE_SOURCES,
    SEALING_CERTIFICATE_ARGSPEC,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_task import (
    sealed_secret_task,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    **SEALING_CERTIFICATE_ARGSPEC,
    name=dict(type="str"),
    namespace=dict(type="str"),
    data=dict(type="dict", no_log=True),
    # Not no_log as a whole (names and paths stay readable): each element's data is.
    secrets=dict(type="list", elements="dict", no_log=False, options=dict(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        data=dict(type="dict", required=True, no_log=True),
        type=dict(type="str"),
        labels=dict(type="dict"),
        annotations=dict(type="dict"),
        immutable=dict(type="bool"),
        scope=dict(type="str", choices=["strict", "namespace-wide", "cluster-wide"]),
        path=dict(type="path"),
    )),
    data_encoding=dict(type="str", choices=["text", "base64"], default="text"),
    type=dict(type="str", default="Opaque"),
    labels=dict(type="dict", default={}),
    annotations=dict(type="dict", default={}),
    immutable=dict(type="bool"),
    scope=dict(type="str", choices=["strict", "namespace-wide", "cluster-wide"], default="strict"),
    apply=dict(type="bool", default=True),
    path=dict(type="path"),
    hmac_key=dict(type="str", no_log=True),
    re_encrypt=dict(type="bool", default=False),
    adopt_existing=dict(type="bool", default=False),
)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes", "vault"),
                    mutually_exclusive=[OFFLINE_SOURCES, ("name", "secrets"), ("data", "secrets")],
                    required_one_of=[("name", "secrets")], required_together=[("name", "namespace", "data")]).run(
        sealed_secret_task)


if __name__ == "__main__":
    main()
