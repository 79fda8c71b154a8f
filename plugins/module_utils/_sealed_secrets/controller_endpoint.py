# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: find the Sealed Secrets controller and talk to it as kubeseal does,
through the API server's service proxy (``/api/v1/namespaces/<ns>/services/http:<name>:/proxy/...``),
so nothing but the Kubernetes connection is needed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesApiError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.sealing_crypto import (
    SealingCertificate,
    load_certificate,
)

IMAGE_REPOSITORY = "sealed-secrets-controller"


class ControllerUnreachable(HardeningError):
    """No controller answers where the options say it runs."""


@dataclass(frozen=True)
class InstalledController:
    """A Deployment running the controller's image (ours, the Helm chart's, anyone's)."""

    namespace: str
    name: str
    image: str
    ready_replicas: int
    helm_release: str

    def as_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "image": self.image,
                "ready_replicas": self.ready_replicas, "helm_release": self.helm_release}


def runs_controller_image(image: str) -> bool:
    repository = image.split("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    return repository.rsplit("/", 1)[-1] == IMAGE_REPOSITORY


def installed_controllers(objects: KubernetesObjects) -> list[InstalledController]:
    """Every Deployment of the cluster that runs the controller (one LIST of Deployments)."""
    deployments, _version = objects.list(objects.resource("apps/v1", "Deployment"))
    found = []
    for deployment in deployments:
        containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
        image = next((c.get("image", "") for c in containers if runs_controller_image(str(c.get("image", "")))), "")
        if not image:
            continue
        meta = deployment.get("metadata") or {}
        release = (meta.get("annotations") or {}).get("meta.helm.sh/release-name", "")
        found.append(InstalledController(meta.get("namespace", ""), meta.get("name", ""), image,
                                         int((deployment.get("status") or {}).get("readyReplicas") or 0), release))
    return sorted(found, key=lambda c: (c.namespace, c.name))


class ControllerEndpoint:
    """The controller's HTTP API behind the API server's service proxy."""

    def __init__(self, objects: KubernetesObjects, namespace: str, name: str) -> None:
        self.objects = objects
        self.namespace = namespace
        self.name = name

    @property
    def where(self) -> str:
        return f"the Sealed Secrets controller {self.namespace}/{self.name} (service proxy)"

    def _path(self, path: str) -> str:
        return f"/api/v1/namespaces/{self.namespace}/services/http:{self.name}:/proxy{path}"

    def _unreachable(self, exc: KubernetesApiError, what: str) -> ControllerUnreachable:
        hint = ("no Service of that name: install the controller (role atlas.hardening.sealed_secrets) or set "
                "the controller's namespace and name" if exc.status == 404 else
                "the Service has no ready controller Pod" if exc.status == 503 else f"HTTP {exc.status}")
        return ControllerUnreachable(f"Cannot {what} from {self.where}: {hint}.", status=exc.status)

    def healthy(self) -> bool:
        try:
            self.objects.connection.request_bytes(self._path("/healthz"))
        except KubernetesApiError:
            return False
        return True

    def wait_healthy(self, timeout: float, interval: float = 0.5) -> bool:
        """Whether ``/healthz`` answers within ``timeout`` seconds (0: look once)."""
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    def certificate(self) -> SealingCertificate:
        try:
            pem = self.objects.connection.request_bytes(self._path("/v1/cert.pem"))
        except KubernetesApiError as exc:
            raise self._unreachable(exc, "fetch the sealing certificate") from None
        return load_certificate(pem, self.where)
