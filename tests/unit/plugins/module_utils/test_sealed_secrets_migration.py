"""Which Secrets migrate to SealedSecrets, and which ConfigMap keys look like credentials."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.credential_scan import (
    reason_for,
    scan_configmaps,
    shannon_entropy,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.secret_migration import (
    classify,
    desired_from_secret,
)


def secret(name: str, **fields: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "shop", **fields.pop("metadata", {})}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": fields.pop("type", "Opaque"),
            "data": fields.pop("data", {"password": base64.b64encode(b"pw").decode()}), **fields}


def test_only_plain_secrets_of_their_own_migrate_and_each_skip_says_why() -> None:
    secrets = [
        secret("db"),
        secret("sealed", metadata={"ownerReferences": [{"kind": "SealedSecret", "name": "sealed", "uid": "1"}]}),
        secret("tls", metadata={"ownerReferences": [{"kind": "Certificate", "name": "web", "uid": "2"}]}),
        secret("token", type="kubernetes.io/service-account-token"),
        secret("sh.helm.release.v1.shop.v1", type="helm.sh/release.v1"),
        secret("sealed-secrets-keyab1cd", type="kubernetes.io/tls",
               metadata={"labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}}),
        secret("frozen", immutable=True),
        secret("empty", data={}),
    ]
    candidates, skipped = classify(secrets)
    assert [c["metadata"]["name"] for c in candidates] == ["db"]
    reasons = {s.name: s.reason for s in skipped}
    assert reasons["sealed"].startswith("already sealed")
    assert reasons["tls"] == "owned by Certificate/web, which would re-create it"
    assert "service-account token" in reasons["token"] and "Helm release" in reasons["sh.helm.release.v1.shop.v1"]
    assert "sealing key" in reasons["sealed-secrets-keyab1cd"] and "immutable" in reasons["frozen"]
    assert reasons["empty"] == "no data"


def test_the_sealed_secret_keeps_type_labels_and_annotations_but_not_the_last_applied_configuration() -> None:
    desired = desired_from_secret(secret("db", type="kubernetes.io/basic-auth", metadata={
        "labels": {"app": "db"}, "annotations": {"team": "data",
                                                 "kubectl.kubernetes.io/last-applied-configuration": "{...}"}}),
        "strict")
    assert desired.secret_type == "kubernetes.io/basic-auth"
    assert (desired.labels, desired.annotations) == ({"app": "db"}, {"team": "data"})
    assert desired.values == {"password": b"pw"}


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("DB_PASSWORD", "hunter2", "the key's name looks like a credential"),
    ("api-key", "x", "the key's name looks like a credential"),
    ("tls.key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "the value holds a private key"),
    ("DATABASE_URL", "postgres://app:s3cr3t@db:5432/app", "the value is a URL with a password"),
    ("signing", "q8Zr4Lk2Vw9Xy7Tb3Nm6Pd1Hs5Jf0Gc", "the value looks random"),
    ("PASSWORD_FILE", "/run/secrets/db", None),           # a path to a credential, not one
    ("TOKEN_TTL", "3600", None),
    ("greeting", "Hello and welcome to the shop, dear customer", None),
    ("image", "registry.example.com/team/app:2.4.1", None),
    ("DATABASE_URL", "postgres://db:5432/app", None),
    ("password", "", None),                               # empty: nothing to protect
])
def test_credential_like_configmap_keys(key: str, value: str, expected: str | None) -> None:
    reason = reason_for(key, value)
    assert (reason is None) if expected is None else (reason is not None and reason.startswith(expected))


def test_findings_name_the_key_never_the_value() -> None:
    findings = scan_configmaps([{"metadata": {"name": "app", "namespace": "shop"},
                                 "data": {"DB_PASSWORD": "hunter2-the-value", "color": "blue"}}])
    assert [f.as_dict() for f in findings] == [{"namespace": "shop", "name": "app", "key": "DB_PASSWORD",
                                                "reason": "the key's name looks like a credential"}]
    assert "hunter2" not in repr(findings)


def test_entropy_separates_generated_secrets_from_words() -> None:
    assert shannon_entropy("aaaaaaaa") == 0
    assert shannon_entropy("correcthorsebatterystaple") < 4.0 < shannon_entropy("q8Zr4Lk2Vw9Xy7Tb3Nm6Pd1Hs5Jf0Gc")
