"""pytest plugin: a running lab for the integration suites.

``tests/integration/conftest.py`` registers it. The session-scoped ``lab`` fixture runs
``python -m atlas_lab up --ports auto`` in a temporary directory (the same code path as
``make lab-up``, so the CLI is exercised by every run) and ``down`` at the end of the session.
``--lab-dir DIR`` uses a lab that already runs (``make lab-up``) and leaves it running.
``ATLAS_TEST_ANSIBLE_BIN_DIR=DIR`` runs ``DIR/ansible-playbook`` and ``DIR/ansible``, with modules on
``DIR/python``; ``make compat`` runs the tests marked ``compat`` that way with ansible-core 2.16.

    def test_something(lab):
        lab.k8s.add_fault("error", kind="patch secrets", status=500)
        result = lab.ansible_playbook("playbooks/harden.yml", "--tags", "rotation")
        assert result.rc == 0, result
        assert result.changed == 1
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from atlas_lab.config import write_private
from atlas_lab.core.admin_client import LabAdminClient
from atlas_lab.core.state import read_state
from atlas_lab.core.writers import read_env_file

REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGE_PARENT = Path(__file__).resolve().parents[1]
PYTEST_VENV_BIN = Path(sys.executable).parent
# Another Ansible installation for the suites (`make compat`: ansible-core 2.16 in .venv-compat): its
# ansible/ansible-playbook run the plays and its python runs the modules. Default: this venv's.
ANSIBLE_BIN_DIR_ENV = "ATLAS_TEST_ANSIBLE_BIN_DIR"
VENV_BIN = Path(os.environ.get(ANSIBLE_BIN_DIR_ENV) or PYTEST_VENV_BIN).absolute()
# Variables from the developer's shell that would point the collection away from the lab.
SHADOWING_ENV = (
    "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_SKIP_VERIFY",
    "KEYCLOAK_CLIENT_ID", "KEYCLOAK_CLIENT_SECRET",
    "K8S_AUTH_CONTEXT", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY", "K8S_AUTH_SSL_CA_CERT",
    "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
)
_RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")
_ADHOC_LINE = re.compile(r"^(?P<host>\S+) \| (?P<status>SUCCESS|CHANGED|FAILED|UNREACHABLE)!?"
                         r"(?: => (?P<json>\{)| \| rc=(?P<rc>-?\d+))", re.M)


@dataclass
class AnsibleResult:
    """Outcome of ``ansible-playbook`` or ``ansible``: rc, output and the parsed PLAY RECAP."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    # host -> {"ok": n, "changed": n, "unreachable": n, "failed": n, "skipped": n, "rescued": n, "ignored": n}
    recap: dict[str, dict[str, int]] = field(default_factory=dict)
    # `ansible` (ad hoc) only: host -> the module's result
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _total(self, key: str) -> int:
        return sum(counts.get(key, 0) for counts in self.recap.values())

    @property
    def changed(self) -> int:
        return self._total("changed")

    @property
    def ok(self) -> int:
        return self._total("ok")

    @property
    def failed(self) -> int:
        return self._total("failed") + self._total("unreachable")

    def __str__(self) -> str:
        # Shown by `assert result.rc == 0, result`.
        return (f"$ {' '.join(self.argv)}\nrc={self.rc} recap={self.recap}\n"
                f"--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-3000:]}")


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP block of ansible-playbook's default output, per host."""
    recap: dict[str, dict[str, int]] = {}
    lines = stdout.splitlines()
    try:
        start = max(index for index, line in enumerate(lines) if line.startswith("PLAY RECAP"))
    except ValueError:
        return recap
    for line in lines[start + 1:]:
        match = _RECAP_LINE.match(line.strip())
        if match:
            recap[match["host"]] = {key: int(value) for key, value in
                                    (pair.split("=") for pair in match["counts"].split())}
    return recap


def collections_path() -> str:
    """ANSIBLE_COLLECTIONS_PATH as the Makefile sets it: .build/collections with atlas/hardening -> repo."""
    if os.environ.get("ANSIBLE_COLLECTIONS_PATH"):
        return os.environ["ANSIBLE_COLLECTIONS_PATH"]
    root = REPO_ROOT / ".build" / "collections"
    link = root / "ansible_collections" / "atlas" / "hardening"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        try:
            link.symlink_to(REPO_ROOT)
        except FileExistsError:  # another pytest worker made it meanwhile
            pass
    return str(root)


def inventory_for_module_python(inventory: Path) -> Path:
    """The lab's inventory, or with ATLAS_TEST_ANSIBLE_BIN_DIR set, a copy next to it whose hosts run
    modules with that directory's python (the lab writes its own interpreter into the inventory)."""
    if not os.environ.get(ANSIBLE_BIN_DIR_ENV):
        return inventory
    python = str(VENV_BIN / "python")
    data = yaml.safe_load(inventory.read_text(encoding="utf-8"))

    def set_interpreter(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "hosts" and isinstance(value, dict):
                    for host_vars in value.values():
                        host_vars["ansible_python_interpreter"] = python
                else:
                    set_interpreter(value)

    set_interpreter(data)
    copy = inventory.with_name(f"inventory-{hashlib.sha256(python.encode()).hexdigest()[:12]}.yml")
    write_private(copy, f"# {inventory.name} with modules run by {python} ({ANSIBLE_BIN_DIR_ENV}).\n---\n"
                  + yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return copy


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m atlas_lab <args>`` with this interpreter, as ``make lab-up`` runs it."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), full_env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "atlas_lab", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, check=False)


class Lab:
    """A running lab, as tests see it.

    Attributes: ``dir``, ``state`` (state.json), ``vars`` (what the env file exports), ``env``
    (``os.environ`` + ``vars`` + ANSIBLE_COLLECTIONS_PATH + the venv on PATH: pass it to
    subprocesses), ``urls`` (service -> URL), ``vault_url`` (through the fault proxy),
    ``openbao_url`` (direct), ``vault_token``, ``kubernetes_url``, ``keycloak_url``,
    ``keycloak_admin_username``/``keycloak_admin_password``, ``aws_endpoint_url``,
    ``alertmanager_urls``, ``kubeconfig``, ``ca_file``, ``inventory``, ``env_file``; admin clients
    ``k8s``, ``keycloak``, ``vault_proxy`` and ``control`` (:class:`LabAdminClient`).
    """

    def __init__(self, lab_dir: Path, owned: bool):
        self.dir = lab_dir
        self.owned = owned
        state = read_state(lab_dir)
        if not state or state.get("status") != "running":
            raise RuntimeError(f"no running lab in {lab_dir} (start one with `make lab-up`)")
        self.state: dict[str, Any] = state
        self.env_file = lab_dir / "env"
        self.vars: dict[str, str] = read_env_file(self.env_file)
        self.env = self._subprocess_env()
        self.urls: dict[str, str] = {name: service["url"] for name, service in state["services"].items()}
        self.vault_url = self.vars["VAULT_ADDR"]
        self.openbao_url = self.vars["ATLAS_LAB_OPENBAO_ADDR"]
        self.vault_token = self.vars["VAULT_TOKEN"]
        self.kubernetes_url = self.urls["kubernetes"]
        self.keycloak_url = self.vars["KEYCLOAK_URL"]
        self.keycloak_admin_username = self.vars["KEYCLOAK_USER"]
        self.keycloak_admin_password = self.vars["KEYCLOAK_PASSWORD"]
        self.aws_endpoint_url = self.vars["AWS_ENDPOINT_URL"]
        self.kubeconfig = Path(self.vars["KUBECONFIG"])
        self.ca_file = Path(self.vars["ATLAS_LAB_CA_FILE"])
        self.inventory = inventory_for_module_python(lab_dir / "inventory.yml")
        self.k8s = LabAdminClient(self.vars["ATLAS_LAB_KUBERNETES_ADMIN_URL"], ca_file=str(self.ca_file))
        self.keycloak = LabAdminClient(self.vars["ATLAS_LAB_KEYCLOAK_ADMIN_URL"])
        self.vault_proxy = LabAdminClient(self.vars["ATLAS_LAB_VAULT_PROXY_ADMIN_URL"])
        self.control = LabAdminClient(self.vars["ATLAS_LAB_CONTROL_URL"])

    # Start and stop ---------------------------------------------------------------------------
    @classmethod
    def start(cls, lab_dir: Path, *extra_args: str) -> Lab:
        """``python -m atlas_lab up --dir lab_dir --ports auto`` and attach to the result."""
        result = run_cli("up", "--dir", str(lab_dir), "--ports", "auto", *extra_args)
        if result.returncode != 0:
            raise RuntimeError(f"`python -m atlas_lab up` failed (rc {result.returncode}):\n"
                               f"{result.stdout}{result.stderr}")
        return cls(lab_dir, owned=True)

    def stop(self) -> subprocess.CompletedProcess[str]:
        return run_cli("down", "--dir", str(self.dir))

    # State ------------------------------------------------------------------------------------
    @property
    def alertmanager_urls(self) -> list[str]:
        """Running peers now (the env file is rewritten when peers start or stop)."""
        return [url for url in read_env_file(self.env_file)["ALERTMANAGER_URLS"].split(",") if url]

    def admin(self, service: str) -> LabAdminClient:
        """Admin client by service name: ``kubernetes``, ``keycloak``, ``vault_proxy`` or ``control``."""
        return {"kubernetes": self.k8s, "k8s": self.k8s, "keycloak": self.keycloak,
                "vault_proxy": self.vault_proxy, "control": self.control}[service]

    def reset(self) -> None:
        """Return every emulator (faults, request counters, stored objects) and moto to their
        initial state. OpenBao keeps its data (use unique paths) and Alertmanager peers keep running."""
        self.control.reset()

    # Alertmanager peers (run by the supervisor) -----------------------------------------------
    def alertmanager_peers(self) -> list[dict[str, Any]]:
        return self.control.call("GET", "alertmanager/peers")

    def start_alertmanager_peer(self, name: str, peers: list[str] | None = None,
                                clustered: bool = True) -> dict[str, Any]:
        return self.control.call("POST", "alertmanager/peers", {"name": name, "peers": peers, "clustered": clustered})

    def stop_alertmanager_peer(self, name: str, sig: str = "TERM") -> None:
        self.control.call("DELETE", f"alertmanager/peers/{name}?signal={sig}")

    def restart_alertmanager_peer(self, name: str, sig: str = "TERM") -> dict[str, Any]:
        return self.control.call("POST", f"alertmanager/peers/{name}/restart?signal={sig}")

    # Running things against the lab -----------------------------------------------------------
    def _subprocess_env(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name not in SHADOWING_ENV}
        env.update(self.vars)
        env["ANSIBLE_COLLECTIONS_PATH"] = collections_path()
        env["PATH"] = os.pathsep.join(dict.fromkeys([str(VENV_BIN), str(PYTEST_VENV_BIN), env.get("PATH", "")]))
        env["ANSIBLE_NOCOLOR"] = "1"
        env["ANSIBLE_LOCAL_TEMP"] = str(self.dir / "ansible-tmp")
        return env

    def run(self, argv: list[str], timeout: float = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command with the lab's environment (cwd: the repository), capturing text output."""
        kwargs.setdefault("cwd", REPO_ROOT)
        return subprocess.run(argv, capture_output=True, text=True, env=kwargs.pop("env", self.env),
                              timeout=timeout, check=False, **kwargs)

    def ansible_playbook(self, playbook: str | Path, *args: str, extra_vars: dict[str, Any] | None = None,
                         check: bool = False, diff: bool = False, inventory: str | Path | None = None,
                         env: dict[str, str] | None = None, timeout: float = 600) -> AnsibleResult:
        """``ansible-playbook -i <lab inventory> playbook ...``; the recap is parsed into ``recap``."""
        argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory or self.inventory), str(playbook)]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        argv += ["--check"] if check else []
        argv += ["--diff"] if diff else []
        argv += list(args)
        completed = self.run(argv, timeout=timeout, env=dict(self.env, **(env or {})))
        return AnsibleResult(argv, completed.returncode, completed.stdout, completed.stderr,
                             recap=parse_recap(completed.stdout))

    def ansible(self, module: str, module_args: str | dict[str, Any] | None = None, *args: str,
                pattern: str = "localhost", check: bool = False, env: dict[str, str] | None = None,
                timeout: float = 300) -> AnsibleResult:
        """``ansible <pattern> -m module -a args`` against the lab inventory: ``results[host]`` is
        the module's result (``{"status": "SUCCESS"|"CHANGED"|"FAILED"|"UNREACHABLE", ...}``) and
        ``recap`` per-host counts derived from it, like ansible-playbook's."""
        argv = [str(VENV_BIN / "ansible"), pattern, "-i", str(self.inventory), "-m", module]
        if module_args is not None:
            argv += ["-a", module_args if isinstance(module_args, str) else json.dumps(module_args)]
        argv += ["--check"] if check else []
        argv += list(args)
        completed = self.run(argv, timeout=timeout, env=dict(self.env, **(env or {})))
        results = parse_adhoc(completed.stdout)
        recap = {host: {"ok": int(result["status"] in ("SUCCESS", "CHANGED")),
                        "changed": int(result["status"] == "CHANGED"),
                        "unreachable": int(result["status"] == "UNREACHABLE"),
                        "failed": int(result["status"] == "FAILED")}
                 for host, result in results.items()}
        return AnsibleResult(argv, completed.returncode, completed.stdout, completed.stderr, recap=recap,
                             results=results)


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "the condition",
             max_interval: float = 0.5) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); AssertionError after ``timeout``
    seconds, naming ``what`` (for what controllers do asynchronously, such as reports).

    The first polls are 0.1 s apart, then the interval grows by half up to ``max_interval``: many
    predicates run kubectl (a process of about 0.1 s CPU), and a fixed 0.1 s poll during a minute-long
    Job took a core away from the Job itself. Measured on test_disaster_recovery alone: kubectl runs
    593 -> 271 and user+sys 330 s -> 291 s with a 1 s cap; 0.5 s keeps the added latency per wait small."""
    deadline = time.monotonic() + timeout
    interval = 0.1
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_interval)


def parse_adhoc(stdout: str) -> dict[str, dict[str, Any]]:
    """Per host, the result printed by ``ansible`` (ad hoc): ``host | STATUS => {json}``, or
    ``host | STATUS | rc=N >>`` followed by the output for command-like modules."""
    results: dict[str, dict[str, Any]] = {}
    decoder = json.JSONDecoder()
    for match in _ADHOC_LINE.finditer(stdout):
        result: dict[str, Any] = {}
        if match["json"]:
            try:
                result = decoder.raw_decode(stdout, match.start("json"))[0]
            except ValueError:
                result = {}
        elif match["rc"]:
            result = {"rc": int(match["rc"])}
        results[match["host"]] = dict(result, status=match["status"])
    return results


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "compat: also run by `make compat`, with the oldest supported ansible-core "
                                       "(ATLAS_TEST_ANSIBLE_BIN_DIR, docs/compatibility.md)")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("atlas-lab", "atlas.hardening lab")
    group.addoption("--lab-dir", default=os.environ.get("ATLAS_LAB_TEST_DIR"),
                    help="use the lab already running in DIR (e.g. .lab after `make lab-up`) and leave it "
                         "running; default: start one with --ports auto in a temporary directory")


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A running lab for the whole session (see :class:`Lab`); stopped at the end unless --lab-dir."""
    existing = request.config.getoption("--lab-dir")
    if existing:
        yield Lab(Path(existing).resolve(), owned=False)
        return
    running = Lab.start(tmp_path_factory.mktemp("lab"))
    try:
        yield running
    finally:
        stopped = running.stop()
        if stopped.returncode != 0:
            print(f"lab down failed: {stopped.stdout}{stopped.stderr}", file=sys.stderr)


@pytest.fixture
def clean_lab(lab: Lab) -> Lab:  # pylint: disable=redefined-outer-name
    """The session lab, reset first: no faults, zero request counters, emulators and moto emptied."""
    lab.reset()
    return lab
