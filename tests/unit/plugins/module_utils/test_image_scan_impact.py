"""Which running workloads the gate refuses: Pods grouped under what was deployed, and workload exceptions."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.admission_verdicts import ReportIndex
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import gate_settings
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.workload_exceptions import (
    parse_workload_exceptions,
    policy_exception,
)
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.workload_impact import (
    enforcement_blockers,
    workload_impacts,
)

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
SETTINGS = gate_settings({"severities": ["CRITICAL", "HIGH"]}, NOW)
REPORTS = [
    {"metadata": {"name": "r", "namespace": "web"}, "report": {
        "registry": {"server": "index.docker.io"}, "artifact": {"repository": "library/nginx", "tag": "1.25"},
        "vulnerabilities": [{"vulnerabilityID": "CVE-2024-6119", "severity": "CRITICAL", "resource": "openssl",
                             "installedVersion": "3.0.11", "fixedVersion": "3.0.14"}]}},
    {"metadata": {"name": "s", "namespace": "web"}, "report": {
        "registry": {"server": "index.docker.io"}, "artifact": {"repository": "library/nginx", "tag": "1.27"},
        "vulnerabilities": []}},
]


def owned(kind: str, name: str, namespace: str, owner: tuple[str, str] | None, **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if owner:
        metadata["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return dict({"kind": kind, "metadata": metadata}, **extra)


def pod(name: str, image: str, owner: tuple[str, str] | None, phase: str = "Running", namespace: str = "web") -> dict:
    return owned("Pod", name, namespace, owner, spec={"containers": [{"name": "app", "image": image}]},
                 status={"phase": phase})


def test_pods_are_judged_under_the_workload_that_was_deployed_with_its_worst_verdict() -> None:
    replica_sets = [owned("ReplicaSet", "web-1", "web", ("Deployment", "web")),
                    owned("ReplicaSet", "web-2", "web", ("Deployment", "web"))]
    jobs = [owned("Job", "nightly-29000000", "web", ("CronJob", "nightly"))]
    pods = [pod("web-1-a", "nginx:1.27", ("ReplicaSet", "web-1")),
            pod("web-2-a", "nginx:1.25", ("ReplicaSet", "web-2")),  # a rollout in progress: the old one is bad
            pod("nightly-29000000-x", "nginx:1.26", ("Job", "nightly-29000000")),
            pod("done", "nginx:1.25", None, phase="Succeeded"),  # not running: not counted
            pod("tool", "nginx:1.25", None, namespace="kube-system")]
    impacts = workload_impacts(pods, replica_sets, jobs, ReportIndex(REPORTS, SETTINGS.severities), SETTINGS, NOW)
    found = {(item.namespace, item.kind, item.name): (item.outcome, item.pods) for item in impacts}
    assert found == {("web", "Deployment", "web"): ("refused", 2), ("web", "CronJob", "nightly"): ("unscanned", 1),
                     ("kube-system", "Pod", "tool"): ("excluded", 1)}
    refused = next(item for item in impacts if item.outcome == "refused")
    assert "CVE-2024-6119" in refused.message
    assert [item.name for item in enforcement_blockers(impacts, SETTINGS, "Audit", ("web",))] == ["web"]
    assert enforcement_blockers(impacts, SETTINGS, "Audit", ("shop",)) == []


def test_a_workload_exception_makes_its_workload_excepted_and_becomes_a_policy_exception() -> None:
    active, expired = parse_workload_exceptions([
        {"namespace": "web", "kind": "Pod", "name": "legacy", "expires": "2026-12-20", "reason": "vendor"},
        {"namespace": "web", "kind": "Deployment", "name": "old", "expires": "2026-11-01", "reason": "gone"}], NOW, 90)
    assert [item.name for item in active] == ["legacy"] and [item.name for item in expired] == ["old"]
    impacts = workload_impacts([pod("legacy", "nginx:1.25", None)], [], [], ReportIndex(REPORTS, SETTINGS.severities),
                               SETTINGS, NOW, tuple(active))
    assert [item.outcome for item in impacts] == ["excepted"]
    manifest = policy_exception(active[0], "kyverno.io/v2", "kyverno")
    assert manifest["spec"]["match"]["any"][0]["resources"] == {"kinds": ["Pod"], "namespaces": ["web"],
                                                                "names": ["legacy", "legacy-*"]}
    assert "autogen-cronjob-deny-fixable-vulnerabilities" in manifest["spec"]["exceptions"][0]["ruleNames"]
    assert "deny-fixable-vulnerabilities-in-debug-containers" in manifest["spec"]["exceptions"][0]["ruleNames"]


@pytest.mark.parametrize(("entry", "message"), [
    ({"namespace": "web", "kind": "Service", "name": "x", "expires": "2026-12-20", "reason": "r"}, "kind 'Service'"),
    ({"namespace": "web", "kind": "Pod", "name": "x", "reason": "r"}, r"\(web/Pod/x\) has no expires date"),
    ({"namespace": "web", "kind": "Pod", "name": "x", "expires": "2026-12-20"}, "has no reason"),
    ({"namespace": "Web", "kind": "Pod", "name": "x", "expires": "2026-12-20", "reason": "r"}, "namespace and name"),
])
def test_bad_workload_exceptions_are_refused(entry: dict, message: str) -> None:
    with pytest.raises(HardeningError, match=message):
        parse_workload_exceptions([entry], NOW, 90)
