# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: read and normalise a set of manifests before it is applied.

Normalising makes what is sent to the API server the same thing that is compared with the live
objects, so that "nothing to do" can be decided without a request:

- YAML documents and ``kind: List`` are flattened; empty documents are skipped;
- ``null`` values are dropped (in server-side apply they would not set anything);
- ``status`` is dropped (controllers own it; the API server ignores it on apply);
- a Secret's ``stringData`` is merged into ``data`` (base64), which is what the API server stores
  anyway, so ownership and values can be compared field by field;
- namespaced objects without a namespace get the default one.

Order of application: Namespaces, then CustomResourceDefinitions, then everything else in the
order given. Deletion uses the reverse order.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core; only sanity's import test lacks it
    yaml = None

NAMESPACE = ("v1", "Namespace")
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


class ManifestError(HardeningError):
    """A manifest that cannot be applied as written."""


def load_manifests(manifests: list[Any] | None = None, definition: str | None = None,
                   src: str | None = None) -> list[dict[str, Any]]:
    """Collect manifests from a list of dicts, a YAML string (several documents) or a YAML file."""
    documents: list[Any] = []
    if manifests:
        documents.extend(manifests)
    if definition:
        documents.extend(_load_yaml(definition, "definition"))
    if src:
        try:
            with open(src, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise ManifestError(f"Cannot read src {src}: {exc.strerror or exc}.") from None
        documents.extend(_load_yaml(text, f"src {src}"))
    flat: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ManifestError(f"Manifest #{index + 1} is a {type(document).__name__}, not a mapping "
                                "with apiVersion, kind and metadata.")
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            flat.extend(item for item in document["items"] if item is not None)
        else:
            flat.append(document)
    return flat


def _load_yaml(text: str, origin: str) -> list[Any]:
    if yaml is None:
        raise ManifestError(f"Reading {origin} needs the PyYAML library (pip install PyYAML).")
    try:
        # libyaml's parser when PyYAML was built with it (as ansible-core's own YAML loading prefers):
        # the same safe constructors, about 6x faster on a thousand manifests.
        return list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError as exc:
        raise ManifestError(f"The YAML in {origin} is invalid: {yaml_problem(exc)}. Fix the manifest there "
                            "(its values are not shown: they may be secrets).") from None


def yaml_problem(exc: Any) -> str:
    """What is wrong and where, without the excerpt of the document PyYAML puts in its message
    (the excerpt would show a Secret's value)."""
    parts = [str(part) for part in (getattr(exc, "context", None), getattr(exc, "problem", None)) if part]
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return (", ".join(parts) or type(exc).__name__) + where


def check_identity(manifest: dict[str, Any], index: int) -> None:
    """Every manifest needs apiVersion, kind and metadata.name (server-side apply needs a name)."""
    metadata = manifest.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    missing = [field for field, value in (("apiVersion", manifest.get("apiVersion")), ("kind", manifest.get("kind")),
                                          ("metadata.name", name)) if not isinstance(value, str) or not value]
    if missing:
        label = f"{manifest.get('kind') or 'manifest'} #{index + 1}"
        if isinstance(metadata, dict) and metadata.get("generateName") and not name:
            raise ManifestError(f"{label} uses metadata.generateName; server-side apply needs a fixed "
                                "metadata.name.")
        raise ManifestError(f"{label} has no {' or '.join(missing)}.")


def normalise(manifest: dict[str, Any], namespaced: bool, default_namespace: str | None) -> tuple:
    """Return (normalised copy, warnings) of one manifest whose scope is known."""
    warnings: list[str] = []
    obj = _drop_nulls(copy.deepcopy(manifest))
    metadata = obj.setdefault("metadata", {})
    label = f"{obj['kind']} {metadata['name']}"
    if namespaced:
        if not metadata.get("namespace"):
            if not default_namespace:
                raise ManifestError(f"{label} is namespaced but has no metadata.namespace, and no default "
                                    "namespace is set (namespace option).")
            metadata["namespace"] = default_namespace
    elif metadata.pop("namespace", None):
        warnings.append(f"{label} is cluster-scoped: its metadata.namespace was ignored.")
    if "status" in obj:
        del obj["status"]
        warnings.append(f"{label}: status was not applied (it is written by controllers).")
    if (obj.get("apiVersion"), obj.get("kind")) == ("v1", "Secret") and "stringData" in obj:
        obj["data"] = merge_string_data(obj.get("data"), obj.pop("stringData"), label)
    return obj, warnings


def merge_string_data(data: dict[str, Any] | None, string_data: Any, label: str) -> dict[str, str]:
    """What the API server does with stringData: encode and merge it over data."""
    if not isinstance(string_data, dict):
        raise ManifestError(f"{label}: stringData must be a mapping of strings.")
    merged = dict(data or {})
    for key, value in string_data.items():
        if not isinstance(value, str):
            raise ManifestError(f"{label}: stringData.{key} must be a string (quote numbers and booleans).")
        merged[key] = base64.b64encode(value.encode("utf-8")).decode("ascii")
    return merged


def apply_rank(api_version: str, kind: str) -> int:
    """0 for Namespaces, 1 for CRDs, 2 for the rest."""
    if (api_version, kind) == NAMESPACE:
        return 0
    if (api_version.split("/", maxsplit=1)[0], kind) == (CRD[0].split("/", maxsplit=1)[0], CRD[1]):
        return 1
    return 2


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value
