"""Structural schemas of the served kinds, navigated the same way for built-in kinds and CRDs.

Built-in kinds use the OpenAPI definitions shipped by ``kubernetes-validate`` (generated from the
Kubernetes release's own OpenAPI document, with the ``x-kubernetes-*`` list/map/patch extensions).
Custom resources use their CRD's ``openAPIV3Schema``, with ``metadata`` typed as ObjectMeta like the
real API server does. One :class:`Schema` node type serves validation, pruning, strategic merge patch,
server-side apply field sets and the OpenAPI documents.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate

KUBERNETES_VERSION = "1.37"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _schema_directory() -> Path:
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    wanted = base / f"v{KUBERNETES_VERSION}.0-local"
    if wanted.is_dir():
        return wanted
    candidates = sorted((p for p in base.iterdir() if p.name.endswith("-local")),
                        key=lambda p: tuple(int(x) for x in p.name[1:].split("-")[0].split(".")))
    if not candidates:
        raise RuntimeError(f"kubernetes-validate ships no schemas under {base}")
    return candidates[-1]


@functools.lru_cache(maxsize=1)
def builtin_definitions() -> dict[str, Any]:
    """The ``$defs`` of kubernetes-validate's ``_definitions.json`` (loaded once)."""
    with open(_schema_directory() / "_definitions.json", encoding="utf-8") as handle:
        return json.load(handle)["$defs"]


@functools.lru_cache(maxsize=1)
def builtin_gvk_index() -> dict[tuple[str, str, str], str]:
    """(group, version, kind) -> definition name, from ``x-kubernetes-group-version-kind``."""
    index: dict[tuple[str, str, str], str] = {}
    for name, definition in builtin_definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            key = (gvk.get("group", ""), gvk["version"], gvk["kind"])
            # Prefer the definition of the group's own package (io.k8s.api.<group>...).
            if key not in index or name.startswith("io.k8s.api."):
                index[key] = name
    return index


def ref_name(ref: str) -> str:
    """Definition name of ``#/$defs/X``, ``/api/_definitions.json#/$defs/X`` or ``#/definitions/X``."""
    for marker in ("$defs/", "definitions/", "schemas/"):
        if marker in ref:
            return ref.split(marker, 1)[1]
    raise ValueError(f"unsupported $ref {ref!r}")


class Schema:
    """One node of a structural schema, with ``$ref`` resolved lazily.

    ``crd`` switches the rules that differ between built-in (Go struct) types and CRD structural
    schemas: an object without properties is free-form in a built-in definition (RawExtension), but
    prunes everything in a CRD unless ``x-kubernetes-preserve-unknown-fields`` is set; ``null`` is
    accepted for every built-in field (Go decodes it as the zero value) but only for ``nullable``
    CRD fields; lists are atomic by default in CRDs and associative when a built-in field carries a
    patch merge key.
    """

    __slots__ = ("raw", "definitions", "crd", "name", "_properties")

    def __init__(self, raw: dict[str, Any], definitions: dict[str, Any], crd: bool = False,
                 name: str = ""):
        while "$ref" in raw:
            target = ref_name(raw["$ref"])
            extra = {k: v for k, v in raw.items() if k != "$ref"}
            name = target
            raw = dict(definitions[target], **{k: v for k, v in extra.items() if k.startswith("x-")})
        if "allOf" in raw and len(raw["allOf"]) == 1 and "$ref" in raw["allOf"][0]:
            target = ref_name(raw["allOf"][0]["$ref"])
            name = target
            raw = dict(definitions[target], **{k: v for k, v in raw.items() if k != "allOf"})
        self.raw = raw
        self.definitions = definitions
        self.crd = crd
        self.name = name
        self._properties: dict[str, Schema] | None = None

    # Types -----------------------------------------------------------------------------------
    @property
    def type(self) -> str | None:
        """``object``, ``array``, ``string``, ``integer``, ``number``, ``boolean``, ``int-or-string``,
        ``quantity`` or ``None`` (any JSON value)."""
        raw = self.raw
        if raw.get("x-kubernetes-int-or-string") or self.name == INT_OR_STRING:
            return "int-or-string"
        if self.name == QUANTITY:
            return "quantity"
        kind = raw.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            kind = kinds[0] if kinds else None
        if kind is None:
            if "properties" in raw or "additionalProperties" in raw:
                return "object"
            if "items" in raw:
                return "array"
            if "oneOf" in raw or "anyOf" in raw:
                kinds = set()
                for option in raw.get("oneOf", []) + raw.get("anyOf", []):
                    option_type = Schema(option, self.definitions, self.crd).type
                    kinds.add(option_type)
                if kinds == {"string", "integer"}:
                    return "int-or-string"
                if kinds == {"string", "number"}:
                    return "quantity"
        return kind

    @property
    def nullable(self) -> bool:
        if not self.crd:
            return True
        return bool(self.raw.get("nullable"))

    @property
    def is_object(self) -> bool:
        return self.type == "object"

    @property
    def is_array(self) -> bool:
        return self.type == "array"

    @property
    def is_scalar(self) -> bool:
        return self.type not in ("object", "array", None)

    @property
    def preserve_unknown(self) -> bool:
        """Unknown fields are kept (free-form object or any value)."""
        raw = self.raw
        if raw.get("x-kubernetes-preserve-unknown-fields"):
            return True
        if self.type is None:
            return True
        if not self.crd and self.type == "object" and "properties" not in raw and "additionalProperties" not in raw:
            return True
        return False

    @property
    def embedded_resource(self) -> bool:
        return bool(self.raw.get("x-kubernetes-embedded-resource"))

    # Children --------------------------------------------------------------------------------
    @property
    def properties(self) -> dict[str, Schema]:
        if self._properties is None:
            props = {name: Schema(node, self.definitions, self.crd)
                     for name, node in (self.raw.get("properties") or {}).items()}
            if self.embedded_resource:
                for name in ("apiVersion", "kind"):
                    props.setdefault(name, Schema({"type": "string"}, self.definitions, self.crd))
                props.setdefault("metadata", object_meta_schema(self.crd))
            self._properties = props
        return self._properties

    def child(self, name: str) -> Schema | None:
        props = self.properties
        if name in props:
            return props[name]
        additional = self.additional
        if additional is not None:
            return additional
        return None

    @property
    def has_declared_properties(self) -> bool:
        return bool(self.raw.get("properties")) or self.embedded_resource

    @property
    def additional(self) -> Schema | None:
        additional = self.raw.get("additionalProperties")
        if isinstance(additional, dict):
            return Schema(additional, self.definitions, self.crd)
        if additional is True:
            return Schema({}, self.definitions, self.crd)
        return None

    @property
    def items(self) -> Schema:
        return Schema(self.raw.get("items") or {}, self.definitions, self.crd)

    # List and map semantics ------------------------------------------------------------------
    @property
    def list_type(self) -> str:
        """``atomic``, ``set`` or ``map`` (server-side apply semantics)."""
        explicit = self.raw.get("x-kubernetes-list-type")
        if explicit:
            return explicit
        if not self.crd and "merge" in (self.raw.get("x-kubernetes-patch-strategy") or "").split(","):
            if self.raw.get("x-kubernetes-patch-merge-key"):
                return "map"
            if self.items.is_scalar:
                return "set"
        return "atomic"

    @property
    def list_keys(self) -> list[str]:
        keys = self.raw.get("x-kubernetes-list-map-keys")
        if keys:
            return list(keys)
        merge_key = self.raw.get("x-kubernetes-patch-merge-key")
        return [merge_key] if merge_key else []

    @property
    def map_atomic(self) -> bool:
        return self.raw.get("x-kubernetes-map-type") == "atomic"

    @property
    def patch_strategy(self) -> set[str]:
        return set(filter(None, (self.raw.get("x-kubernetes-patch-strategy") or "").split(",")))

    @property
    def patch_merge_key(self) -> str | None:
        return self.raw.get("x-kubernetes-patch-merge-key")

    # Misc ------------------------------------------------------------------------------------
    @property
    def required(self) -> list[str]:
        return list(self.raw.get("required") or [])

    @property
    def enum(self) -> list[Any] | None:
        return self.raw.get("enum")

    @property
    def go_type_name(self) -> str:
        """A Go-like type name for decode errors (``DeploymentSpec``, ``int32``, ``string``)."""
        if self.name:
            return self.name.rsplit(".", 1)[-1]
        kind = self.type
        fmt = self.raw.get("format")
        if kind == "integer":
            return fmt if fmt in ("int32", "int64") else "int64"
        if kind == "number":
            return "float64"
        if kind == "boolean":
            return "bool"
        if kind == "string":
            return "string"
        if kind == "array":
            return "[]" + self.items.go_type_name
        if kind == "object":
            additional = self.additional
            if additional is not None:
                return "map[string]" + additional.go_type_name
            return "struct"
        return "interface {}"

    def walk_definitions(self) -> Iterator[str]:
        """Names of the definitions referenced from this node (transitively)."""
        seen: set[str] = set()
        stack: list[Any] = [self.raw]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    target = ref_name(ref)
                    if target not in seen:
                        seen.add(target)
                        yield target
                        stack.append(self.definitions[target])
                stack.extend(v for k, v in node.items() if k != "$ref")
            elif isinstance(node, list):
                stack.extend(node)


def builtin_schema(group: str, version: str, kind: str) -> Schema | None:
    name = builtin_gvk_index().get((group, version, kind))
    if name is None:
        return None
    return Schema({"$ref": f"#/$defs/{name}"}, builtin_definitions())


def object_meta_schema(crd: bool = False) -> Schema:
    return Schema({"$ref": f"#/$defs/{OBJECT_META}"}, builtin_definitions(), crd=False) if not crd else \
        _CRDObjectMeta()


class _CRDObjectMeta(Schema):
    """ObjectMeta inside a custom resource: typed by the built-in definition (Go struct rules)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__({"$ref": f"#/$defs/{OBJECT_META}"}, builtin_definitions(), crd=False)


def custom_resource_schema(open_api_v3_schema: dict[str, Any] | None) -> Schema:
    """The schema of a custom resource: the CRD's schema with typed apiVersion/kind/metadata."""
    raw = dict(open_api_v3_schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    props = dict(raw.get("properties") or {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    raw["properties"] = props
    raw.setdefault("type", "object")
    schema = Schema(raw, builtin_definitions(), crd=True)
    # metadata is always ObjectMeta, whatever the CRD says (the API server ignores metadata schemas
    # other than name/generateName restrictions).
    schema.properties["metadata"] = object_meta_schema(crd=True)
    return schema
