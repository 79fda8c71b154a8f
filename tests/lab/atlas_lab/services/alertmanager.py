"""Real Alertmanager peers forming one gossip cluster on loopback.

The lab supervisor starts N peers at ``up``; a simulated prometheus-operator reuses
:class:`AlertmanagerCluster` to scale a cluster (start more peers that join it), kill or stop a
peer (SIGKILL or SIGTERM) and restart it, like pods of the operator's StatefulSet. A peer keeps
its ports and storage across restarts, as a StatefulSet pod keeps its name and volume.

    cluster = AlertmanagerCluster(workdir, PortAllocator("auto"))
    cluster.start_peers(["alertmanager-main-0"])
    cluster.start_peers(["alertmanager-main-1", "alertmanager-main-2"])  # scale 1 -> 3
    cluster.wait_ready(expected_peers=3)
    cluster.stop_peer("alertmanager-main-1", signal.SIGKILL)
    cluster.restart_peer("alertmanager-main-1")
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from atlas_lab.core.errors import LabError
from atlas_lab.core.http_probe import http_json
from atlas_lab.core.ports import HOST, PortAllocator
from atlas_lab.core.processes import ManagedProcess

BINARY_ENV = "ATLAS_LAB_ALERTMANAGER_BIN"
# Route everything to a receiver that does nothing: the lab checks clustering and the API, not delivery.
DEFAULT_CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'
# Short lab timings: settle (default 1 m) bounds start-up; reconnect (default 10 s) bounds how
# long a peer that started before the others waits to retry joining them.
DEFAULT_SETTLE_TIMEOUT = "1s"
DEFAULT_RECONNECT_INTERVAL = "1s"


def alertmanager_binary(environ: dict[str, str] | None = None) -> str:
    """The Alertmanager binary: $ATLAS_LAB_ALERTMANAGER_BIN, else prometheus-alertmanager (Debian) on PATH."""
    environ = os.environ if environ is None else environ
    override = environ.get(BINARY_ENV)
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise LabError(f"lab: {BINARY_ENV}={override} is not an executable file: point it at the "
                       "Alertmanager binary or unset it.", exit_code=2)
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name, path=environ.get("PATH"))
        if found:
            return found
    raise LabError("lab: Alertmanager is not installed (no prometheus-alertmanager on PATH). "
                   "Install it with `apt-get install prometheus-alertmanager` (or `make sysdeps`).", exit_code=2)


@dataclass
class Peer:
    """A running Alertmanager peer."""

    name: str
    web_url: str
    cluster_addr: str  # host:port of the gossip listener; "" when clustering is disabled
    pid: int
    start_time: int | None
    storage_path: Path

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "web_url": self.web_url, "cluster_addr": self.cluster_addr,
                "pid": self.pid, "start_time": self.start_time, "storage_path": str(self.storage_path)}


@dataclass
class _Slot:
    """A peer's stable identity: ports and storage, kept across restarts."""

    name: str
    web_port: int
    cluster_port: int
    process: ManagedProcess | None = None
    clustered: bool = True
    # Loopback address of this peer; the cluster's host when empty. A simulated pod gets its own
    # (127.x.y.z), so it can listen on 9093/9094 like a pod does.
    host: str = ""


class AlertmanagerCluster:
    """Owns Alertmanager peer processes; thread-safe (the emulator's controllers call it from threads)."""

    def __init__(self, workdir: Path, ports: PortAllocator, binary: str | None = None, host: str = HOST,
                 settle_timeout: str = DEFAULT_SETTLE_TIMEOUT, extra_args: Iterable[str] = (),
                 env: dict[str, str] | None = None, config_text: str = DEFAULT_CONFIG,
                 on_change: Callable[[], None] | None = None):
        self.workdir = workdir
        self.ports = ports
        self.binary = binary or alertmanager_binary(env)
        self.host = host
        self.settle_timeout = settle_timeout
        self.extra_args = list(extra_args)
        self.env = env
        self.config_text = config_text
        self.on_change = on_change
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.RLock()

    # Identity ---------------------------------------------------------------------------------
    def reserve(self, name: str, web_port: int | None = None, cluster_port: int | None = None,
                host: str | None = None) -> None:
        """Fix the ports (and optionally the loopback address) of peer ``name`` before it starts
        (default: the next ports of the allocator, on the cluster's host)."""
        with self._lock:
            if name in self._slots:
                return
            if web_port is None or cluster_port is None:
                web_port, cluster_port = self.ports.peer_ports(len(self._slots))
            self._slots[name] = _Slot(name, web_port, cluster_port, host=host or "")

    def __contains__(self, name: object) -> bool:
        """Whether a peer of this name was ever reserved here (running or not)."""
        with self._lock:
            return name in self._slots

    def _host(self, slot: _Slot) -> str:
        return slot.host or self.host

    def cluster_addr(self, name: str) -> str:
        self.reserve(name)
        return f"{self._host(self._slots[name])}:{self._slots[name].cluster_port}"

    def web_url(self, name: str) -> str:
        self.reserve(name)
        return f"http://{self._host(self._slots[name])}:{self._slots[name].web_port}"

    # Processes --------------------------------------------------------------------------------
    def start_peer(self, name: str, peers: Iterable[str] | None = None, clustered: bool = True,
                   wait: bool = True, timeout: float = 30.0) -> Peer:
        """Start peer ``name`` (no-op if it runs) and return it.

        ``peers``: names whose gossip addresses go into ``--cluster.peer`` (default: every peer this
        cluster knows, itself included, as prometheus-operator lists every replica). Names not
        started yet are reserved, so a scale-up can list all the new replicas at once.
        ``clustered=False`` disables gossip (``--cluster.listen-address=``), as the operator does for
        a single replica; the status API then reports ``disabled``.
        """
        with self._lock:
            self.reserve(name)
            slot = self._slots[name]
            if slot.process is not None and slot.process.alive():
                return self._peer(slot)
            for other in peers or ():
                self.reserve(other)
            peer_names = list(peers) if peers is not None else list(self._slots)
            slot.clustered = clustered
            slot.process = ManagedProcess(f"Alertmanager peer {name}", self._argv(slot, peer_names),
                                          self.workdir / f"{name}.log", env=self.env, cwd=self.workdir)
            slot.process.start()
        if wait:
            self._wait_started(slot, timeout)
        self._changed()
        return self._peer(slot)

    def start_peers(self, names: Iterable[str], clustered: bool = True, wait: bool = True,
                    timeout: float = 30.0) -> list[Peer]:
        """Start several peers at once (they boot in parallel); with ``wait``, until each answers.

        Each new peer lists every known peer in ``--cluster.peer``, the new ones included.
        """
        names = list(names)
        with self._lock:
            for name in names:
                self.reserve(name)
            everyone = list(self._slots)
        started = [self.start_peer(name, peers=everyone, clustered=clustered, wait=False) for name in names]
        if wait:
            for peer in started:
                self._wait_started(self._slots[peer.name], timeout)
        return [self._peer(self._slots[peer.name]) for peer in started]

    def stop_peer(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop peer ``name`` with ``sig`` (SIGTERM leaves the mesh at once; SIGKILL looks like a crash)."""
        with self._lock:
            slot = self._slots.get(name)
            process = slot.process if slot else None
        if process is None:
            raise KeyError(f"no Alertmanager peer named {name!r}")
        process.stop(sig, timeout=timeout)
        self._changed()

    def restart_peer(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30.0) -> Peer:
        """Stop peer ``name`` with ``sig`` and start it again with the same ports, storage and peers."""
        with self._lock:
            slot = self._slots[name]
            clustered = slot.clustered
            argv = slot.process.argv if slot.process else None
        self.stop_peer(name, sig)
        with self._lock:
            slot.process = ManagedProcess(f"Alertmanager peer {name}", argv or self._argv(slot, list(self._slots)),
                                          self.workdir / f"{name}.log", env=self.env, cwd=self.workdir)
            slot.clustered = clustered
            slot.process.start()
        self._wait_started(slot, timeout)
        self._changed()
        return self._peer(slot)

    def stop_all(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop every peer. One after the other: a peer leaving on SIGTERM waits (up to 10 s) for
        another member to acknowledge; when all leave at once, nobody does."""
        with self._lock:
            processes = [slot.process for slot in self._slots.values() if slot.process is not None]
        for process in processes:
            process.stop(sig, timeout=timeout)
        self._changed()

    # Queries ----------------------------------------------------------------------------------
    def peers(self) -> list[Peer]:
        """Running peers, in the order they were first started."""
        with self._lock:
            return [self._peer(slot) for slot in self._slots.values()
                    if slot.process is not None and slot.process.alive()]

    def peer(self, name: str) -> Peer:
        with self._lock:
            slot = self._slots[name]
            if slot.process is None or not slot.process.alive():
                raise KeyError(f"Alertmanager peer {name!r} does not run")
            return self._peer(slot)

    def urls(self) -> list[str]:
        return [peer.web_url for peer in self.peers()]

    def status(self, name: str, timeout: float = 2.0) -> dict[str, Any]:
        """``GET /api/v2/status`` of peer ``name``."""
        status, body = http_json("GET", f"{self.web_url(name)}/api/v2/status", timeout=timeout)
        if status != 200 or not isinstance(body, dict):
            raise OSError(f"Alertmanager {name}: /api/v2/status answered {status}")
        return body

    def wait_ready(self, expected_peers: int | None = None, timeout: float = 30.0) -> float:
        """Wait until every running clustered peer reports status ``ready`` with ``expected_peers``
        members (default: the number of running clustered peers). Returns the seconds waited."""
        started = time.monotonic()
        while True:
            running = [peer for peer in self.peers() if peer.cluster_addr]
            expected = len(running) if expected_peers is None else expected_peers
            states = {}
            for peer in running:
                try:
                    cluster = self.status(peer.name)["cluster"]
                    states[peer.name] = (cluster.get("status"), len(cluster.get("peers") or []))
                except OSError as exc:
                    states[peer.name] = (str(exc), 0)
            if running and all(state == ("ready", expected) for state in states.values()):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise LabError(f"lab: the Alertmanager cluster did not become ready with {expected} peers "
                               f"in {timeout:.0f} s: {states}. Logs: {self.workdir}/*.log")
            time.sleep(0.05)

    # Internals --------------------------------------------------------------------------------
    def _argv(self, slot: _Slot, peer_names: list[str]) -> list[str]:
        storage = self.workdir / slot.name
        storage.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        if not config.exists():
            config.write_text(self.config_text, encoding="utf-8")
        argv = [self.binary, f"--config.file={config}", f"--storage.path={storage}",
                f"--web.listen-address={self._host(slot)}:{slot.web_port}"]
        if slot.clustered:
            address = f"{self._host(slot)}:{slot.cluster_port}"
            argv += [f"--cluster.listen-address={address}", f"--cluster.advertise-address={address}"]
            argv += [f"--cluster.peer={self.cluster_addr(name)}" for name in peer_names]
            argv += [f"--cluster.settle-timeout={self.settle_timeout}",
                     f"--cluster.reconnect-interval={DEFAULT_RECONNECT_INTERVAL}"]
        else:
            # The default is 0.0.0.0:9094: always say what we want.
            argv.append("--cluster.listen-address=")
        return argv + self.extra_args

    def _wait_started(self, slot: _Slot, timeout: float) -> None:
        assert slot.process is not None

        def answering() -> bool:
            cluster = self.status(slot.name, timeout=1.0).get("cluster") or {}
            return cluster.get("status") != "settling"

        slot.process.wait_healthy(answering, timeout, "answering with a settled cluster status")

    def _peer(self, slot: _Slot) -> Peer:
        assert slot.process is not None and slot.process.pid is not None
        return Peer(name=slot.name, web_url=f"http://{self._host(slot)}:{slot.web_port}",
                    cluster_addr=f"{self._host(slot)}:{slot.cluster_port}" if slot.clustered else "",
                    pid=slot.process.pid, start_time=slot.process.start_time,
                    storage_path=self.workdir / slot.name)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
