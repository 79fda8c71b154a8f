# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: before/after diffs of Kubernetes objects that never contain a Secret value.

In a Secret, every value of ``data`` and ``stringData`` is replaced by a marker that only says
whether it changed, and the ``kubectl.kubernetes.io/last-applied-configuration`` annotation (which
holds the values in clear when someone used client-side ``kubectl apply``) is hidden. Callers also
pass :func:`secret_values` to ``module.no_log_values`` so that a value can never leak through
another path (warnings, error messages).
"""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any

HIDDEN_UNCHANGED = "<hidden: unchanged>"
HIDDEN_OLD = "<hidden: old value>"
HIDDEN_NEW = "<hidden: new value>"
HIDDEN_ANNOTATION = "<hidden: may contain secret values>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Bookkeeping that changes on every write and says nothing about the change itself.
_VOLATILE_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
# Shorter values are not worth masking: Ansible would mask every occurrence of "1" or "ok" in the output.
MIN_MASKED_LENGTH = 4


def is_secret(obj: dict[str, Any] | None) -> bool:
    return obj is not None and obj.get("apiVersion") == "v1" and obj.get("kind") == "Secret"


def object_diff(header: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """One entry of Ansible's ``diff`` list; ``{}`` stands for an absent object."""
    clean_before = _for_diff(before)
    clean_after = _for_diff(after)
    if is_secret(before) or is_secret(after):
        _redact_pair(clean_before, clean_after)
    return {"before_header": header, "after_header": header, "before": clean_before, "after": clean_after}


def secret_values(obj: dict[str, Any] | None) -> set[str]:
    """The values of a Secret, base64 as stored and decoded, for ``module.no_log_values``."""
    values: set[str] = set()
    if obj is None or not is_secret(obj):
        return values
    for field in ("data", "stringData"):
        for value in (obj.get(field) or {}).values():
            if not isinstance(value, str):
                continue
            values.add(value)
            if field == "data":
                decoded = _decode(value)
                if decoded is not None:
                    values.add(decoded)
                    # Multi-line values (keys, certificates) may be printed line by line.
                    values.update(line.strip() for line in decoded.splitlines())
    annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if isinstance(annotation, str):
        values.add(annotation)
    return {value for value in values if len(value) >= MIN_MASKED_LENGTH}


def _for_diff(obj: dict[str, Any] | None) -> dict[str, Any]:
    if not obj:
        return {}
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    metadata = clean.get("metadata") or {}
    for key in _VOLATILE_METADATA:
        metadata.pop(key, None)
    return clean


def _redact_pair(before: dict[str, Any], after: dict[str, Any]) -> None:
    for field in ("data", "stringData"):
        old_value, new_value = before.get(field), after.get(field)
        old: dict[str, Any] = old_value if isinstance(old_value, dict) else {}
        new: dict[str, Any] = new_value if isinstance(new_value, dict) else {}
        if field in before:
            before[field] = {key: HIDDEN_UNCHANGED if key in new and new[key] == value else HIDDEN_OLD
                             for key, value in old.items()}
        if field in after:
            after[field] = {key: HIDDEN_UNCHANGED if key in old and old[key] == value else HIDDEN_NEW
                            for key, value in new.items()}
    for side in (before, after):
        annotations = (side.get("metadata") or {}).get("annotations") or {}
        if LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = HIDDEN_ANNOTATION


def _decode(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
