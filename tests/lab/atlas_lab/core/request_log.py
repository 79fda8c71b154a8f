"""Request log and counters: the deterministic cost measure that tests and benchmarks read."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

MAX_ENTRIES = 20000


class RequestLog:
    """Counts requests per kind, keeps the most recent ones (method, path, kind, status), and the peak
    number of requests in flight at once (what a client's concurrency bound is checked against)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_ENTRIES)
        self._by_kind: collections.Counter[str] = collections.Counter()
        self._total = 0
        self._in_flight = 0
        self._peak_in_flight = 0

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def record(self, method: str, path: str, kind: str, status: int | str, user_agent: str = "") -> None:
        entry = {"time": time.time(), "method": method, "path": path, "kind": kind, "status": status,
                 "user_agent": user_agent}
        with self._lock:
            self._entries.append(entry)
            self._by_kind[kind] += 1
            self._total += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self._total, "by_kind": dict(self._by_kind), "entries": list(self._entries),
                    "peak_in_flight": self._peak_in_flight}

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_kind.clear()
            self._total = 0
            self._peak_in_flight = self._in_flight
