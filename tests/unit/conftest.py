"""Shared fixtures of the unit tests: the lab package on sys.path and real services on free ports.

ansible-test stages a copy of the collection and runs pytest in it, so every path here is derived
from this file's location, never from the current directory. Under pytest-xdist each worker gets
its own session-scoped servers.
"""

from __future__ import annotations

import os
import secrets
import shutil
import ssl
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

LAB_DIR = Path(__file__).resolve().parents[1] / "lab"
if LAB_DIR.is_dir() and str(LAB_DIR) not in sys.path:
    sys.path.insert(0, str(LAB_DIR))


# ---------------------------------------------------------------------------------------------
# OpenBao (real server, dev mode): Vault connection layer tests
@dataclass
class OpenBaoDev:
    url: str
    root_token: str
    admin: Any  # hvac.Client with the root token, for test set-up

    def params(self, **overrides: Any) -> dict[str, Any]:
        """Module parameters (as AnsibleModule would pass them) for a root-token connection."""
        values: dict[str, Any] = {
            "vault_url": self.url, "vault_token": self.root_token, "vault_namespace": None,
            "vault_auth_method": "token", "vault_auth_mount_point": None, "vault_role_id": None,
            "vault_secret_id": None, "vault_kubernetes_role": None,
            "vault_kubernetes_token_path": "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "vault_ca_cert": None, "vault_validate_certs": None, "vault_timeout": 10, "vault_retries": 0,
        }
        values.update(overrides)
        return values


# ansible-test runs every unit test in a forked child (its ansible_forked plugin), which exits without
# running session teardowns: a session fixture that spawned a server would start one per test and leak
# it. So the OpenBao servers start once, at session start, in the process that forks, and stop at its
# end; the fixtures only hand out their addresses.
_SERVERS: dict[str, Any] = {}


def _start_openbao(directory: Path, tls: bool) -> dict[str, Any]:
    from atlas_lab.core.http_probe import http_ok  # pylint: disable=import-error,import-outside-toplevel
    from atlas_lab.core.ports import PortAllocator  # pylint: disable=import-error,import-outside-toplevel
    from atlas_lab.core.processes import ManagedProcess  # pylint: disable=import-error,import-outside-toplevel
    from atlas_lab.services.openbao import openbao_binary  # pylint: disable=import-error,import-outside-toplevel

    port = PortAllocator("auto").service_port("openbao")  # a free pair: dev mode takes port + 1 too
    token = "unit-" + secrets.token_hex(12)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "BAO_"))}
    env["BAO_DEV_ROOT_TOKEN_ID"] = token  # from the environment, so the token does not show in `ps`
    argv = [openbao_binary(), "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}", "-dev-no-store-token",
            "-log-level=warn"]
    if tls:
        argv[3:3] = ["-dev-tls", f"-dev-tls-cert-dir={directory}"]
    process = ManagedProcess("OpenBao (TLS)" if tls else "OpenBao", argv, directory / "openbao.log", env=env,
                             cwd=directory)
    process.start()
    scheme = "https" if tls else "http"
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    process.wait_healthy(lambda: http_ok(f"{scheme}://127.0.0.1:{port}/v1/sys/health", context=context),
                         timeout=30, what="answering")
    return {"process": process, "directory": directory, "url": f"{scheme}://127.0.0.1:{port}", "token": token,
            "ca": str(directory / "vault-ca.pem")}


def pytest_sessionstart(session: pytest.Session) -> None:
    if getattr(session.config.option, "numprocesses", None) and "PYTEST_XDIST_WORKER" not in os.environ:
        return  # the xdist controller runs no test
    _SERVERS["owner"] = os.getpid()
    for name, tls in (("openbao", False), ("openbao_tls", True)):
        _SERVERS[name] = _start_openbao(Path(tempfile.mkdtemp(prefix=f"atlas-unit-{name}-")), tls)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _SERVERS.get("owner") != os.getpid():
        return
    for name in ("openbao", "openbao_tls"):
        server = _SERVERS.pop(name, None)
        if server is not None:
            server["process"].stop()
            shutil.rmtree(server["directory"], ignore_errors=True)


def _server(name: str) -> dict[str, Any]:
    if name not in _SERVERS:
        raise RuntimeError(f"the unit tests' {name} server did not start (see pytest_sessionstart)")
    return _SERVERS[name]


@pytest.fixture(scope="session")
def openbao() -> OpenBaoDev:
    import hvac  # pylint: disable=import-outside-toplevel

    server = _server("openbao")
    return OpenBaoDev(server["url"], server["token"], hvac.Client(url=server["url"], token=server["token"]))


@pytest.fixture(scope="session")
def openbao_tls() -> dict[str, str]:
    """OpenBao in -dev-tls mode, which generates a CA (``ca``) and a server certificate."""
    server = _server("openbao_tls")
    return {"url": server["url"], "token": server["token"], "ca": server["ca"]}


# ---------------------------------------------------------------------------------------------
# Kubernetes API emulator of the lab (in process, HTTPS with the lab CA, kubeconfig with a token)
@dataclass
class KubernetesEmulator:
    url: str
    token: str
    kubeconfig: Path
    ca_file: Path
    app: Any  # atlas_lab.services.kubernetes.KubernetesApp: app.auth.add(token, User(...)) for restricted users
    admin: Any  # atlas_lab.core.admin_client.LabAdminClient: counts(), add_fault(), reset()

    def params(self, **overrides: Any) -> dict[str, Any]:
        """Module parameters (as AnsibleModule would pass them) for the emulator's kubeconfig."""
        values: dict[str, Any] = {
            "k8s_kubeconfig": str(self.kubeconfig), "k8s_context": None, "k8s_host": None, "k8s_api_key": None,
            "k8s_ca_cert": None, "k8s_validate_certs": None, "k8s_request_timeout": 10.0,
        }
        values.update(overrides)
        return values

    def writes(self) -> dict[str, int]:
        """Write requests (create/update/patch/delete, dry runs excluded) since the last reset."""
        from atlas_lab.services.kubernetes import writes  # pylint: disable=import-error,import-outside-toplevel
        return writes(self.admin.counts())


@pytest.fixture(scope="session")
def kubernetes_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubernetesEmulator]:
    from atlas_lab.core.admin_client import LabAdminClient  # pylint: disable=import-error
    from atlas_lab.services.kubernetes import create_app, start  # pylint: disable=import-error

    token = "unit-" + secrets.token_hex(12)
    running = start(create_app(token=token, load_crds=True), tmp_path_factory.mktemp("kubernetes"))
    try:
        yield KubernetesEmulator(running.url, token, running.kubeconfig, running.ca_file, running.app,
                                 LabAdminClient(running.url, ca_file=str(running.ca_file)))
    finally:
        running.stop()


@pytest.fixture
def k8s(kubernetes_emulator: KubernetesEmulator, tmp_path: Any,  # pylint: disable=redefined-outer-name
        monkeypatch: pytest.MonkeyPatch) -> KubernetesEmulator:
    """The session's Kubernetes emulator, reset first: bundled CRDs only, zero counters, no faults; and an
    empty cache of published schemas (k8s_manifests validate_first), so request counts do not depend on
    the order of the tests."""
    kubernetes_emulator.admin.reset()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return kubernetes_emulator
