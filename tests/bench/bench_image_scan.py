"""Benchmark of the image-scan gate: the role through `harden.yml --tags image-scan`, then what an
admission costs, with the GlobalContextEntry (the lab's Kyverno 1.13: the reports in Kyverno's memory)
and with the apiCall fallback (a Kyverno without GlobalContextEntry).

Rows: first install, second run (nothing to do), and per mode the median wall time of `kubectl create`
of a Pod (N Pods, with M reports in the cluster), whose requests column counts only the API requests
Kyverno's webhook made for those admissions (user agent kyverno-admission-controller): 0 with the
global context, one per rule that reads the reports with the apiCall.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

ADMISSIONS = 10
WORKLOADS = 20  # running Deployments, hence reports the policy searches at each admission
KYVERNO_AGENT = "kyverno-admission-controller"


def _kubectl(lab: Any, *args: str, stdin: str | None = None) -> Any:
    result = lab.run(["kubectl", *args], input=stdin)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr}")
    return result


def _harden(lab: Any, name: str) -> dict[str, Any]:
    lab.k8s.reset_requests()
    started = time.monotonic()
    run = lab.ansible_playbook("playbooks/harden.yml", "--tags", "image-scan")
    wall = time.monotonic() - started
    if run.rc != 0:
        raise RuntimeError(f"{name}: the run failed:\n{run}")
    return {"name": name, "wall_seconds": round(wall, 3), "requests": {"kubernetes": sum(lab.k8s.counts().values())},
            "notes": f"changed={run.changed}"}


def _admissions(lab: Any, name: str, prefix: str) -> dict[str, Any]:
    lab.k8s.reset_requests()
    durations = []
    for index in range(ADMISSIONS):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{prefix}{index}", "namespace": "bench-gate"},
               "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
        started = time.monotonic()
        _kubectl(lab, "create", "-f", "-", stdin=json.dumps(pod))
        durations.append(time.monotonic() - started)
    kyverno = [entry for entry in lab.k8s.requests()["entries"] if entry.get("user_agent") == KYVERNO_AGENT]
    return {"name": name, "wall_seconds": round(statistics.median(durations), 3),
            "requests": {"kubernetes": len(kyverno)},
            "notes": f"{len(kyverno) / ADMISSIONS:g} Kyverno API requests per admission over {ADMISSIONS} Pods "
                     f"(median kubectl create {statistics.median(durations) * 1000:.0f} ms, {WORKLOADS + 1} reports)"}


def run(lab: Any) -> list[dict[str, Any]]:
    lab.reset()
    _kubectl(lab, "create", "namespace", "bench-gate")
    for index in range(WORKLOADS):
        _kubectl(lab, "create", "deployment", f"w{index}", "-n", "bench-gate", f"--image=registry.local/app{index}:1")
    _kubectl(lab, "create", "deployment", "clean", "-n", "bench-gate", "--image=nginx:1.27")
    deadline = time.monotonic() + 60
    while len(json.loads(_kubectl(lab, "get", "vulnerabilityreports", "-n", "bench-gate", "-o", "json").stdout)["items"]) \
            < WORKLOADS + 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the simulated Trivy Operator wrote no report for every workload")
        time.sleep(0.2)
    rows = [_harden(lab, "image-scan: harden.yml --tags image-scan, first run"),
            _harden(lab, "image-scan: second run (nothing to do)"),
            _admissions(lab, "image-scan: admission with the GlobalContextEntry (median s)", "g")]
    _kubectl(lab, "delete", "crd", "globalcontextentries.kyverno.io")
    rows.append(_harden(lab, "image-scan: install without GlobalContextEntry (apiCall fallback)"))
    rows.append(_admissions(lab, "image-scan: admission with the apiCall fallback (median s)", "a"))
    lab.reset()
    return rows
