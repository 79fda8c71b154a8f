"""The collection's own kubeconfig reader, checked against independent implementations.

- the official ``kubernetes`` library's loader, on the same files: same server, TLS settings,
  certificate and key bytes, proxy and Authorization header (the library was what the collection
  used before, and what kubernetes.core uses);
- the real ``kubectl``, for what the library gets wrong: KUBECONFIG lists merge with the first file
  winning (``current-context`` included);
- a real TLS server that requires a client certificate, for the certificate and ``tls-server-name``
  paths end to end;
- and the point of it: a module connecting with a token, a client certificate or an exec plugin
  never imports the ``kubernetes`` package; an ``auth-provider`` user still works through it.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes import credentials as kubernetes_credentials
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import connect, environment_proxy
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.credentials import ExecPlugin, TokenFile
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import (
    KubernetesConfigError,
    KubernetesConnectionError,
)
from atlas_lab.core.tls import create_ca, issue_client_certificate, issue_server_certificate

CA = create_ca("kubeconfig-test CA")
SERVER_CERT, SERVER_KEY = issue_server_certificate(CA, hostnames=("kubernetes.default.svc",), ips=())
CLIENT_CERT, CLIENT_KEY = issue_client_certificate(CA, "atlas-admin", ("system:masters",))


def run(argv: list[str], environ: dict[str, str], cwd: str) -> tuple[int, bytes, bytes]:
    """What AnsibleModule.run_command does for an exec plugin, outside a module."""
    completed = subprocess.run(argv, env=environ, cwd=cwd or None, capture_output=True, check=False)
    return completed.returncode, completed.stdout, completed.stderr


def b64(data: bytes | str) -> str:
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def kubeconfig(path: Path, cluster: dict[str, Any], user: dict[str, Any], extra_contexts: tuple[str, ...] = (),
               current: str = "main") -> Path:
    document = {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": "u"}} for name in ("main", *extra_contexts)],
    }
    path.write_text(yaml.safe_dump(document))
    return path


def exec_plugin(directory: Path, status: dict[str, Any], name: str = "get-credential") -> Path:
    script = directory / name
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
    script.chmod(0o755)
    return script


def ours(path: Path, context: str | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    settings = connect({"k8s_kubeconfig": str(path), "k8s_context": context}, environ=environ or {},
                       run_command=run).settings
    ca = settings.ca_data or (Path(settings.ca_file).read_text() if settings.ca_file else None)
    return {
        "host": settings.server, "verify": settings.verify, "tls_server_name": settings.tls_server_name,
        "proxy": settings.proxy_url, "ca": ca,
        "cert": Path(settings.cert_file).read_bytes() if settings.cert_file else None,
        "key": Path(settings.key_file).read_bytes() if settings.key_file else None,
        "authorization": settings.credentials.authorization() if settings.credentials else None,
    }


def official(path: Path, context: str | None = None) -> dict[str, Any]:
    """What the official library's loader makes of the same file."""
    from kubernetes import client
    from kubernetes import config as official_config

    configuration = client.Configuration()
    official_config.load_kube_config(config_file=str(path), context=context, client_configuration=configuration)
    if configuration.refresh_api_key_hook:
        configuration.refresh_api_key_hook(configuration)
    token = (configuration.api_key or {}).get("BearerToken") or (configuration.api_key or {}).get("authorization")
    return {
        "host": configuration.host, "verify": configuration.verify_ssl,
        "tls_server_name": configuration.tls_server_name, "proxy": configuration.proxy,
        "ca": Path(configuration.ssl_ca_cert).read_text() if configuration.ssl_ca_cert else None,
        "cert": Path(configuration.cert_file).read_bytes() if configuration.cert_file else None,
        "key": Path(configuration.key_file).read_bytes() if configuration.key_file else None,
        "authorization": token,
    }


def _cases(tmp_path: Path) -> dict[str, tuple[Path, str | None]]:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_bytes(CA.cert_pem)
    (tmp_path / "certs" / "admin.crt").write_bytes(CLIENT_CERT)
    (tmp_path / "certs" / "admin.key").write_bytes(CLIENT_KEY)
    (tmp_path / "token").write_text("file-token-2b7d")  # client-go trims a trailing newline, the official loader not
    server = "https://10.0.0.1:6443"
    ca_data = {"server": server, "certificate-authority-data": b64(CA.cert_pem)}
    return {
        "token, CA data, tls-server-name": (kubeconfig(
            tmp_path / "a", {**ca_data, "tls-server-name": "kubernetes.default.svc"}, {"token": "tok-1"}), None),
        "tokenFile and CA file, relative": (kubeconfig(
            tmp_path / "b", {"server": server, "certificate-authority": "certs/ca.crt"}, {"tokenFile": "token"}), None),
        "client certificate data, insecure": (kubeconfig(
            tmp_path / "c", {"server": server, "insecure-skip-tls-verify": True},
            {"client-certificate-data": b64(CLIENT_CERT), "client-key-data": b64(CLIENT_KEY)}), None),
        "client certificate files, relative": (kubeconfig(
            tmp_path / "d", ca_data, {"client-certificate": "certs/admin.crt", "client-key": "certs/admin.key"}), None),
        "username and password": (kubeconfig(tmp_path / "e", ca_data, {"username": "ops", "password": "pw-9"}), None),
        "exec plugin, token": (kubeconfig(tmp_path / "f", ca_data, {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": str(exec_plugin(tmp_path, {"token": "exec-t"})),
            "interactiveMode": "Never"}}), None),
        "exec plugin, client certificate": (kubeconfig(tmp_path / "g", ca_data, {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "interactiveMode": "Never", "command": str(exec_plugin(
                tmp_path, {"clientCertificateData": CLIENT_CERT.decode(), "clientKeyData": CLIENT_KEY.decode()},
                "get-cert"))}}), None),
        "proxy-url": (kubeconfig(tmp_path / "h", {**ca_data, "proxy-url": "http://proxy.corp:3128"},
                                 {"token": "tok-2"}), None),
        "a context other than the current one": (kubeconfig(
            tmp_path / "i", ca_data, {"token": "tok-3"}, extra_contexts=("other",)), "other"),
    }


CASE_NAMES = ["token, CA data, tls-server-name", "tokenFile and CA file, relative", "client certificate data, insecure",
              "client certificate files, relative", "username and password", "exec plugin, token",
              "exec plugin, client certificate", "proxy-url", "a context other than the current one"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_settings_equal_the_official_loaders(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)  # the official client reads them from os.environ
    path, context = _cases(tmp_path)[case]
    assert ours(path, context) == official(path, context)


def test_kubeconfig_lists_merge_as_kubectl_merges_them(tmp_path: Path) -> None:
    """The first file wins, for entries with the same name and for current-context (the official
    Python loader lets the last current-context win; kubectl, and the collection, do not)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is installed by make deps (bindep.txt)"
    first = tmp_path / "first"
    first.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "one",
        "clusters": [{"name": "c", "cluster": {"server": "https://first:6443"}}],
        "users": [{"name": "u", "user": {"token": "first-token"}}],
        "contexts": [{"name": "one", "context": {"cluster": "c", "user": "u"}}]}))
    second = tmp_path / "second"
    second.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "two",
        "clusters": [{"name": "c", "cluster": {"server": "https://second:6443"}},
                     {"name": "d", "cluster": {"server": "https://d:6443"}}],
        "users": [{"name": "u", "user": {"token": "second-token"}}],
        "contexts": [{"name": "one", "context": {"cluster": "d", "user": "u"}},
                     {"name": "two", "context": {"cluster": "d", "user": "u"}}]}))
    listed = f"{first}{os.pathsep}{second}"
    for context in (None, "two"):
        arguments = [kubectl, "config", "view", "--minify", "--raw", "-o", "json"]
        arguments += ["--context", context] if context else []
        view = json.loads(subprocess.run(arguments, env={"KUBECONFIG": listed, "PATH": os.environ["PATH"]},
                                         capture_output=True, text=True, check=True).stdout)
        connection = connect({}, environ={"KUBECONFIG": listed}) if context is None else \
            connect({"k8s_context": context}, environ={"KUBECONFIG": listed})
        assert connection.server == view["clusters"][0]["cluster"]["server"]
        assert connection.authorization() == "Bearer " + view["users"][0]["user"]["token"]
        assert f"context {view['contexts'][0]['name']!r}" in connection.source.description
    assert connect({}, environ={"KUBECONFIG": listed}).server == "https://first:6443"


class _WhoAmI(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        peer = self.connection.getpeercert() or {}  # type: ignore[attr-defined]
        subject = {key: value for part in peer.get("subject", ()) for key, value in part}
        body = json.dumps({"user": subject.get("commonName"), "groups": subject.get("organizationName")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def mutual_tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server that, like kube-apiserver with --client-ca-file, requires a client certificate."""
    (tmp_path / "server.crt").write_bytes(SERVER_CERT)
    (tmp_path / "server.key").write_bytes(SERVER_KEY)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    context.load_verify_locations(cadata=CA.cert_pem.decode())
    context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WhoAmI)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_client_certificate_and_tls_server_name_end_to_end(mutual_tls_server: str, tmp_path: Path) -> None:
    cluster = {"server": mutual_tls_server, "certificate-authority-data": b64(CA.cert_pem),
               "tls-server-name": "kubernetes.default.svc"}
    user = {"client-certificate-data": b64(CLIENT_CERT), "client-key-data": b64(CLIENT_KEY)}
    connection = connect({"k8s_kubeconfig": str(kubeconfig(tmp_path / "kc", cluster, user))}, environ={})
    assert connection.request("GET", "/whoami").data == {"user": "atlas-admin", "groups": "system:masters"}
    key_file = Path(connection.settings.key_file or "")
    assert key_file.read_bytes() == CLIENT_KEY and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert CLIENT_KEY.decode() in connection.secret_values and b64(CLIENT_KEY) in connection.secret_values

    # The server's certificate names kubernetes.default.svc only: without tls-server-name the
    # hostname check fails, and without the client certificate the server refuses the handshake.
    without_name = kubeconfig(tmp_path / "no-name", {key: value for key, value in cluster.items()
                                                     if key != "tls-server-name"}, user)
    without_certificate = kubeconfig(tmp_path / "no-cert", cluster, {"token": "not-enough"})
    for path in (without_name, without_certificate):
        with pytest.raises(KubernetesConnectionError) as error:
            connect({"k8s_kubeconfig": str(path), "k8s_request_timeout": 5}, environ={}).request("GET", "/whoami")
        assert str(error.value).startswith(f"TLS connection to the Kubernetes API server at {mutual_tls_server} ") \
            or str(error.value).startswith(f"Cannot reach the Kubernetes API server at {mutual_tls_server} ")
        assert "not-enough" not in str(error.value)


def test_exec_plugin_runs_again_when_its_credential_expires(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    script = tmp_path / "plugin"
    # Each run prints token-<n>, valid until 2030-01-01; the test's clock decides when that is.
    script.write_text("#!/bin/sh\nn=$(( $(cat runs 2>/dev/null || echo 0) + 1 ))\necho $n > runs\n"
                      "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
                      "\"status\":{\"token\":\"token-%s\",\"expirationTimestamp\":\"2030-01-01T00:00:00Z\"}}' $n\n")
    script.chmod(0o755)
    now = [1_800_000_000.0]  # 2027-01-15, before the expiry
    remembered: list[str] = []
    plugin = ExecPlugin({"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./plugin",
                         "env": [{"name": "EXTRA", "value": "1"}]}, str(tmp_path), {"server": "https://x"},
                        "user 'u'", remembered.append, run, environ={"PATH": os.environ["PATH"]}, clock=lambda: now[0])
    assert plugin.authorization() == "Bearer token-1"
    assert plugin.authorization() == "Bearer token-1" and counter.read_text().strip() == "1"
    now[0] = 1_893_456_000.0 - 5  # five seconds before 2030-01-01: inside the renewal margin
    assert plugin.authorization() == "Bearer token-2"
    assert remembered == ["token-1", "token-2"]


@pytest.mark.parametrize(("spec", "output", "message"), [
    ({"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}, None,
     "has apiVersion 'client.authentication.k8s.io/v1alpha1'; kubectl and this collection support"),
    ({"apiVersion": "client.authentication.k8s.io/v1", "command": "x", "interactiveMode": "Always"}, None,
     "has interactiveMode Always: it needs a terminal"),
    ({"apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-plugin-7f"}, None,
     "runs 'no-such-plugin-7f', which is not installed or not on PATH"),
    ({"apiVersion": "client.authentication.k8s.io/v1", "command": "./plugin"}, "not json",
     "did not print an ExecCredential: its output is not JSON."),
    ({"apiVersion": "client.authentication.k8s.io/v1", "command": "./plugin"},
     '{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {"token": "t"}}',
     "of the apiVersion the kubeconfig asks for (client.authentication.k8s.io/v1): it printed"),
    ({"apiVersion": "client.authentication.k8s.io/v1", "command": "./plugin"},
     '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {}}',
     "status has neither token nor both clientCertificateData and clientKeyData."),
])
def test_exec_plugin_errors_say_what_to_fix(spec: dict[str, Any], output: str | None, message: str,
                                            tmp_path: Path) -> None:
    if output is not None:
        (tmp_path / "plugin").write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\n")
        (tmp_path / "plugin").chmod(0o755)
    with pytest.raises(KubernetesConfigError) as error:
        ExecPlugin(spec, str(tmp_path), {}, "user 'u'", [].append, run, environ={"PATH": os.environ["PATH"]})
    assert message in str(error.value)


def test_failing_exec_plugin_reports_its_status_and_last_line(tmp_path: Path) -> None:
    (tmp_path / "plugin").write_text("#!/bin/sh\necho 'starting' >&2\necho 'error: SSO session expired' >&2\nexit 3\n")
    (tmp_path / "plugin").chmod(0o755)
    path = kubeconfig(tmp_path / "kc", {"server": "https://x:6443"}, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "./plugin"}})
    with pytest.raises(KubernetesConfigError) as error:
        connect({"k8s_kubeconfig": str(path)}, environ={"PATH": os.environ["PATH"]}, run_command=run)
    assert str(error.value) == (f"The exec plugin of user 'u' in kubeconfig {path} (from k8s_kubeconfig) "
                                f"({tmp_path}/plugin) failed with exit status 3: error: SSO session expired.")


def test_exec_plugin_needs_a_command_runner(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", {"server": "https://x:6443"}, {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(exec_plugin(tmp_path, {"token": "t"}))}})
    with pytest.raises(KubernetesConfigError, match="The exec plugin of user 'u' in .* can only run inside an Ansible"):
        connect({"k8s_kubeconfig": str(path)}, environ={})


def test_token_file_is_read_again_after_a_minute(tmp_path: Path) -> None:
    """The kubelet rotates projected service-account tokens; client-go re-reads the file once a minute."""
    token = tmp_path / "token"
    token.write_text("first-token")
    now = [1000.0]
    remembered: list[str] = []
    credentials = TokenFile(str(token), "the test token", remembered.append, clock=lambda: now[0])
    token.write_text("rotated-token")
    now[0] += kubernetes_credentials.TOKEN_FILE_REREAD_SECONDS - 1
    assert credentials.authorization() == "Bearer first-token"
    now[0] += 1
    assert credentials.authorization() == "Bearer rotated-token"
    assert remembered == ["first-token", "rotated-token"]
    token.unlink()
    now[0] += kubernetes_credentials.TOKEN_FILE_REREAD_SECONDS
    with pytest.raises(KubernetesConfigError, match=r"Cannot read the token file .*token \(the test token\)"):
        credentials.authorization()


def test_refreshed_credentials_reach_the_module_mask(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("before")
    seen: list[str] = []
    path = kubeconfig(tmp_path / "kc", {"server": "https://x:6443"}, {"tokenFile": str(token)})
    connection = connect({"k8s_kubeconfig": str(path)}, environ={}, on_secret=seen.append)
    assert seen == ["before"]
    credentials = connection.settings.credentials
    token.write_text("after")
    credentials._read_at -= kubernetes_credentials.TOKEN_FILE_REREAD_SECONDS  # a minute later
    assert connection.authorization() == "Bearer after"
    assert seen == ["before", "after"] and connection.secret_values == ["before", "after"]


@pytest.mark.parametrize(("message", "cluster", "user"), [
    ("is not base64-encoded PEM", {"server": "https://x", "certificate-authority-data": "%%%"}, {"token": "t"}),
    ("The certificate-authority ", {"server": "https://x", "certificate-authority": "missing.crt"}, {"token": "t"}),
    ("has a client certificate without its key", {"server": "https://x"}, {"client-certificate-data": b64("c")}),
    ("has no server URL", {}, {"token": "t"}),
])
def test_kubeconfig_errors_name_the_entry(message: str, cluster: dict[str, Any], user: dict[str, Any],
                                          tmp_path: Path) -> None:
    with pytest.raises(KubernetesConfigError) as error:
        connect({"k8s_kubeconfig": str(kubeconfig(tmp_path / "kc", cluster, user))}, environ={})
    assert message in str(error.value) and str(tmp_path / "kc") in str(error.value)
    assert "%%%" not in str(error.value)


def test_context_naming_a_missing_user_or_cluster(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text(yaml.safe_dump({"current-context": "x", "clusters": [{"name": "c", "cluster": {"server": "https://x"}}],
                                    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "ghost"}},
                                                 {"name": "y", "context": {"cluster": "gone", "user": "ghost"}}]}))
    with pytest.raises(KubernetesConfigError, match="Context 'x' of .* names user 'ghost', which is not among its users"):
        connect({"k8s_kubeconfig": str(path)}, environ={})
    with pytest.raises(KubernetesConfigError, match="Context 'y' of .* names cluster 'gone', which is not among"):
        connect({"k8s_kubeconfig": str(path), "k8s_context": "y"}, environ={})


@pytest.mark.parametrize(("server", "no_proxy"), [
    ("https://api.corp:6443", ""), ("https://api.corp:6443", "corp"), ("https://api.corp:6443", ".corp"),
    ("https://api.corp:6443", "api.corp:6443"), ("https://api.corp:6443", "other.corp"),
    ("https://10.1.2.3:6443", "10.0.0.0/8"), ("https://10.1.2.3:6443", "192.168.0.0/16"), ("https://x:6443", "*"),
    ("https://[fd00::1]:6443", "fd00::/8"), ("https://notcorp:6443", "corp"),
])
def test_environment_proxy_matches_the_official_clients_choice(server: str, no_proxy: str) -> None:
    from kubernetes.client.rest import should_bypass_proxies

    expected = None if should_bypass_proxies(server, no_proxy) else "http://proxy:3128"
    assert environment_proxy(server, {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}) == expected
    assert environment_proxy(server, {"no_proxy": no_proxy}) is None


_START_UP = """
import json, subprocess, sys
from ansible_collections.atlas.hardening.plugins.modules import k8s_manifests  # noqa: F401
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import connect
def run(argv, environ, cwd):
    completed = subprocess.run(argv, env=environ, cwd=cwd, capture_output=True)
    return completed.returncode, completed.stdout, completed.stderr
connection = connect({"k8s_kubeconfig": sys.argv[1]}, environ={"PATH": "/usr/bin:/bin"}, run_command=run)
print(json.dumps({"kubernetes": "kubernetes" in sys.modules, "authorization": connection.authorization()}))
"""


def _start_up(path: Path) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, "-c", _START_UP, str(path)], capture_output=True, text=True,
                               check=False, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_the_module_connects_without_importing_the_kubernetes_package(tmp_path: Path) -> None:
    cluster = {"server": "https://x:6443", "certificate-authority-data": b64(CA.cert_pem)}
    for user in ({"token": "tok"}, {"client-certificate-data": b64(CLIENT_CERT), "client-key-data": b64(CLIENT_KEY)},
                 {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                           "command": str(exec_plugin(tmp_path, {"token": "exec-tok"}))}}):
        assert _start_up(kubeconfig(tmp_path / "kc", cluster, user))["kubernetes"] is False


def test_an_auth_provider_user_goes_through_the_library(tmp_path: Path) -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"exp": 4_102_444_800}).encode()).decode().rstrip("=")
    id_token = f"eyJhbGciOiJub25lIn0.{claims}.c2ln"
    path = kubeconfig(tmp_path / "kc", {"server": "https://x:6443"}, {"auth-provider": {
        "name": "oidc", "config": {"id-token": id_token, "idp-issuer-url": "https://sso.example",
                                   "client-id": "kubectl"}}})
    assert _start_up(path) == {"kubernetes": True, "authorization": f"Bearer {id_token}"}
    assert id_token in connect({"k8s_kubeconfig": str(path)}, environ={}).secret_values
