"""A simulated Trivy Operator (aquasecurity/trivy-operator v0.32) writing VulnerabilityReports.

As the real one: a report per container of a workload that has a running Pod, owned by the Pod's
controller (ReplicaSet, StatefulSet, DaemonSet, CronJob for its Jobs, Job, or the bare Pod), named
``<kind>-<name>-<container>`` (``<kind>-<hash>`` when longer than 63 characters), with its labels
(``trivy-operator.resource.kind/name/namespace``, ``trivy-operator.container.name``,
``resource-spec-hash``); images named the way go-containerregistry names them (``index.docker.io``,
``library/`` for one-segment Docker Hub paths, tag ``latest`` by default); the summary counts every
finding, fixable or not; the reports of a ReplicaSet scaled to zero (an old revision) are deleted
(``vulnerabilityScannerScanOnlyCurrentRevisions``); a report is deleted when its TTL ends
(``OPERATOR_SCANNER_REPORT_TTL``, the ``trivy-operator.aquasecurity.github.io/report-ttl`` annotation;
:meth:`TrivyOperatorController.expire_reports`) and written again at the next scan of a running Pod.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from atlas_lab.scenarios.kyverno_image_scan.vulnerability_fixture import findings, tag_digest
from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerContext, ControllerEvent
from atlas_lab.services.kubernetes.objects import now

REPORT_API = "aquasecurity.github.io/v1alpha1"
TTL_ANNOTATION = "trivy-operator.aquasecurity.github.io/report-ttl"
DOCKER_HUB = "index.docker.io"
SEVERITY_COUNTS = {"CRITICAL": "criticalCount", "HIGH": "highCount", "MEDIUM": "mediumCount", "LOW": "lowCount",
                   "UNKNOWN": "unknownCount", "NONE": "noneCount"}


def trivy_image(image: str) -> tuple[str, str, str, str]:
    """(registry server, repository, tag, digest) as go-containerregistry's name.ParseReference makes them."""
    rest, _at, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        server, path = first, remainder
    else:
        server, path = DOCKER_HUB, rest
    if server == "docker.io":
        server = DOCKER_HUB
    name, tag = path.rsplit(":", 1) if ":" in path.rsplit("/", 1)[-1] else (path, "")
    if server == DOCKER_HUB and "/" not in name:
        name = "library/" + name
    if not tag and not digest:
        tag = "latest"
    return server, name, tag, digest


def report_name(kind: str, name: str, container: str) -> str:
    candidate = f"{kind.lower()}-{name}-{container}"
    if len(candidate) <= 63:
        return candidate
    return f"{kind.lower()}-" + hashlib.sha256(candidate.encode()).hexdigest()[:10]


class TrivyOperatorController(Controller):
    name = "trivy-operator"
    watches = (("", "Pod"), ("apps", "ReplicaSet"))

    def __init__(self, report_ttl_seconds: float = 24 * 3600) -> None:
        self.report_ttl_seconds = report_ttl_seconds

    def _workload(self, ctx: ControllerContext, pod: dict[str, Any]) -> dict[str, Any]:
        """The object a Pod's reports are owned by."""
        namespace = pod["metadata"]["namespace"]
        for reference in pod["metadata"].get("ownerReferences") or []:
            if not reference.get("controller"):
                continue
            api_version = {"ReplicaSet": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
                           "Job": "batch/v1"}.get(reference["kind"])
            owner = ctx.get(api_version, reference["kind"], reference["name"], namespace) if api_version else None
            if owner is None:
                continue
            if owner["kind"] == "Job":
                for parent in owner["metadata"].get("ownerReferences") or []:
                    if parent.get("controller") and parent.get("kind") == "CronJob":
                        cronjob = ctx.get("batch/v1", "CronJob", parent["name"], namespace)
                        if cronjob is not None:
                            return cronjob
            return owner
        return pod

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.kind == "ReplicaSet":
            if event.type != "DELETED" and (event.object.get("spec") or {}).get("replicas") == 0:
                self._delete_reports(ctx, event.object)  # an old revision: its reports go
            return
        if event.type == "DELETED" or (event.object.get("status") or {}).get("phase") != "Running":
            return
        pod = event.object
        workload = self._workload(ctx, pod)
        for field in ("initContainers", "containers"):
            for container in (pod.get("spec") or {}).get(field) or []:
                self._scan(ctx, workload, container)

    def _delete_reports(self, ctx: ControllerContext, workload: dict[str, Any]) -> None:
        selector = (f"trivy-operator.resource.kind={workload['kind']},"
                    f"trivy-operator.resource.name={workload['metadata']['name']}")
        for report in ctx.list(REPORT_API, "VulnerabilityReport", workload["metadata"]["namespace"], selector):
            ctx.delete(REPORT_API, "VulnerabilityReport", report["metadata"]["name"], report["metadata"]["namespace"])

    def _scan(self, ctx: ControllerContext, workload: dict[str, Any], container: dict[str, Any]) -> None:
        namespace = workload["metadata"]["namespace"]
        name = report_name(workload["kind"], workload["metadata"]["name"], container["name"])
        if ctx.get(REPORT_API, "VulnerabilityReport", name, namespace) is not None:
            return
        server, repository, tag, digest = trivy_image(container.get("image", ""))
        image = f"{server}/{repository}:{tag}" if tag else f"{server}/{repository}"
        found = findings(image, digest)
        summary = dict.fromkeys(SEVERITY_COUNTS.values(), 0)
        for item in found:
            summary[SEVERITY_COUNTS.get(item["severity"], "unknownCount")] += 1
        spec_hash = hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:10]
        report = {
            "apiVersion": REPORT_API, "kind": "VulnerabilityReport",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"trivy-operator.resource.kind": workload["kind"],
                                    "trivy-operator.resource.name": workload["metadata"]["name"],
                                    "trivy-operator.resource.namespace": namespace,
                                    "trivy-operator.container.name": container["name"],
                                    "resource-spec-hash": spec_hash},
                         "annotations": {TTL_ANNOTATION: f"{int(self.report_ttl_seconds)}s"}},
            "report": {"updateTimestamp": now(),
                       "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.62.1"},
                       "registry": {"server": server},
                       "artifact": {"repository": repository, "tag": tag, "digest": digest or tag_digest(image),
                                    "mimeType": "application/vnd.oci.image.index.v1+json"},
                       "os": {"family": "debian", "name": "12.5"},
                       "summary": summary, "vulnerabilities": found},
        }
        ctx.create(report, owner=workload)

    def expire_reports(self, ctx: ControllerContext, age_seconds: float) -> list[str]:
        """Delete the reports older than ``age_seconds`` (the TTL, made to pass at once by tests); the next
        Pod event scans again. Returns the deleted reports' ``namespace/name``."""
        cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age_seconds)
        deleted = []
        for report in ctx.list(REPORT_API, "VulnerabilityReport"):
            written = datetime.datetime.fromisoformat(report["report"]["updateTimestamp"].replace("Z", "+00:00"))
            if written <= cutoff:
                ctx.delete(REPORT_API, "VulnerabilityReport", report["metadata"]["name"], report["metadata"]["namespace"])
                deleted.append(f"{report['metadata']['namespace']}/{report['metadata']['name']}")
        return deleted
