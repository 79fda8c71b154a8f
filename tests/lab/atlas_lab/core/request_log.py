"""Request log and counters: the deterministic cost measure that tests and benchmarks read."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

MAX_ENTRIES = 20000


class RequestLog:
    """Counts requests per kind and keeps the most recent ones (method, path, kind, status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_ENTRIES)
        self._by_kind: collections.Counter[str] = collections.Counter()
        self._total = 0

    def record(self, method: str, path: str, kind: str, status: int | str, user_agent: str = "") -> None:
        entry = {"time": time.time(), "method": method, "path": path, "kind": kind, "status": status,
                 "user_agent": user_agent}
        with self._lock:
            self._entries.append(entry)
            self._by_kind[kind] += 1
            self._total += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self._total, "by_kind": dict(self._by_kind), "entries": list(self._entries)}

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_kind.clear()
            self._total = 0
