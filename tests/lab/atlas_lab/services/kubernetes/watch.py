"""Watch streams: ``?watch=true`` on a collection, as newline-delimited JSON events.

Semantics of the real server that clients depend on:

- ``resourceVersion`` unset or ``"0"``: synthetic ``ADDED`` events for the current objects, then
  changes; ``resourceVersion=N``: the recorded changes after N, then live ones (410 ``Expired`` in an
  ``ERROR`` event when N is older than the history kept);
- ``sendInitialEvents=true`` (the WatchList protocol of recent client-go): initial ``ADDED`` events,
  then a ``BOOKMARK`` annotated ``k8s.io/initial-events-end: "true"``;
- label/field selectors turn a modification that enters or leaves the selection into ``ADDED`` /
  ``DELETED``; ``allowWatchBookmarks`` adds periodic ``BOOKMARK`` events;
- the stream ends after ``timeoutSeconds`` or when the server stops.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable

from atlas_lab.services.kubernetes.errors import status_body
from atlas_lab.services.kubernetes.store import Expired, ObjectStore, ResourceKey

BOOKMARK_INTERVAL = 15.0
DEFAULT_TIMEOUT = 1800.0


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def watch_stream(store: ObjectStore, key: ResourceKey, namespace: str | None,
                 matches: Callable[[dict[str, Any]], bool], render: Callable[[dict[str, Any]], dict[str, Any]],
                 bookmark: Callable[[int, bool], dict[str, Any]], resource_version: str | None,
                 send_initial_events: bool, allow_bookmarks: bool, timeout: float | None,
                 closing: threading.Event, list_objects: Callable[[], list[dict[str, Any]]]) -> Iterator[bytes]:
    """Generate the event lines of one watch request."""
    deadline = time.monotonic() + (timeout if timeout and timeout > 0 else DEFAULT_TIMEOUT)
    initial: list[dict[str, Any]] = []
    with store.lock:
        try:
            if send_initial_events or resource_version in (None, "", "0"):
                initial = [o for o in list_objects() if matches(o)]
                start_rv = store.resource_version
                watcher, backlog = store.watch(key, namespace, None)
            else:
                since = int(resource_version)
                start_rv = since
                watcher, backlog = store.watch(key, namespace, since)
        except Expired as exc:
            yield _line("ERROR", status_body(410, "Expired", str(exc)))
            return
        except ValueError:
            yield _line("ERROR", status_body(400, "BadRequest",
                                             f"invalid resource version: {resource_version}"))
            return
    try:
        for obj in initial:
            yield _line("ADDED", render(obj))
        if send_initial_events and allow_bookmarks:
            yield _line("BOOKMARK", bookmark(start_rv, True))
        pending = list(backlog)
        last_activity = time.monotonic()
        while not closing.is_set():
            if pending:
                event = pending.pop(0)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                try:
                    event = watcher.events.get(timeout=min(remaining, 0.5))
                except queue.Empty:
                    if allow_bookmarks and time.monotonic() - last_activity > BOOKMARK_INTERVAL:
                        last_activity = time.monotonic()
                        yield _line("BOOKMARK", bookmark(store.resource_version, False))
                    continue
                if event is None:
                    return
            now_matches = matches(event.object)
            before = event.old is not None and event.type == "MODIFIED" and matches(event.old)
            if event.type == "MODIFIED":
                if now_matches and before:
                    kind = "MODIFIED"
                elif now_matches:
                    kind = "ADDED"
                elif before:
                    kind = "DELETED"
                else:
                    continue
            elif not now_matches:
                continue
            else:
                kind = event.type
            last_activity = time.monotonic()
            yield _line(kind, render(event.object))
    finally:
        watcher.close()
