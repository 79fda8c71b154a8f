"""What one lab is made of: its directory, ports, Alertmanager peer count, OpenBao mode and the
secrets it hands to its services. The CLI builds it; the supervisor process reads it back."""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlas_lab.core.errors import LabError
from atlas_lab.core.ports import FIXED_PEER_SLOTS, HOST, PortAllocator, PortPlan, port_base_from_env
from atlas_lab.services.openbao import MODES as OPENBAO_MODES

PEERS_ENV = "ATLAS_LAB_ALERTMANAGER_PEERS"
OPENBAO_MODE_ENV = "ATLAS_LAB_OPENBAO_MODE"
DEFAULT_PEERS = 3
MAX_PEERS = FIXED_PEER_SLOTS
KEYCLOAK_ADMIN_USERNAME = "admin"


@dataclass
class LabConfig:
    """Everything the supervisor needs to start a lab."""

    dir: Path
    ports: PortPlan
    alertmanager_peers: int = DEFAULT_PEERS
    openbao_mode: str = "dev"
    host: str = HOST
    python: str = sys.executable
    # Fresh random secrets per lab, so tests that grep output for secrets are meaningful.
    vault_token: str = field(default_factory=lambda: "lab-root-" + secrets.token_hex(12))
    kubernetes_token: str = field(default_factory=lambda: "lab-k8s-" + secrets.token_hex(16))
    keycloak_admin_username: str = KEYCLOAK_ADMIN_USERNAME
    keycloak_admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    # Put in the environment of every lab process, so `down` can find them all (processes.marked_processes).
    instance: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def config_file(self) -> Path:
        return self.dir / "config.json"

    @classmethod
    def create(cls, lab_dir: Path, ports_mode: str = "fixed", port_base: int | None = None,
               peers: int | None = None, openbao_mode: str | None = None,
               environ: dict[str, str] | None = None) -> LabConfig:
        environ = dict(os.environ) if environ is None else environ
        peers = _peer_count(environ) if peers is None else peers
        if not 1 <= peers <= MAX_PEERS:
            raise LabError(f"lab: {peers} Alertmanager peers asked; choose between 1 and {MAX_PEERS} "
                           f"(--alertmanager-peers or {PEERS_ENV}).", exit_code=2)
        openbao_mode = openbao_mode or environ.get(OPENBAO_MODE_ENV) or "dev"
        if openbao_mode not in OPENBAO_MODES:
            raise LabError(f"lab: unknown OpenBao mode {openbao_mode!r}: use --openbao-mode "
                           f"{' or '.join(OPENBAO_MODES)} ({OPENBAO_MODE_ENV}).", exit_code=2)
        if ports_mode == "fixed" and port_base is None:
            port_base = port_base_from_env(environ)
        plan = PortAllocator(ports_mode, port_base).plan(peers)
        return cls(dir=lab_dir.resolve(), ports=plan, alertmanager_peers=peers, openbao_mode=openbao_mode)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dir": str(self.dir), "ports": self.ports.to_dict(), "alertmanager_peers": self.alertmanager_peers,
            "openbao_mode": self.openbao_mode, "host": self.host, "python": self.python,
            "vault_token": self.vault_token, "kubernetes_token": self.kubernetes_token,
            "keycloak_admin_username": self.keycloak_admin_username,
            "keycloak_admin_password": self.keycloak_admin_password, "instance": self.instance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabConfig:
        values = dict(data)
        values["dir"] = Path(values["dir"])
        values["ports"] = PortPlan.from_dict(values["ports"])
        return cls(**values)

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_private(self.config_file, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, lab_dir: Path) -> LabConfig:
        return cls.from_dict(json.loads((lab_dir / "config.json").read_text(encoding="utf-8")))


def _peer_count(environ: dict[str, str]) -> int:
    raw = environ.get(PEERS_ENV, "").strip()
    if not raw:
        return DEFAULT_PEERS
    try:
        return int(raw)
    except ValueError:
        raise LabError(f"lab: {PEERS_ENV}={raw!r} is not a number: set it to 1..{MAX_PEERS}.", exit_code=2) from None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only (it may hold lab secrets)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
