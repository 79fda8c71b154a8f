"""The lab's own tests, and the fixtures of the Kubernetes API emulator suites (``test_kubernetes_*.py``).

These tests check each emulator against something independent (the real kubectl and Python client,
published schemas and contracts) and the lab's lifecycle; the collection's end-to-end tests live in
tests/integration. The lab package is put on sys.path from this file's location.


``k8s_server`` serves one emulator per session, in-process over HTTPS with the lab CA, on a free
port, with a kubeconfig in a temporary directory. ``k8s`` resets it before each test (default
namespaces, bundled CRDs, no faults, zeroed request counters) and gives the test:

- ``k8s.kubectl(*args)``: the real kubectl (``.venv/bin/kubectl``) with its own HOME and cache dir;
- ``k8s.api_client()`` / ``k8s.dynamic()``: the official Python client, configured from the kubeconfig;
- ``k8s.counts()``: request-log counters (``{"get secrets": 2, ...}``), ``k8s.app``: the emulator.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LAB_PACKAGE_PARENT = Path(__file__).resolve().parents[1]
if str(LAB_PACKAGE_PARENT) not in sys.path:
    sys.path.insert(0, str(LAB_PACKAGE_PARENT))

pytest_plugins = ["atlas_lab.pytest_plugin"]

from atlas_lab.services.kubernetes import RunningKubernetes, create_app, start  # noqa: E402
from atlas_lab.services.kubernetes.app import KubernetesApp  # noqa: E402

KUBECTL = Path(sys.executable).parent / "kubectl"


@dataclasses.dataclass
class KubectlResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"kubectl {' '.join(self.args)} -> rc={self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


@dataclasses.dataclass
class KubeHarness:
    server: RunningKubernetes
    home: Path

    @property
    def app(self) -> KubernetesApp:
        return self.server.app

    @property
    def kubeconfig(self) -> Path:
        return self.server.kubeconfig

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "K8S_AUTH"))}
        env.update({"KUBECONFIG": str(self.kubeconfig), "HOME": str(self.home),
                    "KUBECACHEDIR": str(self.home / "kube-cache")})
        return env

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60) -> KubectlResult:
        completed = subprocess.run([str(KUBECTL), *args], input=stdin, capture_output=True, text=True,
                                   env=self.env(), timeout=timeout, check=False)
        result = KubectlResult(list(args), completed.returncode, completed.stdout, completed.stderr)
        if check and completed.returncode != 0:
            raise AssertionError(str(result))
        return result

    def api_client(self) -> Any:
        from kubernetes import config  # pylint: disable=import-outside-toplevel
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def dynamic(self) -> Any:
        from kubernetes.dynamic import DynamicClient  # pylint: disable=import-outside-toplevel
        return DynamicClient(self.api_client())

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One raw HTTPS request with the admin token: (status, decoded JSON), error statuses included."""
        context = ssl.create_default_context(cafile=str(self.server.ca_file))
        request = urllib.request.Request(self.server.url + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {self.server.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=20) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def counts(self) -> dict[str, int]:
        return dict(self.app.requests.snapshot()["by_kind"])

    def reset_counts(self) -> None:
        self.app.requests.reset()

    def wait_idle(self) -> None:
        assert self.app.controllers.wait_idle(timeout=10), "simulated controllers did not settle"


@pytest.fixture(scope="session")
def k8s_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningKubernetes]:
    app = create_app(token=secrets.token_hex(16), load_crds=True)
    running = start(app, tmp_path_factory.mktemp("k8s-emulator"))
    yield running
    running.stop()


@pytest.fixture
def k8s(k8s_server: RunningKubernetes, tmp_path: Path) -> KubeHarness:
    app = k8s_server.app
    app.faults.clear()
    app.reset()
    app.requests.reset()
    home = tmp_path / "home"
    home.mkdir()
    return KubeHarness(k8s_server, home)
