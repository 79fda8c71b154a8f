"""The served resource types: built-in kinds and the kinds that CRDs add at run time."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterable
from typing import Any, Callable

from atlas_lab.services.kubernetes.schemas import Schema, builtin_schema

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUBRESOURCE_VERBS = ["get", "patch", "update"]
PROXY_VERBS = ["create", "delete", "get", "patch", "update"]


@dataclasses.dataclass
class PrinterColumn:
    """A column of ``kubectl get`` (``additionalPrinterColumns`` or a built-in printer)."""

    name: str
    type: str = "string"
    json_path: str = ""
    description: str = ""
    priority: int = 0
    format: str = ""
    compute: Callable[[dict[str, Any]], Any] | None = None


@dataclasses.dataclass
class ResourceType:
    """One REST resource (``deployments.apps``) and the versions it is served in."""

    group: str
    versions: list[str]
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: list[str] = dataclasses.field(default_factory=list)
    categories: list[str] = dataclasses.field(default_factory=list)
    subresources: list[str] = dataclasses.field(default_factory=list)
    verbs: list[str] = dataclasses.field(default_factory=lambda: list(ALL_VERBS))
    crd_name: str | None = None
    # version -> schema (CRDs); built-in kinds resolve from kubernetes-validate.
    crd_schemas: dict[str, Schema] = dataclasses.field(default_factory=dict)
    crd_versions: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    printer_columns: list[PrinterColumn] = dataclasses.field(default_factory=list)
    # Built-in kinds whose strategy sets metadata.generation.
    tracks_generation: bool = False
    storage_version: str = ""

    def __post_init__(self) -> None:
        if not self.storage_version:
            self.storage_version = self.versions[0]

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def is_custom(self) -> bool:
        return self.crd_name is not None

    @property
    def preferred_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        version = version or self.preferred_version
        return f"{self.group}/{version}" if self.group else version

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def schema(self, version: str | None = None) -> Schema | None:
        version = version or self.preferred_version
        if self.is_custom:
            return self.crd_schemas.get(version)
        return builtin_schema(self.group, version, self.kind)

    def storage_version_hash(self) -> str:
        digest = hashlib.sha256(f"{self.group}/{self.storage_version}/{self.kind}".encode()).digest()
        import base64  # pylint: disable=import-outside-toplevel
        return base64.b64encode(digest[:8]).decode()


def _builtin(group: str, version: str, kind: str, plural: str, namespaced: bool = True,
             short_names: Iterable[str] = (), categories: Iterable[str] = (),
             subresources: Iterable[str] = (), generation: bool = False,
             verbs: Iterable[str] | None = None) -> ResourceType:
    return ResourceType(group=group, versions=[version], kind=kind, plural=plural, singular=kind.lower(),
                        namespaced=namespaced, short_names=list(short_names), categories=list(categories),
                        subresources=list(subresources), tracks_generation=generation,
                        verbs=list(verbs) if verbs is not None else list(ALL_VERBS))


def builtin_resource_types() -> list[ResourceType]:
    """The built-in kinds the emulator serves (those the collection and its tests touch)."""
    return [
        _builtin("", "v1", "Namespace", "namespaces", namespaced=False, short_names=["ns"],
                 subresources=["status", "finalize"],
                 verbs=["create", "delete", "get", "list", "patch", "update", "watch"]),
        _builtin("", "v1", "Secret", "secrets"),
        _builtin("", "v1", "ConfigMap", "configmaps", short_names=["cm"]),
        _builtin("", "v1", "ServiceAccount", "serviceaccounts", short_names=["sa"], subresources=["token"]),
        _builtin("", "v1", "Service", "services", short_names=["svc"], categories=["all"],
                 subresources=["status", "proxy"],
                 verbs=["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]),
        _builtin("", "v1", "Endpoints", "endpoints", short_names=["ep"]),
        _builtin("", "v1", "Pod", "pods", short_names=["po"], categories=["all"],
                 subresources=["status", "proxy", "log", "ephemeralcontainers"], generation=True),
        _builtin("", "v1", "Event", "events", short_names=["ev"]),
        _builtin("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=["pvc"],
                 subresources=["status"]),
        _builtin("events.k8s.io", "v1", "Event", "events", short_names=["ev"]),
        _builtin("apps", "v1", "Deployment", "deployments", short_names=["deploy"], categories=["all"],
                 subresources=["status", "scale"], generation=True),
        _builtin("apps", "v1", "StatefulSet", "statefulsets", short_names=["sts"], categories=["all"],
                 subresources=["status", "scale"], generation=True),
        _builtin("apps", "v1", "ReplicaSet", "replicasets", short_names=["rs"], categories=["all"],
                 subresources=["status", "scale"], generation=True),
        _builtin("apps", "v1", "DaemonSet", "daemonsets", short_names=["ds"], categories=["all"],
                 subresources=["status"], generation=True),
        _builtin("batch", "v1", "Job", "jobs", categories=["all"], subresources=["status"], generation=True),
        _builtin("batch", "v1", "CronJob", "cronjobs", short_names=["cj"], categories=["all"],
                 subresources=["status"], generation=True),
        _builtin("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=["hpa"],
                 categories=["all"], subresources=["status"], generation=True),
        _builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=["pdb"],
                 subresources=["status"], generation=True),
        _builtin("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=["netpol"],
                 generation=True),
        _builtin("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        _builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
        _builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
        _builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
                 namespaced=False),
        _builtin("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", namespaced=False, verbs=["create"]),
        _builtin("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
                 namespaced=False, verbs=["create"]),
        _builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
                 namespaced=False, short_names=["crd", "crds"], categories=["api-extensions"],
                 subresources=["status"], generation=True),
    ]


class ResourceRegistry:
    """Thread-safe registry of served resource types, keyed by (group, plural)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._types: dict[tuple[str, str], ResourceType] = {}
        self.generation = 0  # bumped on every change (discovery/OpenAPI caches key on it)

    def add(self, resource_type: ResourceType) -> None:
        with self._lock:
            self._types[resource_type.key] = resource_type
            self.generation += 1

    def remove(self, group: str, plural: str) -> ResourceType | None:
        with self._lock:
            removed = self._types.pop((group, plural), None)
            self.generation += 1
            return removed

    def get(self, group: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, plural))

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        resource_type = self.get(group, plural)
        if resource_type is None or version not in resource_type.versions:
            return None
        return resource_type

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        with self._lock:
            for resource_type in self._types.values():
                if resource_type.group == group and resource_type.kind == kind:
                    return resource_type
        return None

    def by_api_version_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _slash, version = api_version.rpartition("/")
        resource_type = self.by_kind(group, kind)
        if resource_type is None or version not in resource_type.versions:
            return None
        return resource_type

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions (preferred first), in a stable order: core, built-in, CRDs."""
        with self._lock:
            result: dict[str, list[str]] = {}
            ordered = sorted(self._types.values(), key=lambda t: (t.is_custom, t.group))
            for resource_type in ordered:
                versions = result.setdefault(resource_type.group, [])
                for version in resource_type.versions:
                    if version not in versions:
                        versions.append(version)
            for versions in result.values():
                versions.sort(key=version_priority, reverse=True)
            return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        with self._lock:
            return sorted((t for t in self._types.values() if t.group == group and version in t.versions),
                          key=lambda t: t.plural)


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, then by numbers (v2 > v1, v1beta2 > v1beta1)."""
    import re  # pylint: disable=import-outside-toplevel
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (-1, 0, 0)
    major = int(match.group(1))
    stage = {"alpha": 0, "beta": 1, None: 2}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, major, minor)
