# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: map (apiVersion, kind) to a REST resource, with as few discovery requests as possible.

The official DynamicClient discovers every group version of the cluster (dozens of requests on a
real cluster) before its first call. Here:

- the built-in kinds of the stable API groups come from a table: their resource names and scope
  are fixed by the Kubernetes API and never change within a group version;
- kinds defined by a CustomResourceDefinition that is part of the same set of manifests are taken
  from that CRD (its group, names.plural, scope and served versions);
- anything else costs one ``GET /apis/<group>/<version>`` per group version, cached for the run.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import (
    KubernetesConnection,
    object_path,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import (
    KubernetesApiError,
    KubernetesError,
)

# (apiVersion, kind) -> (resource, namespaced)
BUILTIN_RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Node"): ("nodes", False),
    ("v1", "PersistentVolume"): ("persistentvolumes", False),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Service"): ("services", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "Endpoints"): ("endpoints", True),
    ("v1", "Event"): ("events", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("v1", "ReplicationController"): ("replicationcontrollers", True),
    ("v1", "PodTemplate"): ("podtemplates", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("apps/v1", "ControllerRevision"): ("controllerrevisions", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("networking.k8s.io/v1", "IngressClass"): ("ingressclasses", False),
    ("discovery.k8s.io/v1", "EndpointSlice"): ("endpointslices", True),
    ("coordination.k8s.io/v1", "Lease"): ("leases", True),
    ("events.k8s.io/v1", "Event"): ("events", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("customresourcedefinitions", False),
    ("storage.k8s.io/v1", "StorageClass"): ("storageclasses", False),
    ("scheduling.k8s.io/v1", "PriorityClass"): ("priorityclasses", False),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"):
        ("validatingwebhookconfigurations", False),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"): ("mutatingwebhookconfigurations", False),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): ("certificatesigningrequests", False),
}


class ApiResource:
    """One REST resource: where its objects live and whether they are namespaced."""

    def __init__(self, api_version: str, kind: str, plural: str, namespaced: bool) -> None:
        self.api_version = api_version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced

    @property
    def prefix(self) -> str:
        return "/api/v1" if self.api_version == "v1" else "/apis/" + self.api_version

    def collection_path(self, namespace: str | None = None) -> str:
        return object_path(self.prefix, self.plural, namespace=namespace if self.namespaced else None)

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return object_path(self.prefix, self.plural, name, namespace if self.namespaced else None)

    def __repr__(self) -> str:
        return f"ApiResource({self.api_version}, {self.kind}, {self.plural}, namespaced={self.namespaced})"


class ResourceResolver:
    """Resolve kinds for one run; discovery answers are cached per group version."""

    def __init__(self, connection: KubernetesConnection) -> None:
        self.connection = connection
        self._known: dict[tuple[str, str], ApiResource] = {
            key: ApiResource(key[0], key[1], plural, namespaced)
            for key, (plural, namespaced) in BUILTIN_RESOURCES.items()
        }
        self._discovered: dict[str, dict[str, ApiResource]] = {}

    def register_crd(self, crd: dict[str, Any]) -> None:
        """Make the kinds of a CustomResourceDefinition manifest resolvable without discovery."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        if not (group and kind and plural):
            return
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        for version in spec.get("versions") or []:
            if isinstance(version, dict) and version.get("name") and version.get("served", True):
                api_version = f"{group}/{version['name']}"
                self._known[(api_version, kind)] = ApiResource(api_version, kind, plural, namespaced)

    def forget(self, api_version: str) -> None:
        """Drop a cached discovery answer (after its CRD was created or changed)."""
        self._discovered.pop(api_version, None)

    def resolve(self, api_version: str, kind: str) -> ApiResource:
        known = self._known.get((api_version, kind))
        if known is not None:
            return known
        resources = self._discover(api_version)
        if kind not in resources:
            raise KubernetesError(
                f"The Kubernetes API server at {self.connection.server} serves {api_version} but no kind "
                f"{kind!r} in it (kinds: {', '.join(sorted(resources)) or 'none'}). Check the manifest's "
                "kind and apiVersion.")
        return resources[kind]

    def _discover(self, api_version: str) -> dict[str, ApiResource]:
        if api_version in self._discovered:
            return self._discovered[api_version]
        path = "/api/v1" if api_version == "v1" else "/apis/" + api_version
        try:
            answer = self.connection.request("GET", path).data or {}
        except KubernetesApiError as exc:
            if exc.status != 404:
                raise
            raise KubernetesError(
                f"The Kubernetes API server at {self.connection.server} does not serve apiVersion "
                f"{api_version!r}. Check the manifest's apiVersion, or install the CustomResourceDefinition "
                "that provides it (in this same set of manifests, it is applied first).") from None
        resources: dict[str, ApiResource] = {}
        for entry in answer.get("resources") or []:
            if "/" in entry.get("name", "/"):
                continue  # subresources such as deployments/status
            resources[entry["kind"]] = ApiResource(api_version, entry["kind"], entry["name"],
                                                   bool(entry.get("namespaced")))
        self._discovered[api_version] = resources
        return resources
