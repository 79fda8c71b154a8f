# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: decide whether a server-side apply would change an object.

Locally, without a request, an apply is known to change nothing when both hold:

1. the live object already has every applied field with the same value, and
2. the field manager's ``Apply`` entry in ``metadata.managedFields`` owns exactly the applied
   fields: no more (a field dropped from the manifest would be removed by the apply) and no less
   (the apply would take ownership, which is a write).

Anything this cannot prove (a value the API server normalised, such as ``cpu: 0.5`` stored as
``500m``; defaults the server added inside an atomic list) is left to a dry-run apply, whose result
:func:`dry_run_changes` compares with the live object.
"""

from __future__ import annotations

import json
from typing import Any

# Fields that are never part of a managed field set (the API server strips them).
_UNTRACKED_TOP = ("apiVersion", "kind", "status")
_UNTRACKED_METADATA = ("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
                       "managedFields", "resourceVersion")


def _apply_entries(live: dict[str, Any], field_manager: str) -> list[dict[str, Any]]:
    return [entry for entry in (live.get("metadata") or {}).get("managedFields") or []
            if entry.get("manager") == field_manager and entry.get("operation") == "Apply"
            and not entry.get("subresource")]


def owned_fields(live: dict[str, Any], field_manager: str) -> dict[str, Any] | None:
    """The fieldsV1 set of ``field_manager``'s Apply entry, or None when there is not exactly one."""
    entries = _apply_entries(live, field_manager)
    if len(entries) != 1 or entries[0].get("apiVersion") != live.get("apiVersion"):
        return None
    fields = entries[0].get("fieldsV1")
    return fields if isinstance(fields, dict) else None


def is_up_to_date(applied: dict[str, Any], live: dict[str, Any] | None, field_manager: str) -> bool:
    """True when applying ``applied`` with ``field_manager`` is certain to change nothing."""
    if not live:
        return False
    tracked = _tracked(applied)
    owned = owned_fields(live, field_manager)
    if owned is None:
        # A manifest with nothing but a name owns no field; the API server keeps no entry for an
        # empty set, so "no entry" is exactly the state applying it again leaves.
        return not tracked and not _apply_entries(live, field_manager)
    return _covers(tracked, live, owned)


def certainly_changes(applied: dict[str, Any], live: dict[str, Any] | None) -> bool:
    """True when applying ``applied`` is certain to change ``live``, so that no dry run is needed to
    know it: the manifest sets a map key the live object lacks (a new label, a new ConfigMap key), or an
    integer or boolean to another value of the same type. Strings (a Quantity may be stored normalised),
    lists and Secrets (``stringData`` is never stored) prove nothing here."""
    if not live or (applied.get("apiVersion"), applied.get("kind")) == ("v1", "Secret"):
        return False
    return _differs(_tracked(applied), live)


def _differs(applied: Any, live: Any) -> bool:
    if isinstance(applied, dict) and isinstance(live, dict):
        for key, value in applied.items():
            if key not in live:
                if value not in (None, {}, []):
                    return True
            elif _differs(value, live[key]):
                return True
        return False
    if isinstance(applied, bool) or isinstance(live, bool):
        return isinstance(applied, bool) and isinstance(live, bool) and applied != live
    if isinstance(applied, int) and isinstance(live, int):
        return applied != live
    return False


def dry_run_changes(live: dict[str, Any], result: dict[str, Any], applied: dict[str, Any] | None = None) -> bool:
    """Whether a dry-run apply's result differs from the live object (besides bookkeeping).

    The live object was read before the dry run, so a controller may have written its status in
    between (a Deployment rolling out): the status, and the managed-field entries of subresources,
    are compared only when the manifest itself sets a status (a resource without a status
    subresource, where the apply would write it)."""
    with_status = applied is not None and "status" in applied
    return _comparable(live, with_status) != _comparable(result, with_status)


def _tracked(applied: dict[str, Any]) -> dict[str, Any]:
    body = {key: value for key, value in applied.items() if key not in _UNTRACKED_TOP}
    metadata = {key: value for key, value in (applied.get("metadata") or {}).items()
                if key not in _UNTRACKED_METADATA}
    if metadata:
        body["metadata"] = metadata
    else:
        body.pop("metadata", None)
    return body


def _covers(applied: Any, live: Any, owned: dict[str, Any]) -> bool:
    """``live`` holds ``applied`` and ``owned`` (a fieldsV1 node) is exactly the set of applied fields."""
    children = [key for key in owned if key != "."]
    if isinstance(applied, dict):
        if not isinstance(live, dict):
            return False
        if not children:  # an atomic or empty map is owned as a whole
            return _equal(applied, live)
        if set(children) != {"f:" + key for key in applied}:
            return False
        return all(key in live and _covers(value, live[key], owned["f:" + key]) for key, value in applied.items())
    if isinstance(applied, list):
        if not isinstance(live, list):
            return False
        if not children:  # an atomic list is owned as a whole
            return _equal(applied, live)
        return _covers_list(applied, live, owned, children)
    return not children and _equal(applied, live)


def _covers_list(applied: list[Any], live: list[Any], owned: dict[str, Any], children: list[str]) -> bool:
    """An associative list (``k:``), a set (``v:``) or a positional list (``i:``)."""
    if len(children) != len(applied):
        return False
    used = set()
    for index, element in enumerate(applied):
        key = _owning_key(element, index, children)
        if key is None or key in used:
            return False
        used.add(key)
        live_element = _live_element(key, live)
        if live_element is _MISSING or not _covers(element, live_element, owned[key]):
            return False
    return True


_MISSING = object()


def _owning_key(element: Any, index: int, children: list[str]) -> str | None:
    for key in children:
        kind, raw = key[:2], key[2:]
        if kind == "i:" and raw == str(index):
            return key
        try:
            decoded = json.loads(raw)
        except ValueError:
            continue
        if kind == "v:" and _equal(decoded, element):
            return key
        if kind == "k:" and isinstance(element, dict) and isinstance(decoded, dict) and _key_matches(decoded, element):
            return key
    return None


def _key_matches(key_fields: dict[str, Any], element: dict[str, Any]) -> bool:
    """A key field absent from the applied item was defaulted by the server (a container port's
    protocol): it still identifies the item. Were it one of ours, the owned-set comparison of
    the item would notice that the manifest no longer sets it."""
    present = [field for field in key_fields if field in element]
    return bool(present) and all(_equal(key_fields[field], element[field]) for field in present)


def _live_element(key: str, live: list[Any]) -> Any:
    kind, raw = key[:2], key[2:]
    if kind == "i:":
        index = int(raw)
        return live[index] if index < len(live) else _MISSING
    decoded = json.loads(raw)
    for element in live:
        if kind == "v:" and _equal(decoded, element):
            return element
        if kind == "k:" and isinstance(element, dict) and all(
                field in element and _equal(value, element[field]) for field, value in decoded.items()):
            return element
    return _MISSING


def _equal(left: Any, right: Any) -> bool:
    """Deep equality where true is not 1 and "1" is not 1 (JSON types matter to the API)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict):
        return isinstance(right, dict) and left.keys() == right.keys() and all(
            _equal(value, right[key]) for key, value in left.items())
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(
            _equal(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


def _comparable(obj: dict[str, Any], with_status: bool) -> dict[str, Any]:
    clean = dict(obj)
    if not with_status:
        clean.pop("status", None)
    metadata = dict(clean.get("metadata") or {})
    metadata.pop("resourceVersion", None)
    metadata["managedFields"] = [
        {key: value for key, value in entry.items() if key != "time"}
        for entry in metadata.get("managedFields") or []
        if with_status or not entry.get("subresource")
    ]
    clean["metadata"] = metadata
    return clean
