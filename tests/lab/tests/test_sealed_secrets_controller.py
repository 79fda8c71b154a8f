"""The simulated Sealed Secrets controller against the upstream behaviour, checked with independent
tools: the real kubectl fetches the certificate through the service proxy, and PyPI kubesealpy (an
independent implementation that agrees with upstream) seals what the lab controller must unseal,
for the three scopes, and unseals with the lab controller's private keys."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from kubesealpy import Sealer, SealingScope, Unsealer

from atlas_lab.pytest_plugin import wait_for
from atlas_lab.scenarios.sealed_secrets.controller import SealedSecretsController

NAMESPACE = "kube-system"
CERT_PATH = f"/api/v1/namespaces/{NAMESPACE}/services/http:sealed-secrets-controller:/proxy/v1/cert.pem"
KEY_SELECTOR = "sealedsecrets.bitnami.com/sealed-secrets-key"
SCOPES = {"strict": SealingScope.STRICT, "namespace-wide": SealingScope.NAMESPACE_WIDE,
          "cluster-wide": SealingScope.CLUSTER_WIDE}


def controller_objects(renew_period: str = "720h") -> str:
    labels = {"name": "sealed-secrets-controller"}
    return yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "sealed-secrets-controller", "namespace": NAMESPACE},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "sealed-secrets-controller", "namespace": NAMESPACE},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                      "name": "sealed-secrets-controller", "command": ["controller"],
                      "args": [f"--key-renew-period={renew_period}"],
                      "image": "docker.io/bitnami/sealed-secrets-controller:0.38.4",
                      "ports": [{"name": "http", "containerPort": 8080}]}]}}}},
    ])


@pytest.fixture
def controller(k8s: Any) -> Iterator[tuple[Any, SealedSecretsController]]:
    simulated = SealedSecretsController()
    k8s.app.add_controller(simulated)
    try:
        k8s.kubectl("apply", "-f", "-", stdin=controller_objects())
        wait_for(simulated.leader, what="the controller to start")
        yield k8s, simulated
    finally:
        k8s.app.controllers.remove(simulated)
        simulated.reset()


def key_secrets(k8s: Any) -> list[dict[str, Any]]:
    return json.loads(k8s.kubectl("get", "secrets", "-n", NAMESPACE, "-l", KEY_SELECTOR, "-o", "json").stdout)["items"]


def unsealer(k8s: Any) -> Unsealer:
    keys = [serialization.load_pem_private_key(base64.b64decode(s["data"]["tls.key"]), password=None)
            for s in key_secrets(k8s)]
    return Unsealer(keys)  # type: ignore[arg-type]


def sealed_by_kubesealpy(k8s: Any, name: str, namespace: str, scope: str, value: bytes) -> dict[str, Any]:
    pem = k8s.kubectl("get", "--raw", CERT_PATH).stdout
    sealed = Sealer.from_certificate_pem(pem).seal(name=name, namespace=namespace, data={"password": value},
                                                   scope=SCOPES[scope])
    return yaml.safe_load(sealed.to_yaml())


def apply_sealed(k8s: Any, sealed: dict[str, Any], name: str, namespace: str) -> None:
    sealed = json.loads(json.dumps(sealed))
    sealed["metadata"].update(name=name, namespace=namespace)
    sealed["spec"].get("template", {}).get("metadata", {}).update(name=name, namespace=namespace)
    k8s.kubectl("create", "namespace", namespace, check=False)
    k8s.kubectl("apply", "-f", "-", stdin=json.dumps(sealed))


def synced(k8s: Any, name: str, namespace: str) -> dict[str, Any]:
    def condition() -> dict[str, Any] | None:
        obj = json.loads(k8s.kubectl("get", "sealedsecret", name, "-n", namespace, "-o", "json").stdout)
        return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Synced"), None)
    return wait_for(condition, what=f"the Synced condition of {namespace}/{name}")


def secret_value(k8s: Any, name: str, namespace: str) -> bytes:
    secret = json.loads(k8s.kubectl("get", "secret", name, "-n", namespace, "-o", "json").stdout)
    return base64.b64decode(secret["data"]["password"])


def test_a_started_controller_creates_a_4096_bit_key_as_a_tls_secret_and_serves_it(controller: Any) -> None:
    k8s, _simulated = controller
    [secret] = key_secrets(k8s)
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["name"].startswith("sealed-secrets-key") and secret["metadata"]["name"] != \
        "sealed-secrets-key"  # generateName
    assert secret["metadata"]["labels"][KEY_SELECTOR] == "active"
    assert base64.b64decode(secret["data"]["tls.key"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1
    served = x509.load_pem_x509_certificate(k8s.kubectl("get", "--raw", CERT_PATH).stdout.encode())
    assert served.public_key().key_size == 4096  # type: ignore[union-attr]
    assert served == x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    assert k8s.kubectl("get", "--raw", CERT_PATH.replace("/v1/cert.pem", "/healthz")).stdout.strip() == "ok"


@pytest.mark.parametrize("scope", list(SCOPES))
def test_values_sealed_by_kubesealpy_are_unsealed_with_the_scope_rules(controller: Any, scope: str) -> None:
    """strict: not after a rename; namespace-wide: after a rename, not after a move; cluster-wide: both."""
    k8s, _simulated = controller
    sealed = sealed_by_kubesealpy(k8s, "db", "apps", scope, b"pa55-" + scope.encode())
    apply_sealed(k8s, sealed, "db", "apps")
    assert synced(k8s, "db", "apps")["status"] == "True"
    assert secret_value(k8s, "db", "apps") == b"pa55-" + scope.encode()
    owner = json.loads(k8s.kubectl("get", "secret", "db", "-n", "apps", "-o", "json").stdout)["metadata"][
        "ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("SealedSecret", "db")

    apply_sealed(k8s, sealed, "renamed", "apps")
    apply_sealed(k8s, sealed, "db", "moved")
    renamed, moved = synced(k8s, "renamed", "apps"), synced(k8s, "db", "moved")
    assert renamed["status"] == ("False" if scope == "strict" else "True")
    assert moved["status"] == ("True" if scope == "cluster-wide" else "False")
    if scope == "strict":
        assert "no key could decrypt secret" in renamed["message"]


def test_the_scope_comes_from_the_sealed_secrets_own_annotations(controller: Any) -> None:
    """A namespace-wide value whose annotation is only in the template is strict to the controller."""
    k8s, _simulated = controller
    sealed = sealed_by_kubesealpy(k8s, "db", "apps", "namespace-wide", b"v")
    sealed["metadata"].pop("annotations")
    sealed["spec"]["template"]["metadata"]["annotations"] = {"sealedsecrets.bitnami.com/namespace-wide": "true"}
    apply_sealed(k8s, sealed, "db", "apps")
    assert synced(k8s, "db", "apps")["status"] == "False"


def test_kubesealpy_unseals_with_the_lab_controllers_key(controller: Any) -> None:
    """The other direction: the lab's /v1/rotate re-seals with its key; kubesealpy decrypts the result."""
    k8s, _simulated = controller
    sealed = sealed_by_kubesealpy(k8s, "db", "apps", "strict", b"rotate-me")
    sealed["metadata"]["uid"] = ""
    status, rotated = k8s.request("POST", CERT_PATH.replace("/v1/cert.pem", "/v1/rotate"), sealed)
    assert status == 200
    assert rotated["spec"]["encryptedData"]["password"] != sealed["spec"]["encryptedData"]["password"]
    from kubesealpy import SealedSecret  # pylint: disable=import-outside-toplevel
    secret = unsealer(k8s).unseal(SealedSecret.model_validate(rotated))
    assert base64.b64decode(secret.data["password"]) == b"rotate-me"


def test_keys_are_loaded_at_start_only_and_renewal_adds_a_key(controller: Any) -> None:
    k8s, simulated = controller
    old_value = sealed_by_kubesealpy(k8s, "old", "apps", "strict", b"sealed-with-the-first-key")
    renew = CERT_PATH.replace("/v1/cert.pem", "/lab/renew-key")
    status, _answer = k8s.request("POST", renew, {})
    assert status == 200 and len(key_secrets(k8s)) == 2
    apply_sealed(k8s, old_value, "old", "apps")  # old keys still decrypt
    assert synced(k8s, "old", "apps")["status"] == "True"

    # A key Secret added by hand is not used until the controller restarts.
    import datetime  # pylint: disable=import-outside-toplevel

    from atlas_lab.scenarios.sealed_secrets.controller_keys import generate_key  # pylint: disable=import-outside-toplevel
    manual = generate_key(2048, datetime.timedelta(days=1))
    k8s.kubectl("apply", "-f", "-", stdin=json.dumps(dict(manual.secret(NAMESPACE, "sealed-secrets-key"),
                                                          metadata={"name": "manual-key", "namespace": NAMESPACE,
                                                                    "labels": {KEY_SELECTOR: "active"}})))
    from atlas_lab.scenarios.sealed_secrets.controller_keys import encrypt  # pylint: disable=import-outside-toplevel
    by_manual = sealed_by_kubesealpy(k8s, "manual", "apps", "strict", b"x")
    by_manual["spec"]["encryptedData"]["password"] = encrypt(manual, b"apps/manual", b"manual-key-value")
    apply_sealed(k8s, by_manual, "manual", "apps")
    assert synced(k8s, "manual", "apps")["status"] == "False"
    k8s.kubectl("rollout", "restart", "deployment/sealed-secrets-controller", "-n", NAMESPACE)
    first = simulated.leader()
    wait_for(lambda: simulated.leader() is not None and simulated.leader() is not first, what="a restart")
    wait_for(lambda: synced(k8s, "manual", "apps")["status"] == "True", what="the manual key loaded")
    assert secret_value(k8s, "manual", "apps") == b"manual-key-value"


def test_an_existing_secret_is_taken_over_only_when_annotated_managed(controller: Any) -> None:
    k8s, _simulated = controller
    k8s.kubectl("create", "namespace", "apps")
    k8s.kubectl("create", "secret", "generic", "db", "-n", "apps", "--from-literal=password=plain")
    sealed = sealed_by_kubesealpy(k8s, "db", "apps", "strict", b"sealed")
    apply_sealed(k8s, sealed, "db", "apps")
    refused = synced(k8s, "db", "apps")
    assert refused["status"] == "False"
    assert refused["message"] == 'Resource "db" already exists and is not managed by SealedSecret'
    k8s.kubectl("annotate", "secret", "db", "-n", "apps", "sealedsecrets.bitnami.com/managed=true")
    k8s.kubectl("annotate", "sealedsecret", "db", "-n", "apps", "retry=1")
    wait_for(lambda: secret_value(k8s, "db", "apps") == b"sealed", what="the takeover")


def test_the_renewal_period_adds_keys_and_zero_disables_it(k8s: Any) -> None:
    simulated = SealedSecretsController()
    k8s.app.add_controller(simulated)
    try:
        k8s.kubectl("apply", "-f", "-", stdin=controller_objects(renew_period="1s"))
        wait_for(lambda: len(key_secrets(k8s)) >= 3, timeout=20, what="two renewals after the first key")
        k8s.kubectl("delete", "deployment", "sealed-secrets-controller", "-n", NAMESPACE)
        wait_for(lambda: simulated.leader() is None, what="the controller to stop")
        k8s.kubectl("delete", "secrets", "-n", NAMESPACE, "-l", KEY_SELECTOR)
        k8s.kubectl("apply", "-f", "-", stdin=controller_objects(renew_period="0"))
        wait_for(simulated.leader, what="the controller to start again")
        import time  # pylint: disable=import-outside-toplevel
        time.sleep(1.5)
        assert len(key_secrets(k8s)) == 1  # the key created at start, none since
    finally:
        k8s.app.controllers.remove(simulated)
        simulated.reset()
