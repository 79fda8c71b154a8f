"""Benchmark of the Alertmanager HA item: the role through `harden.yml --tags alertmanager`, the
verification module, and how long a killed peer takes to show.

Rows: check mode, first run (1 -> 3 replicas), second run (nothing to do), second run without the
gossip probe, and the killed-peer detection (three kills): the time until the verification says
degraded (the killed replica stops answering through the pod proxy) and until the surviving peers
drop it from their member lists (memberlist's failure detection). Requests are the Kubernetes
emulator's counters (the replicas are reached through its pod proxy), reset before each run.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "lab"))

# pylint: disable=wrong-import-position,import-error
from alertmanager_ha_support import failures, install_release, object_writes, writes  # noqa: E402

KILLS = 3


def _harden(lab: Any, release: Any, name: str, check: bool = False, **extra: Any) -> dict[str, Any]:
    lab.k8s.reset_requests()
    started = time.monotonic()
    run = lab.ansible_playbook("playbooks/harden.yml", "--tags", "alertmanager", check=check,
                               extra_vars=release.role_vars(**extra))
    wall = time.monotonic() - started
    if run.rc != 0:
        raise RuntimeError(f"{name}: the run failed:\n{run}")
    counts = lab.k8s.counts()
    return {"name": name, "wall_seconds": round(wall, 3), "requests": {"kubernetes": sum(counts.values())},
            "by_kind": {"kubernetes": counts},
            "notes": f"changed={run.changed} object writes={sum(object_writes(lab).values())} "
                     f"proxied writes (probe silence)={sum(writes(lab).values()) - sum(object_writes(lab).values())}"}


def _kill_and_detect(lab: Any, release: Any) -> tuple[float, float, float]:
    """(seconds to a degraded verdict, to the survivors dropping the peer, to healthy after restart)."""
    release.wait_for(lambda r: r["verdict"] == "healthy", timeout=60, routing=False)
    lab.stop_alertmanager_peer(release.peer(1), "KILL")
    killed = time.monotonic()
    release.wait_for(lambda r: r["verdict"] == "degraded", timeout=30, routing=False)
    degraded = time.monotonic() - killed
    release.wait_for(lambda r: failures(r).get(release.pod(0), "").startswith("sees 2 of 3"), timeout=60,
                     routing=False)
    dropped = time.monotonic() - killed
    lab.restart_alertmanager_peer(release.peer(1))
    restarted = time.monotonic()
    release.wait_for(lambda r: r["verdict"] == "healthy", timeout=60, routing=False)
    return degraded, dropped, time.monotonic() - restarted


def run(lab: Any) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-alertmanager-") as scratch:
        release = install_release(lab, Path(scratch))
        rows.append(_harden(lab, release, "alertmanager_ha check mode (1 replica)", check=True))
        rows.append(_harden(lab, release, "alertmanager_ha first run (1 -> 3 replicas)"))
        rows.append(_harden(lab, release, "alertmanager_ha second run (nothing to do)"))
        rows.append(_harden(lab, release, "alertmanager_ha second run, no gossip probe",
                            alertmanager_ha_verify_gossip=False))
        started = time.monotonic()
        figures = [_kill_and_detect(lab, release) for kill in range(KILLS) if kill >= 0]
        degraded, dropped, healed = (sorted(column) for column in zip(*figures))
        rows.append({"name": f"killed peer detection ({KILLS} SIGKILLs)",
                     "wall_seconds": round(time.monotonic() - started, 3), "requests": {},
                     "notes": (f"degraded verdict after {statistics.median(degraded):.2f} s median "
                               f"({degraded[0]:.2f}-{degraded[-1]:.2f}); survivors drop the peer after "
                               f"{statistics.median(dropped):.1f} s median ({dropped[0]:.1f}-{dropped[-1]:.1f}); "
                               f"healthy {statistics.median(healed):.2f} s after the restart")})
    return rows


if __name__ == "__main__":  # python tests/bench/bench_alertmanager.py --lab-dir .lab
    import argparse
    import json

    from atlas_lab.pytest_plugin import Lab  # pylint: disable=import-error,wrong-import-position

    parser = argparse.ArgumentParser()
    parser.add_argument("--lab-dir", required=True)
    arguments = parser.parse_args()
    print(json.dumps(run(Lab(Path(arguments.lab_dir).resolve(), owned=False)), indent=2))
