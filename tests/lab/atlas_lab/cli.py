"""``python -m atlas_lab up|down|status [--dir DIR]``: the lab's command line.

``up`` checks the machine (Python packages, binaries, free ports), spawns the detached supervisor
(see :mod:`atlas_lab.supervisor`) and waits until it reports every service ready. ``down`` stops the
supervisor and every process it started, then verifies that none runs and no port stays open.
Only the standard library is imported here, so a missing package gets a message, not a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from atlas_lab.config import DEFAULT_PEERS, LabConfig
from atlas_lab.core.errors import LabError
from atlas_lab.core.http_probe import http_ok
from atlas_lab.core.ports import PORT_BASE_ENV, bound_addresses, ensure_free
from atlas_lab.core.processes import (
    INSTANCE_ENV,
    is_running,
    marked_processes,
    signal_recorded,
    stop_recorded,
    wait_gone,
)
from atlas_lab.core.state import read_state, recorded_ports, recorded_processes, state_path, supervisor_running
from atlas_lab.prerequisites import check as check_prerequisites

DEFAULT_DIR = ".lab"
START_TIMEOUT = 90.0
NOT_RUNNING = 3  # like `systemctl status` / LSB: "program is not running"
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m atlas_lab",
                                     description="Start, inspect and stop the atlas.hardening lab.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{up,down,status}")

    def with_dir(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        command.add_argument("--dir", default=DEFAULT_DIR, type=Path,
                             help=f"lab directory: state, env file, inventory, logs (default: {DEFAULT_DIR})")
        return command

    up = with_dir(sub.add_parser("up", help="start the lab in the background (no-op if it runs)"))
    up.add_argument("--ports", choices=("fixed", "auto"), default="fixed",
                    help=f"fixed: ${PORT_BASE_ENV} (default 18200) + an offset per service; auto: free ports")
    up.add_argument("--port-base", type=int, default=None, help=f"base of the fixed ports (overrides ${PORT_BASE_ENV})")
    up.add_argument("--alertmanager-peers", type=int, default=None,
                    help=f"Alertmanager peers in the gossip cluster (default {DEFAULT_PEERS}, or $ATLAS_LAB_ALERTMANAGER_PEERS)")
    up.add_argument("--openbao-mode", choices=("dev", "raft"), default=None,
                    help="dev: in-memory, unsealed (default); raft: raft storage, initialised and unsealed")
    up.add_argument("--timeout", type=float, default=START_TIMEOUT, help="seconds to wait for every service")
    with_dir(sub.add_parser("down", help="stop every process the lab started; check no port stays open"))
    status = with_dir(sub.add_parser("status", help="say what runs: URL, pid, health of each service"))
    status.add_argument("--json", action="store_true", help="print the state and health as JSON")
    with_dir(sub.add_parser("supervise", help=argparse.SUPPRESS))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lab_dir = Path(args.dir).resolve()
    try:
        if args.command == "up":
            with _exclusive(lab_dir):
                return up(lab_dir, ports=args.ports, port_base=args.port_base, peers=args.alertmanager_peers,
                          openbao_mode=args.openbao_mode, timeout=args.timeout)
        if args.command == "down":
            if not lab_dir.is_dir():
                print(f"lab: not running (no {lab_dir})")
                return 0
            with _exclusive(lab_dir):
                return down(lab_dir)
        if args.command == "status":
            return status(lab_dir, as_json=args.json)
        from atlas_lab.supervisor import main as supervise  # pylint: disable=import-outside-toplevel

        return supervise(lab_dir)
    except LabError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: the work is done, only the rest of the text is lost.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


@contextlib.contextmanager
def _exclusive(lab_dir: Path) -> Iterator[None]:
    """One `up` or `down` at a time per lab directory (two terminals, parallel make jobs)."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    with open(lab_dir / ".lock", "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# up ---------------------------------------------------------------------------------------------
def up(lab_dir: Path, ports: str = "fixed", port_base: int | None = None, peers: int | None = None,
       openbao_mode: str | None = None, timeout: float = START_TIMEOUT) -> int:
    started = time.monotonic()
    state = read_state(lab_dir)
    if supervisor_running(state):
        assert state is not None
        if state.get("status") == "running":
            print(f"lab: already up in {lab_dir} (supervisor pid {state['supervisor']['pid']}, "
                  f"since {state.get('started_at')}); `python -m atlas_lab status --dir {lab_dir}` says what runs.")
            return 0
        if state.get("status") == "starting":
            print(f"lab: already starting in {lab_dir}; waiting for it.")
            state = _wait_until_running(lab_dir, None, timeout)
            _print_up(state, time.monotonic() - started)
            return 0
    if state is not None:
        cleaned = _stop_everything(state)
        state_path(lab_dir).unlink(missing_ok=True)
        if cleaned:
            print(f"lab: a previous lab in {lab_dir} was not stopped cleanly; stopped its {cleaned} leftover "
                  "process(es).")
    check_prerequisites(dict(os.environ))
    config = LabConfig.create(lab_dir, ports_mode=ports, port_base=port_base, peers=peers,
                              openbao_mode=openbao_mode)
    ensure_free(config.ports, config.host)
    config.save()
    supervisor = _spawn_supervisor(config)
    state = _wait_until_running(lab_dir, supervisor, timeout)
    _print_up(state, time.monotonic() - started)
    return 0


def _spawn_supervisor(config: LabConfig) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env[INSTANCE_ENV] = config.instance
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    with open(config.dir / "supervisor.log", "ab") as log:
        # A new session: the supervisor outlives `make lab-up` and a Ctrl-C in that terminal.
        return subprocess.Popen(  # pylint: disable=consider-using-with
            [config.python, "-m", "atlas_lab", "supervise", "--dir", str(config.dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=config.dir, env=env,
            start_new_session=True, close_fds=True,
        )


def _wait_until_running(lab_dir: Path, supervisor: subprocess.Popen[bytes] | None, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    log = lab_dir / "supervisor.log"
    while True:
        state = read_state(lab_dir)
        status_now = (state or {}).get("status")
        if state is not None and status_now == "running":
            return state
        exited = supervisor is not None and supervisor.poll() is not None
        if status_now == "failed" or exited:
            if supervisor is not None:
                try:
                    supervisor.wait(timeout=30)  # it stops what it started before exiting
                except subprocess.TimeoutExpired:
                    pass
            if state is not None:
                _stop_everything(state)
            state_path(lab_dir).unlink(missing_ok=True)
            error = (state or {}).get("error") or f"lab: the supervisor exited during start-up; see {log}:\n{_tail(log)}"
            raise LabError(error, exit_code=2 if "already in use" in error else 1)
        if time.monotonic() > deadline:
            if state is not None:
                _stop_everything(state)
            raise LabError(f"lab: not ready after {timeout:.0f} s (status {status_now!r}); stopped it. "
                           f"See {log}:\n{_tail(log)}")
        time.sleep(0.05)


def _print_up(state: dict[str, Any], elapsed: float) -> None:
    print(f"lab: up in {elapsed:.1f} s ({state['dir']}, OpenBao {state.get('openbao_mode')} mode, "
          f"{state.get('alertmanager_peers')} Alertmanager peers)")
    name_width = max([16] + [len(name) for name in state["services"]])
    for name, service in state["services"].items():
        print(f"  {name:<{name_width}} {service['url']:<26} {service.get('description', '')}")
    files = state.get("files") or {}
    print(f"  env file:  source {files.get('env')}")
    print(f"  inventory: {files.get('inventory')}")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# down -------------------------------------------------------------------------------------------
def down(lab_dir: Path) -> int:
    started = time.monotonic()
    state = read_state(lab_dir)
    if state is None:
        print(f"lab: not running (no state in {lab_dir})")
        return 0
    stopped = _stop_everything(state)
    ports = recorded_ports(state)
    still_bound = _wait_ports_closed(ports, timeout=5.0)
    remaining = [(name, pid) for name, pid, start in recorded_processes(state) if is_running(pid, start)]
    if state.get("instance"):
        remaining += [("unrecorded", pid) for pid, _start in marked_processes(state["instance"])]
    if remaining or still_bound:
        details = []
        if remaining:
            details.append("processes still running: " + ", ".join(f"{name} pid {pid}" for name, pid in remaining))
        if still_bound:
            listed = [f"{address}:{port} ({name})" for name, (address, port) in still_bound.items()]
            details.append("ports still open: " + ", ".join(listed))
        raise LabError(f"lab: could not stop everything in {lab_dir}: {'; '.join(details)}. "
                       "Check with `ss -ltnup` and `ps`, stop them by pid, then run `make lab-down` again.")
    state_path(lab_dir).unlink(missing_ok=True)
    print(f"lab: stopped in {time.monotonic() - started:.1f} s ({stopped} processes; "
          f"none left, {len(ports)} ports closed)")
    return 0


def _stop_everything(state: dict[str, Any]) -> int:
    """Stop the supervisor (which stops its children), then any child it left; return how many
    recorded processes were running."""
    supervisor = state.get("supervisor") or {}
    children = [(pid, start) for _name, pid, start in recorded_processes(state) if is_running(pid, start)]
    count = len(children)
    if supervisor and is_running(supervisor["pid"], supervisor.get("start_time")):
        count += 1
        signal_recorded(supervisor["pid"], supervisor.get("start_time"), signal.SIGTERM)
        if not wait_gone(supervisor["pid"], supervisor.get("start_time"), 30.0):
            signal_recorded(supervisor["pid"], supervisor.get("start_time"), signal.SIGKILL)
            wait_gone(supervisor["pid"], supervisor.get("start_time"), 5.0)
    # Children the supervisor did not stop (it was killed, or a child ignored SIGTERM).
    for pid, start_time in children:
        stop_recorded(pid, start_time)
    # Processes started after the last state write, or started by a process of the lab.
    if state.get("instance"):
        for pid, start_time in marked_processes(state["instance"]):
            if (pid, start_time) not in children:
                count += 1
            stop_recorded(pid, start_time)
    return count


def _wait_ports_closed(ports: dict[str, tuple[str, int]], timeout: float) -> dict[str, tuple[str, int]]:
    deadline = time.monotonic() + timeout
    while True:
        bound = bound_addresses()
        still = {name: address for name, address in ports.items() if address in bound}
        if not still or time.monotonic() > deadline:
            return still
        time.sleep(0.05)


# status -----------------------------------------------------------------------------------------
def status(lab_dir: Path, as_json: bool = False) -> int:
    state = read_state(lab_dir)
    if not supervisor_running(state):
        if as_json:
            print(json.dumps({"running": False, "dir": str(lab_dir)}))
        elif state is None:
            print(f"lab: not running (no state in {lab_dir})")
        else:
            print(f"lab: not running; the lab in {lab_dir} was not stopped cleanly "
                  "(its supervisor is gone): run `make lab-down` to clean up.")
        return NOT_RUNNING
    assert state is not None
    report = service_health(state)
    healthy = all(entry["healthy"] for entry in report.values())
    if as_json:
        print(json.dumps({"running": True, "status": state["status"], "healthy": healthy, "dir": state["dir"],
                          "startup_seconds": state.get("startup_seconds"), "services": report}, indent=2))
        return 0 if healthy and state["status"] == "running" else 1
    supervisor = state["supervisor"]
    print(f"lab: {state['status']} in {state['dir']} (supervisor pid {supervisor['pid']}, since "
          f"{state.get('started_at')}, services ready in {state.get('startup_seconds')} s)")
    name_width = max([16] + [len(name) for name in report])
    print(f"  {'service':<{name_width}} {'url':<26} {'pid':>7}  health")
    for name, entry in report.items():
        health = "healthy" if entry["healthy"] else ("unhealthy" if entry["running"] else "not running")
        print(f"  {name:<{name_width}} {entry['url']:<26} {entry['pid']:>7}  {health}")
    print(f"  env file: source {(state.get('files') or {}).get('env')}")
    return 0 if healthy and state["status"] == "running" else 1


def service_health(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per service: url, pid, whether its process runs and whether its health URL answers 2xx."""
    report = {}
    for name, service in state["services"].items():
        running = is_running(service["pid"], service.get("start_time"))
        context = None
        if service.get("ca_file"):
            context = ssl.create_default_context(cafile=service["ca_file"])
        healthy = running and http_ok(service["health_url"], timeout=2.0, context=context)
        report[name] = {"url": service["url"], "pid": service["pid"], "running": running, "healthy": healthy,
                        "kind": service["kind"]}
    return report
