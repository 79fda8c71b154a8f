"""Kyverno's reports controller in the lab: background scans written as PolicyReports.

For every Pod and pod controller that a background policy matches, one PolicyReport
(wgpolicyk8s.io/v1alpha2) in its namespace, named by the resource's uid and owned by it, with one result
per rule that applied (``pass``, ``fail``, ``error``; rules whose preconditions do not hold are
``skip``), the policy's severity and category annotations, and the summary counts. A background scan has
no admission operation (``request.operation`` is absent). Audit and Enforce failures are both ``fail``:
the report says what the policy finds, not what admission did.
"""

from __future__ import annotations

import time
from typing import Any

from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerContext, ControllerEvent
from atlas_lab.services.kyverno.admission import FILTERED_NAMESPACES, KyvernoAdmission

REPORT_API = "wgpolicyk8s.io/v1alpha2"
SCANNED = {("", "Pod"): "v1", ("apps", "Deployment"): "apps/v1", ("apps", "StatefulSet"): "apps/v1",
           ("apps", "DaemonSet"): "apps/v1", ("batch", "Job"): "batch/v1", ("batch", "CronJob"): "batch/v1"}
SEVERITIES = ("critical", "high", "medium", "low", "info")


class KyvernoReportsController(Controller):
    name = "kyverno-reports-controller"
    watches = tuple(SCANNED)

    def __init__(self, kyverno: KyvernoAdmission) -> None:
        self.kyverno = kyverno
        self.engine = kyverno.engine_for(self.name)  # its apiCalls are its own requests, not admission's

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.type == "DELETED" or event.namespace in FILTERED_NAMESPACES:
            return  # the report is owned by the resource: garbage-collected with it
        if ctx.service.registry.get("wgpolicyk8s.io", "policyreports") is None:
            return
        obj = event.object
        request = {"namespace": event.namespace, "name": event.name, "object": obj,
                   "kind": {"group": event.group, "version": obj["apiVersion"].rpartition("/")[2], "kind": event.kind}}
        results = []
        for policy in self.kyverno.policies():
            if (policy.get("spec") or {}).get("background") is False:
                continue
            annotations = (policy.get("metadata") or {}).get("annotations") or {}
            severity = annotations.get("policies.kyverno.io/severity", "")
            for result in self.engine.validate(policy, request):
                entry = {"source": "kyverno", "policy": result.policy, "rule": result.rule, "result": result.status,
                         "message": result.message, "scored": True,
                         "timestamp": {"seconds": int(time.time()), "nanos": 0}}
                if severity in SEVERITIES:
                    entry["severity"] = severity
                if annotations.get("policies.kyverno.io/category"):
                    entry["category"] = annotations["policies.kyverno.io/category"]
                results.append(entry)
        name = obj["metadata"]["uid"]
        current = ctx.get(REPORT_API, "PolicyReport", name, event.namespace)
        if not results:
            if current is not None:
                ctx.delete(REPORT_API, "PolicyReport", name, event.namespace)
            return
        summary = {key: sum(1 for item in results if item["result"] == key)
                   for key in ("pass", "fail", "warn", "error", "skip")}
        report = {"apiVersion": REPORT_API, "kind": "PolicyReport",
                  "metadata": {"name": name, "namespace": event.namespace,
                               "labels": {"app.kubernetes.io/managed-by": "kyverno"}},
                  "scope": {"apiVersion": obj["apiVersion"], "kind": event.kind, "name": event.name,
                            "namespace": event.namespace, "uid": name},
                  "summary": summary, "results": results}
        if current is None:
            ctx.create(report, owner=obj)
        elif _without_timestamps(current.get("results")) != _without_timestamps(results):
            current.update({"scope": report["scope"], "summary": summary, "results": results})
            ctx.update(current)


def _without_timestamps(results: Any) -> list[dict[str, Any]]:
    return [{key: value for key, value in item.items() if key != "timestamp"} for item in results or []]
