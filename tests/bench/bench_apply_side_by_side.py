"""k8s_manifests side by side with what users would pick instead, in one run on the same lab.

N objects of 9 kinds (the typical role's set of ten per namespace: N/10 new namespaces), applied by:

- ``atlas.hardening.k8s_manifests``, one task with ``src``;
- ``kubectl apply --server-side -f`` (the real kubectl; ``--dry-run=server`` for the check);
- ``kubernetes.core.k8s`` from the PyPI ``ansible`` package (its own venv, ``BENCH_ANSIBLE_VENV``,
  made by ``make bench``), one task with ``src`` and server-side apply, and one task per object
  (``loop``; N <= 50 only: at 200 it takes minutes per run);
- a one-task playbook running ``ansible.builtin.ping``: the start-up floor Ansible itself sets;
- the module's own start-up (import, kubeconfig, no request) against ``python -c pass`` and against
  importing the ``kubernetes`` package, which the module no longer needs.

For each N: first apply (empty cluster), re-run (nothing to change) and check mode, each the median of
RUNS runs (min and max in the notes), with the emulator's request counts by verb, the CPU time the
lab spent serving them (the server's share of the wall time) and the CPU time of the command's own
process tree (the client's share: ansible-playbook, its workers and the module, or kubectl). Each timed
run starts on a quiet lab: the lab's controllers reconciling the previous run's Deployments would
otherwise be counted against the next row. Each approach runs once untimed before its first row, so
the first size does not pay for cold caches. Ratios against k8s_manifests are printed at the end of the
table (`make bench`).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from k8s_manifests_support import ten_objects  # noqa: E402  pylint: disable=wrong-import-position,import-error

REPO_ROOT = Path(__file__).resolve().parents[2]
# BENCH_SIDE_SIZES=10 BENCH_SIDE_RUNS=1 for a quick look.
SIZES = tuple(int(size) for size in os.environ.get("BENCH_SIDE_SIZES", "10,50,200").split(","))
RUNS = int(os.environ.get("BENCH_SIDE_RUNS", "3"))
LOOP_MAX = 50
FIELD_MANAGER = "bench"


def objects(count: int) -> list[dict[str, Any]]:
    manifests = []
    for index in range(count // 10):
        namespace = f"side-{index}"
        for manifest in ten_objects(namespace=namespace):
            if manifest["kind"] != "Namespace":
                manifest["metadata"]["namespace"] = namespace
            manifests.append(manifest)
    return manifests


def _play(path: Path, tasks: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump([{"name": "bench", "hosts": "localhost", "gather_facts": False,
                                     "connection": "local", "tasks": tasks}], sort_keys=False))
    return path


class LabCpu:
    """CPU seconds of the lab's supervisor process, where every emulator and controller runs (Linux /proc)."""

    QUIET_WINDOW = 0.2  # seconds; quiet when the lab used at most one clock tick in a window

    def __init__(self, lab: Any) -> None:
        self.stat = Path(f"/proc/{lab.state['supervisor']['pid']}/stat")
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        fields = self.stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime

    def wait_quiet(self, timeout: float = 30.0) -> bool:
        """Wait until the lab's controllers have nothing left to reconcile; False if they still do."""
        deadline = time.monotonic() + timeout
        before = self.seconds()
        while time.monotonic() < deadline:
            time.sleep(self.QUIET_WINDOW)
            now = self.seconds()
            if now - before <= 1.0 / self.tick:
                return True
            before = now
        return False


class SideBySide:
    def __init__(self, lab: Any, directory: Path) -> None:
        self.lab = lab
        self.lab_cpu = LabCpu(lab)
        self.directory = directory
        self.kubectl = str(REPO_ROOT / ".venv" / "bin" / "kubectl")
        venv = os.environ.get("BENCH_ANSIBLE_VENV") or str(REPO_ROOT / ".bench" / "ansible-venv")
        self.core_playbook = Path(venv) / "bin" / "ansible-playbook"
        self.env = dict(lab.env, KUBECONFIG=str(lab.kubeconfig), K8S_AUTH_KUBECONFIG=str(lab.kubeconfig))
        self.warmed: set[str] = set()  # approaches that ran once untimed

    def commands(self, count: int, source: Path) -> dict[str, dict[str, list[str]]]:
        ours = _play(self.directory / f"ours-{count}.yml", [{"atlas.hardening.k8s_manifests": {
            "src": str(source), "field_manager": FIELD_MANAGER}}])
        core_src = _play(self.directory / f"core-src-{count}.yml", [{"kubernetes.core.k8s": {
            "src": str(source), "state": "present", "server_side_apply": {"field_manager": FIELD_MANAGER}}}])
        core_loop = _play(self.directory / f"core-loop-{count}.yml", [{
            "kubernetes.core.k8s": {"definition": "{{ item }}", "state": "present",
                                    "server_side_apply": {"field_manager": FIELD_MANAGER}},
            "loop": f"{{{{ lookup('ansible.builtin.file', '{source}') | ansible.builtin.from_yaml_all | list }}}}"}])
        ping = _play(self.directory / "ping.yml", [{"ansible.builtin.ping": {}}])
        ours_bin = str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook")
        # Each Ansible runs its modules with its own venv's Python (where its Kubernetes client is).
        inventory = ["-i", "localhost,", "-e", f"ansible_python_interpreter={REPO_ROOT / '.venv' / 'bin' / 'python'}"]
        core_inventory = ["-i", "localhost,", "-e", f"ansible_python_interpreter={self.core_playbook.parent / 'python'}"]
        approaches = {
            "atlas.hardening.k8s_manifests (one task)": {
                "first": [ours_bin, *inventory, str(ours)], "check": [ours_bin, *inventory, str(ours), "--check"]},
            "kubectl apply --server-side": {
                "first": [self.kubectl, "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f",
                          str(source)],
                "check": [self.kubectl, "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f",
                          str(source), "--dry-run=server"]},
        }
        if self.core_playbook.exists():
            approaches["kubernetes.core.k8s (one task, src)"] = {
                "first": [str(self.core_playbook), *core_inventory, str(core_src)],
                "check": [str(self.core_playbook), *core_inventory, str(core_src), "--check"]}
            if count <= LOOP_MAX:
                approaches["kubernetes.core.k8s (one task per object)"] = {
                    "first": [str(self.core_playbook), *core_inventory, str(core_loop)],
                    "check": [str(self.core_playbook), *core_inventory, str(core_loop), "--check"]}
        approaches["ansible.builtin.ping (start-up floor)"] = {"first": [ours_bin, *inventory, str(ping)]}
        return approaches

    def timed(self, argv: list[str], env: dict[str, str]) -> tuple[float, float, float, dict[str, int]]:
        """(wall seconds, the lab's CPU seconds, the command's CPU seconds, requests by verb) of one run."""
        if not self.lab_cpu.wait_quiet():
            raise RuntimeError("the lab's controllers were still busy after 30 s: the run would not be comparable")
        self.lab.k8s.reset_requests()
        cpu_before = self.lab_cpu.seconds()
        client_before = _children_cpu_seconds()
        started = time.monotonic()
        completed = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=self.directory, timeout=900,
                                   check=False)
        wall = time.monotonic() - started
        lab_cpu = self.lab_cpu.seconds() - cpu_before
        client_cpu = _children_cpu_seconds() - client_before
        if completed.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
        by_verb: dict[str, int] = {}
        for kind, number in self.lab.k8s.counts().items():
            verb = kind.split(" ", 1)[0]
            by_verb[verb] = by_verb.get(verb, 0) + number
        return wall, lab_cpu, client_cpu, by_verb

    def row(self, name: str, phase: str, argv: list[str], fresh: bool) -> dict[str, Any]:
        walls, lab_cpus, client_cpus, requests = [], [], [], {}
        env = dict(self.env)
        if "kubernetes.core" in name:
            env["ANSIBLE_COLLECTIONS_PATH"] = ""  # the collections bundled in the ansible package
        approach = name.rsplit(", N=", 1)[0]
        if approach not in self.warmed:
            self.warmed.add(approach)
            if fresh:
                self.lab.reset()
            self.timed(argv, env)
        for _run in range(RUNS):
            if fresh:
                self.lab.reset()
            wall, lab_cpu, client_cpu, requests = self.timed(argv, env)
            walls.append(wall)
            lab_cpus.append(lab_cpu)
            client_cpus.append(client_cpu)
        return {"name": f"{name}: {phase}", "wall_seconds": round(statistics.median(walls), 3),
                "lab_cpu_seconds": round(statistics.median(lab_cpus), 2),
                "client_cpu_seconds": round(statistics.median(client_cpus), 2),
                "requests": {"kubernetes": sum(requests.values())},
                "by_verb": requests,
                "notes": f"min {min(walls):.2f} s, max {max(walls):.2f} s over {RUNS} runs; "
                         f"lab CPU {statistics.median(lab_cpus):.2f} s; client CPU "
                         f"{statistics.median(client_cpus):.2f} s; requests {requests}"}


def _children_cpu_seconds() -> float:
    """User + system CPU of the finished child processes and everything they waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# The module's own start-up: what the interpreter spends before the first request.
_START_UP = {
    "python -c pass (the interpreter's floor)": "pass",
    "k8s_manifests start-up: import the module, read the kubeconfig, no request": (
        "import sys\n"
        "from ansible_collections.atlas.hardening.plugins.modules import k8s_manifests\n"
        "from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import connect\n"
        "connect({'k8s_kubeconfig': sys.argv[1]})\n"
        "assert 'kubernetes' not in sys.modules"),
    "import kubernetes (the client package the module does not import)": "import kubernetes",
}


def start_up_rows(lab: Any, runs: int = 7) -> list[dict[str, Any]]:
    python = str(REPO_ROOT / ".venv" / "bin" / "python")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / ".build" / "collections"))
    rows = []
    for name, code in _START_UP.items():
        walls = []
        for _run in range(runs):
            started = time.monotonic()
            subprocess.run([python, "-c", code, str(lab.kubeconfig)], env=env, check=True, timeout=60)
            walls.append(time.monotonic() - started)
        rows.append({"name": name, "wall_seconds": round(statistics.median(walls), 3), "requests": {"kubernetes": 0},
                     "notes": f"min {min(walls):.3f} s, max {max(walls):.3f} s over {runs} runs"})
    return rows


def run(lab: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = start_up_rows(lab)
    with tempfile.TemporaryDirectory(prefix="bench-side-") as scratch:
        directory = Path(scratch)
        bench = SideBySide(lab, directory)
        for count in SIZES:
            source = directory / f"objects-{count}.yaml"
            source.write_text(yaml.safe_dump_all(objects(count), sort_keys=False))
            size_rows = []
            for name, argv in bench.commands(count, source).items():
                label = f"{name}, N={count}"
                if "ping" in name:
                    size_rows.append(bench.row(label, "no-op playbook", argv["first"], fresh=False))
                    continue
                size_rows.append(bench.row(label, "first apply", argv["first"], fresh=True))
                # The objects exist now (the last first-apply run): nothing to change.
                size_rows.append(bench.row(label, "re-run", argv["first"], fresh=False))
                size_rows.append(bench.row(label, "check mode, nothing to change", argv["check"], fresh=False))
            rows += _with_ratios_per_size(size_rows)
    return rows


def _with_ratios_per_size(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_phase: dict[str, float] = {}
    for row in rows:
        name, phase = row["name"].split(": ", 1)
        if name.startswith("atlas.hardening.k8s_manifests"):
            by_phase[phase] = row["wall_seconds"]
    for row in rows:
        phase = row["name"].split(": ", 1)[1]
        if by_phase.get(phase):
            row["notes"] += f"; {row['wall_seconds'] / by_phase[phase]:.2f}x k8s_manifests"
    return rows
