"""Shared fixtures of the unit tests: the lab package on sys.path and real services on free ports.

ansible-test stages a copy of the collection and runs pytest in it, so every path here is derived
from this file's location, never from the current directory. Under pytest-xdist each worker gets
its own session-scoped servers.
"""

from __future__ import annotations

import secrets
import sys
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


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoDev]:
    import hvac  # pylint: disable=import-outside-toplevel

    from atlas_lab.core.ports import PortAllocator  # pylint: disable=import-error
    from atlas_lab.services.openbao import OpenBaoServer  # pylint: disable=import-error

    port = PortAllocator("auto").service_port("openbao")  # a free pair: dev mode takes port + 1 too
    root_token = "unit-" + secrets.token_hex(12)
    server = OpenBaoServer(tmp_path_factory.mktemp("openbao"), "127.0.0.1", port, mode="dev", root_token=root_token)
    server.start()
    try:
        server.wait_ready(timeout=30)
        yield OpenBaoDev(server.url, root_token, hvac.Client(url=server.url, token=root_token))
    finally:
        server.stop()


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
