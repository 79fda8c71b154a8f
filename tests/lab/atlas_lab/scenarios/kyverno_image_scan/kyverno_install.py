"""What the Kyverno Helm chart (3.6, Kyverno 1.16) leaves that the gate depends on: its namespace, the
ServiceAccounts of the admission, background and reports controllers, and their ClusterRoles, which
aggregate every ClusterRole labelled ``rbac.kyverno.io/aggregate-to-<controller>: "true"``; and Trivy
Operator's namespace. The lab's Kyverno reads a GlobalContextEntry only when its admission controller's
ServiceAccount may list and watch the entry's resource, as the real one's informer needs."""

from __future__ import annotations

from typing import Any

KYVERNO_NAMESPACE = "kyverno"
TRIVY_NAMESPACE = "trivy-system"
CONTROLLERS = ("admission", "background", "reports")


def service_account(controller: str) -> str:
    return f"kyverno-{controller}-controller"


def objects() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KYVERNO_NAMESPACE}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TRIVY_NAMESPACE}},
    ]
    for controller in CONTROLLERS:
        name = f"kyverno:{controller}-controller"
        found += [
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": service_account(controller), "namespace": KYVERNO_NAMESPACE}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
             "aggregationRule": {"clusterRoleSelectors": [
                 {"matchLabels": {f"rbac.kyverno.io/aggregate-to-{controller}-controller": "true"}}]},
             "rules": []},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": f"{name}:core",
                          "labels": {f"rbac.kyverno.io/aggregate-to-{controller}-controller": "true"}},
             "rules": [{"apiGroups": ["kyverno.io"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                       {"apiGroups": [""], "resources": ["configmaps", "namespaces"], "verbs": ["get", "list", "watch"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
             "subjects": [{"kind": "ServiceAccount", "name": service_account(controller), "namespace": KYVERNO_NAMESPACE}]},
        ]
    return found
