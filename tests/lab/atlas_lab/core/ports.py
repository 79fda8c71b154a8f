"""Which loopback ports the lab's services use, and whether they are free.

``make lab-up`` uses fixed ports (``ATLAS_LAB_PORT_BASE`` + a fixed offset per service, so the env
file stays the same from one run to the next); tests use ``--ports auto`` (free ports picked by the
kernel) so several labs can run side by side.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass, field
from pathlib import Path

from atlas_lab.core.errors import LabError

HOST = "127.0.0.1"
DEFAULT_PORT_BASE = 18200
PORT_BASE_ENV = "ATLAS_LAB_PORT_BASE"
# Alertmanager peers get base+40+i (web) and base+50+i (gossip); peers beyond this get free ports.
FIXED_PEER_SLOTS = 10
ALERTMANAGER_WEB_OFFSET = 40
ALERTMANAGER_CLUSTER_OFFSET = 50
PORT_SPAN = ALERTMANAGER_CLUSTER_OFFSET + FIXED_PEER_SLOTS

# Service port name -> (offset from the base, what listens there).
FIXED_OFFSETS: dict[str, tuple[int, str]] = {
    "vault_proxy": (0, "OpenBao fault proxy (VAULT_ADDR)"),
    "openbao": (1, "OpenBao API"),
    # OpenBao dev mode always puts its cluster listener on API port + 1.
    "openbao_cluster": (2, "OpenBao cluster listener"),
    "control": (3, "lab control API"),
    "kubernetes": (10, "Kubernetes API emulator"),
    "keycloak": (20, "Keycloak emulator"),
    "aws": (30, "moto server (S3, KMS)"),
}


@dataclass
class PortPlan:
    """Ports of one lab: ``ports[name]`` and ``descriptions[name]``; peers are ``alertmanager-<i>-web``."""

    mode: str
    base: int | None
    ports: dict[str, int] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, port: int, description: str) -> None:
        self.ports[name] = port
        self.descriptions[name] = description

    def to_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "base": self.base, "ports": dict(self.ports),
                "descriptions": dict(self.descriptions)}

    @classmethod
    def from_dict(cls, data: dict) -> PortPlan:
        return cls(mode=data["mode"], base=data.get("base"), ports=dict(data["ports"]),
                   descriptions=dict(data["descriptions"]))


def port_base_from_env(environ: dict[str, str]) -> int:
    raw = environ.get(PORT_BASE_ENV, "").strip()
    if not raw:
        return DEFAULT_PORT_BASE
    try:
        base = int(raw)
    except ValueError:
        raise LabError(f"lab: {PORT_BASE_ENV}={raw!r} is not a number: set it to a port such as 19200 "
                       f"(the lab uses base..base+{PORT_SPAN - 1}).", exit_code=2) from None
    if not 1024 <= base <= 65535 - PORT_SPAN:
        raise LabError(f"lab: {PORT_BASE_ENV}={base} is out of range: choose a base between 1024 and "
                       f"{65535 - PORT_SPAN} (the lab uses base..base+{PORT_SPAN - 1}).", exit_code=2)
    return base


class PortAllocator:
    """Hands out ports: fixed offsets from a base, or free ports from the kernel (``auto``)."""

    def __init__(self, mode: str, base: int | None = None, host: str = HOST):
        if mode not in ("fixed", "auto"):
            raise LabError(f"unknown port mode {mode!r}: use --ports fixed or --ports auto", exit_code=2)
        self.mode = mode
        self.base = base if mode == "fixed" else None
        self.host = host
        self._given: set[int] = set()

    def service_port(self, name: str) -> int:
        if self.mode == "fixed":
            assert self.base is not None
            port = self.base + FIXED_OFFSETS[name][0]
        elif name == "openbao":
            port = self._free_pair()
        elif name == "openbao_cluster":
            raise ValueError("openbao_cluster follows openbao; use plan()")
        else:
            port = self._free_port()
        self._given.add(port)
        return port

    def peer_ports(self, index: int) -> tuple[int, int]:
        """(web, cluster) ports for the ``index``-th Alertmanager peer."""
        if self.mode == "fixed" and index < FIXED_PEER_SLOTS:
            assert self.base is not None
            ports = (self.base + ALERTMANAGER_WEB_OFFSET + index, self.base + ALERTMANAGER_CLUSTER_OFFSET + index)
        else:
            ports = (self._free_port(), self._free_port(udp_too=True))
        self._given.update(ports)
        return ports

    def plan(self, peers: int) -> PortPlan:
        plan = PortPlan(mode=self.mode, base=self.base)
        for name, (_offset, description) in FIXED_OFFSETS.items():
            if name == "openbao_cluster":
                plan.add(name, plan.ports["openbao"] + 1, description)
            else:
                plan.add(name, self.service_port(name), description)
        for index in range(peers):
            web, cluster = self.peer_ports(index)
            plan.add(f"alertmanager-{index}-web", web, f"Alertmanager peer {index} (web)")
            plan.add(f"alertmanager-{index}-cluster", cluster, f"Alertmanager peer {index} (gossip)")
        return plan

    def _free_port(self, udp_too: bool = False) -> int:
        for _attempt in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((self.host, 0))
                port = int(sock.getsockname()[1])
            if port in self._given or (udp_too and not port_is_free(port, self.host, udp=True)):
                continue
            return port
        raise LabError("could not find a free loopback port after 100 tries", exit_code=2)

    def _free_pair(self) -> int:
        """A free port whose successor is free too (OpenBao's dev cluster listener)."""
        for _attempt in range(100):
            port = self._free_port()
            if port + 1 <= 65535 and port + 1 not in self._given and port_is_free(port + 1, self.host):
                self._given.add(port + 1)
                return port
        raise LabError("could not find two consecutive free loopback ports after 100 tries", exit_code=2)


def port_is_free(port: int, host: str = HOST, udp: bool = False) -> bool:
    """True when nothing is bound to ``port`` (TCP, or UDP with ``udp``)."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        # Like the servers themselves: a port held only by TIME_WAIT connections counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def ensure_free(plan: PortPlan, host: str = HOST) -> None:
    """Raise one :class:`LabError` naming every port of ``plan`` that something else holds."""
    taken = [name for name, port in plan.ports.items() if not port_is_free(port, host)]
    # Alertmanager gossip also uses UDP on its cluster port.
    taken += [name for name, port in plan.ports.items()
              if name.endswith("-cluster") and name not in taken and not port_is_free(port, host, udp=True)]
    if taken:
        raise port_in_use_error(plan, taken, host)


def port_in_use_error(plan: PortPlan, taken: list[str], host: str = HOST) -> LabError:
    """The one message for ports of ``plan`` (by name) that something else holds, with the fix."""
    listed = ", ".join(f"{plan.ports[name]} ({plan.descriptions[name]})" for name in taken)
    plural = "s are" if len(taken) > 1 else " is"
    first = plan.ports[taken[0]]
    if plan.mode == "fixed":
        other = (plan.base or DEFAULT_PORT_BASE) + 1000
        fix = (f"Stop what listens there (see: ss -ltnup 'sport = :{first}'), or move the lab to other "
               f"ports: {PORT_BASE_ENV}={other} make lab-up (the lab uses base..base+{PORT_SPAN - 1}), "
               f"or python -m atlas_lab up --ports auto.")
    else:
        fix = "Another program took it after the lab picked it; run the command again."
    return LabError(f"lab: port{plural} already in use on {host}: {listed}. {fix}", exit_code=2)


def _proc_net_address(field: str) -> tuple[str, int]:
    """``0100007F:1F90`` (/proc/net/tcp) -> ("127.0.0.1", 8080); IPv6 words are little-endian too."""
    address, port = field.rsplit(":", 1)
    raw = bytes.fromhex(address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(port, 16)
    words = b"".join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET6, words), int(port, 16)


def bound_addresses() -> set[tuple[str, int]]:
    """Every local (address, port) with a listening TCP socket or a bound UDP socket (from /proc/net)."""
    found: set[tuple[str, int]] = set()
    # TCP sockets in LISTEN (0A); UDP sockets have no listen state and sit in TCP_CLOSE (07).
    for name, wanted_state in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        try:
            lines = (Path("/proc/net") / name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == wanted_state:
                found.add(_proc_net_address(fields[1]))
    return found


def bound_ports() -> set[int]:
    """Every local port with a listening TCP socket or a bound UDP socket, on any address."""
    return {port for _address, port in bound_addresses()}
