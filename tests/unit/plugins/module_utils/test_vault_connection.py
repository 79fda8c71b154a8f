"""Vault connection layer against a real OpenBao dev server (fixture ``openbao`` in tests/unit/conftest.py)."""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.doc_fragments.vault import ModuleDocFragment
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._vault import config as vault_config
from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import (
    vault_client_from_params,
    vault_connection,
    verify_setting,
)
from ansible_collections.atlas.hardening.plugins.module_utils._vault.errors import (
    VaultAuthError,
    VaultConfigError,
    VaultConnectionError,
    VaultPermissionError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._vault.kv2 import VaultKV2
from ansible_collections.atlas.hardening.plugins.module_utils._vault.options import VAULT_CONNECTION_ARGSPEC


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


# ---------------------------------------------------------------------------------------------
# Options: argspec, doc fragment, configuration errors (no server needed)
def test_doc_fragment_documents_exactly_the_argspec() -> None:
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = VAULT_CONNECTION_ARGSPEC
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert name.startswith("vault_")
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
        assert documented[name].get("choices") == option.get("choices"), name
        env = option.get("fallback", (None, []))[1]
        for variable in env:
            assert "E(%s)" % variable in " ".join(documented[name]["description"]), (name, variable)


def test_every_secret_option_is_no_log() -> None:
    spec = VAULT_CONNECTION_ARGSPEC
    assert {name for name, option in spec.items() if option.get("no_log")} == {
        "vault_token", "vault_role_id", "vault_secret_id"}


@pytest.mark.parametrize("params, message", [
    ({}, "No Vault address: set vault_url or the VAULT_ADDR environment variable"),
    ({"vault_url": "vault.example:8200"}, "vault_url 'vault.example:8200' is not an http(s) URL"),
    ({"vault_url": "http://127.0.0.1:1"}, "No Vault token: set vault_token or VAULT_TOKEN"),
    ({"vault_url": "http://127.0.0.1:1", "vault_auth_method": "approle", "vault_role_id": "r"},
     "vault_auth_method=approle needs vault_secret_id."),
    ({"vault_url": "http://127.0.0.1:1", "vault_auth_method": "kubernetes"},
     "vault_auth_method=kubernetes needs vault_kubernetes_role"),
    ({"vault_url": "http://127.0.0.1:1", "vault_token": "t", "vault_ca_cert": "/nonexistent/ca.pem"},
     "vault_ca_cert /nonexistent/ca.pem does not exist"),
])
def test_configuration_errors_say_what_to_set(params: dict[str, Any], message: str) -> None:
    with pytest.raises(VaultConfigError) as raised:
        vault_client_from_params(params)
    assert message in str(raised.value)


@pytest.mark.parametrize("env_value, validate, ca_cert, expected", [
    (None, None, None, True),
    ("true", None, None, False),
    ("1", None, None, False),
    ("false", None, None, True),
    ("true", True, None, True),  # an explicit option wins over the environment
    (None, False, None, False),
    (None, None, "CA", "CA"),
    ("1", None, "CA", False),
])
def test_vault_skip_verify_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env_value: Any,
                                       validate: Any, ca_cert: Any, expected: Any) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not parsed here")
    if env_value is None:
        monkeypatch.delenv("VAULT_SKIP_VERIFY", raising=False)
    else:
        monkeypatch.setenv("VAULT_SKIP_VERIFY", env_value)
    params = {"vault_validate_certs": validate, "vault_ca_cert": str(ca_file) if ca_cert else None}
    got = verify_setting(params)
    assert got == (str(ca_file) if expected == "CA" else expected)


def test_missing_hvac_uses_missing_required_lib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault_config, "HAS_HVAC", False)
    with pytest.raises(HardeningError) as raised:
        vault_client_from_params({"vault_url": "http://127.0.0.1:1", "vault_token": "t"})
    assert "Failed to import the required Python library (hvac)" in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Token auth
def test_token_auth_sends_nothing_until_used(openbao: Any) -> None:
    connection = vault_client_from_params(openbao.params())
    assert connection.request_count == 0
    assert connection.mount_info("secret")["type"] == "kv"
    assert connection.request_count == 1


def test_wrong_token_gives_one_clear_message(openbao: Any) -> None:
    wrong = "s." + uuid.uuid4().hex
    connection = vault_client_from_params(openbao.params(vault_token=wrong))
    with pytest.raises(VaultAuthError) as raised:
        VaultKV2(connection).read("app/config")
    message = str(raised.value)
    assert message == (
        "Vault at %s rejected the token (permission denied) while trying to look up the secrets engine mounted "
        "at secret/: check VAULT_TOKEN / vault_token (the token may be wrong, expired or revoked)." % openbao.url)
    assert wrong not in message


def test_valid_token_without_policy_gets_a_permission_message(openbao: Any) -> None:
    policy = unique("only-other")
    openbao.admin.sys.create_or_update_policy(policy, 'path "secret/data/other" { capabilities = ["read"] }')
    token = openbao.admin.auth.token.create(policies=[policy], ttl="5m")["auth"]["client_token"]
    connection = vault_client_from_params(openbao.params(vault_token=token))
    with pytest.raises(VaultPermissionError) as raised:
        VaultKV2(connection).read("team/db")
    message = str(raised.value)
    assert message.startswith(
        "Vault at %s denied permission to read secret secret/team/db (permission denied): the token is valid but its "
        "policies (default, %s) do not allow it." % (openbao.url, policy))
    assert token not in message


def test_unreachable_url_gives_one_clear_message() -> None:
    url = "http://127.0.0.1:%d" % free_port()
    connection = vault_client_from_params({"vault_url": url, "vault_token": "t", "vault_retries": 1,
                                           "vault_timeout": 5})
    started = time.monotonic()
    with pytest.raises(VaultConnectionError) as raised:
        connection.mount_info("secret")
    assert time.monotonic() - started < 5
    assert str(raised.value) == (
        "Cannot reach Vault at %s while trying to look up the secrets engine mounted at secret/: Connection refused "
        "(2 attempts). Check vault_url / VAULT_ADDR and that Vault is running and reachable from this host." % url)
    assert raised.value.request_sent is False


def test_unresolvable_host_names_the_dns_failure() -> None:
    connection = vault_client_from_params({"vault_url": "http://vault.invalid:8200", "vault_token": "t",
                                           "vault_retries": 0, "vault_timeout": 5})
    with pytest.raises(VaultConnectionError) as raised:
        connection.lookup_self()
    message = str(raised.value)
    assert message.startswith("Cannot reach Vault at http://vault.invalid:8200 while trying to look up the token: ")
    assert "Check vault_url / VAULT_ADDR" in message


def test_hvac_calls_inside_errors_get_the_same_messages(openbao: Any) -> None:
    connection = vault_client_from_params(openbao.params(vault_token="wrong-" + uuid.uuid4().hex))
    with pytest.raises(VaultAuthError) as raised:
        with connection.errors("list auth methods"):
            connection.client.sys.list_auth_methods()
    assert "rejected the token (permission denied) while trying to list auth methods" in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Namespaces (OpenBao has them since 2.3; hvac does not read VAULT_NAMESPACE itself)
def write_when_upgraded(write: Any, timeout: float = 30.0) -> None:
    """A new KV v2 mount upgrades itself in the background; until then OpenBao answers writes with a 400."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            write()
            return
        except hvac.exceptions.InvalidRequest as error:
            if "Upgrading from non-versioned to versioned data" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def test_namespace_option_scopes_every_request(openbao: Any) -> None:
    namespace = unique("team")
    openbao.admin.adapter.post("/v1/sys/namespaces/%s" % namespace, json={})
    inside = hvac.Client(url=openbao.url, token=openbao.root_token, namespace=namespace)
    inside.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    write_when_upgraded(lambda: inside.secrets.kv.v2.create_or_update_secret("app", {"where": "inside"},
                                                                             mount_point="kv"))

    scoped = VaultKV2(vault_client_from_params(openbao.params(vault_namespace=namespace)), "kv")
    secret = scoped.read("app")
    assert secret is not None and secret.data == {"where": "inside"}

    root = vault_client_from_params(openbao.params())
    with pytest.raises(HardeningError) as raised:
        VaultKV2(root, "kv").read("app")
    assert "has no secrets engine mounted at kv/" in str(raised.value)
    assert "(namespace" not in str(raised.value)
    with pytest.raises(HardeningError) as raised:
        VaultKV2(vault_client_from_params(openbao.params(vault_namespace=namespace)), "nothere").read("app")
    assert "Vault at %s (namespace %s) has no secrets engine mounted at nothere/" % (openbao.url, namespace) in str(
        raised.value)


# ---------------------------------------------------------------------------------------------
# AppRole
@pytest.fixture(scope="module")
def approle(openbao: Any) -> dict[str, str]:
    if "approle/" not in openbao.admin.sys.list_auth_methods()["data"]:
        openbao.admin.sys.enable_auth_method("approle")
    openbao.admin.sys.create_or_update_policy(
        "unit-rotator", 'path "secret/data/rotation/*" { capabilities = ["create", "read", "update"] }\n'
                        'path "secret/metadata/rotation/*" { capabilities = ["read", "update"] }')
    openbao.admin.auth.approle.create_or_update_approle("unit-rotator", token_policies=["unit-rotator"],
                                                        token_ttl="5m")
    role_id = openbao.admin.auth.approle.read_role_id("unit-rotator")["data"]["role_id"]
    secret_id = openbao.admin.auth.approle.generate_secret_id("unit-rotator")["data"]["secret_id"]
    return {"role_id": role_id, "secret_id": secret_id}


def test_approle_login_then_kv_round_trip(openbao: Any, approle: dict[str, str]) -> None:
    connection = vault_client_from_params(openbao.params(
        vault_token=None, vault_auth_method="approle", vault_role_id=approle["role_id"],
        vault_secret_id=approle["secret_id"]))
    assert connection.request_count == 1  # the login
    token = connection.client.token
    assert token and token != openbao.root_token
    assert token in connection.no_log_values
    kv = VaultKV2(connection)
    version = kv.write("rotation/%s" % unique("app"), {"password": "x"}, cas=0)
    assert version == 1
    assert sorted(connection.lookup_self()["policies"]) == ["default", "unit-rotator"]
    assert "id" not in connection.lookup_self()


def test_approle_wrong_secret_id_gives_one_clear_message(openbao: Any, approle: dict[str, str]) -> None:
    wrong = str(uuid.uuid4())
    with pytest.raises(VaultAuthError) as raised:
        vault_client_from_params(openbao.params(
            vault_token=None, vault_auth_method="approle", vault_role_id=approle["role_id"], vault_secret_id=wrong))
    message = str(raised.value)
    assert message.startswith("Vault at %s rejected the AppRole login at auth/approle (invalid role or secret ID): "
                              "check vault_role_id and vault_secret_id" % openbao.url)
    assert wrong not in message and approle["role_id"] not in message


def test_approle_custom_mount_point(openbao: Any, approle: dict[str, str]) -> None:
    with pytest.raises(VaultAuthError) as raised:
        vault_client_from_params(openbao.params(
            vault_token=None, vault_auth_method="approle", vault_auth_mount_point="ci-approle",
            vault_role_id=approle["role_id"], vault_secret_id=approle["secret_id"]))
    assert "rejected the AppRole login at auth/ci-approle" in str(raised.value)
    assert "that AppRole is enabled at auth/ci-approle" in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Kubernetes auth. OpenBao's kubernetes auth method is real; the Kubernetes side is a TokenReview
# endpoint (authentication.k8s.io/v1, answers checked against the published schema from
# kubernetes-validate), served by the lab's HTTP base, that accepts one JWT. The lab's Kubernetes
# emulator has no TokenReview API.
def _unsigned_service_account_jwt(namespace: str, name: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    claims = {
        "iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:%s:%s" % (namespace, name),
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": "uid-" + name,
        "kubernetes.io/serviceaccount/secret.name": name + "-token",
    }
    # Vault does not check the signature: the TokenReview does.
    return part({"alg": "RS256", "kid": "unit"}) + "." + part(claims) + "." + part({"sig": uuid.uuid4().hex})


@pytest.fixture(scope="module")
def kubernetes_auth(openbao: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import datetime

    import kubernetes_validate
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from atlas_lab.core.http_base import EmulatorApp, Request, Response, serve  # pylint: disable=import-error

    jwt = _unsigned_service_account_jwt("atlas", "rotator")
    reviews: list[dict[str, Any]] = []

    class TokenReviewAPI(EmulatorApp):
        name = "tokenreview"

        def handle(self, request: Request) -> Response:
            if request.method != "POST" or request.path != "/apis/authentication.k8s.io/v1/tokenreviews":
                return Response.json({"kind": "Status", "code": 404}, status=404)
            review = request.json()
            reviews.append(review)
            known = review["spec"]["token"] == jwt
            status: dict[str, Any] = {"authenticated": known}
            if known:
                status["user"] = {"username": "system:serviceaccount:atlas:rotator", "uid": "uid-rotator",
                                  "groups": ["system:serviceaccounts", "system:serviceaccounts:atlas"]}
            else:
                status["error"] = "invalid bearer token"
            answer = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": review["spec"],
                      "status": status}
            # The answer must have the published TokenReview shape (a 500 here fails the login tests).
            kubernetes_validate.validate(answer, kubernetes_validate.latest_version(), strict=True)
            return Response.json(answer, status=201)

    server = serve(TokenReviewAPI())
    # Vault insists on a CA for the API server even over http; a throwaway self-signed one will do.
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit-kubernetes-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())
    if "kubernetes/" not in openbao.admin.sys.list_auth_methods()["data"]:
        openbao.admin.sys.enable_auth_method("kubernetes")
    openbao.admin.write_data("auth/kubernetes/config", data={
        "kubernetes_host": server.url, "kubernetes_ca_cert": ca, "disable_local_ca_jwt": True})
    openbao.admin.write_data("auth/kubernetes/role/rotator", data={
        "bound_service_account_names": ["rotator"], "bound_service_account_namespaces": ["atlas"],
        "token_policies": ["default"], "token_ttl": "5m"})
    token_file = tmp_path_factory.mktemp("serviceaccount") / "token"
    token_file.write_text(jwt + "\n")
    try:
        yield {"jwt": jwt, "token_path": str(token_file), "reviews": reviews}
    finally:
        server.stop()


def test_kubernetes_login_with_the_service_account_token_file(openbao: Any, kubernetes_auth: dict[str, Any]) -> None:
    before = len(kubernetes_auth["reviews"])
    connection = vault_client_from_params(openbao.params(
        vault_token=None, vault_auth_method="kubernetes", vault_kubernetes_role="rotator",
        vault_kubernetes_token_path=kubernetes_auth["token_path"]))
    # Vault reviewed exactly the JWT read from the file (newline stripped).
    assert [review["spec"]["token"] for review in kubernetes_auth["reviews"][before:]] == [kubernetes_auth["jwt"]]
    info = connection.lookup_self()
    assert info["meta"]["service_account_name"] == "rotator"
    assert info["meta"]["service_account_namespace"] == "atlas"
    assert kubernetes_auth["jwt"] in connection.no_log_values
    assert connection.client.token in connection.no_log_values


def test_kubernetes_login_rejected_by_the_token_review(
        openbao: Any, tmp_path: Path, kubernetes_auth: dict[str, Any]) -> None:
    forged = tmp_path / "token"
    forged.write_text(_unsigned_service_account_jwt("atlas", "rotator"))
    with pytest.raises(VaultAuthError) as raised:
        vault_client_from_params(openbao.params(
            vault_token=None, vault_auth_method="kubernetes", vault_kubernetes_role="rotator",
            vault_kubernetes_token_path=str(forged)))
    message = str(raised.value)
    assert message.startswith("Vault at %s rejected the Kubernetes login at auth/kubernetes (" % openbao.url)
    assert "check vault_kubernetes_role (the role must bind this service account and namespace)" in message
    assert forged.read_text() not in message


def test_kubernetes_login_wrong_role(openbao: Any, kubernetes_auth: dict[str, Any]) -> None:
    with pytest.raises(VaultAuthError) as raised:
        vault_client_from_params(openbao.params(
            vault_token=None, vault_auth_method="kubernetes", vault_kubernetes_role="no-such-role",
            vault_kubernetes_token_path=kubernetes_auth["token_path"]))
    assert "rejected the Kubernetes login at auth/kubernetes (invalid role name" in str(raised.value)


@pytest.mark.parametrize("content, message", [
    (None, "Vault Kubernetes auth: no service-account token at {path}. Run inside a Pod"),
    ("", "Vault Kubernetes auth: the service-account token file {path} is empty"),
])
def test_kubernetes_token_file_problems(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(VaultConfigError) as raised:
        vault_client_from_params({"vault_url": "http://127.0.0.1:1", "vault_auth_method": "kubernetes",
                                  "vault_kubernetes_role": "r", "vault_kubernetes_token_path": str(path)})
    assert message.format(path=path) in str(raised.value)


# ---------------------------------------------------------------------------------------------
# TLS: OpenBao's -dev-tls mode generates a CA and a server certificate (fixture openbao_tls, conftest.py)
def test_tls_unknown_ca_gives_one_clear_message(openbao_tls: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_SKIP_VERIFY", raising=False)
    connection = vault_client_from_params({"vault_url": openbao_tls["url"], "vault_token": openbao_tls["token"],
                                           "vault_retries": 0})
    with pytest.raises(VaultConnectionError) as raised:
        connection.lookup_self()
    assert str(raised.value).startswith(
        "TLS verification failed for Vault at %s while trying to look up the token: certificate verify failed"
        % openbao_tls["url"])
    assert "Check vault_ca_cert / VAULT_CACERT" in str(raised.value)


def test_tls_with_vault_ca_cert(openbao_tls: dict[str, str]) -> None:
    connection = vault_client_from_params({"vault_url": openbao_tls["url"], "vault_token": openbao_tls["token"],
                                           "vault_ca_cert": openbao_tls["ca"]})
    assert "root" in connection.lookup_self()["policies"]


def test_tls_with_vault_skip_verify(openbao_tls: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    connection = vault_client_from_params({"vault_url": openbao_tls["url"], "vault_token": openbao_tls["token"]})
    assert "root" in connection.lookup_self()["policies"]


# ---------------------------------------------------------------------------------------------
# Inside a real AnsibleModule: env fallbacks, fail_json, no_log values
def test_module_reads_vault_env_and_hides_the_token(openbao: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

    monkeypatch.setenv("VAULT_ADDR", openbao.url)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    with patch_module_args({}):
        module = HardeningModule({}, connections=("vault",))
    assert module.params["vault_url"] == openbao.url
    assert openbao.root_token in module.no_log_values  # from the env fallback of a no_log option
    connection = vault_connection(module)
    assert "root" in connection.lookup_self()["policies"]


def test_module_fails_with_the_readable_message(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

    monkeypatch.delenv("VAULT_ADDR", raising=False)
    with patch_module_args({}):  # fail_json serialises its result with the profile set up here
        module = HardeningModule({}, connections=("vault",))
        with pytest.raises(SystemExit):
            module.run(lambda running: {"connection": vault_connection(running)})
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    assert result["msg"].startswith("No Vault address: set vault_url or the VAULT_ADDR environment variable")


def test_a_login_token_revoked_at_the_end_of_a_run_is_dead(openbao: Any, approle: dict[str, str]) -> None:
    from ansible_collections.atlas.hardening.plugins.module_utils._vault.auth import revoke_self

    connection = vault_client_from_params(openbao.params(
        vault_token=None, vault_auth_method="approle", vault_role_id=approle["role_id"],
        vault_secret_id=approle["secret_id"]))
    token = connection.client.token
    assert connection.lookup_self() is not None
    revoke_self(connection)
    assert connection.lookup_self() is None  # Vault no longer accepts it
    with pytest.raises(Exception, match="(?i)bad token|invalid|not found|permission denied"):
        openbao.admin.auth.token.lookup(token)
