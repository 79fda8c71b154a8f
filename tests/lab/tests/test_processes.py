"""kill_tree: a crash kills every process of a run, including those in a session of their own (ansible's
workers call setsid), which a process-group kill misses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from atlas_lab.core.processes import descendants, kill_tree

# A parent, a child in its own session (like an ansible worker), and a grandchild of that child.
SCRIPT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
    "time.sleep(600)"], start_new_session=True)
print(child.pid, flush=True)
time.sleep(600)
"""


def wait_for_tree(pid: int, size: int) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tree = descendants(pid)
        if len(tree) >= size:
            return tree
        time.sleep(0.05)
    raise AssertionError(f"the test tree did not grow to {size}: {descendants(pid)}")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_process_group_kill_misses_the_setsid_child() -> None:
    """Why kill_tree exists: killpg leaves the worker-like child running."""
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    tree = wait_for_tree(parent.pid, 2)
    try:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        time.sleep(0.2)
        assert any(alive(pid) for pid in tree)
    finally:
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_kill_tree_kills_every_descendant() -> None:
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    tree = wait_for_tree(parent.pid, 2)
    assert kill_tree(parent.pid) == []
    parent.wait(timeout=10)
    assert [pid for pid in [parent.pid, *tree] if alive(pid)] == []
