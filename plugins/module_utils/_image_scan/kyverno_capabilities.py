# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what the cluster's Kyverno and Trivy Operator serve, from discovery.

The gate's context mode follows from it, never from a user setting: GlobalContextEntry served as
kyverno.io/v2beta1 (Kyverno 1.16+), or as v2alpha1 with ``spec.projections`` in its published schema
(1.14-1.15): ``global_projection``; v2alpha1 without projections (1.13): ``global_resource``; no
GlobalContextEntry: ``api_call``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import KubernetesConnection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesApiError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.published_schemas import PublishedSchemas

TRIVY_GROUP_VERSION = "aquasecurity.github.io/v1alpha1"


@dataclass(frozen=True)
class Capabilities:
    context_mode: str
    global_entry_api_version: str  # "" in api_call mode
    policy_exception_api_version: str  # "" when Kyverno serves no PolicyException
    trivy_reports: bool

    def as_dict(self) -> dict[str, Any]:
        return {"context_mode": self.context_mode, "global_entry_api_version": self.global_entry_api_version,
                "policy_exception_api_version": self.policy_exception_api_version,
                "trivy_reports": self.trivy_reports}


def _served_kinds(connection: KubernetesConnection, group_version: str) -> set[str]:
    try:
        answer = connection.request("GET", f"/apis/{group_version}").data or {}
    except KubernetesApiError as exc:
        if exc.status == 404:
            return set()
        raise
    return {entry.get("kind", "") for entry in answer.get("resources") or [] if "/" not in entry.get("name", "/")}


def _group_versions(connection: KubernetesConnection, group: str) -> list[str]:
    try:
        answer = connection.request("GET", f"/apis/{group}").data or {}
    except KubernetesApiError as exc:
        if exc.status == 404:
            return []
        raise
    return [entry.get("version", "") for entry in answer.get("versions") or []]


def _has_projections(schemas: PublishedSchemas, api_version: str) -> bool:
    found = schemas.schema(api_version, "GlobalContextEntry")
    if found is None:
        return False
    schema, components = found
    node: dict[str, Any] = schema
    for field in ("spec", "projections"):
        while "$ref" in node or "allOf" in node:
            reference = node.get("$ref") or node["allOf"][0].get("$ref", "")
            node = components.get(reference.rsplit("/", 1)[-1], {})
        node = (node.get("properties") or {}).get(field) or {}
        if not node:
            return False
    return True


def detect(connection: KubernetesConnection, schemas: PublishedSchemas) -> Capabilities:
    """Raises HardeningError when Kyverno or Trivy Operator's reports are not installed."""
    kyverno_versions = _group_versions(connection, "kyverno.io")
    served = {version: _served_kinds(connection, f"kyverno.io/{version}") for version in kyverno_versions}
    if "ClusterPolicy" not in served.get("v1", set()):
        raise HardeningError(
            f"Kyverno is not installed on {connection.server}: the API server serves no kyverno.io/v1 ClusterPolicy. "
            "Install Kyverno (1.13 or later) first; the image-scan gate is a Kyverno policy.")
    if "VulnerabilityReport" not in _served_kinds(connection, TRIVY_GROUP_VERSION):
        raise HardeningError(
            f"Trivy Operator's VulnerabilityReport CRD is missing on {connection.server} (no "
            f"{TRIVY_GROUP_VERSION} vulnerabilityreports): install Trivy Operator first, the gate reads its reports.")
    exception_version = next((f"kyverno.io/{version}" for version in ("v2", "v2beta1")
                              if "PolicyException" in served.get(version, set())), "")
    if "GlobalContextEntry" in served.get("v2beta1", set()):
        return Capabilities("global_projection", "kyverno.io/v2beta1", exception_version, True)
    if "GlobalContextEntry" in served.get("v2alpha1", set()):
        mode = "global_projection" if _has_projections(schemas, "kyverno.io/v2alpha1") else "global_resource"
        return Capabilities(mode, "kyverno.io/v2alpha1", exception_version, True)
    return Capabilities("api_call", "", exception_version, True)
