"""Child processes of the lab supervisor, and how to recognise and stop them later.

A process is identified by its pid *and* its start time (field 22 of ``/proc/<pid>/stat``), so a
pid the kernel has since reused for something else is never signalled. Nothing here looks
processes up by name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from atlas_lab.core.errors import LabError


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None when it does not run (or is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_running(pid: int, start_time: int | None) -> bool:
    """True when ``pid`` runs and is the same process that was recorded (same start time)."""
    current = process_start_time(pid)
    return current is not None and (start_time is None or current == start_time)


def signal_recorded(pid: int, start_time: int | None, sig: int) -> bool:
    """Send ``sig`` to the recorded process if it still is that process; True if sent."""
    if not is_running(pid, start_time):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop_recorded(pid: int, start_time: int | None, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True once the process is gone."""
    if not signal_recorded(pid, start_time, signal.SIGTERM):
        return True
    if wait_gone(pid, start_time, timeout):
        return True
    signal_recorded(pid, start_time, signal.SIGKILL)
    return wait_gone(pid, start_time, 5.0)


def wait_gone(pid: int, start_time: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid, start_time):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class ProcessRecord:
    """What the state file keeps about one process."""

    pid: int
    start_time: int | None

    def to_dict(self) -> dict[str, int | None]:
        return {"pid": self.pid, "start_time": self.start_time}


class ManagedProcess:
    """One child process: started with its output in a log file, health-checked, stopped."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None
        self.start_time: int | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def record(self) -> ProcessRecord:
        assert self.popen is not None
        return ProcessRecord(self.popen.pid, self.start_time)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Logs may hold secrets (OpenBao's dev mode prints its root token): readable by the owner only.
        descriptor = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "ab") as log:
            try:
                # Same process group as the supervisor: `down` can still find the group if the
                # supervisor itself was killed.
                self.popen = subprocess.Popen(  # pylint: disable=consider-using-with
                    self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=self.env, cwd=self.cwd, close_fds=True,
                )
            except FileNotFoundError as exc:
                raise LabError(f"lab: cannot start {self.name}: {self.argv[0]} not found ({exc.strerror}).",
                               exit_code=2) from None
        self.start_time = process_start_time(self.popen.pid)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_healthy(self, check: Callable[[], bool], timeout: float, what: str = "") -> float:
        """Poll ``check`` until it is true; return the seconds it took. Fails fast if the process dies."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.alive():
                raise LabError(f"lab: {self.name} exited during start-up (code {self.returncode()}). "
                               f"Last lines of {self.log_path}:\n{self.log_tail()}")
            try:
                if check():
                    return time.monotonic() - started
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"lab: {self.name} was not {what or 'healthy'} after {timeout:.0f} s. "
                               f"Last lines of {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.03)

    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def send(self, sig: int) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Send ``sig``; after ``timeout`` SIGKILL; always reap the child."""
        self.send(sig)
        self.reap(timeout)

    def reap(self, timeout: float = 10.0) -> None:
        """Wait up to ``timeout`` for the child to exit (SIGKILL it after that) and reap it."""
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(deque(log, maxlen=lines)).rstrip()
        except OSError:
            return "(no log)"


INSTANCE_ENV = "ATLAS_LAB_INSTANCE"


def marked_processes(instance: str) -> list[tuple[int, int | None]]:
    """(pid, start time) of every process whose environment carries ``ATLAS_LAB_INSTANCE=<instance>``.

    The CLI gives the supervisor a random instance id in its environment and every process the lab
    starts inherits it (the env file does not export it), so this finds the lab's processes, even
    ones a killed supervisor left behind, and nothing else.
    """
    marker = f"{INSTANCE_ENV}={instance}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            start_time = process_start_time(int(entry.name))
            if start_time is not None:
                found.append((int(entry.name), start_time))
    return found


def _process_state(pid: int) -> str:
    """The state letter of /proc/<pid>/stat ("R", "S", "Z"...), "" when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` by parent links, whatever its session or process group (ansible's
    workers call setsid, so a process-group kill misses them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(pid: int, timeout: float = 30.0) -> list[int]:
    """SIGKILL ``pid`` and its whole process tree, as a crash would; return the pids still alive after
    ``timeout`` (zombies count as dead). Every process is stopped first, so none can fork a child
    that the kill would miss, and the tree is read before any kill (a killed parent's children are
    re-parented and would drop out of it)."""
    frozen: set[int] = set()
    while True:
        tree = [pid, *descendants(pid)]
        new = [member for member in tree if member not in frozen]
        if not new:
            break
        for member in new:
            try:
                os.kill(member, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            frozen.add(member)
    for member in frozen:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    alive = sorted(frozen)
    while alive and time.monotonic() < deadline:
        alive = [member for member in alive if _process_state(member) not in ("", "Z", "X")]
        if alive:
            time.sleep(0.05)
    return alive
