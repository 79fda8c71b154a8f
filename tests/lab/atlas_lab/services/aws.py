"""moto server: the AWS emulator (S3 and KMS, one endpoint for every service)."""

from __future__ import annotations

import sys
from pathlib import Path

from atlas_lab.core.http_probe import http_json, http_ok
from atlas_lab.core.processes import ManagedProcess

# moto accepts any credentials; fixed values keep the env file stable.
ACCESS_KEY_ID = "lab-access-key"
SECRET_ACCESS_KEY = "lab-secret-key"
REGION = "eu-west-1"


class MotoServer:
    """``python -m moto.server`` on ``host:port``."""

    def __init__(self, workdir: Path, host: str, port: int, env: dict[str, str] | None = None):
        self.workdir = workdir
        self.host = host
        self.port = port
        self.env = env
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]
        self.process = ManagedProcess("moto server", argv, self.workdir / "moto.log", env=self.env,
                                      cwd=self.workdir)
        self.process.start()

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/moto-api/", timeout=1.0)

    def wait_ready(self, timeout: float = 30.0) -> float:
        assert self.process is not None
        return self.process.wait_healthy(self.healthy, timeout, "answering")

    def reset(self) -> None:
        """Forget every bucket, key and object."""
        status, body = http_json("POST", f"{self.url}/moto-api/reset", timeout=10.0)
        if status != 200:
            raise RuntimeError(f"moto reset failed: {status} {body}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            self.process.stop(timeout=timeout)
