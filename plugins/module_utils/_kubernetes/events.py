# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: record a Kubernetes Event about an object (``kubectl describe`` shows it), in one
request.

Events are created, never updated, so this is a plain POST (not server-side apply). The name
follows client-go's recorder: ``<object name>.<hex nanoseconds>``. Callers keep secrets out of
``message``: Events are readable by anyone who can list them in the namespace.
"""

from __future__ import annotations

import datetime
import socket
import time
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339, utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import ApiResponse
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef

DEFAULT_COMPONENT = "atlas-hardening"
MAX_MESSAGE_LENGTH = 1024  # what events.k8s.io/v1 accepts; kept for core Events too


def event_manifest(involved: dict[str, Any], reason: str, message: str, event_type: str = "Normal",
                   component: str = DEFAULT_COMPONENT, now: datetime.datetime | None = None, *,
                   name: str | None = None, namespace: str | None = None, action: str | None = None,
                   reporting_instance: str | None = None) -> dict[str, Any]:
    """A core/v1 Event about ``involved`` (a live object, or at least apiVersion/kind/metadata).

    The Event lives in the object's namespace unless ``namespace`` is given, and is named as
    client-go names it unless ``name`` is given.
    """
    if event_type not in ("Normal", "Warning"):
        raise ValueError("event_type must be Normal or Warning")
    ref = ObjectRef.of(involved)
    metadata = involved.get("metadata") or {}
    stamp = rfc3339(now or utc_now())
    involved_object = {"apiVersion": ref.api_version, "kind": ref.kind, "name": ref.name}
    for source, target in (("namespace", "namespace"), ("uid", "uid"), ("resourceVersion", "resourceVersion")):
        if metadata.get(source):
            involved_object[target] = metadata[source]
    event: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name or f"{ref.name}.{time.time_ns():x}",
                     "namespace": namespace or ref.namespace or "default"},
        "involvedObject": involved_object,
        "reason": reason,
        "message": message[:MAX_MESSAGE_LENGTH],
        "type": event_type,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": (reporting_instance or socket.gethostname())[:128],
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    if action:
        event["action"] = action
    return event


def record_event(objects: KubernetesObjects, involved: dict[str, Any], reason: str, message: str,
                 event_type: str = "Normal", component: str = DEFAULT_COMPONENT,
                 dry_run: bool = False) -> ApiResponse:
    """Create the Event (a dry run in check mode); one POST."""
    return objects.create(event_manifest(involved, reason, message, event_type, component), dry_run=dry_run,
                          field_manager=component)
