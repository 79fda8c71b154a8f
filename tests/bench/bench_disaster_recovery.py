"""Benchmark of disaster recovery: what a status, a drill and a restore cost, side by side with what a user would
type instead (kubectl reading the Backups; kubectl creating a Restore and waiting for it).

Requests are counted by the Kubernetes emulator (discovery included) and, for the object-store status,
by the module (S3 calls). The drill row includes the verification (a LIST per kind of the backup, the
readiness watch) and the cleanup.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from atlas_lab.scenarios.velero_dr import BUCKET, PREFIX, sample_application

REPO = Path(__file__).resolve().parents[2]
SHOP = [{"name": "storefront", "namespaces": ["shop"], "rto": "30m"}]


def _module(lab: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    lab.k8s.reset_requests()
    started = time.monotonic()
    result = lab.ansible(f"atlas.hardening.{name}", {"k8s_kubeconfig": lab.vars["KUBECONFIG"], **args})
    wall = time.monotonic() - started
    outcome = result.results["localhost"]
    if outcome["status"] not in ("SUCCESS", "CHANGED"):
        raise RuntimeError(f"{name}: {outcome.get('msg')}")
    return {"wall": wall, "kubernetes": sum(lab.k8s.counts().values()), "result": outcome}


def _kubectl(lab: Any, *argv: str, stdin: str | None = None) -> None:
    done = lab.run(["kubectl", *argv], input=stdin)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)


def run(lab: Any) -> list[dict[str, Any]]:
    lab.reset()
    _kubectl(lab, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(sample_application()))
    _kubectl(lab, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "velero.io/v1", "kind": "Backup",
        "metadata": {"name": "dr-storefront-bench", "namespace": "velero",
                     "labels": {"velero.io/schedule-name": "dr-storefront"}},
        "spec": {"includedNamespaces": ["shop"]}}))
    time.sleep(2.0)
    rows = []
    status = _module(lab, "velero_backup_info", {"components": SHOP})
    rows.append({"name": "dr status (cluster), velero_backup_info", "wall_seconds": round(status["wall"], 3),
                 "requests": {"kubernetes": status["kubernetes"]}})
    stored = _module(lab, "velero_backup_info", {"components": SHOP, "source": "object_store", "bucket": BUCKET,
                                                 "prefix": PREFIX})
    rows.append({"name": "dr status (bucket), velero_backup_info", "wall_seconds": round(stored["wall"], 3),
                 "requests": {"kubernetes": stored["kubernetes"], "s3": stored["result"]["requests"]["s3"]}})
    lab.k8s.reset_requests()
    started = time.monotonic()
    _kubectl(lab, "get", "backups.velero.io", "-n", "velero", "-o", "json")
    rows.append({"name": "dr status, kubectl get backups (raw list, no RPO)", "wall_seconds":
                 round(time.monotonic() - started, 3), "requests": {"kubernetes": sum(lab.k8s.counts().values())}})
    drill = _module(lab, "velero_drill", {"components": SHOP})
    rows.append({"name": "dr drill of one component, velero_drill", "wall_seconds": round(drill["wall"], 3),
                 "requests": {"kubernetes": drill["kubernetes"]},
                 "notes": f"RTO {drill['result']['drills'][0]['rto']}, verification and cleanup included"})
    lab.k8s.reset_requests()
    started = time.monotonic()
    _kubectl(lab, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "bench-by-hand", "namespace": "velero"},
        "spec": {"backupName": "dr-storefront-bench", "namespaceMapping": {"shop": "bench-by-hand"}}}))
    _kubectl(lab, "wait", "--for=jsonpath={.status.phase}=Completed", "restore/bench-by-hand", "-n", "velero",
             "--timeout=60s")
    _kubectl(lab, "delete", "namespace", "bench-by-hand", "--wait=true")
    rows.append({"name": "dr drill by hand, kubectl create+wait+delete (no verification)",
                 "wall_seconds": round(time.monotonic() - started, 3),
                 "requests": {"kubernetes": sum(lab.k8s.counts().values())}})
    _kubectl(lab, "delete", "namespace", "shop", "--wait=true")
    restore = _module(lab, "velero_restore", {"components": SHOP})
    rows.append({"name": "dr restore of one component into its emptied namespace, velero_restore",
                 "wall_seconds": round(restore["wall"], 3), "requests": {"kubernetes": restore["kubernetes"]},
                 "notes": "location ReadOnly and back, Restore, verification"})
    return rows
