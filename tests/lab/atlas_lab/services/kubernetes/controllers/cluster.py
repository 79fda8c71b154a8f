"""Cluster bootstrap controllers: what every namespace of a real cluster contains."""

from __future__ import annotations

import base64
from typing import Any

from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerContext, ControllerEvent
from atlas_lab.services.kubernetes.rbac import aggregated_rules
from atlas_lab.services.kubernetes.tokens import TOKEN_SECRET_TYPE, TokenIssuer

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
SERVICE_ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SERVICE_ACCOUNT_UID_ANNOTATION = "kubernetes.io/service-account.uid"


class ServiceAccountController(Controller):
    """Creates the ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap of each namespace."""

    name = "service-account-controller"
    watches = (("", "Namespace"),)

    def __init__(self, ca_data: str = ""):
        self.ca_data = ca_data

    def start(self, ctx: ControllerContext) -> None:
        for namespace in ctx.list("v1", "Namespace"):
            self._ensure(ctx, namespace["metadata"]["name"])

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.type == "ADDED" and not (event.object.get("metadata") or {}).get("deletionTimestamp"):
            self._ensure(ctx, event.name)

    def _ensure(self, ctx: ControllerContext, namespace: str) -> None:
        current = ctx.get("v1", "Namespace", namespace)
        if current is None or current["metadata"].get("deletionTimestamp"):
            return
        if ctx.get("v1", "ServiceAccount", "default", namespace) is None:
            ctx.create({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "default", "namespace": namespace}})
        if ctx.get("v1", "ConfigMap", ROOT_CA_CONFIGMAP, namespace) is None:
            ctx.create({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": namespace,
                                     "annotations": {"kubernetes.io/description": (
                                         "Contains a CA bundle that can be used to verify the kube-apiserver "
                                         "when using internal endpoints such as the internal service IP or "
                                         "kubernetes.default.svc. No other usage is guaranteed across "
                                         "distributions of Kubernetes clusters.")}},
                        "data": {"ca.crt": self.ca_data}})


class ClusterRoleAggregationController(Controller):
    """Writes into each ClusterRole with an ``aggregationRule`` the rules of the ClusterRoles it selects
    (kube-controller-manager's clusterrole-aggregation controller), again whenever one of them changes."""

    name = "clusterrole-aggregation-controller"
    watches = (("rbac.authorization.k8s.io", "ClusterRole"),)

    def start(self, ctx: ControllerContext) -> None:
        self._aggregate(ctx)

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        self._aggregate(ctx)

    def _aggregate(self, ctx: ControllerContext) -> None:
        # Aggregated roles may select each other (view -> edit -> admin): repeat until nothing changes.
        for _round in range(8):
            changed = False
            roles = ctx.list("rbac.authorization.k8s.io/v1", "ClusterRole")
            for role in roles:
                if not role.get("aggregationRule"):
                    continue
                rules = aggregated_rules(role, roles)
                if rules != (role.get("rules") or []):
                    ctx.update(dict(role, rules=rules))
                    changed = True
            if not changed:
                return


class TokenSecretController(Controller):
    """Fills legacy ServiceAccount token Secrets (type ``kubernetes.io/service-account-token``), as
    kube-controller-manager's token controller does: ``data.token``, ``ca.crt``, ``namespace``, and the
    ``kubernetes.io/service-account.uid`` annotation."""

    name = "tokens-controller"
    watches = (("", "Secret"), ("", "ServiceAccount"))

    def __init__(self, issuer: TokenIssuer, ca_data: str = ""):
        self.issuer = issuer
        self.ca_data = ca_data

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.type == "DELETED":
            return
        if event.kind == "ServiceAccount":
            # A token Secret created before its ServiceAccount is filled once the account exists.
            for secret in ctx.list("v1", "Secret", event.namespace):
                self._fill(ctx, secret)
        else:
            self._fill(ctx, event.object)

    def _fill(self, ctx: ControllerContext, secret: dict[str, Any]) -> None:
        meta = secret.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        account_name = annotations.get(SERVICE_ACCOUNT_NAME_ANNOTATION)
        if secret.get("type") != TOKEN_SECRET_TYPE or not account_name or (secret.get("data") or {}).get("token"):
            return
        account = ctx.get("v1", "ServiceAccount", account_name, meta.get("namespace", ""))
        if account is None:
            return
        token = self.issuer.issue_legacy(meta["namespace"], account, meta["name"])
        data = dict(secret.get("data") or {})
        data.update({"token": _b64(token), "ca.crt": _b64(self.ca_data), "namespace": _b64(meta["namespace"])})
        filled = dict(secret, data=data)
        filled["metadata"] = dict(meta, annotations=dict(annotations, **{
            SERVICE_ACCOUNT_UID_ANNOTATION: account["metadata"]["uid"]}))
        ctx.update(filled)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
