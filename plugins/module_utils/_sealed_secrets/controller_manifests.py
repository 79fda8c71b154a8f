# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the Sealed Secrets controller's objects, as the upstream release
manifest (controller.yaml, from controller.jsonnet) defines them, hardened to the Pod Security
Standard ``restricted``.

The names are upstream's: kubeseal finds ``sealed-secrets-controller`` in ``kube-system`` without
flags. The CRD comes from the role's files (the upstream CRD of the pinned release).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

MANAGED_BY = {"app.kubernetes.io/managed-by": "atlas.hardening", "app.kubernetes.io/part-of": "sealed-secrets"}
HTTP_PORT, METRICS_PORT = 8080, 8081


@dataclass(frozen=True)
class ControllerSettings:
    namespace: str = "kube-system"
    name: str = "sealed-secrets-controller"
    image: str = ""
    key_renew_period: str = "720h"
    key_prefix: str = "sealed-secrets-key"
    resources: dict[str, Any] | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ControllerSettings:
        settings = cls(**{key: value for key, value in options.items() if key in cls.__dataclass_fields__})
        if "@sha256:" not in settings.image:
            raise HardeningError(f"The Sealed Secrets controller image {settings.image!r} is not pinned by digest: "
                                 "give it as registry/repository:tag@sha256:<digest> (sealed_secrets_image).")
        return settings


def _meta(settings: ControllerSettings, name: str, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY, name=settings.name)}
    if namespaced:
        meta["namespace"] = settings.namespace
    return meta


def controller_manifests(settings: ControllerSettings) -> list[dict[str, Any]]:
    """ServiceAccount, RBAC, Services and Deployment (the CRD is applied from the role's file)."""
    name, namespace = settings.name, settings.namespace
    account = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    proxied = [f"http:{name}:", f"http:{name}:http", name]
    container: dict[str, Any] = {
        "name": name, "image": settings.image, "imagePullPolicy": "IfNotPresent",
        "command": ["controller"],
        "args": [f"--key-renew-period={settings.key_renew_period}", f"--key-prefix={settings.key_prefix}"],
        "ports": [{"name": "http", "containerPort": HTTP_PORT}, {"name": "metrics", "containerPort": METRICS_PORT}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "runAsUser": 1001, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if settings.resources:
        container["resources"] = settings.resources
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(settings, name)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _meta(settings, "secrets-unsealer", namespaced=False),
         "rules": [
             {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets"], "verbs": ["get", "list", "watch"]},
             {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets/status"], "verbs": ["update"]},
             {"apiGroups": [""], "resources": ["secrets"],
              "verbs": ["get", "list", "create", "update", "delete", "watch"]},
             {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
             {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(settings, name, namespaced=False),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secrets-unsealer"},
         "subjects": [account]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": _meta(settings, "sealed-secrets-key-admin"),
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _meta(settings, "sealed-secrets-controller"),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sealed-secrets-key-admin"},
         "subjects": [account]},
        # Anyone authenticated may fetch the certificate through the API server, as kubeseal does.
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": _meta(settings, "sealed-secrets-service-proxier"),
         "rules": [{"apiGroups": [""], "resources": ["services"], "resourceNames": [name], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["services/proxy"], "resourceNames": proxied,
                    "verbs": ["create", "get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _meta(settings, "sealed-secrets-service-proxier"),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "sealed-secrets-service-proxier"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(settings, name),
         "spec": {"selector": {"name": name}, "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": HTTP_PORT}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(settings, f"{name}-metrics"),
         "spec": {"selector": {"name": name},
                  "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(settings, name),
         "spec": {"replicas": 1, "revisionHistoryLimit": 10, "selector": {"matchLabels": {"name": name}},
                  "template": {"metadata": {"labels": {"name": name}}, "spec": {
                      "serviceAccountName": name, "automountServiceAccountToken": True,
                      "securityContext": {"fsGroup": 65534, "runAsNonRoot": True,
                                          "seccompProfile": {"type": "RuntimeDefault"}},
                      "containers": [container],
                      "volumes": [{"name": "tmp", "emptyDir": {}}]}}}},
    ]
