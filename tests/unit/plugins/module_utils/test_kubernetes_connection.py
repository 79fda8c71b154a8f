"""Kubernetes connection layer: where settings come from, and one clear message per failure.

Failures that need an API server (401, 403, TLS) run against the lab's Kubernetes emulator in
test_kubernetes_connection_lab.py; this file covers what needs no server, or a closed port.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.doc_fragments.kubernetes import ModuleDocFragment
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes import config as kubernetes_config
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import connect, kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import (
    KubernetesAuthError,
    KubernetesConfigError,
    KubernetesConnectionError,
    KubernetesForbiddenError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.options import KUBERNETES_CONNECTION_ARGSPEC

TOKEN = "unit-test-token-6f1c2e"


def options(**values: Any) -> dict[str, Any]:
    params: dict[str, Any] = {name: spec.get("default") for name, spec in KUBERNETES_CONNECTION_ARGSPEC.items()}
    params.update(values)
    return params


def write_kubeconfig(path: Path, server: str = "https://127.0.0.1:6443", token: str = TOKEN,
                     contexts: tuple[str, ...] = ("lab",), extra_user: dict[str, Any] | None = None) -> Path:
    users = [{"name": "admin", "user": {"token": token}}]
    if extra_user:
        users.append({"name": "other", "user": extra_user})
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": "lab", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": users,
        "contexts": [{"name": name, "context": {"cluster": "lab", "user": "admin"}} for name in contexts],
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def no_home_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment with no kubeconfig anywhere and not in a Pod."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(kubernetes_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "no-token"))
    return {}


def test_doc_fragment_matches_argspec() -> None:
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(documented) == set(KUBERNETES_CONNECTION_ARGSPEC)
    for name, spec in KUBERNETES_CONNECTION_ARGSPEC.items():
        assert documented[name]["type"] == spec["type"], name
        assert documented[name].get("aliases", []) == spec.get("aliases", []), name
        assert documented[name].get("default") == spec.get("default"), name
    assert KUBERNETES_CONNECTION_ARGSPEC["k8s_api_key"]["no_log"] is True


def test_missing_kubeconfig_file(tmp_path: Path, no_home_config: dict[str, str]) -> None:
    missing = tmp_path / "nowhere" / "kubeconfig"
    with pytest.raises(KubernetesConfigError) as error:
        connect(options(k8s_kubeconfig=str(missing)), environ=no_home_config)
    assert str(error.value) == (
        f"The kubeconfig file {missing} given by k8s_kubeconfig does not exist or is not a file. "
        "Check the path, or unset the option to use KUBECONFIG or ~/.kube/config.")


def test_missing_kubeconfig_from_env_says_so(tmp_path: Path, no_home_config: dict[str, str]) -> None:
    missing = str(tmp_path / "k")
    with pytest.raises(KubernetesConfigError, match=r"given by k8s_kubeconfig \(K8S_AUTH_KUBECONFIG\)"):
        connect(options(k8s_kubeconfig=missing), environ={"K8S_AUTH_KUBECONFIG": missing})


def test_kubeconfig_list_none_exist(tmp_path: Path, no_home_config: dict[str, str]) -> None:
    listed = f"{tmp_path}/a:{tmp_path}/b"
    with pytest.raises(KubernetesConfigError) as error:
        connect(options(), environ={"KUBECONFIG": listed})
    assert str(error.value) == (f"None of the kubeconfig files listed in KUBECONFIG exist ({tmp_path}/a, "
                                f"{tmp_path}/b). Fix KUBECONFIG or set k8s_kubeconfig.")


def test_kubeconfig_list_uses_existing_files(tmp_path: Path, no_home_config: dict[str, str]) -> None:
    real = write_kubeconfig(tmp_path / "real", server="https://10.0.0.1:6443")
    connection = connect(options(), environ={"KUBECONFIG": f"{tmp_path}/absent:{real}"})
    assert connection.server == "https://10.0.0.1:6443"
    assert "context 'lab', user 'admin'" in connection.source.description
    assert TOKEN in connection.secret_values


def test_unknown_context_lists_the_known_ones(tmp_path: Path, no_home_config: dict[str, str]) -> None:
    path = write_kubeconfig(tmp_path / "kubeconfig", contexts=("lab", "staging"))
    with pytest.raises(KubernetesConfigError) as error:
        connect(options(k8s_kubeconfig=str(path), k8s_context="prod"), environ={})
    assert str(error.value) == (f"There is no context 'prod' in kubeconfig {path} (from k8s_kubeconfig); contexts "
                                "in it: lab, staging. Check k8s_context (K8S_AUTH_CONTEXT).")


def test_invalid_kubeconfig_yaml(tmp_path: Path, no_home_config: dict[str, str]) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: [unclosed\n")
    with pytest.raises(KubernetesConfigError) as error:
        connect(options(k8s_kubeconfig=str(path)), environ={})
    assert str(error.value).startswith(f"The kubeconfig {path} (from k8s_kubeconfig) is not valid YAML: ")
    assert "line 2, column 1" in str(error.value)


def test_nothing_configured(no_home_config: dict[str, str]) -> None:
    with pytest.raises(KubernetesConfigError) as error:
        connect(options(), environ=no_home_config)
    assert str(error.value).startswith("No Kubernetes connection configured: set k8s_kubeconfig")


def test_host_and_token_without_kubeconfig(no_home_config: dict[str, str]) -> None:
    connection = connect(options(k8s_host="api.example:6443", k8s_api_key=TOKEN), environ={})
    assert connection.server == "https://api.example:6443"
    assert connection.authorization() == f"Bearer {TOKEN}"
    assert connection.source.description == "the k8s_host option (K8S_AUTH_HOST)"
    assert TOKEN in connection.secret_values


def test_options_override_kubeconfig(tmp_path: Path, no_home_config: dict[str, str]) -> None:
    path = write_kubeconfig(tmp_path / "kubeconfig")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    connection = connect(options(k8s_kubeconfig=str(path), k8s_host="https://other:6443", k8s_api_key="override-token",
                                 k8s_ca_cert=str(ca), k8s_validate_certs=True), environ={})
    assert connection.server == "https://other:6443"
    assert connection.authorization() == "Bearer override-token"
    assert connection.settings.ca_file == str(ca)
    assert connection.settings.verify is True
    with pytest.raises(KubernetesConfigError, match="k8s_ca_cert .*missing.pem does not exist"):
        connect(options(k8s_kubeconfig=str(path), k8s_ca_cert=str(tmp_path / "missing.pem")), environ={})


def test_every_kubeconfig_secret_is_collected(tmp_path: Path, no_home_config: dict[str, str]) -> None:
    path = write_kubeconfig(tmp_path / "kubeconfig", extra_user={
        "client-key-data": "S0VZREFUQQ==", "password": "pa55word",
        "auth-provider": {"name": "oidc", "config": {"id-token": "id.tok.en", "refresh-token": "refresh-xyz"}}})
    secrets = connect(options(k8s_kubeconfig=str(path)), environ={}).secret_values
    assert {TOKEN, "S0VZREFUQQ==", "pa55word", "id.tok.en", "refresh-xyz"} <= set(secrets)


def test_exec_plugin_token_is_masked(tmp_path: Path, no_home_config: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A token that only an exec credential plugin (aws eks get-token, kubelogin) knows, run by a
    module through AnsibleModule.run_command."""
    plugin = tmp_path / "get-token"
    plugin.write_text("#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", "
                      "\"kind\": \"ExecCredential\", \"status\": {\"token\": \"exec-plugin-token-93e1\"}}'\n")
    plugin.chmod(0o755)
    path = write_kubeconfig(tmp_path / "kubeconfig", extra_user=None)
    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                           "command": str(plugin), "interactiveMode": "Never"}}
    path.write_text(yaml.safe_dump(config))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    seen: dict[str, Any] = {}

    def task(running: Any) -> dict[str, Any]:
        connection = kubernetes_connection(running)
        seen["authorization"] = connection.authorization()
        seen["secrets"] = list(connection.secret_values)
        return {"changed": False}

    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

    with patch_module_args({"k8s_kubeconfig": str(path)}):
        module = HardeningModule({}, connections=("kubernetes",))
        with pytest.raises(SystemExit):
            module.run(task)
    capsys.readouterr()
    assert seen["authorization"] == "Bearer exec-plugin-token-93e1"
    assert "exec-plugin-token-93e1" in seen["secrets"] and "exec-plugin-token-93e1" in module.no_log_values


def test_default_kubeconfig_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     no_home_config: dict[str, str]) -> None:
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    write_kubeconfig(tmp_path / "home" / ".kube" / "config", server="https://default:6443")
    assert connect(options(), environ={}).server == "https://default:6443"


def test_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_home_config: dict[str, str]) -> None:
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("in-cluster-sa-token")
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(kubernetes_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(kubernetes_config, "SERVICE_CERT_FILENAME", str(ca))
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    connection = connect(options(), environ=environ)
    assert connection.server == "https://10.96.0.1:443"
    assert connection.authorization().lower() == "bearer in-cluster-sa-token"
    assert connection.settings.ca_file == str(ca)
    assert "in-cluster-sa-token" in connection.secret_values
    assert "service account" in connection.source.description


def test_unreachable_host(no_home_config: dict[str, str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on: bind, then close
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connection = connect(options(k8s_host=f"http://127.0.0.1:{port}", k8s_api_key=TOKEN, k8s_request_timeout=5.0),
                         environ={})
    with pytest.raises(KubernetesConnectionError) as error:
        connection.request("GET", "/version")
    message = str(error.value)
    assert message.startswith(f"Cannot reach the Kubernetes API server at http://127.0.0.1:{port} (")
    assert "Connection refused" in message
    assert "Check the server address (from the k8s_host option (K8S_AUTH_HOST))" in message
    assert TOKEN not in message


def run_module(params: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[Any, dict[str, Any]]:
    """Run a HardeningModule that connects to Kubernetes; return it and its JSON result."""
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

    with patch_module_args({key: value for key, value in params.items() if value is not None}):
        module = HardeningModule({}, connections=("kubernetes",))
        with pytest.raises(SystemExit):
            module.run(lambda running: {"server": kubernetes_connection(running).server})
    return module, json.loads(capsys.readouterr().out)


def test_missing_library_uses_missing_required_lib(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(kubernetes_config, "HAS_URLLIB3", False)
    _module, failure = run_module(options(), capsys)
    assert failure.get("failed") is True
    assert "Failed to import the required Python library (kubernetes)" in failure["msg"]


def test_module_gets_kubeconfig_secrets_masked(tmp_path: Path, no_home_config: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    module, _result = run_module(options(k8s_kubeconfig=str(path)), capsys)
    assert TOKEN in module.no_log_values
    _failing, failure = run_module(options(k8s_kubeconfig=str(tmp_path / "absent")), capsys)
    assert failure.get("failed") is True and "does not exist" in failure["msg"]


# ---------------------------------------------------------------------------------------------
# Against the lab's API server emulator (HTTPS, lab CA, bearer tokens, RBAC-style 403)
def test_kubeconfig_connection_works(k8s: Any) -> None:
    connection = connect(k8s.params(), environ={})
    assert connection.request("GET", "/version").data["major"] == "1"
    assert connection.request_counts == {"GET": 1}
    assert k8s.token in connection.secret_values


def test_wrong_token(k8s: Any) -> None:
    connection = connect(k8s.params(k8s_api_key="wrong-token-0000"), environ={})
    with pytest.raises(KubernetesAuthError) as error:
        connection.request("GET", "/api/v1/namespaces")
    assert str(error.value) == (
        f"The Kubernetes API server at {k8s.url} rejected the credentials from kubeconfig {k8s.kubeconfig} "
        "(context 'atlas-lab', user 'atlas-lab-admin') (401 Unauthorized). Check the token or client certificate "
        f"of user 'atlas-lab-admin' in kubeconfig {k8s.kubeconfig}: the token may be wrong or expired.")
    assert error.value.status == 401


def test_wrong_token_with_host_option(k8s: Any) -> None:
    connection = connect(k8s.params(k8s_kubeconfig=None, k8s_host=k8s.url, k8s_api_key="wrong-token-0000",
                                    k8s_ca_cert=str(k8s.ca_file)), environ={})
    with pytest.raises(KubernetesAuthError) as error:
        connection.request("GET", "/api/v1/namespaces")
    assert str(error.value) == (
        f"The Kubernetes API server at {k8s.url} rejected the credentials from the k8s_host option (K8S_AUTH_HOST) "
        "(401 Unauthorized). Check k8s_api_key (K8S_AUTH_API_KEY): the token may be wrong or expired.")
    assert "wrong-token-0000" not in str(error.value)


def test_forbidden(k8s: Any) -> None:
    from atlas_lab.services.kubernetes.auth import User  # pylint: disable=import-error,import-outside-toplevel

    k8s.app.auth.add("read-only-token-1234", User("auditor", verbs={"get", "list"}))
    connection = connect(k8s.params(k8s_api_key="read-only-token-1234"), environ={})
    with pytest.raises(KubernetesForbiddenError) as error:
        connection.request("DELETE", "/api/v1/namespaces/default/configmaps/x")
    assert str(error.value) == (
        f"The Kubernetes API server at {k8s.url} refused DELETE /api/v1/namespaces/default/configmaps/x "
        '(403 Forbidden): configmaps "x" is forbidden: User "auditor" cannot delete resource "configmaps" in API '
        'group "" in the namespace "default". Grant the missing permission to the identity from kubeconfig '
        f"{k8s.kubeconfig} (context 'atlas-lab', user 'atlas-lab-admin') (Role/ClusterRole and binding), or use "
        "other credentials.")


def test_untrusted_certificate(k8s: Any, tmp_path: Path) -> None:
    connection = connect(k8s.params(k8s_kubeconfig=None, k8s_host=k8s.url, k8s_api_key=k8s.token), environ={})
    with pytest.raises(KubernetesConnectionError) as error:
        connection.request("GET", "/version")
    message = str(error.value)
    assert message.startswith(f"TLS connection to the Kubernetes API server at {k8s.url} failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert message.endswith("k8s_validate_certs=false turns verification off (never in production).")
    insecure = connect(k8s.params(k8s_validate_certs=False, k8s_ca_cert=None), environ={})
    assert insecure.request("GET", "/version").status == 200


def test_slow_server_times_out(k8s: Any) -> None:
    k8s.admin.add_fault("delay", kind="get version", delay=3)
    connection = connect(k8s.params(k8s_request_timeout=1.0), environ={})
    with pytest.raises(KubernetesConnectionError) as error:
        connection.request("GET", "/version")
    assert str(error.value) == (
        f"The Kubernetes API server at {k8s.url} did not answer GET /version within 1 s. Check that the cluster is "
        "up and reachable from this host, or raise k8s_request_timeout.")


def test_lost_response_to_a_write(k8s: Any) -> None:
    k8s.admin.add_fault("drop", kind="patch configmaps")
    connection = connect(k8s.params(), environ={})
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}}
    with pytest.raises(KubernetesConnectionError) as error:
        connection.request("PATCH", "/api/v1/namespaces/default/configmaps/x", {"fieldManager": "t"}, body,
                           content_type="application/apply-patch+yaml")
    assert "the change may or may not have been made" in str(error.value)
    assert k8s.admin.counts() == {"patch configmaps": 1}  # not retried behind the caller's back
