"""Client for the ``/_lab/`` admin API that every emulator (and the OpenBao proxy) serves."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any


class LabAdminClient:
    """Inject faults, read request counters and reset one emulated service."""

    def __init__(self, base_url: str, ca_file: str | None = None, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def call(self, method: str, subpath: str, body: Any = None) -> Any:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/_lab/{subpath.lstrip('/')}", data=data, method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"lab admin {method} {subpath} failed: {exc.code} {exc.read().decode()}") from exc
        return json.loads(payload) if payload else None

    # Faults -----------------------------------------------------------------------------------
    def add_fault(self, action: str = "error", **spec: Any) -> dict[str, Any]:
        """Add a fault rule, e.g. ``add_fault("error", kind="users.reset_password", status=500)``."""
        return self.call("POST", "faults", dict(spec, action=action))

    def faults(self) -> list[dict[str, Any]]:
        return self.call("GET", "faults")

    def release_faults(self) -> None:
        self.call("POST", "faults/release")

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    # Counters ---------------------------------------------------------------------------------
    def requests(self) -> dict[str, Any]:
        return self.call("GET", "requests")

    def counts(self) -> dict[str, int]:
        return self.requests()["by_kind"]

    def reset_requests(self) -> None:
        self.call("DELETE", "requests")

    def peak_in_flight(self) -> int:
        """The most requests the service handled at once since the last reset of the counters."""
        return int(self.requests().get("peak_in_flight", 0))

    # State ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Clear faults and counters and return the service to its initial state."""
        self.call("POST", "reset")

    def health(self) -> bool:
        try:
            return bool(self.call("GET", "health")["ok"])
        except (OSError, RuntimeError):
            return False
