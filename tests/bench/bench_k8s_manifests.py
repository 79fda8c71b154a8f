"""Benchmark of atlas.hardening.k8s_manifests: API requests and wall time per run.

Two sets, each applied as one task of ``ansible-playbook``: a typical role's 10 objects (9 kinds,
one new namespace) and 50 objects (the same in 5 namespaces). For each: check mode on an empty
cluster, first run, second run (nothing to do), check mode with one change, the run applying
that change, and the first run again with ``validate_first: dry_run`` and ``none`` (what validating
before the first write costs). Requests are the emulator's counters, reset before each run; wall time includes
ansible-playbook's start-up.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "lab"))

from k8s_manifests_support import apply_task, run_json, ten_objects, write_play, writes  # noqa: E402  pylint: disable=wrong-import-position,import-error


def _objects(namespaces: int, replicas: int = 2) -> list[dict[str, Any]]:
    manifests = []
    for index in range(namespaces):
        namespace = f"bench-{index}"
        for manifest in ten_objects(namespace=namespace, replicas=replicas if index == 0 else 2):
            if manifest["kind"] != "Namespace":
                manifest["metadata"]["namespace"] = namespace
            manifests.append(manifest)
    return manifests


def _measure(lab: Any, directory: Path, name: str, manifests: list[dict[str, Any]], check: bool = False,
             **options: Any) -> dict[str, Any]:
    playbook = write_play(directory / f"{name.replace(' ', '_').replace(':', '')}.yml",
                          [apply_task(manifests=manifests, **options)])
    lab.k8s.reset_requests()
    started = time.monotonic()
    run, (result,) = run_json(lab, playbook, check=check)
    wall = time.monotonic() - started
    if run.rc != 0 or result.get("failed"):
        raise RuntimeError(f"{name}: the run failed:\n{run}")
    counts = lab.k8s.counts()
    actions: dict[str, int] = {}
    for entry in result["results"]:
        actions[entry["action"]] = actions.get(entry["action"], 0) + 1
    return {
        "name": name,
        "wall_seconds": round(wall, 3),
        "requests": {"kubernetes": sum(counts.values())},
        "by_kind": {"kubernetes": counts},
        "notes": f"writes={sum(writes(lab).values())} actions={actions} module api_requests={result['api_requests']}",
    }


def run(lab: Any) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-k8s-") as scratch:
        directory = Path(scratch)
        for namespaces in (1, 5):
            lab.reset()
            size = f"{10 * namespaces} objects"
            manifests = _objects(namespaces)
            changed = _objects(namespaces, replicas=3)
            rows += [
                _measure(lab, directory, f"k8s_manifests {size}, check mode, empty cluster", manifests, check=True),
                _measure(lab, directory, f"k8s_manifests {size}, first run", manifests),
                _measure(lab, directory, f"k8s_manifests {size}, second run", manifests),
                _measure(lab, directory, f"k8s_manifests {size}, check mode, 1 change", changed, check=True),
                _measure(lab, directory, f"k8s_manifests {size}, 1 change", changed),
            ]
            # What validate_first costs on a first run: schema (the default, above) against dry runs and none.
            for mode in ("dry_run", "none"):
                lab.reset()
                rows.append(_measure(lab, directory, f"k8s_manifests {size}, first run, validate_first: {mode}",
                                     manifests, validate_first=mode))
    return rows


if __name__ == "__main__":  # python tests/bench/bench_k8s_manifests.py --lab-dir .lab
    import argparse
    import json

    from atlas_lab.pytest_plugin import Lab  # pylint: disable=import-error,wrong-import-position

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", required=True, help="a running lab (make lab-up: .lab)")
    arguments = parser.parse_args()
    print(json.dumps(run(Lab(Path(arguments.lab_dir).resolve(), owned=False)), indent=2))
