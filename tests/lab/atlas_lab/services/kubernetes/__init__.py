"""Kubernetes API server emulator of the lab (see docs/lab-kubernetes-emulator.md).

Stable entry points::

    app = create_app(token="...", load_crds=True)          # an http_base.EmulatorApp
    running = start(app, directory)                          # HTTPS with the lab CA + kubeconfig
    running.kubeconfig, running.url, running.ca_file
    app.proxy_targets.set_pod(namespace, pod, port, "127.0.0.1:9093")
    app.add_controller(MyController())
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from atlas_lab.core import http_base, tls
from atlas_lab.services.kubernetes.app import KUBERNETES_VERSION, KubernetesApp, writes
from atlas_lab.services.kubernetes.controllers import (
    Controller,
    ControllerContext,
    ControllerEvent,
    DeploymentController,
    StatefulSetController,
    set_owner,
)
from atlas_lab.services.kubernetes.kubeconfig import write_kubeconfig
from atlas_lab.services.kubernetes.proxy import ProxyTargets


def create_app(token: str, load_crds: bool = True, *, crd_files: Iterable[Path] | None = None,
               controllers: bool = True, ready_delay: float = 0.0, ca_data: str = "") -> KubernetesApp:
    """A Kubernetes API emulator accepting ``token``.

    ``load_crds`` installs the bundled CRDs (prometheus-operator, Velero, Sealed Secrets, Kyverno,
    Trivy Operator) or ``crd_files`` instead; ``controllers`` runs the built-in simulated
    controllers (namespaces, service accounts, Deployments, StatefulSets) whose pods become ready
    after ``ready_delay`` seconds; ``ca_data`` is published in each namespace's ``kube-root-ca.crt``.
    """
    return KubernetesApp(token, load_crds=load_crds, crd_files=crd_files, controllers=controllers,
                         ready_delay=ready_delay, ca_data=ca_data)


@dataclasses.dataclass
class RunningKubernetes:
    """A served emulator: its HTTPS server handle, kubeconfig and CA file."""

    handle: http_base.ServerHandle
    kubeconfig: Path
    ca_file: Path
    token: str

    @property
    def app(self) -> KubernetesApp:
        app = self.handle.app
        assert isinstance(app, KubernetesApp)
        return app

    @property
    def url(self) -> str:
        return self.handle.url

    def stop(self) -> None:
        self.handle.stop()


def start(app: KubernetesApp, directory: str | Path, host: str = "127.0.0.1", port: int = 0,
          tls_files: tls.TLSFiles | None = None, context: str = "atlas-lab") -> RunningKubernetes:
    """Serve ``app`` over HTTPS (lab CA in ``directory`` unless ``tls_files``) and write a kubeconfig."""
    directory = Path(directory)
    files = tls_files or tls.write_tls_files(directory / "tls", name="kubernetes")
    handle = http_base.serve(app, host=host, port=port, ssl_context=tls.server_ssl_context(files))
    app.server_address = f"{handle.host}:{handle.port}"
    if not app.ca_data:
        app.ca_data = files.ca_file.read_text(encoding="utf-8")
    path = write_kubeconfig(directory / "kubeconfig", handle.url, app.token, files.ca_file, context=context)
    return RunningKubernetes(handle=handle, kubeconfig=path, ca_file=files.ca_file, token=app.token)


__all__ = ["KUBERNETES_VERSION", "Controller", "ControllerContext", "ControllerEvent", "DeploymentController",
           "KubernetesApp", "ProxyTargets", "RunningKubernetes", "StatefulSetController", "create_app",
           "set_owner", "start", "write_kubeconfig", "writes"]
