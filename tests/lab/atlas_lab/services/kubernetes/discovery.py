"""API discovery: legacy documents (/api, /apis, /apis/<g>/<v>) and aggregated discovery v2.

kubectl (client-go 1.30+) asks ``/api`` and ``/apis`` for
``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`` first and uses the answer
when the response Content-Type says so; the kubernetes Python client reads the legacy documents.
Both come from the same resource registry, so a CRD appears in both at once.
"""

from __future__ import annotations

from typing import Any

from atlas_lab.services.kubernetes.resources import SUBRESOURCE_VERBS, ResourceRegistry, ResourceType

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> str | None:
    """The aggregated media type to answer with, if the client's Accept header asks for one."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")[1:]}
        if "as=APIGroupDiscoveryList" in params and "g=apidiscovery.k8s.io" in params:
            if "v=v2" in params:
                return AGGREGATED_V2
            if "v=v2beta1" in params:
                return AGGREGATED_V2BETA1
    return None


def _subresource_kind(rt: ResourceType, subresource: str, version: str) -> dict[str, str]:
    if subresource == "scale":
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    if subresource == "proxy":
        return {"group": "", "version": "v1", "kind": f"{rt.kind}ProxyOptions"}
    if subresource == "log":
        return {"group": "", "version": "v1", "kind": "Pod"}
    if subresource == "finalize":
        return {"group": "", "version": "v1", "kind": "Namespace"}
    if subresource == "token":
        return {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}
    return {"group": rt.group, "version": version, "kind": rt.kind}


def _subresource_verbs(subresource: str) -> list[str]:
    if subresource == "proxy":
        return ["create", "delete", "get", "patch", "update"]
    if subresource == "log":
        return ["get"]
    if subresource == "finalize":
        return ["update"]
    if subresource == "token":
        return ["create"]
    return list(SUBRESOURCE_VERBS)


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group_list(registry: ResourceRegistry) -> dict[str, Any]:
    groups = []
    for group, versions in registry.groups().items():
        if not group:
            continue
        groups.append(_api_group(group, versions))
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _api_group(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group(registry: ResourceRegistry, group: str) -> dict[str, Any] | None:
    versions = registry.groups().get(group)
    if not versions:
        return None
    return dict(_api_group(group, versions), kind="APIGroup", apiVersion="v1")


def api_resource_list(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                                 "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = rt.storage_version_hash()
        resources.append(entry)
        for subresource in rt.subresources:
            kind = _subresource_kind(rt, subresource, version)
            sub: dict[str, Any] = {"name": f"{rt.plural}/{subresource}", "singularName": "",
                                   "namespaced": rt.namespaced, "kind": kind["kind"],
                                   "verbs": _subresource_verbs(subresource)}
            if kind["group"] != rt.group or kind["version"] != version:
                sub["group"] = kind["group"]
                sub["version"] = kind["version"]
            resources.append(sub)
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _aggregated_resource(rt: ResourceType, version: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subresources = []
    for subresource in rt.subresources:
        subresources.append({"subresource": subresource,
                             "responseKind": _subresource_kind(rt, subresource, version),
                             "verbs": _subresource_verbs(subresource)})
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated(registry: ResourceRegistry, legacy: bool) -> dict[str, Any]:
    """``APIGroupDiscoveryList`` for ``/api`` (``legacy``) or ``/apis``."""
    items = []
    for group, versions in registry.groups().items():
        if bool(group) == legacy:
            continue
        version_entries = []
        for version in versions:
            resources = [_aggregated_resource(rt, version) for rt in registry.in_group_version(group, version)]
            version_entries.append({"version": version, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": version_entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}
