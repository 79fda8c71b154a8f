# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: object-level verbs on the Kubernetes API: get, list, server-side apply, create,
delete, watch.

One method, one request. Callers that handle a set of objects use
:mod:`~ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.apply`; this layer is for
modules that need a single precise call (read a Secret, record an Event).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import (
    ApiResponse,
    KubernetesConnection,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.discovery import (
    ApiResource,
    ResourceResolver,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesApiError

DEFAULT_FIELD_MANAGER = "atlas-hardening"


class ObjectRef:
    """Identity of one object: apiVersion, kind, namespace (None when cluster-scoped) and name."""

    def __init__(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        self.api_version = api_version
        self.kind = kind
        self.name = name
        self.namespace = namespace

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectRef:
        metadata = obj.get("metadata") or {}
        return cls(obj.get("apiVersion", ""), obj.get("kind", ""), metadata.get("name", ""), metadata.get("namespace"))

    def key(self) -> tuple[str, str, str, str]:
        return (self.api_version.split("/")[0] if "/" in self.api_version else "", self.kind,
                self.namespace or "", self.name)

    def as_dict(self) -> dict[str, Any]:
        return {"apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace, "name": self.name}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def __repr__(self) -> str:
        return f"ObjectRef({self.api_version}, {self})"


class KubernetesObjects:
    """Verbs on objects of any kind, resolving kinds through one shared :class:`ResourceResolver`."""

    def __init__(self, connection: KubernetesConnection, resolver: ResourceResolver | None = None) -> None:
        self.connection = connection
        self.resolver = resolver or ResourceResolver(connection)

    def resource(self, api_version: str, kind: str) -> ApiResource:
        return self.resolver.resolve(api_version, kind)

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The live object, or None when it does not exist."""
        resource = self.resource(ref.api_version, ref.kind)
        try:
            return self.connection.request("GET", resource.object_path(ref.name, ref.namespace)).data
        except KubernetesApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, resource: ApiResource, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[builtins.list[dict[str, Any]], str]:
        """Items of a collection (one namespace, or all when ``namespace`` is None) and its resourceVersion."""
        answer = self.connection.request("GET", resource.collection_path(namespace), {
            "labelSelector": label_selector, "fieldSelector": field_selector}).data or {}
        items = answer.get("items") or []
        for item in items:
            # List items carry no apiVersion/kind on a real API server.
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        return items, str((answer.get("metadata") or {}).get("resourceVersion") or "")

    def apply(self, body: dict[str, Any], field_manager: str = DEFAULT_FIELD_MANAGER, force: bool = False,
              dry_run: bool = False, field_validation: str = "Strict") -> ApiResponse:
        """Server-side apply ``body`` (creates the object when absent)."""
        ref = ObjectRef.of(body)
        resource = self.resource(ref.api_version, ref.kind)
        query = {"fieldManager": field_manager, "fieldValidation": field_validation,
                 "force": True if force else None, "dryRun": "All" if dry_run else None}
        return self.connection.request("PATCH", resource.object_path(ref.name, ref.namespace), query, body,
                                       content_type="application/apply-patch+yaml")

    def create(self, body: dict[str, Any], dry_run: bool = False, field_manager: str = DEFAULT_FIELD_MANAGER,
               field_validation: str = "Strict") -> ApiResponse:
        """POST a new object (for objects that are only ever created, such as Events)."""
        ref = ObjectRef.of(body)
        resource = self.resource(ref.api_version, ref.kind)
        query = {"fieldManager": field_manager, "fieldValidation": field_validation,
                 "dryRun": "All" if dry_run else None}
        return self.connection.request("POST", resource.collection_path(ref.namespace), query, body)

    def delete(self, ref: ObjectRef, dry_run: bool = False,
               propagation_policy: str = "Background") -> ApiResponse | None:
        """Delete one object; None when it was already gone."""
        resource = self.resource(ref.api_version, ref.kind)
        query = {"dryRun": "All" if dry_run else None, "propagationPolicy": propagation_policy}
        try:
            return self.connection.request("DELETE", resource.object_path(ref.name, ref.namespace), query)
        except KubernetesApiError as exc:
            if exc.status == 404:
                return None
            raise

    def watch(self, resource: ApiResource, namespace: str | None, timeout: float,
              field_selector: str | None = None, resource_version: str | None = None
              ) -> Iterator[dict[str, Any]]:
        """Watch events of a collection. Without ``resource_version`` the server first sends an ADDED
        event per existing object, so one request gives the current state and every later change."""
        query = {"watch": True, "timeoutSeconds": max(1, int(timeout + 0.999)), "fieldSelector": field_selector,
                 "resourceVersion": resource_version}
        return self.connection.stream(resource.collection_path(namespace), query, timeout + 5.0)
