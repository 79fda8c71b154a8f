"""The collection's sealing against PyPI kubesealpy (an independent implementation that agrees with
upstream): what we seal, kubesealpy unseals, for the three scopes; and the no-churn plan."""

from __future__ import annotations

import base64
import copy
import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from kubesealpy import KubesealPyError, SealedSecret, SealingScope, Unsealer

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_output import needs_takeover
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealed_secret_plan import (
    ClusterEvidence,
    DesiredSecret,
    plan_sealed_secret,
)
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealing_crypto import (
    SealingCertificateError,
    load_certificate,
)

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate_pem(key: Any = _KEY, days: int = 30) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=5))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


CERTIFICATE = load_certificate(certificate_pem(), "a test")
NO_CLUSTER = ClusterEvidence(None, None)


def desired(**overrides: Any) -> DesiredSecret:
    values = dict(name="db", namespace="apps", values={"password": b"S3cret!", "user": b"app"})
    values.update(overrides)
    return DesiredSecret(**values)  # type: ignore[arg-type]


def kubesealpy_unseal(sealed: dict[str, Any]) -> dict[str, bytes]:
    secret = Unsealer([_KEY]).unseal(SealedSecret.model_validate(sealed))
    return {key: base64.b64decode(value) for key, value in secret.data.items()}


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_kubesealpy_unseals_what_we_seal_and_reads_the_scope_from_our_annotations(scope: str) -> None:
    plan = plan_sealed_secret(desired(scope=scope), CERTIFICATE, None, NO_CLUSTER)
    assert kubesealpy_unseal(plan.sealed_secret) == {"password": b"S3cret!", "user": b"app"}
    # The label binds the value: unsealing under another scope fails.
    other = {"strict": SealingScope.CLUSTER_WIDE, "namespace-wide": SealingScope.STRICT,
             "cluster-wide": SealingScope.NAMESPACE_WIDE}[scope]
    with pytest.raises(KubesealPyError):
        Unsealer([_KEY]).unseal(SealedSecret.model_validate(plan.sealed_secret), scope=other)


def test_a_4096_bit_certificate_gives_values_that_start_with_ag() -> None:
    """The 2-byte length prefix is 0x0200 for a 4096-bit key, so every value starts with 'Ag'."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    plan = plan_sealed_secret(desired(), load_certificate(certificate_pem(key), "a test"), None, NO_CLUSTER)
    assert all(value.startswith("Ag") for value in plan.sealed_secret["spec"]["encryptedData"].values())


def test_template_carries_type_labels_annotations_and_the_scope_as_kubeseal_writes_it() -> None:
    plan = plan_sealed_secret(desired(scope="namespace-wide", secret_type="kubernetes.io/basic-auth",
                                      labels={"app": "db"}, annotations={"team": "data"}, immutable=True),
                              CERTIFICATE, None, NO_CLUSTER)
    sealed = plan.sealed_secret
    assert sealed["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"] == "true"
    template = sealed["spec"]["template"]
    assert template["type"] == "kubernetes.io/basic-auth" and template["immutable"] is True
    assert template["metadata"]["labels"] == {"app": "db"}
    assert template["metadata"]["annotations"] == {"team": "data", "sealedsecrets.bitnami.com/namespace-wide": "true"}


def synced_cluster(sealed: dict[str, Any], values: dict[str, bytes]) -> ClusterEvidence:
    live = copy.deepcopy(sealed)
    live["metadata"].update(uid="u-1", generation=1)
    live["status"] = {"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "True"}]}
    secret = {"metadata": {"ownerReferences": [{"kind": "SealedSecret", "uid": "u-1"}]},
              "data": {key: base64.b64encode(value).decode() for key, value in values.items()}}
    return ClusterEvidence(live, secret)


def test_no_churn_from_the_unsealed_secret_and_one_changed_value_reseals_one_key() -> None:
    first = plan_sealed_secret(desired(), CERTIFICATE, None, NO_CLUSTER).sealed_secret
    evidence = synced_cluster(first, {"password": b"S3cret!", "user": b"app"})
    again = plan_sealed_secret(desired(), CERTIFICATE, first, evidence)
    assert (again.resealed, again.kept) == ([], ["password", "user"])
    assert again.sealed_secret == first
    changed = plan_sealed_secret(desired(values={"password": b"new", "user": b"app"}), CERTIFICATE, first, evidence)
    assert (changed.resealed, changed.kept) == (["password"], ["user"])
    assert changed.sealed_secret["spec"]["encryptedData"]["user"] == first["spec"]["encryptedData"]["user"]


@pytest.mark.parametrize("break_evidence", ["not synced", "stale generation", "other owner", "other ciphertext"])
def test_evidence_that_does_not_prove_the_value_reseals(break_evidence: str) -> None:
    first = plan_sealed_secret(desired(), CERTIFICATE, None, NO_CLUSTER).sealed_secret
    evidence = synced_cluster(first, {"password": b"S3cret!", "user": b"app"})
    live, secret = evidence.sealed_secret, evidence.secret
    assert live is not None and secret is not None
    if break_evidence == "not synced":
        live["status"]["conditions"][0]["status"] = "False"
    elif break_evidence == "stale generation":
        live["metadata"]["generation"] = 2
    elif break_evidence == "other owner":
        secret["metadata"]["ownerReferences"][0]["uid"] = "u-2"
    else:
        live["spec"]["encryptedData"]["password"] = "AgOther"
    plan = plan_sealed_secret(desired(), CERTIFICATE, first, evidence)
    assert "password" in plan.resealed


def test_no_churn_offline_with_a_keyed_hmac_and_the_hmac_is_not_a_plain_hash() -> None:
    first = plan_sealed_secret(desired(), CERTIFICATE, None, NO_CLUSTER, hmac_key="k1").sealed_secret
    again = plan_sealed_secret(desired(), CERTIFICATE, first, NO_CLUSTER, hmac_key="k1")
    assert again.resealed == [] and again.sealed_secret == first
    other_key = plan_sealed_secret(desired(), CERTIFICATE, first, NO_CLUSTER, hmac_key="k2")
    assert other_key.resealed == ["password", "user"]  # a guess cannot be tested without the key
    import hashlib  # pylint: disable=import-outside-toplevel
    annotation = first["metadata"]["annotations"]["atlas.hardening/value-hmacs"]
    assert hashlib.sha256(b"S3cret!").hexdigest() not in annotation
    assert base64.b64encode(hashlib.sha256(b"S3cret!").digest()).decode() not in annotation


def test_scope_or_name_change_and_re_encrypt_reseal_everything() -> None:
    first = plan_sealed_secret(desired(), CERTIFICATE, None, NO_CLUSTER, hmac_key="k").sealed_secret
    widened = plan_sealed_secret(desired(scope="cluster-wide"), CERTIFICATE, first, NO_CLUSTER, hmac_key="k")
    assert widened.resealed == ["password", "user"] and "scope" in widened.reason
    renewed = load_certificate(certificate_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "t")
    kept = plan_sealed_secret(desired(), renewed, first, NO_CLUSTER, hmac_key="k")
    assert kept.resealed == []  # old keys still decrypt: no re-encryption unless asked
    re_encrypted = plan_sealed_secret(desired(), renewed, first, NO_CLUSTER, hmac_key="k", re_encrypt=True)
    assert re_encrypted.resealed == ["password", "user"]
    assert re_encrypted.sealed_secret["metadata"]["annotations"]["atlas.hardening/sealed-with"] == renewed.fingerprint


@pytest.mark.parametrize(("pem", "message"), [
    (b"not a certificate", "is not a PEM X.509 certificate"),
    (certificate_pem(days=-2), "expired"),
])
def test_a_bad_certificate_is_refused_with_what_to_do(pem: bytes, message: str) -> None:
    with pytest.raises(SealingCertificateError, match=message):
        load_certificate(pem, "certificate_path /tmp/x.pem")


def test_an_unknown_scope_and_no_value_are_refused() -> None:
    with pytest.raises(HardeningError, match="Unknown scope 'global'"):
        desired(scope="global")
    with pytest.raises(HardeningError, match="no value to seal"):
        desired(values={})


def test_a_secret_another_sealed_secret_owns_is_refused_and_an_unmanaged_one_needs_adopt() -> None:
    live_sealed = {"metadata": {"uid": "mine"}}
    owned_by_other = {"metadata": {"ownerReferences": [{"kind": "SealedSecret", "uid": "theirs"}]}}
    with pytest.raises(HardeningError, match="belongs to another SealedSecret"):
        needs_takeover(owned_by_other, live_sealed, True, "apps/db")
    plain = {"metadata": {}}
    with pytest.raises(HardeningError, match="adopt_existing=true"):
        needs_takeover(plain, live_sealed, False, "apps/db")
    assert needs_takeover(plain, None, True, "apps/db") is True
    managed = {"metadata": {"annotations": {"sealedsecrets.bitnami.com/managed": "true"}}}
    assert needs_takeover(managed, None, False, "apps/db") is False
    ours = {"metadata": {"ownerReferences": [{"kind": "SealedSecret", "uid": "mine"}]}}
    assert needs_takeover(ours, live_sealed, False, "apps/db") is False
    assert needs_takeover(None, None, False, "apps/db") is False
