"""Patch types of the API: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge.

Strategic merge patch follows ``k8s.io/apimachinery/pkg/util/strategicpatch`` for what clients
send: lists with ``x-kubernetes-patch-strategy: merge`` merge by their merge key (containers, env,
ports, volumes, volumeMounts...), primitive lists with the merge strategy are unions, other lists are
replaced; directives ``$patch: replace|delete|merge``, ``$deleteFromPrimitiveList/<field>``,
``$setElementOrder/<field>`` and ``$retainKeys`` are understood; ``null`` deletes a key.
"""

from __future__ import annotations

import copy
from typing import Any

from atlas_lab.services.kubernetes.errors import ApiError, bad_request
from atlas_lab.services.kubernetes.schemas import Schema


def json_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


# JSON patch --------------------------------------------------------------------------------------

def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str], op: str, path: str) -> Any:
    current = doc
    for part in parts:
        if isinstance(current, dict):
            if part not in current:
                raise _unprocessable(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")
            current = current[part]
        elif isinstance(current, list):
            try:
                index = int(part)
                current = current[index]
            except (ValueError, IndexError) as exc:
                raise _unprocessable(f"{op} operation does not apply: doc is missing path: \"{path}\": "
                                     f"missing value") from exc
        else:
            raise _unprocessable(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")
    return current


def _add(doc: Any, parts: list[str], value: Any, op: str, path: str) -> Any:
    if not parts:
        return copy.deepcopy(value)
    parent = _resolve(doc, parts[:-1], op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        else:
            try:
                index = int(last)
            except ValueError as exc:
                raise _unprocessable(f"{op} operation does not apply: invalid index {last!r}") from exc
            if index < 0 or index > len(parent):
                raise _unprocessable(f"{op} operation does not apply: doc is missing path: \"{path}\": "
                                     f"index out of range")
            parent.insert(index, copy.deepcopy(value))
    else:
        raise _unprocessable(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")
    return doc


def _remove(doc: Any, parts: list[str], op: str, path: str) -> Any:
    if not parts:
        raise _unprocessable(f"{op} operation does not apply: cannot remove the document root")
    parent = _resolve(doc, parts[:-1], op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable(f"{op} operation does not apply: doc is missing key: {path}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError) as exc:
            raise _unprocessable(f"{op} operation does not apply: doc is missing path: \"{path}\": "
                                 f"missing value") from exc
    raise _unprocessable(f"{op} operation does not apply: doc is missing path: \"{path}\": missing value")


def json_patch(document: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise bad_request("Unexpected kind: <nil>")
        op = operation["op"]
        path = operation.get("path", "")
        parts = _pointer(path)
        if op == "add":
            doc = _add(doc, parts, operation.get("value"), op, path)
        elif op == "remove":
            _remove(doc, parts, op, path)
        elif op == "replace":
            if not parts:
                doc = copy.deepcopy(operation.get("value"))
                continue
            parent = _resolve(doc, parts[:-1], op, path)
            last = parts[-1]
            if isinstance(parent, dict):
                if last not in parent:
                    raise _unprocessable(f"replace operation does not apply: doc is missing key: {path}: "
                                         f"missing value")
                parent[last] = copy.deepcopy(operation.get("value"))
            elif isinstance(parent, list):
                try:
                    parent[int(last)] = copy.deepcopy(operation.get("value"))
                except (ValueError, IndexError) as exc:
                    raise _unprocessable(f"replace operation does not apply: doc is missing key: {path}: "
                                         f"missing value") from exc
        elif op in ("move", "copy"):
            source = operation.get("from", "")
            value = copy.deepcopy(_resolve(doc, _pointer(source), op, source))
            if op == "move":
                _remove(doc, _pointer(source), op, source)
            doc = _add(doc, parts, value, op, path)
        elif op == "test":
            actual = _resolve(doc, parts, op, path)
            if actual != operation.get("value"):
                raise _unprocessable(f"testing value {path} failed: test failed")
        else:
            raise bad_request(f"Unexpected kind: {op}")
    return doc


# Strategic merge patch ---------------------------------------------------------------------------

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"


def _child_schema(schema: Schema | None, key: str) -> Schema | None:
    if schema is None:
        return None
    return schema.properties.get(key) or schema.additional


def strategic_merge_patch(original: Any, patch: Any, schema: Schema | None) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(original, dict):
        original = {}
    directive = patch.get(DIRECTIVE)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != DIRECTIVE}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive}")
    result = copy.deepcopy(original)
    retain = patch.get(RETAIN_KEYS)
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in (DIRECTIVE, RETAIN_KEYS):
            continue
        if key.startswith(SET_ELEMENT_ORDER):
            orders[key[len(SET_ELEMENT_ORDER):]] = value
            continue
        if key.startswith(DELETE_FROM_PRIMITIVE):
            field = key[len(DELETE_FROM_PRIMITIVE):]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (value or [])]
            continue
        child = _child_schema(schema, key)
        if value is None:
            result.pop(key, None)
            continue
        if isinstance(value, list) and child is not None and child.is_array:
            result[key] = _patch_list(result.get(key), value, child)
        elif isinstance(value, dict):
            patched = strategic_merge_patch(result.get(key), value, child)
            if patched is None:
                result.pop(key, None)
            else:
                result[key] = patched
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _apply_order(result[field], order, _child_schema(schema, field))
    return result


def _patch_list(original: Any, patch: list[Any], schema: Schema) -> list[Any]:
    strategy = schema.patch_strategy
    original = list(original) if isinstance(original, list) else []
    if "merge" not in strategy:
        return [item for item in copy.deepcopy(patch) if not (isinstance(item, dict) and item.get(DIRECTIVE))]
    merge_key = schema.patch_merge_key
    if not merge_key:
        # A primitive list with the merge strategy is a union.
        result = list(original)
        for item in patch:
            if isinstance(item, dict) and item.get(DIRECTIVE) == "replace":
                return []
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    for item in patch:
        if isinstance(item, dict) and item.get(DIRECTIVE) == "replace" and len(item) == 1:
            return [copy.deepcopy(i) for i in patch if i is not item]
    result = [copy.deepcopy(i) for i in original]
    item_schema = schema.items
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request("unable to find api field in struct for the merge key")
        if merge_key not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {merge_key}")
        position = next((i for i, existing in enumerate(result)
                         if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]), None)
        if item.get(DIRECTIVE) == "delete":
            if position is not None:
                del result[position]
            continue
        if position is None:
            result.append(strategic_merge_patch({}, item, item_schema))
        else:
            result[position] = strategic_merge_patch(result[position], item, item_schema)
    return result


def _apply_order(items: list[Any], order: list[Any], schema: Schema | None) -> list[Any]:
    merge_key = schema.patch_merge_key if schema is not None else None

    def identity(item: Any) -> Any:
        if merge_key and isinstance(item, dict):
            return item.get(merge_key)
        return item
    wanted = [identity(o) for o in order]
    ranked = {value: index for index, value in enumerate(wanted)}
    indexed = list(enumerate(items))
    indexed.sort(key=lambda pair: (ranked.get(identity(pair[1]), len(wanted) + pair[0])))
    return [item for _position, item in indexed]
