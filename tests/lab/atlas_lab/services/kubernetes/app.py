"""The Kubernetes API emulator application (an :class:`~atlas_lab.core.http_base.EmulatorApp`)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from atlas_lab.core import http_base
from atlas_lab.services.kubernetes import discovery
from atlas_lab.services.kubernetes import errors as E
from atlas_lab.services.kubernetes.auth import TokenAuthenticator, User
from atlas_lab.services.kubernetes.authorization import AUTHORIZATION_GROUP, REVIEWS, RequestAuthorizer
from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerManager
from atlas_lab.services.kubernetes.controllers.cluster import (
    ClusterRoleAggregationController,
    ServiceAccountController,
    TokenSecretController,
)
from atlas_lab.services.kubernetes.controllers.workloads import (
    DeploymentController,
    NamespaceController,
    StatefulSetController,
)
from atlas_lab.services.kubernetes.customresources import CRDRegistrar, bundled_crd_files, load_crd_documents
from atlas_lab.services.kubernetes.objects import ObjectService, WriteOptions, now
from atlas_lab.services.kubernetes.openapi import OpenAPIDocuments
from atlas_lab.services.kubernetes.proxy import ProxyTargets
from atlas_lab.services.kubernetes.rbac import Authorizer, bootstrap_objects
from atlas_lab.services.kubernetes.resources import ResourceRegistry, builtin_resource_types
from atlas_lab.services.kubernetes.rest import REQUEST_USER, ResourceHandler, error_response, parse_resource_path
from atlas_lab.services.kubernetes.store import ObjectStore
from atlas_lab.services.kubernetes.tokens import DEFAULT_AUDIENCES as API_AUDIENCES
from atlas_lab.services.kubernetes.tokens import TokenIssuer, authenticate_token

LOG = logging.getLogger(__name__)
Request = http_base.Request
Response = http_base.Response

KUBERNETES_VERSION = "v1.37.0"
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
ADMIN_USER = "atlas-lab-admin"
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


def version_info(git_version: str = KUBERNETES_VERSION) -> dict[str, str]:
    major, minor = git_version.lstrip("v").split(".")[:2]
    return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
            "minCompatibilityMajor": major, "minCompatibilityMinor": str(int(minor) - 1),
            "gitVersion": git_version, "gitCommit": "0" * 40, "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0", "compiler": "gc",
            "platform": "linux/amd64"}


class KubernetesApp(http_base.EmulatorApp):
    """Kubernetes API server emulator; see ``docs/lab-kubernetes-emulator.md``."""

    name = "kubernetes"

    def __init__(self, token: str, load_crds: bool = True, crd_files: Iterable[Path] | None = None,
                 controllers: bool = True, ready_delay: float = 0.0, git_version: str = KUBERNETES_VERSION,
                 ca_data: str = ""):
        super().__init__()
        self.token = token
        self.load_crds = load_crds
        self.crd_files = list(crd_files) if crd_files is not None else None
        self.ca_data = ca_data
        self.version_info = version_info(git_version)
        self.closing = threading.Event()
        self.registry = ResourceRegistry()
        self.store = ObjectStore()
        self.objects = ObjectService(self.registry, self.store)
        self.registrar = CRDRegistrar(self.registry, self.store, now)
        self.objects.prepare_hooks.append(self.registrar.prepare)
        self.objects.commit_hooks.append(self.registrar.committed)
        self.openapi = OpenAPIDocuments(self.registry, git_version)
        self.proxy_targets = ProxyTargets()
        self.auth = TokenAuthenticator()
        self.authorizer = RequestAuthorizer(Authorizer(self.store))
        self.controllers = ControllerManager(self.objects, self.proxy_targets)
        self.token_issuer = TokenIssuer()
        self.handler = ResourceHandler(self.objects, self.proxy_targets, self.closing, self.version_info,
                                       self.token_issuer)
        self.server_address = "127.0.0.1:6443"
        if controllers:
            for controller in (NamespaceController(), ServiceAccountController(ca_data),
                               ClusterRoleAggregationController(), TokenSecretController(self.token_issuer, ca_data),
                               DeploymentController(ready_delay), StatefulSetController(ready_delay)):
                self.controllers.add(controller)
        self._initialize()

    # State -----------------------------------------------------------------------------------
    def _initialize(self) -> None:
        self.auth.clear()
        self.auth.add(self.token, User(ADMIN_USER, ["system:masters", "system:authenticated"]))
        for rt in builtin_resource_types():
            self.registry.add(rt)
        options = WriteOptions(field_manager="kube-apiserver", field_validation="Strict")
        namespaces = self.registry.get("", "namespaces")
        assert namespaces is not None
        for name in INITIAL_NAMESPACES:
            self.objects.create(namespaces, "v1", "", {"metadata": {"name": name}}, options)
        for obj in bootstrap_objects():
            rbac_type = self.registry.get("rbac.authorization.k8s.io", obj["kind"].lower() + "s")
            assert rbac_type is not None
            self.objects.create(rbac_type, "v1", "", obj, options)
        if self.load_crds:
            self.install_crds(self.crd_files if self.crd_files is not None else bundled_crd_files())
        self.mark_initial_state()

    def mark_initial_state(self) -> None:
        """Make the current objects, kinds and proxy targets what :meth:`reset` returns to.

        The lab supervisor calls it after seeding (e.g. a kube-prometheus-stack release), so that
        resetting between tests keeps the seed.
        """
        self.controllers.wait_idle(timeout=10.0)
        with self.store.lock:
            self._initial_types = list(self.registry.all())
            self._initial_objects = self.store.snapshot()
        self._initial_proxy_targets = self.proxy_targets.snapshot()

    def install_crds(self, files: Iterable[Path]) -> list[str]:
        """Create the CRDs found in ``files`` (YAML); return their names."""
        crd_type = self.registry.get("apiextensions.k8s.io", "customresourcedefinitions")
        assert crd_type is not None
        options = WriteOptions(field_manager="atlas-lab", field_validation="Strict")
        names = []
        for document in load_crd_documents(files):
            result = self.objects.create(crd_type, "v1", "", document, options)
            names.append(result.object["metadata"]["name"])
        return names

    def reset(self) -> None:
        """Back to the initial state: default namespaces, bundled CRDs, no proxy targets."""
        with self.lock:
            self.controllers.pause(True)
            self.controllers.wait_idle(timeout=5.0)
            with self.store.lock:
                self.store.restore(self._initial_objects)
                for rt in self.registry.all():
                    self.registry.remove(rt.group, rt.plural)
                for rt in self._initial_types:
                    self.registry.add(rt)
            self.auth.clear()
            self.auth.add(self.token, User(ADMIN_USER, ["system:masters", "system:authenticated"]))
            self.proxy_targets.restore(self._initial_proxy_targets)
            self.controllers.reset()
            self.controllers.pause(False)

    def close(self) -> None:
        self.closing.set()
        self.store.close_watchers()
        self.controllers.stop()

    def run_cronjob(self, namespace: str, name: str, job_name: str | None = None) -> dict[str, Any]:
        """Create the Job of a CronJob's schedule now, as kube-controller-manager's CronJob controller
        does when the schedule fires (its name, owner, labels and scheduled-timestamp annotation)."""
        cronjobs = self.registry.get("batch", "cronjobs")
        jobs = self.registry.get("batch", "jobs")
        assert cronjobs is not None and jobs is not None
        cronjob = self.objects.get(cronjobs, namespace, name)
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        scheduled = int(time.time() // 60)
        job = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": job_name or f"{name}-{scheduled}", "namespace": namespace,
                            "labels": (template.get("metadata") or {}).get("labels") or {},
                            "annotations": {**((template.get("metadata") or {}).get("annotations") or {}),
                                            "batch.kubernetes.io/cronjob-scheduled-timestamp":
                                                time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(scheduled * 60))},
                            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": name,
                                                 "uid": cronjob["metadata"]["uid"], "controller": True,
                                                 "blockOwnerDeletion": True}]},
               "spec": template.get("spec") or {}}
        options = WriteOptions(field_manager="cronjob-controller", field_validation="Strict")
        created = self.objects.create(jobs, "v1", namespace, job, options).object
        self.objects.patch(cronjobs, "v1", namespace, name, "application/merge-patch+json",
                           json.dumps({"status": {"lastScheduleTime": job["metadata"]["annotations"][
                               "batch.kubernetes.io/cronjob-scheduled-timestamp"]}}).encode(),
                           WriteOptions(field_manager="cronjob-controller"), "status")
        return created

    def add_controller(self, controller: Controller) -> Controller:
        return self.controllers.add(controller)

    def add_token(self, token: str, user: str, verbs: Iterable[str] | None = None,
                  resources: Iterable[str] | None = None, namespaces: Iterable[str] | None = None,
                  groups: Iterable[str] = ()) -> None:
        """Accept another bearer token: authorised by RBAC, or by a fixed policy when verbs, resources
        or namespaces are given (for 403 Forbidden tests without RBAC objects)."""
        self.auth.add(token, User(user, [*groups, "system:authenticated"],
                                  verbs=set(verbs) if verbs is not None else None,
                                  resources=set(resources) if resources is not None else None,
                                  namespaces=set(namespaces) if namespaces is not None else None))

    # Classification --------------------------------------------------------------------------
    def classify(self, request: Request) -> str:
        path = request.path.rstrip("/") or "/"
        if path in HEALTH_PATHS:
            return "get health"
        if path == "/version":
            return "get version"
        if path.startswith("/openapi"):
            return "get openapi"
        if _is_discovery(path):
            return "get discovery"
        resource = parse_resource_path(request.path, request.raw_path, request.method, request.query)
        if resource is None:
            return f"{request.method} {request.path}"
        kind = f"{resource.verb} {resource.resource}"
        if resource.verb in WRITE_VERBS and "All" in (request.query.get("dryRun") or []):
            kind += " (dry-run)"
        return kind

    # Dispatch --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except E.ApiError as err:
            return error_response(err)

    def _handle(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path in HEALTH_PATHS:
            return Response.text("ok")
        user = self.authorizer.impersonate(self._authenticate(request.headers.get("Authorization")), request)
        resource = None
        if path not in ("/version",) and not path.startswith("/openapi") and not _is_discovery(path):
            resource = parse_resource_path(request.path, request.raw_path, request.method, request.query)
        if resource is None:
            self.authorizer.check_path(user, request.method, request.path)
        if path == "/version":
            return Response.json(self.version_info)
        if path.startswith("/openapi"):
            return self._openapi(request, path)
        if _is_discovery(path):
            return self._discovery(request, path)
        if resource is None:
            raise E.path_not_found(request.path)
        if resource.group == AUTHORIZATION_GROUP and resource.plural in REVIEWS:
            return self.authorizer.review(user, request, resource)
        self.authorizer.check_resource(user, request, resource)
        token = REQUEST_USER.set({"username": user.name, "groups": list(user.groups)})
        try:
            return self.handler.handle(request, resource)
        finally:
            REQUEST_USER.reset(token)

    def _authenticate(self, authorization: str | None) -> User:
        try:
            return self.auth.authenticate(authorization)
        except E.ApiError:
            # A service account token (TokenRequest API or legacy token Secret) meant for this API server.
            if not (authorization or "").lower().startswith("bearer "):
                raise
            presented = (authorization or "")[7:].strip()
            info, audiences, _error = authenticate_token(self.token_issuer, presented, self.store.get)
            if info is None or not set(audiences) & set(API_AUDIENCES):
                raise
            return User(info["username"], info["groups"])

    def _discovery(self, request: Request, path: str) -> Response:
        accept = request.headers.get("Accept") or ""
        aggregated = discovery.wants_aggregated(accept)
        if path in ("/api", "/apis") and aggregated:
            body = discovery.aggregated(self.registry, legacy=path == "/api")
            if aggregated == discovery.AGGREGATED_V2BETA1:
                body["apiVersion"] = "apidiscovery.k8s.io/v2beta1"
            return Response(status=200, body=json.dumps(body).encode(),
                            headers={"Content-Type": aggregated, "Vary": "Accept"})
        if path == "/api":
            return Response.json(discovery.api_versions(self.server_address))
        if path == "/apis":
            return Response.json(discovery.api_group_list(self.registry))
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            body = discovery.api_resource_list(self.registry, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            body = discovery.api_group(self.registry, parts[1])
        else:
            body = discovery.api_resource_list(self.registry, parts[1], parts[2])
        if body is None:
            raise E.path_not_found(path)
        return Response.json(body)

    def _openapi(self, request: Request, path: str) -> Response:
        if path == "/openapi/v2":
            accept = request.headers.get("Accept") or ""
            if accept and "json" not in accept and "*/*" not in accept:
                raise E.not_acceptable(["application/json"])
            return Response(status=200, body=self.openapi.v2_document(), headers={"Content-Type": "application/json"})
        if path == "/openapi/v3":
            return Response.json(self.openapi.v3_root())
        if path.startswith("/openapi/v3/"):
            group_version = path[len("/openapi/v3/"):]
            document = self.openapi.v3_document(group_version)
            if document is None:
                raise E.path_not_found(path)
            headers = {"Content-Type": "application/json"}
            if request.param("hash") == self.openapi.v3_hash(group_version):
                headers["Cache-Control"] = "public, immutable"
                headers["Expires"] = "Thu, 01 Jan 2099 00:00:00 GMT"
            headers["Etag"] = '"' + self.openapi.v3_hash(group_version) + '"'
            return Response(status=200, body=document, headers=headers)
        raise E.path_not_found(path)

    # Admin -----------------------------------------------------------------------------------
    def admin(self, request: Request, subpath: str) -> Response | None:
        if subpath == "k8s/objects" and request.method == "GET":
            return Response.json(self.store.dump())
        if subpath == "k8s/proxy-targets":
            if request.method == "GET":
                return Response.json(self.proxy_targets.snapshot())
            if request.method == "POST":
                spec = request.json() or {}
                if spec.get("service"):
                    self.proxy_targets.set_service(spec["namespace"], spec["service"], spec.get("port"),
                                                   spec["target"])
                else:
                    self.proxy_targets.set_pod(spec["namespace"], spec["pod"], spec.get("port"), spec["target"])
                return Response.json(self.proxy_targets.snapshot(), status=201)
            if request.method == "DELETE":
                self.proxy_targets.clear()
                return Response.empty()
        if subpath == "k8s/controllers" and request.method == "GET":
            return Response.json({"controllers": [c.name for c in self.controllers.controllers],
                                  "errors": list(self.controllers.errors)})
        if subpath == "k8s/cronjobs/run" and request.method == "POST":
            spec = request.json() or {}
            return Response.json(self.run_cronjob(spec["namespace"], spec["name"], spec.get("job")), status=201)
        if subpath == "k8s/controllers/wait-idle" and request.method == "POST":
            spec = request.json() or {}
            idle = self.controllers.wait_idle(float(spec.get("timeout", 10)), bool(spec.get("include_delayed")))
            return Response.json({"idle": idle})
        return None


def _is_discovery(path: str) -> bool:
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        return len(parts) <= 2
    if parts[0] == "apis":
        return len(parts) <= 3
    return False


def writes(counts: dict[str, int]) -> dict[str, int]:
    """The write requests among request-log counters (dry runs excluded)."""
    return {kind: count for kind, count in counts.items()
            if kind.split(" ", 1)[0] in WRITE_VERBS and not kind.endswith("(dry-run)")}


__all__ = ["KubernetesApp", "version_info", "writes"]
