"""OpenAPI v3 (per group-version) and v2 documents built from the served schemas.

kubectl reads ``/openapi/v3`` to decide whether the server supports ``fieldValidation`` (it looks
for a PATCH operation carrying ``x-kubernetes-group-version-kind`` of the kind and a
``fieldValidation`` parameter) and for ``kubectl explain`` and client-side apply patch metadata.
Documents are cached per registry generation and addressed by content hash, like the real server.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from typing import Any

from atlas_lab.services.kubernetes.resources import ResourceRegistry, ResourceType
from atlas_lab.services.kubernetes.schemas import OBJECT_META, builtin_definitions, builtin_gvk_index

LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
SCALE = "io.k8s.api.autoscaling.v1.Scale"


def _convert(node: Any, ref_prefix: str) -> Any:
    """kubernetes-validate JSON Schema -> OpenAPI (single types, component refs)."""
    if isinstance(node, list):
        return [_convert(n, ref_prefix) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$schema", "$id"):
            continue
        if key == "$ref":
            out["$ref"] = ref_prefix + value.split("$defs/", 1)[1]
        elif key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            if kinds:
                out["type"] = kinds[0]
        elif key in ("properties",):
            out[key] = {k: _convert(v, ref_prefix) for k, v in value.items()}
        else:
            out[key] = _convert(value, ref_prefix)
    return out


def _definition(name: str, ref_prefix: str) -> dict[str, Any]:
    raw = builtin_definitions()[name]
    if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
        return {"description": raw.get("description", "IntOrString is a type that can hold an int32 or a string."),
                "type": "string", "format": "int-or-string"}
    if name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
        return {"description": raw.get("description", "Quantity is a fixed-point representation of a number."),
                "type": "string"}
    return _convert(raw, ref_prefix)


def _closure(names: list[str]) -> list[str]:
    definitions = builtin_definitions()
    seen: list[str] = []
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen or name not in definitions:
            continue
        seen.append(name)
        text = json.dumps(definitions[name])
        for part in text.split('"$ref": "')[1:]:
            stack.append(part.split('"', 1)[0].split("$defs/", 1)[1])
    return sorted(seen)


def _schema_name(rt: ResourceType, version: str) -> str:
    if not rt.is_custom:
        return builtin_gvk_index()[(rt.group, version, rt.kind)]
    reversed_group = ".".join(reversed(rt.group.split(".")))
    return f"{reversed_group}.{version}.{rt.kind}"


def _custom_schema(rt: ResourceType, version: str, ref_prefix: str) -> dict[str, Any]:
    raw = copy.deepcopy(((rt.crd_versions.get(version) or {}).get("schema") or {}).get("openAPIV3Schema") or
                        {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    props = raw.setdefault("properties", {})
    props["apiVersion"] = {"type": "string",
                           "description": "APIVersion defines the versioned schema of this representation of an "
                                          "object."}
    props["kind"] = {"type": "string",
                     "description": "Kind is a string value representing the REST resource this object represents."}
    props["metadata"] = {"$ref": ref_prefix + OBJECT_META,
                         "description": "Standard object's metadata."}
    raw["x-kubernetes-group-version-kind"] = [{"group": rt.group, "version": version, "kind": rt.kind}]
    return raw


def _list_schema(rt: ResourceType, version: str, item_ref: str, ref_prefix: str) -> dict[str, Any]:
    return {
        "description": f"{rt.kind}List is a list of {rt.kind}",
        "type": "object", "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "metadata": {"$ref": ref_prefix + LIST_META},
        },
        "x-kubernetes-group-version-kind": [{"group": rt.group, "version": version, "kind": f"{rt.kind}List"}],
    }


def _parameter(name: str, description: str, location: str = "query", required: bool = False,
               kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": location, "description": description, "required": required,
            "schema": {"type": kind, "uniqueItems": True} if location == "query" else {"type": kind}}


WRITE_PARAMETERS = [
    _parameter("dryRun", "When present, indicates that modifications should not be persisted."),
    _parameter("fieldManager", "fieldManager is a name associated with the actor or entity that is making "
                               "these changes."),
    _parameter("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request "
                                  "containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict."),
]
LIST_PARAMETERS = [
    _parameter(name, name) for name in ("continue", "fieldSelector", "labelSelector", "resourceVersion",
                                        "resourceVersionMatch", "sendInitialEvents")
] + [_parameter("limit", "limit", kind="integer"), _parameter("timeoutSeconds", "timeoutSeconds", kind="integer"),
     _parameter("watch", "watch", kind="boolean"), _parameter("allowWatchBookmarks", "allowWatchBookmarks",
                                                              kind="boolean")]


def _operation(rt: ResourceType, version: str, action: str, verb: str, ref: str, list_ref: str,
               ref_prefix: str, subresource: str = "") -> dict[str, Any]:
    gvk = {"group": rt.group, "version": version, "kind": rt.kind}
    target = f"{rt.kind}{subresource.capitalize()}" if subresource else rt.kind
    operation: dict[str, Any] = {
        "description": f"{action} {'the ' + subresource + ' of ' if subresource else ''}the specified {rt.kind}",
        "operationId": f"{verb}{'Namespaced' if rt.namespaced else ''}{target}",
        "responses": {"200": {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": list_ref if action in ("list", "deletecollection") else ref}}}},
            "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    parameters: list[dict[str, Any]] = []
    if action in ("post", "put", "patch"):
        parameters += WRITE_PARAMETERS
        content_types = ["application/json"]
        if action == "patch":
            content_types = ["application/apply-patch+yaml", "application/json-patch+json",
                             "application/merge-patch+json"]
            if not rt.is_custom:
                content_types.append("application/strategic-merge-patch+json")
            parameters.append(_parameter("force", "Force is going to \"force\" Apply requests.", kind="boolean"))
            body_schema = {"$ref": ref_prefix + PATCH}
        else:
            body_schema = {"$ref": ref}
        operation["requestBody"] = {"required": True,
                                    "content": {t: {"schema": body_schema} for t in content_types}}
    if action in ("list", "deletecollection"):
        parameters += LIST_PARAMETERS
    if action in ("delete", "deletecollection"):
        parameters += [_parameter("dryRun", "dryRun"), _parameter("propagationPolicy", "propagationPolicy"),
                       _parameter("gracePeriodSeconds", "gracePeriodSeconds", kind="integer")]
    if parameters:
        operation["parameters"] = parameters
    return operation


def _paths(rt: ResourceType, version: str, ref: str, list_ref: str, ref_prefix: str) -> dict[str, Any]:
    base = f"/apis/{rt.group}/{version}" if rt.group else f"/api/{version}"
    path_params = [_parameter("name", f"name of the {rt.kind}", "path", True)]
    namespace_param = [_parameter("namespace", "object name and auth scope, such as for teams and projects",
                                  "path", True)]
    prefix = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    scope_params = namespace_param if rt.namespaced else []
    verbs = set(rt.verbs)
    collection: dict[str, Any] = {"parameters": scope_params}
    if "list" in verbs:
        collection["get"] = _operation(rt, version, "list", "list", ref, list_ref, ref_prefix)
    if "create" in verbs:
        collection["post"] = _operation(rt, version, "post", "create", ref, list_ref, ref_prefix)
    if "deletecollection" in verbs:
        collection["delete"] = _operation(rt, version, "deletecollection", "deleteCollection", ref, list_ref,
                                          ref_prefix)
    item: dict[str, Any] = {"parameters": path_params + scope_params}
    for verb, method, action, operation_verb in (("get", "get", "get", "read"), ("update", "put", "put", "replace"),
                                                 ("patch", "patch", "patch", "patch"),
                                                 ("delete", "delete", "delete", "delete")):
        if verb in verbs:
            item[method] = _operation(rt, version, action, operation_verb, ref, list_ref, ref_prefix)
    paths = {prefix: collection}
    if len(item) > 1:
        paths[f"{prefix}/{{name}}"] = item
    if rt.namespaced and "list" in verbs:
        paths[f"{base}/{rt.plural}"] = {"get": dict(_operation(rt, version, "list", "list", ref, list_ref,
                                                               ref_prefix),
                                                    operationId=f"list{rt.kind}ForAllNamespaces")}
    for subresource in rt.subresources:
        if subresource not in ("status", "scale"):
            continue
        sub_ref = ref_prefix + SCALE if subresource == "scale" else ref
        paths[f"{prefix}/{{name}}/{subresource}"] = {
            "parameters": path_params + scope_params,
            "get": _operation(rt, version, "get", "read", sub_ref, list_ref, ref_prefix, subresource),
            "put": _operation(rt, version, "put", "replace", sub_ref, list_ref, ref_prefix, subresource),
            "patch": _operation(rt, version, "patch", "patch", sub_ref, list_ref, ref_prefix, subresource),
        }
    return paths


class OpenAPIDocuments:
    """Builds and caches the documents; invalidated when the registry generation changes."""

    def __init__(self, registry: ResourceRegistry, version: str):
        self.registry = registry
        self.version = version
        self._lock = threading.Lock()
        self._generation = -1
        self._v3: dict[str, bytes] = {}
        self._v3_hashes: dict[str, str] = {}
        self._v2: bytes | None = None

    def _refresh(self) -> None:
        if self._generation != self.registry.generation:
            self._v3.clear()
            self._v3_hashes.clear()
            self._v2 = None
            self._generation = self.registry.generation

    def group_versions(self) -> list[str]:
        result = []
        for group, versions in self.registry.groups().items():
            for version in versions:
                result.append(f"apis/{group}/{version}" if group else f"api/{version}")
        return result

    def v3_document(self, group_version_path: str) -> bytes | None:
        with self._lock:
            self._refresh()
            if group_version_path not in self._v3:
                document = self._build_v3(group_version_path)
                if document is None:
                    return None
                data = json.dumps(document, sort_keys=True).encode()
                self._v3[group_version_path] = data
                self._v3_hashes[group_version_path] = hashlib.sha512(data).hexdigest().upper()
            return self._v3[group_version_path]

    def v3_hash(self, group_version_path: str) -> str:
        self.v3_document(group_version_path)
        with self._lock:
            return self._v3_hashes.get(group_version_path, "")

    def v3_root(self) -> dict[str, Any]:
        paths = {}
        for gv in self.group_versions():
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={self.v3_hash(gv)}"}
        return {"paths": paths}

    def _build_v3(self, gv_path: str) -> dict[str, Any] | None:
        parts = gv_path.split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        types = self.registry.in_group_version(group, version)
        if not types:
            return None
        prefix = "#/components/schemas/"
        schemas: dict[str, Any] = {}
        roots = [OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH]
        paths: dict[str, Any] = {}
        for rt in types:
            name = _schema_name(rt, version)
            if rt.is_custom:
                schemas[name] = _custom_schema(rt, version, prefix)
            else:
                roots.append(name)
            if "scale" in rt.subresources:
                roots.append(SCALE)
            list_name = name + "List"
            schemas[list_name] = _list_schema(rt, version, prefix + name, prefix)
            paths.update(_paths(rt, version, prefix + name, prefix + list_name, prefix))
        for definition in _closure(roots):
            schemas.setdefault(definition, _definition(definition, prefix))
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": self.version},
                "paths": paths, "components": {"schemas": schemas}}

    def v2_document(self) -> bytes:
        with self._lock:
            self._refresh()
            if self._v2 is None:
                self._v2 = json.dumps(self._build_v2(), sort_keys=True).encode()
            return self._v2

    def _build_v2(self) -> dict[str, Any]:
        prefix = "#/definitions/"
        definitions: dict[str, Any] = {}
        roots = [OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH, SCALE]
        paths: dict[str, Any] = {}
        for rt in self.registry.all():
            for version in rt.versions:
                name = _schema_name(rt, version)
                if rt.is_custom:
                    definitions[name] = _custom_schema(rt, version, prefix)
                else:
                    roots.append(name)
                definitions[name + "List"] = _list_schema(rt, version, prefix + name, prefix)
                for path, item in _paths(rt, version, prefix + name, prefix + name + "List", prefix).items():
                    paths[path] = _v2_path(item)
        for definition in _closure(roots):
            definitions.setdefault(definition, _definition(definition, prefix))
        return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": self.version},
                "paths": paths, "definitions": definitions}


def _v2_path(item: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3 path item -> Swagger 2 (parameters inline, body parameter, produces/consumes)."""
    result: dict[str, Any] = {}
    for key, value in item.items():
        if key == "parameters":
            result[key] = [_v2_parameter(p) for p in value]
            continue
        operation = {k: v for k, v in value.items() if k not in ("requestBody", "responses", "parameters")}
        operation["parameters"] = [_v2_parameter(p) for p in value.get("parameters", [])]
        if "requestBody" in value:
            content = value["requestBody"]["content"]
            operation["consumes"] = sorted(content)
            schema = next(iter(content.values()))["schema"]
            operation["parameters"].append({"name": "body", "in": "body", "required": True, "schema": schema})
        operation["produces"] = ["application/json", "application/yaml"]
        operation["responses"] = {code: {"description": r["description"],
                                         **({"schema": r["content"]["application/json"]["schema"]}
                                            if "content" in r else {})}
                                  for code, r in value["responses"].items()}
        result[key] = operation
    return result


def _v2_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in parameter.items() if k != "schema"}
    result["type"] = parameter.get("schema", {}).get("type", "string")
    if parameter.get("schema", {}).get("uniqueItems"):
        result["uniqueItems"] = True
    return result
