"""Benchmark of the Keycloak admin rotation: a due rotation, a run that is not due, a check-mode run.

Each row is one ``ansible-playbook playbooks/rotate_secrets.yml`` run against the lab (one admin
user, one Vault secret, two Kubernetes Secret copies, the audit Event). Requests are the lab's
per-service counters, reset before each run; wall time includes ansible-playbook's own start-up.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

# The helpers of the integration suites (and the lab package they use, when run on its own).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "lab"))

from keycloak_rotation_support import RotationCase  # noqa: E402  pylint: disable=wrong-import-position,import-error


def _measure(case: RotationCase, name: str, notes: str, **kwargs: Any) -> dict[str, Any]:
    case.reset_counters()
    started = time.monotonic()
    run = case.run(**kwargs)
    wall = time.monotonic() - started
    if run.rc != 0:
        raise RuntimeError(f"{name}: the run failed:\n{run}")
    counts = case.counts()
    return {
        "name": name,
        "wall_seconds": round(wall, 3),
        "requests": {service: sum(kinds.values()) for service, kinds in counts.items()},
        "by_kind": counts,
        "notes": notes + f"; module result: action={run.module.get('action')}",
    }


def run(lab: Any) -> list[dict[str, Any]]:
    lab.reset()
    case = RotationCase(lab).create(rotated_days_ago=120)
    rows = [
        _measure(case, "keycloak rotation (check mode, due)", "reads only", check=True),
        _measure(case, "keycloak rotation (due)", "2 Secret copies + Event"),
        _measure(case, "keycloak rotation (not due)", "2 Secret copies checked"),
    ]
    case.assert_consistent()
    return rows


if __name__ == "__main__":  # python tests/bench/bench_keycloak_rotation.py --lab-dir .lab
    import argparse
    import json

    from atlas_lab.pytest_plugin import Lab  # pylint: disable=import-error,wrong-import-position

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", required=True, help="a running lab (make lab-up: .lab)")
    arguments = parser.parse_args()
    print(json.dumps(run(Lab(Path(arguments.lab_dir).resolve(), owned=False)), indent=2))
