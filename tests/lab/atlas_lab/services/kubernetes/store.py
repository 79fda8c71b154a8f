"""In-memory object storage with a global resourceVersion, an event history and watchers.

Every committed write gets the next resourceVersion, is recorded in a bounded history (so a watch
can resume from a resourceVersion, or get 410 Expired when it is too old) and is delivered, under
the store lock so that order is preserved, to matching watchers and to synchronous listeners (the
controller manager's queue, the CRD registrar).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import queue
import threading
from collections.abc import Iterable
from typing import Any, Callable

ResourceKey = tuple[str, str]  # (group, plural)


def clone(value: Any) -> Any:
    """Deep copy of a JSON value (much faster than copy.deepcopy for large objects)."""
    return json.loads(json.dumps(value))


HISTORY_SIZE = 10000


@dataclasses.dataclass
class Event:
    """A committed change: ``ADDED``, ``MODIFIED`` or ``DELETED``."""

    type: str
    key: ResourceKey
    object: dict[str, Any]
    old: dict[str, Any] | None
    resource_version: int

    @property
    def namespace(self) -> str:
        return (self.object.get("metadata") or {}).get("namespace") or ""

    @property
    def name(self) -> str:
        return (self.object.get("metadata") or {}).get("name") or ""


class Watcher:
    """A watch stream's subscription: events of one resource (optionally one namespace)."""

    def __init__(self, store: ObjectStore, key: ResourceKey, namespace: str | None):
        self.store = store
        self.key = key
        self.namespace = namespace
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.closed = threading.Event()

    def wants(self, event: Event) -> bool:
        return event.key == self.key and (not self.namespace or event.namespace == self.namespace)

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.events.put(None)
            self.store.unwatch(self)


class Expired(Exception):
    """The requested resourceVersion is older than the history kept."""

    def __init__(self, requested: int, oldest: int):
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class ObjectStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[ResourceKey, dict[tuple[str, str], dict[str, Any]]] = collections.defaultdict(dict)
        self._rv = 1
        self._history: collections.deque[Event] = collections.deque(maxlen=HISTORY_SIZE)
        self._truncated_before = 0
        self._watchers: set[Watcher] = set()
        self.listeners: list[Callable[[Event], None]] = []

    # Reads -----------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def get(self, key: ResourceKey, namespace: str, name: str) -> dict[str, Any] | None:
        """A deep copy of the stored object, or ``None``."""
        with self.lock:
            obj = self._objects[key].get((namespace or "", name))
            return clone(obj) if obj is not None else None

    def list(self, key: ResourceKey, namespace: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Deep copies of the objects (sorted by namespace/name) and the list resourceVersion."""
        with self.lock:
            items = [clone(obj) for (ns, _name), obj in sorted(self._objects[key].items())
                     if namespace is None or ns == namespace]
            return items, self._rv

    def namespaces_in_use(self, namespace: str) -> list[ResourceKey]:
        with self.lock:
            return [key for key, objects in self._objects.items() if any(ns == namespace for ns, _name in objects)]

    def keys(self) -> list[ResourceKey]:
        with self.lock:
            return [key for key, objects in self._objects.items() if objects]

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            return {f"{plural}.{group}" if group else plural: [clone(o) for _ident, o in sorted(objs.items())]
                    for (group, plural), objs in sorted(self._objects.items()) if objs}

    # Writes ----------------------------------------------------------------------------------
    def _commit(self, event_type: str, key: ResourceKey, obj: dict[str, Any], old: dict[str, Any] | None) -> Event:
        event = Event(event_type, key, clone(obj), clone(old) if old is not None else None,
                      self._rv)
        if len(self._history) == self._history.maxlen:
            self._truncated_before = self._history[0].resource_version
        self._history.append(event)
        for watcher in list(self._watchers):
            if watcher.wants(event):
                watcher.events.put(event)
        for listener in list(self.listeners):
            listener(event)
        return event

    def put(self, key: ResourceKey, obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
        """Store ``obj`` (ADDED when new, MODIFIED otherwise) with the next resourceVersion."""
        with self.lock:
            meta = obj.setdefault("metadata", {})
            ident = (meta.get("namespace") or "", meta["name"])
            existed = ident in self._objects[key]
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            self._objects[key][ident] = clone(obj)
            self._commit("MODIFIED" if existed else "ADDED", key, obj, old)
            return clone(obj)

    def remove(self, key: ResourceKey, namespace: str, name: str) -> dict[str, Any] | None:
        """Delete the object; the DELETED event carries a new resourceVersion."""
        with self.lock:
            obj = self._objects[key].pop((namespace or "", name), None)
            if obj is None:
                return None
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            self._commit("DELETED", key, obj, obj)
            return clone(obj)

    def drop_resource(self, key: ResourceKey) -> list[dict[str, Any]]:
        """Remove every object of a resource (CRD deletion), with DELETED events."""
        with self.lock:
            removed = []
            for (namespace, name) in sorted(self._objects.get(key, {})):
                obj = self.remove(key, namespace, name)
                if obj is not None:
                    removed.append(obj)
            self._objects.pop(key, None)
            return removed

    def snapshot(self) -> str:
        """The stored objects, serialized (restored by :meth:`restore`)."""
        with self.lock:
            return json.dumps([[list(key), [[list(ident), obj] for ident, obj in objects.items()]]
                               for key, objects in self._objects.items()])

    def restore(self, snapshot: str) -> None:
        """Replace every object by the snapshot's (no events; watchers are closed)."""
        with self.lock:
            self.clear()
            for key, objects in json.loads(snapshot):
                self._objects[tuple(key)] = {tuple(ident): obj for ident, obj in objects}

    def clear(self) -> None:
        with self.lock:
            for watcher in list(self._watchers):
                watcher.close()
            self._objects.clear()
            self._history.clear()
            self._truncated_before = 0

    # Watches ---------------------------------------------------------------------------------
    def watch(self, key: ResourceKey, namespace: str | None, since: int | None) -> tuple[Watcher, list[Event]]:
        """Subscribe; with ``since``, also return the recorded events after that resourceVersion."""
        with self.lock:
            backlog: list[Event] = []
            if since is not None:
                oldest = self._history[0].resource_version if self._history else self._rv
                if self._truncated_before and since < self._truncated_before:
                    raise Expired(since, oldest)
                backlog = [e for e in self._history if e.resource_version > since and e.key == key
                           and (not namespace or e.namespace == namespace)]
            watcher = Watcher(self, key, namespace)
            self._watchers.add(watcher)
            return watcher, backlog

    def unwatch(self, watcher: Watcher) -> None:
        with self.lock:
            self._watchers.discard(watcher)

    def close_watchers(self, keys: Iterable[ResourceKey] | None = None) -> None:
        with self.lock:
            for watcher in list(self._watchers):
                if keys is None or watcher.key in keys:
                    watcher.close()

    def watcher_count(self) -> int:
        with self.lock:
            return len(self._watchers)
