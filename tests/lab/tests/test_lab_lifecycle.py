"""`python -m atlas_lab up/status/down`: each test runs its own lab (auto ports, temp dir), checks
what runs, stops it and checks that no process and no listening port is left, independently of the
lab's own bookkeeping (/proc scan for the lab's instance marker, and `ss`)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from atlas_lab.core.ports import bound_addresses
from atlas_lab.core.processes import INSTANCE_ENV, is_running
from atlas_lab.core.state import read_state, recorded_ports
from atlas_lab.core.writers import read_env_file
from atlas_lab.pytest_plugin import run_cli

SERVICES = ("vault_proxy", "openbao", "kubernetes", "keycloak", "aws", "control")


def processes_with_marker(instance: str) -> list[int]:
    """Independent of the lab's code: every pid whose environment holds the lab's instance id."""
    marker = f"{INSTANCE_ENV}={instance}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                        if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                            pids.append(int(entry))
        except OSError:
            continue
    return pids


def bound_by_ss() -> set[tuple[str, int]]:
    """Local (address, port) of TCP listening and UDP bound sockets according to `ss` (iproute2)."""
    output = subprocess.run(["ss", "-Htuln"], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in output.splitlines():
        if line.strip():
            address, port = line.split()[4].rsplit(":", 1)
            found.add((address.strip("[]").split("%")[0], int(port)))
    return found


def lab_processes(state: dict[str, Any]) -> set[int]:
    """What the state file says runs: the supervisor and every service process."""
    services = state["services"].values()
    return {state["supervisor"]["pid"]} | {service["pid"] for service in services if service["kind"] == "process"}


def up(lab_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("up", "--dir", str(lab_dir), "--ports", "auto", *args)


def assert_nothing_left(state: dict[str, Any]) -> None:
    recorded = [state["supervisor"]] + list(state["services"].values())
    assert [entry["pid"] for entry in recorded if is_running(entry["pid"], entry["start_time"])] == []
    assert processes_with_marker(state["instance"]) == []
    addresses = set(recorded_ports(state).values())
    assert addresses, "the state recorded no ports"
    assert not addresses & bound_addresses(), f"still bound (/proc/net): {sorted(addresses & bound_addresses())}"
    if shutil.which("ss"):
        assert not addresses & bound_by_ss(), f"still bound (ss): {sorted(addresses & bound_by_ss())}"


def test_lab_up_status_idempotent_down_leaves_nothing(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    started = up(lab_dir, "--alertmanager-peers", "2")
    assert started.returncode == 0, started.stdout + started.stderr
    assert re.search(r"^lab: up in \d+\.\d s", started.stdout, re.M), started.stdout
    state = read_state(lab_dir)
    assert state is not None and state["status"] == "running"
    lab_peers = {"alertmanager-0", "alertmanager-1"}
    assert set(SERVICES) | lab_peers <= set(state["services"])
    # The rest are pods of the seeded kube-prometheus-stack Alertmanager (simulated prometheus-operator).
    assert all(".monitoring" in name for name in set(state["services"]) - set(SERVICES) - lab_peers)
    # The bookkeeping matches what /proc says carries the lab's marker: supervisor, OpenBao, moto, peers.
    running = lab_processes(state)
    assert set(processes_with_marker(state["instance"])) == running and len(running) >= 5
    assert set(recorded_ports(state).values()) <= bound_addresses() & bound_by_ss()

    status = run_cli("status", "--dir", str(lab_dir))
    assert status.returncode == 0, status.stdout + status.stderr
    for name, service in state["services"].items():
        assert re.search(rf"^\s+{re.escape(name)}\s+{re.escape(service['url'])}\s+{service['pid']}\s+healthy$",
                         status.stdout, re.M), status.stdout

    again = up(lab_dir)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"lab: already up in {lab_dir} (supervisor pid {state['supervisor']['pid']}")
    assert read_state(lab_dir)["supervisor"] == state["supervisor"]

    stopped = run_cli("down", "--dir", str(lab_dir))
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert re.match(rf"lab: stopped in \d+\.\d s \({len(running)} processes; none left, \d+ ports closed\)",
                    stopped.stdout)
    assert_nothing_left(state)
    assert not (lab_dir / "state.json").exists()

    after = run_cli("status", "--dir", str(lab_dir))
    assert after.returncode == 3
    assert after.stdout.strip() == f"lab: not running (no state in {lab_dir})"
    again_down = run_cli("down", "--dir", str(lab_dir))
    assert again_down.returncode == 0 and "not running" in again_down.stdout


def test_lab_down_after_supervisor_was_killed(tmp_path: Path) -> None:
    """A SIGKILLed supervisor cannot stop its children: `status` says so and `down` still stops them."""
    lab_dir = tmp_path / "lab"
    started = up(lab_dir, "--alertmanager-peers", "1")
    assert started.returncode == 0, started.stdout + started.stderr
    state = read_state(lab_dir)
    supervisor = state["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_running(supervisor, state["supervisor"]["start_time"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = set(processes_with_marker(state["instance"]))
    assert orphans == lab_processes(state) - {supervisor}  # OpenBao, moto, the peers: still running

    status = run_cli("status", "--dir", str(lab_dir))
    assert status.returncode == 3
    assert "was not stopped cleanly" in status.stdout and "make lab-down" in status.stdout

    stopped = run_cli("down", "--dir", str(lab_dir))
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"{len(orphans)} processes; none left" in stopped.stdout
    assert_nothing_left(state)


def test_lab_up_cleans_a_lab_that_was_not_stopped(tmp_path: Path) -> None:
    """`up` over a dead supervisor's leftovers stops them first, then starts a fresh lab."""
    lab_dir = tmp_path / "lab"
    assert up(lab_dir, "--alertmanager-peers", "1").returncode == 0
    old = read_state(lab_dir)
    os.kill(old["supervisor"]["pid"], signal.SIGKILL)
    time.sleep(0.2)
    restarted = up(lab_dir, "--alertmanager-peers", "1")
    try:
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        leftovers = len(lab_processes(old)) - 1
        assert f"was not stopped cleanly; stopped its {leftovers} leftover process(es)" in restarted.stdout
        assert processes_with_marker(old["instance"]) == []
        new = read_state(lab_dir)
        assert new["instance"] != old["instance"]
        assert set(processes_with_marker(new["instance"])) == lab_processes(new)
    finally:
        assert run_cli("down", "--dir", str(lab_dir)).returncode == 0


def test_lab_openbao_raft_mode(tmp_path: Path) -> None:
    """--openbao-mode raft: a raft-storage server, initialised and unsealed; VAULT_TOKEN is its root token."""
    import hvac  # pylint: disable=import-outside-toplevel
    lab_dir = tmp_path / "lab"
    started = up(lab_dir, "--alertmanager-peers", "1", "--openbao-mode", "raft")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "OpenBao raft mode" in started.stdout
        env = read_env_file(lab_dir / "env")
        client = hvac.Client(url=env["VAULT_ADDR"], token=env["VAULT_TOKEN"])
        assert client.sys.read_health_status(method="GET")["sealed"] is False
        assert client.sys.read_raft_config()["data"]["config"]["servers"][0]["node_id"] == "lab-0"
        snapshot = client.sys.take_raft_snapshot()
        assert snapshot.status_code == 200 and len(snapshot.content) > 0
    finally:
        stopped = run_cli("down", "--dir", str(lab_dir))
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
