"""CustomResourceDefinitions: serving their kinds, and the CRDs the lab loads at start.

A CRD that is created or updated is established immediately (status conditions ``NamesAccepted``
and ``Established``, ``acceptedNames``, ``storedVersions``) and its served versions appear in
discovery and OpenAPI; deleting it removes the kind and every custom resource of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from atlas_lab.services.kubernetes.resources import PrinterColumn, ResourceRegistry, ResourceType, version_priority
from atlas_lab.services.kubernetes.schemas import custom_resource_schema
from atlas_lab.services.kubernetes.store import ObjectStore

CRD_DIRECTORY = Path(__file__).parent / "crds"
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")


def resource_type_from_crd(crd: dict[str, Any]) -> ResourceType:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
    versions.sort(key=lambda v: version_priority(v["name"]), reverse=True)
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), versions[0]["name"]
                   if versions else "v1")
    subresources: list[str] = []
    storage_def = next((v for v in spec.get("versions") or [] if v["name"] == storage), {})
    for name in ("status", "scale"):
        if name in (storage_def.get("subresources") or {}):
            subresources.append(name)
    preferred = versions[0] if versions else storage_def
    columns = [PrinterColumn(name=c.get("name", ""), type=c.get("type", "string"), json_path=c.get("jsonPath", ""),
                             description=c.get("description", ""), priority=int(c.get("priority", 0)),
                             format=c.get("format", ""))
               for c in preferred.get("additionalPrinterColumns") or []]
    kind = names.get("kind", "")
    return ResourceType(
        group=spec.get("group", ""),
        versions=[v["name"] for v in versions] or [storage],
        kind=kind,
        plural=names.get("plural", ""),
        singular=names.get("singular") or kind.lower(),
        namespaced=spec.get("scope") == "Namespaced",
        short_names=list(names.get("shortNames") or []),
        categories=list(names.get("categories") or []),
        subresources=subresources,
        crd_name=(crd.get("metadata") or {}).get("name"),
        crd_schemas={v["name"]: custom_resource_schema((v.get("schema") or {}).get("openAPIV3Schema"))
                     for v in spec.get("versions") or []},
        crd_versions={v["name"]: v for v in spec.get("versions") or []},
        printer_columns=columns,
        storage_version=storage,
    )


def crd_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    previous = crd.get("status") or {}
    stored = list(previous.get("storedVersions") or [])
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), None)
    if storage and storage not in stored:
        stored.append(storage)

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        for old in previous.get("conditions") or []:
            if old.get("type") == kind and old.get("status") == "True":
                return old
        return {"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message}

    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    }


class CRDRegistrar:
    """Keeps the resource registry in sync with the stored CRDs (installed as ObjectService hooks)."""

    def __init__(self, registry: ResourceRegistry, store: ObjectStore, clock: Any):
        self.registry = registry
        self.store = store
        self.clock = clock

    def prepare(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rt.key != CRD_KEY:
            return
        obj["status"] = crd_status(obj if old is None else dict(obj, status=old.get("status")), self.clock())

    def committed(self, rt: ResourceType, event: str, obj: dict[str, Any]) -> None:
        if rt.key != CRD_KEY:
            return
        new_type = resource_type_from_crd(obj)
        if event == "DELETED":
            existing = self.registry.get(new_type.group, new_type.plural)
            if existing is not None and existing.crd_name == new_type.crd_name:
                self.registry.remove(new_type.group, new_type.plural)
                self.store.drop_resource(existing.key)
                self.store.close_watchers([existing.key])
            return
        existing = self.registry.get(new_type.group, new_type.plural)
        if existing is not None and not existing.is_custom:
            return  # never shadow a built-in kind
        self.registry.add(new_type)


def bundled_crd_files(directory: Path = CRD_DIRECTORY) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARSED: dict[tuple[str, float], list[dict[str, Any]]] = {}


def load_crd_documents(files: Iterable[Path]) -> list[dict[str, Any]]:
    """The CRDs in ``files`` (parsed once per file version: the bundled ones weigh 1.7 MB)."""
    documents = []
    for path in files:
        key = (str(path), path.stat().st_mtime)
        if key not in _PARSED:
            with open(path, encoding="utf-8") as handle:
                _PARSED[key] = [d for d in yaml.load_all(handle, Loader=_LOADER)  # nosec B506 - safe loader
                                if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
        documents.extend(json.loads(json.dumps(d)) for d in _PARSED[key])
    return documents
