"""Who may do what: impersonation, the authorisation of each request, and the access-review APIs.

- Every request but the health checks is authorised: resource requests by verb, API group,
  resource, subresource, name and namespace; other paths (``/version``, discovery, ``/openapi``) as
  non-resource URLs with the lower-case HTTP method as verb. Users with a fixed policy
  (:class:`~.auth.User`) are decided by it (non-resource URLs always allowed); everyone else by RBAC.
- ``Impersonate-User`` / ``Impersonate-Group`` / ``Impersonate-Uid`` headers (``kubectl --as``,
  ``--as-group``) are honoured when the caller may ``impersonate`` the ``users``, ``serviceaccounts``
  (for ``system:serviceaccount:NS:NAME``), ``groups`` and ``uids`` asked for, as kube-apiserver's
  impersonation filter does; the impersonated user gets ``system:authenticated``, and a ServiceAccount
  without impersonated groups gets its ``system:serviceaccounts`` groups.
- ``SelfSubjectAccessReview`` (``kubectl auth can-i``), ``SubjectAccessReview`` and
  ``SelfSubjectRulesReview`` (``kubectl auth can-i --list``) answer from the same decisions.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from atlas_lab.core import http_base
from atlas_lab.services.kubernetes import errors as E
from atlas_lab.services.kubernetes import protobuf
from atlas_lab.services.kubernetes.auth import User, forbidden, forbidden_path
from atlas_lab.services.kubernetes.rbac import (
    Attributes,
    Authorizer,
    Decision,
    service_account_groups,
    split_service_account,
)
from atlas_lab.services.kubernetes.rest import ResourceRequest
from atlas_lab.services.kubernetes.selectors import parse_field_selector, single_name

Request = http_base.Request
Response = http_base.Response
AUTHORIZATION_GROUP = "authorization.k8s.io"
REVIEWS = ("selfsubjectaccessreviews", "subjectaccessreviews", "selfsubjectrulesreviews")


def _request_namespace(resource: ResourceRequest) -> str:
    """The namespace RBAC sees. kube-apiserver's RequestInfoFactory reads ``/api/v1/namespaces/NAME`` as
    namespace NAME: a Namespace is its own namespace, so a RoleBinding in it can grant get or delete on
    the Namespace itself, and a refusal says "in the namespace NAME"."""
    if resource.group == "" and resource.plural == "namespaces" and resource.name:
        return resource.name
    return resource.namespace or ""


def _request_name(request: Request, resource: ResourceRequest) -> str:
    if resource.name:
        return resource.name
    if resource.verb in ("list", "watch"):
        # A list or watch of one object by field selector (kubectl get x NAME -w) is authorised by name.
        try:
            return single_name(parse_field_selector(request.param("fieldSelector"), resource.group,
                                                    resource.plural)) or ""
        except E.ApiError:
            return ""
    return ""


class RequestAuthorizer:
    def __init__(self, rbac: Authorizer):
        self.rbac = rbac

    def decide(self, user: User, attributes: Attributes) -> Decision:
        if user.fixed_policy:
            if not attributes.resource_request:
                return Decision(True, "the lab's token policy allows it")
            allowed = user.allows(attributes.verb, attributes.api_group, attributes.resource,
                                  attributes.namespace or None)
            return Decision(allowed, "the lab's token policy allows it" if allowed else "")
        return self.rbac.authorize(attributes)

    # Requests ----------------------------------------------------------------------------------
    def check_path(self, user: User, method: str, path: str) -> None:
        verb = method.lower()
        if not self.decide(user, Attributes(user.name, tuple(user.groups), verb, False, path=path)).allowed:
            raise forbidden_path(user, verb, path)

    def check_resource(self, user: User, request: Request, resource: ResourceRequest) -> None:
        namespace = _request_namespace(resource)
        attributes = Attributes(user.name, tuple(user.groups), resource.verb, True, resource.group, resource.plural,
                                resource.subresource, _request_name(request, resource), namespace)
        if not self.decide(user, attributes).allowed:
            raise forbidden(user, resource.verb, resource.group, resource.plural, resource.subresource,
                            resource.name or "", namespace)

    def impersonate(self, user: User, request: Request) -> User:
        """The user the request acts as: the caller, or whom its Impersonate-* headers name."""
        name = request.headers.get("Impersonate-User") or ""
        groups = [group for header in request.headers.get_all("Impersonate-Group") or []
                  for group in header.split(",") if group.strip()]
        uid = request.headers.get("Impersonate-Uid") or ""
        if not name:
            if groups or uid:
                raise E.bad_request("requested impersonation of groups or a uid without impersonating a user")
            return user
        account = split_service_account(name)
        wanted = [Attributes(user.name, tuple(user.groups), "impersonate", True, "", "serviceaccounts", "",
                             account[1], account[0]) if account else
                  Attributes(user.name, tuple(user.groups), "impersonate", True, "", "users", "", name)]
        wanted += [Attributes(user.name, tuple(user.groups), "impersonate", True, "", "groups", "", group)
                   for group in groups]
        if uid:
            wanted.append(Attributes(user.name, tuple(user.groups), "impersonate", True, "authentication.k8s.io",
                                     "uids", "", uid))
        for attributes in wanted:
            if not self.decide(user, attributes).allowed:
                raise forbidden(user, "impersonate", attributes.api_group, attributes.resource, "", attributes.name,
                                attributes.namespace or None)
        if account and not groups:
            groups = service_account_groups(account[0])
        if name != "system:anonymous" and "system:authenticated" not in groups:
            groups.append("system:authenticated")
        return User(name, groups)

    # Reviews -----------------------------------------------------------------------------------
    def review(self, user: User, request: Request, resource: ResourceRequest) -> Response:
        if request.method != "POST":
            raise E.method_not_allowed(request.method, request.path)
        if not user.fixed_policy:  # a fixed policy stands for RBAC's system:basic-user binding
            self.check_resource(user, request, dataclasses.replace(resource, verb="create"))
        kind = {"selfsubjectaccessreviews": "SelfSubjectAccessReview", "subjectaccessreviews": "SubjectAccessReview",
                "selfsubjectrulesreviews": "SelfSubjectRulesReview"}[resource.plural]
        try:
            if request.content_type == protobuf.PROTOBUF:
                body = protobuf.decode_object(request.body, AUTHORIZATION_GROUP, kind)
            else:
                body = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise E.bad_request(f"error decoding {kind}: {exc}") from exc
        spec = (body or {}).get("spec") or {}
        subject = user
        if kind == "SubjectAccessReview":
            subject = User(str(spec.get("user") or ""), list(spec.get("groups") or []))
        if kind == "SelfSubjectRulesReview":
            status = self._rules(subject, str(spec.get("namespace") or ""))
        else:
            status = self._access(subject, spec)
        return Response.json({"kind": kind, "apiVersion": f"{AUTHORIZATION_GROUP}/v1",
                              "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}, status=201)

    def _access(self, subject: User, spec: dict[str, Any]) -> dict[str, Any]:
        resource = spec.get("resourceAttributes")
        path = spec.get("nonResourceAttributes")
        if resource:
            attributes = Attributes(subject.name, tuple(subject.groups), str(resource.get("verb") or ""), True,
                                    str(resource.get("group") or ""), str(resource.get("resource") or ""),
                                    str(resource.get("subresource") or ""), str(resource.get("name") or ""),
                                    str(resource.get("namespace") or ""))
        elif path:
            attributes = Attributes(subject.name, tuple(subject.groups), str(path.get("verb") or ""), False,
                                    path=str(path.get("path") or ""))
        else:
            raise E.invalid_object(AUTHORIZATION_GROUP, "SubjectAccessReview", "", [E.invalid(
                "spec.resourceAttributes", None, "exactly one of nonResourceAttributes or resourceAttributes "
                                                 "must be specified")])
        decision = self.decide(subject, attributes)
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
        return status

    def _rules(self, subject: User, namespace: str) -> dict[str, Any]:
        if subject.fixed_policy:
            verbs = sorted(subject.verbs) if subject.verbs is not None else ["*"]
            resources = sorted(subject.resources) if subject.resources is not None else ["*"]
            allowed = subject.namespaces is None or namespace in subject.namespaces
            return {"resourceRules": [{"verbs": verbs, "apiGroups": ["*"], "resources": resources}] if allowed else [],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
        resource_rules, url_rules = self.rbac.rules(subject.name, subject.groups, namespace)
        return {"resourceRules": resource_rules, "nonResourceRules": url_rules, "incomplete": False}


__all__ = ["REVIEWS", "RequestAuthorizer"]
