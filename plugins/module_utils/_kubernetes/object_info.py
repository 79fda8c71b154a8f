# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: read objects of any kind (one GET, or one LIST), Secret values withheld.

What the k8s_info module returns: the objects as the API server serves them, except that a Secret's
``data``/``stringData`` values are replaced by a marker (the keys stay, so a play can check that a key
exists) and the last-applied annotation, which may hold them, is hidden too.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.diff import (
    HIDDEN_ANNOTATION,
    LAST_APPLIED,
    is_secret,
    secret_values,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesApiError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef

WITHHELD = "<withheld: Secret value>"


def without_secret_values(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` that holds no Secret value (other kinds are returned unchanged)."""
    if not is_secret(obj):
        return obj
    safe = dict(obj)
    for field in ("data", "stringData"):
        if isinstance(obj.get(field), dict):
            safe[field] = {key: WITHHELD for key in obj[field]}
    metadata = dict(obj.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    if LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = HIDDEN_ANNOTATION
        metadata["annotations"] = annotations
        safe["metadata"] = metadata
    return safe


def read_objects(objects: KubernetesObjects, api_version: str, kind: str, name: str | None = None,
                 namespace: str | None = None, label_selector: str | None = None,
                 field_selector: str | None = None) -> tuple[dict[str, Any], set[str]]:
    """``{"objects": [...], "exists": bool, "api_requests": {...}}`` for one object or a collection, and
    the Secret values read (for the module to mask, should one ever reach an output)."""
    before = dict(objects.connection.request_counts)
    resource = objects.resource(api_version, kind)
    scope = namespace if resource.namespaced else None
    if name:
        found = objects.get(ObjectRef(api_version, kind, name, scope))
        items = [found] if found is not None else []
    else:
        try:
            items = objects.list(resource, scope, label_selector, field_selector)[0]
        except KubernetesApiError as exc:
            if exc.status == 404 and scope:
                items = []  # the namespace does not exist: nothing in it
            else:
                raise
    hidden = set().union(*(secret_values(item) for item in items)) if items else set()
    return ({"objects": [without_secret_values(item) for item in items], "exists": bool(items),
             "api_requests": objects.connection.requests_since(before)}, hidden)
