"""Role-based access control as kube-apiserver's RBAC authorizer decides it.

A request is allowed when a rule of a Role or ClusterRole bound to the user (by name), one of its
groups, or its ServiceAccount matches it:

- ClusterRoleBindings grant their ClusterRole's rules everywhere, cluster-scoped requests included;
  RoleBindings grant a Role of their own namespace, or a ClusterRole, in their namespace only;
- a rule matches when its ``verbs``, ``apiGroups`` and ``resources`` contain the request's (or ``*``),
  ``resources`` spelled ``pods/log`` or ``*/log`` for subresources (``pods`` alone does not grant
  ``pods/log``), and, when it lists ``resourceNames``, the request names one of them (a create, or a
  list without a ``metadata.name`` field selector, has no name, so a rule with names never grants it);
- non-resource URLs (``/version``, ``/apis/*``) are granted by ClusterRoles through
  ClusterRoleBindings only, ``*`` at the end of a rule's URL being a prefix match;
- ``system:masters`` is allowed everything (the privileged-group authorizer in front of RBAC).

ClusterRoles with an ``aggregationRule`` get the rules of the ClusterRoles their selectors match (the
clusterrole-aggregation controller writes them into ``rules``; see
:class:`~atlas_lab.services.kubernetes.controllers.cluster.ClusterRoleAggregationController`). The
bootstrap roles a cluster starts with are in :func:`bootstrap_objects`: ``cluster-admin``,
``system:discovery``, ``system:basic-user`` and ``system:public-info-viewer``, and the aggregated
``admin``, ``edit`` and ``view`` roles (their rules are a subset of upstream's; see
docs/lab-kubernetes-emulator.md).

Denials carry no reason, as RBAC's own; allowed decisions say which binding allowed them, in
kube-apiserver's words (``RBAC: allowed by RoleBinding "x/ns" of Role "x" to ServiceAccount "sa/ns"``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from atlas_lab.services.kubernetes.selectors import labels_match, selector_from_label_selector
from atlas_lab.services.kubernetes.store import ObjectStore

GROUP = "rbac.authorization.k8s.io"
ROLES = (GROUP, "roles")
CLUSTER_ROLES = (GROUP, "clusterroles")
ROLE_BINDINGS = (GROUP, "rolebindings")
CLUSTER_ROLE_BINDINGS = (GROUP, "clusterrolebindings")
PRIVILEGED_GROUP = "system:masters"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What a request asks to do, as the authorizer sees it."""

    user: str
    groups: tuple[str, ...]
    verb: str
    resource_request: bool = True
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""


@dataclasses.dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def service_account_groups(namespace: str) -> list[str]:
    return ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]


def split_service_account(username: str) -> tuple[str, str] | None:
    """``system:serviceaccount:NS:NAME`` -> (NS, NAME); ``None`` for any other user name."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, _colon, name = username[len(SERVICE_ACCOUNT_PREFIX):].partition(":")
    return (namespace, name) if namespace and name and ":" not in name else None


def _subject_matches(subject: dict[str, Any], binding_namespace: str, user: str, groups: Iterable[str]) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user
    if kind == "Group":
        return subject.get("name") in set(groups)
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user == f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{subject.get('name')}"
    return False


def _subject_text(subject: dict[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace") or binding_namespace}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


def _resource_matches(rule_resources: list[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for rule_resource in rule_resources:
        if rule_resource in ("*", combined):
            return True
        if subresource and rule_resource == f"*/{subresource}":
            return True
    return False


def _url_matches(rule_urls: list[str], path: str) -> bool:
    for url in rule_urls:
        if url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(rule: dict[str, Any], attributes: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attributes.verb not in verbs:
        return False
    if not attributes.resource_request:
        return _url_matches(rule.get("nonResourceURLs") or [], attributes.path)
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attributes.api_group not in groups:
        return False
    if not _resource_matches(rule.get("resources") or [], attributes.resource, attributes.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attributes.name in names


def aggregated_rules(cluster_role: dict[str, Any], cluster_roles: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules an aggregated ClusterRole holds: those of the ClusterRoles its selectors match,
    in name order, each rule once (what the clusterrole-aggregation controller writes)."""
    selectors = [selector_from_label_selector(selector)
                 for selector in (cluster_role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []]
    rules: list[dict[str, Any]] = []
    own_name = cluster_role["metadata"]["name"]
    for other in sorted(cluster_roles, key=lambda role: role["metadata"]["name"]):
        if other["metadata"]["name"] == own_name:
            continue
        labels = other["metadata"].get("labels") or {}
        if any(selector is not None and labels_match(selector, labels) for selector in selectors):
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules


class Authorizer:
    """Decides requests from the RBAC objects in the emulator's store."""

    def __init__(self, store: ObjectStore):
        self.store = store

    def _role_rules(self, role_ref: dict[str, Any], binding_namespace: str) -> list[dict[str, Any]]:
        if role_ref.get("kind") == "ClusterRole":
            role = self.store.get(CLUSTER_ROLES, "", role_ref.get("name", ""))
        elif role_ref.get("kind") == "Role" and binding_namespace:
            role = self.store.get(ROLES, binding_namespace, role_ref.get("name", ""))
        else:
            role = None
        return list((role or {}).get("rules") or [])

    def _bindings(self, namespace: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(kind, binding) of the ClusterRoleBindings, then the RoleBindings of ``namespace``."""
        for binding in self.store.list(CLUSTER_ROLE_BINDINGS)[0]:
            yield "ClusterRoleBinding", binding
        if namespace:
            for binding in self.store.list(ROLE_BINDINGS, namespace)[0]:
                yield "RoleBinding", binding

    def authorize(self, attributes: Attributes) -> Decision:
        if PRIVILEGED_GROUP in attributes.groups:
            return Decision(True)
        namespace = attributes.namespace if attributes.resource_request else ""
        for kind, binding in self._bindings(namespace):
            binding_namespace = binding["metadata"].get("namespace", "")
            subject = next((subject for subject in binding.get("subjects") or []
                            if _subject_matches(subject, binding_namespace, attributes.user, attributes.groups)),
                           None)
            if subject is None:
                continue
            role_ref = binding.get("roleRef") or {}
            for rule in self._role_rules(role_ref, binding_namespace):
                if rule_allows(rule, attributes):
                    where = binding["metadata"]["name"] + (f"/{binding_namespace}" if binding_namespace else "")
                    return Decision(True, f'RBAC: allowed by {kind} "{where}" of {role_ref.get("kind")} '
                                          f'"{role_ref.get("name")}" to {_subject_text(subject, binding_namespace)}')
        return Decision(False)

    def rules(self, user: str, groups: Iterable[str], namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(resource rules, non-resource rules) that apply to the user in ``namespace``
        (a SelfSubjectRulesReview)."""
        groups = list(groups)
        if PRIVILEGED_GROUP in groups:
            return ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    [{"verbs": ["*"], "nonResourceURLs": ["*"]}])
        resource_rules: list[dict[str, Any]] = []
        url_rules: list[dict[str, Any]] = []
        for _kind, binding in self._bindings(namespace):
            binding_namespace = binding["metadata"].get("namespace", "")
            if not any(_subject_matches(subject, binding_namespace, user, groups)
                       for subject in binding.get("subjects") or []):
                continue
            for rule in self._role_rules(binding.get("roleRef") or {}, binding_namespace):
                if rule.get("nonResourceURLs"):
                    if not binding_namespace:
                        url_rules.append({"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]})
                else:
                    entry = {key: rule[key] for key in ("verbs", "apiGroups", "resources", "resourceNames") if rule.get(key)}
                    resource_rules.append(entry)
        return resource_rules, url_rules


def _cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
                  aggregate_from: list[dict[str, str]] | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole",
                            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults",
                                                                  **(labels or {})},
                                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
                            "rules": rules}
    if aggregate_from is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": labels} for labels in aggregate_from]}
    return role


def _cluster_role_binding(name: str, role: str, groups: list[str]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": GROUP, "kind": "Group", "name": group} for group in groups]}


_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"


def bootstrap_objects() -> list[dict[str, Any]]:
    """The RBAC objects kube-apiserver creates at start that matter to clients (upstream's names)."""
    workloads = [{"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"]},
                 {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"]},
                 {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "persistentvolumeclaims",
                                                   "serviceaccounts", "endpoints"]},
                 {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"]},
                 {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"]}]
    view = [dict(rule, verbs=list(_READ)) for rule in workloads]
    view.append({"apiGroups": [""], "resources": ["events", "namespaces", "pods/log", "pods/status"], "verbs": list(_READ)})
    edit = [dict(rule, verbs=list(_WRITE)) for rule in workloads]
    edit.append({"apiGroups": [""], "resources": ["secrets"], "verbs": _READ + _WRITE})
    edit.append({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]})
    admin = [{"apiGroups": [GROUP], "resources": ["roles", "rolebindings"], "verbs": _READ + _WRITE},
             {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"], "verbs": ["create"]}]
    discovery_urls = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                      "/readyz", "/version", "/version/"]
    public_urls = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
    return [
        _cluster_role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                        {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _cluster_role("system:discovery", [{"nonResourceURLs": discovery_urls, "verbs": ["get"]}]),
        _cluster_role("system:public-info-viewer", [{"nonResourceURLs": public_urls, "verbs": ["get"]}]),
        _cluster_role("system:basic-user", [{"apiGroups": ["authorization.k8s.io"],
                                             "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                                             "verbs": ["create"]},
                                            {"apiGroups": ["authentication.k8s.io"],
                                             "resources": ["selfsubjectreviews"], "verbs": ["create"]}]),
        _cluster_role("admin", [], aggregate_from=[{f"{_AGGREGATE}admin": "true"}]),
        _cluster_role("edit", [], {f"{_AGGREGATE}admin": "true"}, aggregate_from=[{f"{_AGGREGATE}edit": "true"}]),
        _cluster_role("view", [], {f"{_AGGREGATE}edit": "true"}, aggregate_from=[{f"{_AGGREGATE}view": "true"}]),
        _cluster_role("system:aggregate-to-admin", admin, {f"{_AGGREGATE}admin": "true"}),
        _cluster_role("system:aggregate-to-edit", edit, {f"{_AGGREGATE}edit": "true"}),
        _cluster_role("system:aggregate-to-view", view, {f"{_AGGREGATE}view": "true"}),
        _cluster_role_binding("cluster-admin", "cluster-admin", [PRIVILEGED_GROUP]),
        _cluster_role_binding("system:discovery", "system:discovery", ["system:authenticated"]),
        _cluster_role_binding("system:basic-user", "system:basic-user", ["system:authenticated"]),
        _cluster_role_binding("system:public-info-viewer", "system:public-info-viewer",
                              ["system:authenticated", "system:unauthenticated"]),
    ]
