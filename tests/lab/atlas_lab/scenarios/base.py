"""What a scenario is: a feature's lab support, plugged into the supervisor.

A scenario declares what it seeds into the services (objects, files) and which simulated
controllers it runs, and hands the inventory variables that point the feature's roles at them.
The supervisor starts the services, then every registered scenario (``scenarios/__init__.py``
finds them), and stops them in reverse order. A scenario may use the services; a service never
imports a scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass
class ScenarioContext:
    """What the supervisor gives a scenario: the lab's configuration, directory, host, environment,
    the running Kubernetes emulator, and a callback for when processes the scenario runs start or stop."""

    config: Any  # atlas_lab.config.LabConfig
    dir: Path
    host: str
    env: dict[str, str]
    kubernetes: Any  # atlas_lab.services.kubernetes.app.KubernetesApp
    alertmanager_binary: str | None
    aws_url: str = ""  # the moto server (S3, KMS)
    processes_changed: Callable[[], None] = field(default=lambda: None)
    # The OpenBao server itself (not the fault proxy): ``url`` and ``root_token``, ready from wait_ready() on
    # (a raft-mode server gets its root token when it is initialised, after the scenarios start).
    openbao: Any = None


class Scenario:
    """One feature's lab support. Subclasses set ``name`` and ``description`` and override what they need."""

    name = ""
    description = ""
    # What a reader finds in the lab because of this scenario (shown by `lab status` and docs/lab.md).
    seeds: tuple[str, ...] = ()
    controllers: tuple[str, ...] = ()

    def __init__(self, context: ScenarioContext) -> None:
        self.context = context

    def start(self) -> None:
        """Seed objects and files, register simulated controllers (services are up)."""

    def wait_ready(self, timeout: float) -> None:
        """Return when what the scenario started is ready (before `lab up` returns)."""

    def inventory_vars(self) -> dict[str, Any]:
        """Inventory variables that point the feature's roles at what the scenario seeded."""
        return {}

    def processes(self) -> list[tuple[Any, str]]:
        """Processes the scenario runs, as (peer with name/pid/start_time/web_url/cluster_addr, description)."""
        return []

    def peer_group(self, name: str) -> Any:
        """The peer group running process ``name`` (the control API stops/restarts it), or None."""
        return None

    def reset(self) -> None:
        """Back to the state right after start (the lab's reset)."""

    def stop(self) -> None:
        """Stop what the scenario runs; safe to call more than once."""
