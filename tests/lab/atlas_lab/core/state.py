"""The lab's machine-readable state file (``<dir>/state.json``): ports, pids, URLs, status.

The supervisor writes it (atomically) as services come up and whenever a process starts or stops;
``down`` and ``status`` read it. Every process is recorded with its start time so that ``down``
only ever signals the very processes the lab started.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from atlas_lab.config import write_private
from atlas_lab.core.processes import is_running

STATE_FILE = "state.json"


def state_path(lab_dir: Path) -> Path:
    return lab_dir / STATE_FILE


def read_state(lab_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads(state_path(lab_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        # A truncated file cannot happen (atomic writes), but a hand-edited one can.
        return None


def write_state(lab_dir: Path, state: dict[str, Any]) -> None:
    write_private(state_path(lab_dir), json.dumps(state, indent=2) + "\n")


def supervisor_running(state: dict[str, Any] | None) -> bool:
    if not state or "supervisor" not in state:
        return False
    supervisor = state["supervisor"]
    return is_running(supervisor["pid"], supervisor.get("start_time"))


def recorded_processes(state: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    """(service, pid, start time) of every child process recorded in ``state`` (not the supervisor)."""
    found = []
    for name, service in (state.get("services") or {}).items():
        if service.get("kind") == "process" and service.get("pid"):
            found.append((name, int(service["pid"]), service.get("start_time")))
    return found


def recorded_ports(state: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Every (address, port) the lab uses, by name: the planned ones and each service's own."""
    host = state.get("host") or "127.0.0.1"
    ports = {name: (host, int(port)) for name, port in (((state.get("ports") or {}).get("ports")) or {}).items()}
    for name, service in (state.get("services") or {}).items():
        address = urlsplit(service["url"]).hostname or host
        for key, port in (service.get("ports") or {}).items():
            ports.setdefault(f"{name}-{key}", (address, int(port)))
    return ports
