"""Fault injection shared by every emulated service and by the OpenBao proxy.

A fault rule matches requests by kind (a glob over the emulator's request classification, such as
``users.reset_password`` or ``patch secrets``), HTTP method and a regular expression on the path, and
applies to the next ``count`` matching requests (after letting the first ``after`` matching requests
through untouched, to hit e.g. the second token request of a run):

``error``  answer with ``status`` and ``body`` (after applying the request when ``apply_first``)
``drop``   close the connection without any response; with ``apply_first`` (the default for this
           action) the request is applied first: "applied but the response was lost"
``delay``  wait ``delay`` seconds, then process normally (client timeouts)
``hang``   wait until the rule is released (``POST /_lab/faults/release``) or ``delay`` seconds pass,
           then close the connection; a test kills its client meanwhile to simulate a crash
"""

from __future__ import annotations

import fnmatch
import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("error", "drop", "delay", "hang")


@dataclass
class Fault:
    """One fault rule. ``count`` is how many more requests it applies to (``None``: all)."""

    id: int
    action: str
    kind: str = "*"
    method: str | None = None
    path: str | None = None
    count: int | None = 1
    status: int = 500
    body: Any = None
    apply_first: bool = False
    delay: float = 30.0
    after: int = 0
    hits: int = 0
    released: threading.Event = field(default_factory=threading.Event, repr=False)

    def matches(self, kind: str, method: str, path: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if not fnmatch.fnmatchcase(kind, self.kind):
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path and not re.search(self.path, path):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "action": self.action, "kind": self.kind, "method": self.method,
            "path": self.path, "count": self.count, "status": self.status, "body": self.body,
            "apply_first": self.apply_first, "delay": self.delay, "after": self.after, "hits": self.hits,
        }


class FaultInjector:
    """Thread-safe list of fault rules; the first matching rule wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> Fault:
        action = spec.get("action", "error")
        if action not in ACTIONS:
            raise ValueError(f"unknown fault action {action!r}; expected one of {', '.join(ACTIONS)}")
        unknown = set(spec) - {"action", "kind", "method", "path", "count", "status", "body", "apply_first", "delay",
                               "after"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if spec.get("path"):
            re.compile(spec["path"])
        fault = Fault(
            id=next(self._ids),
            action=action,
            kind=spec.get("kind") or "*",
            method=spec.get("method"),
            path=spec.get("path"),
            count=spec.get("count", 1),
            status=int(spec.get("status", 500)),
            body=spec.get("body"),
            apply_first=bool(spec.get("apply_first", action == "drop")),
            delay=float(spec.get("delay", 30.0)),
            after=max(0, int(spec.get("after", 0))),
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, kind: str, method: str, path: str) -> Fault | None:
        """Return the rule that applies to this request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(kind, method, path):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    if fault.count is not None:
                        fault.count -= 1
                    fault.hits += 1
                    return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_dict() for fault in self._faults]

    def release(self) -> int:
        """Release every hanging request; return how many rules were released."""
        with self._lock:
            faults = list(self._faults)
        for fault in faults:
            fault.released.set()
        return len(faults)

    def clear(self) -> None:
        self.release()
        with self._lock:
            self._faults.clear()
