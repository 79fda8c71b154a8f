"""Server-side apply and ``metadata.managedFields``, after sigs.k8s.io/structured-merge-diff.

Field sets are sets of paths; a path is a tuple of elements ``("f", name)`` (struct field or map
key), ``("k", '{"name":"web"}')`` (associative list item, keys sorted) or ``("v", '"x"')`` (set item).
The member rules follow SMD's ``ToFieldSet``: scalars, atomic lists/maps, list items, null or empty
map values and map entries that are not declared fields are members; a declared struct field with
content is only the parent of its members.

:func:`apply` implements ``Updater.Apply`` (merge the applied configuration into the live object,
prune what the manager applied before and no longer applies, detect conflicts with other managers'
fields whose value would change, ``force`` takes them over); :func:`track_update` implements
``Updater.Update`` for create/update/patch requests (the manager takes the fields it changed).
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
from collections.abc import Iterable
from typing import Any

from atlas_lab.services.kubernetes.errors import ApiError
from atlas_lab.services.kubernetes.schemas import Schema

Path = tuple[tuple[str, str], ...]
# Defaults of list-map key fields (the OpenAPI "default" the real server's schemas carry, e.g.
# ContainerPort.protocol, that the kubernetes-validate schemas leave out).
KEY_DEFAULTS = {"protocol": "TCP"}
CONTAINER = object()  # marker value of a member that has children (list item, map entry)

# Paths that StripMetaManager removes from every field set.
_STRIPPED = {
    (("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),),
    (("f", "metadata"), ("f", "name")), (("f", "metadata"), ("f", "namespace")),
    (("f", "metadata"), ("f", "creationTimestamp")), (("f", "metadata"), ("f", "selfLink")),
    (("f", "metadata"), ("f", "uid")), (("f", "metadata"), ("f", "clusterName")),
    (("f", "metadata"), ("f", "generation")), (("f", "metadata"), ("f", "resourceVersion")),
}
_MANAGED_FIELDS = (("f", "metadata"), ("f", "managedFields"))


class SchemaError(Exception):
    """The object does not fit the schema (SMD typed conversion error)."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors

    def text(self) -> str:
        if len(self.errors) == 1:
            return self.errors[0]
        return "errors:\n  " + "\n  ".join(self.errors)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _go_string(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    return canonical(value)


def path_string(path: Path) -> str:
    """SMD ``Path.String()``: ``.spec.template.spec.containers[name="web"].image``."""
    parts = []
    for kind, text in path:
        if kind == "f":
            parts.append("." + text)
        elif kind == "k":
            keys = json.loads(text)
            parts.append("[" + ",".join(f"{k}={_go_string(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            parts.append(f"[={_go_string(json.loads(text))}]")
        else:
            parts.append(f"[{text}]")
    return "".join(parts)


def _item_key(item: Any, schema: Schema, index: int) -> tuple[str, str]:
    """The path element of a list item of an associative list."""
    if schema.list_type == "set":
        return ("v", canonical(item))
    keys = schema.list_keys
    if not isinstance(item, dict):
        raise SchemaError([f"element {index}: associative list with keys may not have non-map elements"])
    values = {}
    item_schema = schema.items
    for key in keys:
        if key in item:
            values[key] = item[key]
            continue
        key_schema = item_schema.properties.get(key)
        if key_schema is not None and "default" in key_schema.raw:
            values[key] = key_schema.raw["default"]
            continue
        if key in KEY_DEFAULTS:
            values[key] = KEY_DEFAULTS[key]
            continue
        raise SchemaError([f'element {index}: associative list with keys has an element that omits key '
                           f'field "{key}" (and doesn\'t have default value)'])
    return ("k", canonical(dict(sorted(values.items()))))


def field_entries(value: Any, schema: Schema | None, strict: bool = True) -> dict[Path, Any]:
    """The member paths of ``value`` mapped to their value (``CONTAINER`` for inner members).

    With ``strict``, fields the schema does not declare raise :class:`SchemaError` ("field not
    declared in schema"), duplicate list keys too, like SMD's typed conversion of an applied object.
    """
    out: dict[Path, Any] = {}
    errors: list[str] = []
    _walk(value, schema, (), out, errors, strict)
    if errors and strict:
        raise SchemaError(errors)
    return out


def _walk(value: Any, schema: Schema | None, path: Path, out: dict[Path, Any], errors: list[str],
          strict: bool) -> None:
    kind = schema.type if schema is not None else None
    if value is None:
        return
    if kind == "array" and schema is not None:
        if schema.list_type == "atomic" or not isinstance(value, list):
            out[path] = value
            return
        seen: set[tuple[str, str]] = set()
        for index, item in enumerate(value):
            try:
                element = _item_key(item, schema, index)
            except SchemaError as err:
                errors.extend(f"{path_string(path)}: {e}" for e in err.errors)
                continue
            if element in seen:
                errors.append(f"{path_string(path)}: duplicate entries for key {path_string((element,))}")
                continue
            seen.add(element)
            child = path + (element,)
            if schema.list_type == "set":
                out[child] = item
            else:
                out[child] = CONTAINER
                _walk(item, schema.items, child, out, errors, strict)
        return
    if kind == "object" or (kind is None and isinstance(value, dict)):
        if not isinstance(value, dict):
            out[path] = value
            return
        if schema is not None and schema.map_atomic:
            out[path] = value
            return
        properties = schema.properties if schema is not None else {}
        for key, item in value.items():
            child = path + (("f", key),)
            if child == _MANAGED_FIELDS:
                continue
            declared = key in properties
            if declared:
                child_schema: Schema | None = properties[key]
            elif schema is None:
                child_schema = None
            else:
                child_schema = schema.additional
                if child_schema is None:
                    if schema.preserve_unknown:
                        child_schema = None
                    else:
                        errors.append(f"{path_string(child)}: field not declared in schema")
                        continue
            _walk(item, child_schema, child, out, errors, strict)
            if item is None or (isinstance(item, dict) and not item):
                out[child] = item
            elif not declared and child not in out:
                out[child] = CONTAINER if isinstance(item, (dict, list)) else item
        return
    out[path] = value


def strip_meta(paths: Iterable[Path]) -> set[Path]:
    return {p for p in paths if p not in _STRIPPED and p[:2] != _MANAGED_FIELDS}


def reset_filter(paths: Iterable[Path], subresource: str, has_status: bool) -> set[Path]:
    """Drop the fields the write cannot change (status on the main resource, the rest on /status)."""
    status = ("f", "status")
    if not has_status:
        return set(paths)
    if subresource == "status":
        return {p for p in paths if p and p[0] == status}
    return {p for p in paths if not p or p[0] != status}


def _same(a: Any, b: Any) -> bool:
    if a is CONTAINER or b is CONTAINER:
        return a is b
    return canonical(a) == canonical(b)


def compare(old: dict[Path, Any], new: dict[Path, Any]) -> tuple[set[Path], set[Path], set[Path]]:
    """(modified, added, removed) between two entry maps."""
    added = set(new) - set(old)
    removed = set(old) - set(new)
    modified = {p for p in set(old) & set(new) if not _same(old[p], new[p])}
    return modified, added, removed


# ---------------------------------------------------------------------------------------------
# managedFields encoding

class ManagerEntry:
    """One entry of ``metadata.managedFields``."""

    def __init__(self, manager: str, operation: str, api_version: str, fields: set[Path],
                 time: str | None = None, subresource: str = ""):
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.fields = fields
        self.time = time
        self.subresource = subresource

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Appliers are identified without apiVersion (BuildManagerIdentifier).
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """``printManager`` of conflict messages."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"manager": self.manager, "operation": self.operation,
                                 "apiVersion": self.api_version}
        if self.time:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = encode_fields(self.fields)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _element_text(element: tuple[str, str]) -> str:
    return f"{element[0]}:{element[1]}"


def encode_fields(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    members: set[Path] = set(paths)
    for path in sorted(paths):
        node = root
        for element in path:
            node = node.setdefault(_element_text(element), {})

    def mark(node: dict[str, Any], path: Path) -> None:
        for text, child in node.items():
            if text == ".":
                continue
            kind, _colon, rest = text.partition(":")
            child_path = path + ((kind, rest),)
            if child and child_path in members:
                child["."] = {}
            mark(child, child_path)
    mark(root, ())
    return _sorted_tree(root)


def _sorted_tree(node: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted_tree(node[k]) for k in sorted(node, key=lambda k: (k != ".", k))}


def decode_fields(tree: dict[str, Any], path: Path = ()) -> set[Path]:
    result: set[Path] = set()
    for text, child in (tree or {}).items():
        if text == ".":
            result.add(path)
            continue
        kind, _colon, rest = text.partition(":")
        child_path = path + ((kind, rest),)
        if not child:
            result.add(child_path)
        else:
            result |= decode_fields(child, child_path)
    return result


def decode_managed_fields(entries: list[dict[str, Any]] | None) -> list[ManagerEntry]:
    result = []
    for entry in entries or []:
        if not isinstance(entry, dict) or not entry.get("manager") and not entry.get("fieldsV1"):
            continue
        result.append(ManagerEntry(entry.get("manager", ""), entry.get("operation", "Update"),
                                   entry.get("apiVersion", ""), decode_fields(entry.get("fieldsV1") or {}),
                                   entry.get("time"), entry.get("subresource", "")))
    return result


def encode_managed_fields(entries: list[ManagerEntry]) -> list[dict[str, Any]]:
    kept = [e for e in entries if e.fields]
    kept.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.to_dict() for e in kept]


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Merge (apply) and prune

def merge(live: Any, config: Any, schema: Schema | None) -> Any:
    """``TypedValue.Merge``: the applied configuration wins, associative lists merge by key."""
    kind = schema.type if schema is not None else None
    if kind == "array" and schema is not None and schema.list_type != "atomic" \
            and isinstance(config, list) and isinstance(live, list):
        return _merge_list(live, config, schema)
    if isinstance(config, dict) and isinstance(live, dict) and (kind in ("object", None)) \
            and not (schema is not None and schema.map_atomic):
        result = dict(live)
        properties = schema.properties if schema is not None else {}
        for key, value in config.items():
            if key in properties:
                child = properties[key]
            elif schema is not None:
                child = schema.additional
            else:
                child = None
            result[key] = merge(live.get(key), value, child)
        return result
    return copy.deepcopy(config)


def _merge_list(live: list[Any], config: list[Any], schema: Schema) -> list[Any]:
    """Merge associative lists keeping the applied order for shared items (SMD's interleave)."""
    def keyed(items: list[Any]) -> list[tuple[tuple[str, str], Any]]:
        return [(_item_key(item, schema, i), item) for i, item in enumerate(items)]

    lhs, rhs = keyed(live), keyed(config)
    lhs_map = dict(lhs)
    rhs_map = dict(rhs)
    shared = [pe for pe, _item in rhs if pe in lhs_map]
    next_shared = shared.pop(0) if shared else None
    merged_rhs: set[tuple[str, str]] = set()
    out: list[Any] = []
    left, right = 0, 0
    item_schema = schema.items

    def merged_item(pe: tuple[str, str]) -> Any:
        if schema.list_type == "set":
            return rhs_map.get(pe, lhs_map.get(pe))
        if pe in lhs_map and pe in rhs_map:
            return merge(lhs_map[pe], rhs_map[pe], item_schema)
        return copy.deepcopy(rhs_map[pe] if pe in rhs_map else lhs_map[pe])

    while left < len(lhs) or right < len(rhs):
        if left < len(lhs) and right < len(rhs):
            pe = lhs[left][0]
            if pe == rhs[right][0]:
                merged_rhs.add(pe)
                out.append(merged_item(pe))
                left += 1
                right += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in rhs_map and next_shared is not None and next_shared != pe:
                left += 1
                continue
        if left < len(lhs):
            pe = lhs[left][0]
            if pe not in rhs_map:
                out.append(copy.deepcopy(lhs_map[pe]))
                left += 1
                continue
            if pe in merged_rhs:
                left += 1
                continue
        if right < len(rhs):
            pe = rhs[right][0]
            merged_rhs.add(pe)
            out.append(merged_item(pe))
            right += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


def _navigate(obj: Any, path: Path, schema: Schema | None) -> tuple[Any, Any, Schema | None]:
    """Return (container, accessor, schema of the target) for removing ``path``."""
    container = obj
    current_schema = schema
    for index, element in enumerate(path):
        last = index == len(path) - 1
        kind, text = element
        if kind == "f":
            if not isinstance(container, dict) or text not in container:
                return None, None, None
            child_schema = None
            if current_schema is not None:
                child_schema = current_schema.properties.get(text) or current_schema.additional
            if last:
                return container, text, child_schema
            container = container[text]
            current_schema = child_schema
        else:
            if not isinstance(container, list) or current_schema is None:
                return None, None, None
            position = None
            for i, item in enumerate(container):
                try:
                    if _item_key(item, current_schema, i) == element:
                        position = i
                        break
                except SchemaError:
                    continue
            if position is None:
                return None, None, None
            if last:
                return container, position, current_schema.items
            container = container[position]
            current_schema = current_schema.items
    return None, None, None


def remove_path(obj: dict[str, Any], path: Path, schema: Schema | None) -> None:
    container, accessor, _schema = _navigate(obj, path, schema)
    if container is None:
        return
    del container[accessor]


def _value_at(obj: Any, path: Path, schema: Schema | None) -> Any:
    container, accessor, _schema = _navigate(obj, path, schema)
    if container is None:
        return None
    return container[accessor]


def prune(obj: dict[str, Any], schema: Schema, removal: set[Path], keep: set[Path]) -> None:
    """Remove ``removal`` paths unless a kept path is the same or below; then drop emptied maps."""
    for path in sorted(removal, key=len, reverse=True):
        if any(k[:len(path)] == path for k in keep):
            continue
        remove_path(obj, path, schema)
        # Walk up: a map emptied by the removal disappears unless someone owns it.
        parent = path[:-1]
        while parent:
            value = _value_at(obj, parent, schema)
            if value != {} or parent in keep or parent[-1][0] != "f":
                break
            remove_path(obj, parent, schema)
            parent = parent[:-1]


# ---------------------------------------------------------------------------------------------
# The two operations

def _find(entries: list[ManagerEntry], identity: tuple[str, str, str, str]) -> ManagerEntry | None:
    for entry in entries:
        if entry.identity == identity:
            return entry
    return None


def apply_conflict(conflicts: list[tuple[ManagerEntry, Path]]) -> ApiError:
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {entry.describe()}",
               "field": path_string(path)} for entry, path in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: {path_string(path)}"
    else:
        by_manager: dict[str, list[Path]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.describe(), []).append(path)
        lines = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def apply(live: dict[str, Any] | None, config: dict[str, Any], schema: Schema, manager: str,
          api_version: str, force: bool, subresource: str = "",
          has_status: bool = False) -> tuple[dict[str, Any], list[ManagerEntry]]:
    """Merge ``config`` into ``live`` for ``manager``; return the new object and field managers.

    Raises :class:`SchemaError` when the configuration does not fit the schema and
    :class:`ApiError` 409 on conflicts without ``force``.
    """
    base = copy.deepcopy(live) if live is not None else {}
    entries = decode_managed_fields(base.get("metadata", {}).get("managedFields"))
    config_set = reset_filter(strip_meta(field_entries(config, schema, strict=True)), subresource, has_status)
    identity = (manager, "Apply", "", subresource)
    previous = _find(entries, identity)
    last_set = previous.fields if previous else set()

    merged = merge(base, config, schema)
    others = [e for e in entries if e.identity != identity]
    owned_by_others: set[Path] = set()
    for entry in others:
        owned_by_others |= entry.fields
    prune(merged, schema, last_set - config_set, owned_by_others | config_set)

    old_entries = field_entries(base, schema, strict=False)
    new_entries = field_entries(merged, schema, strict=False)
    modified, added, removed = compare(old_entries, new_entries)
    changed = reset_filter(strip_meta(modified | added), subresource, has_status)
    conflicts = []
    for entry in others:
        for path in sorted(entry.fields & changed):
            conflicts.append((entry, path))
    if conflicts and not force:
        raise apply_conflict(conflicts)
    for entry in others:
        entry.fields = entry.fields - changed - removed
    if previous is None:
        previous = ManagerEntry(manager, "Apply", api_version, config_set, subresource=subresource)
        entries.append(previous)
    if previous.time is None or _without_managed_fields(merged) != _without_managed_fields(base):
        previous.time = now_rfc3339()
    previous.fields = config_set
    previous.api_version = api_version
    return merged, [e for e in entries if e.fields]


def _without_managed_fields(obj: dict[str, Any]) -> str:
    """The object as it would be stored, without managedFields: what decides whether an apply changed it."""
    stripped = dict(obj)
    stripped["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    string_data = stripped.pop("stringData", None) if obj.get("kind") == "Secret" else None
    if isinstance(string_data, dict):
        # A Secret's stringData is stored folded into data (defaults.py): an identical apply is no change.
        stripped["data"] = {**(obj.get("data") or {}), **{key: base64.b64encode(str(value).encode("utf-8")).decode(
            "ascii") for key, value in string_data.items()}}
    return canonical(stripped)


def track_update(live: dict[str, Any] | None, new: dict[str, Any], schema: Schema, manager: str,
                 api_version: str, subresource: str = "", has_status: bool = False) -> list[ManagerEntry]:
    """Managed fields after a non-apply write of ``new`` over ``live`` (``None`` on create)."""
    requested = (new.get("metadata") or {}).get("managedFields")
    if requested is not None and subresource == "" and (requested == [] or requested == [{}]):
        entries: list[ManagerEntry] = []
    elif requested and subresource == "":
        entries = decode_managed_fields(requested)
    else:
        entries = decode_managed_fields(((live or {}).get("metadata") or {}).get("managedFields"))
    old_entries = field_entries(live or {}, schema, strict=False)
    new_entries = field_entries(new, schema, strict=False)
    modified, added, removed = compare(old_entries, new_entries)
    taken = reset_filter(strip_meta(modified | added), subresource, has_status)
    removed = strip_meta(removed)
    for entry in entries:
        entry.fields = entry.fields - taken - removed
    if taken:
        identity = (manager, "Update", api_version, subresource)
        mine = _find(entries, identity)
        if mine is None:
            mine = ManagerEntry(manager, "Update", api_version, set(), subresource=subresource)
            entries.append(mine)
        mine.fields = mine.fields | taken
        mine.time = now_rfc3339()
    return [e for e in entries if e.fields]
