"""The simulated Trivy Operator against what the real one (v0.32) writes: a report per container of a
running workload, owned by its controller, named and labelled as upstream, images named as
go-containerregistry names them, reports of old ReplicaSets deleted, and the report TTL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from atlas_lab.pytest_plugin import wait_for
from atlas_lab.scenarios.kyverno_image_scan.trivy_operator import TrivyOperatorController, report_name, trivy_image


@pytest.mark.parametrize(("image", "expected"), [
    ("nginx", ("index.docker.io", "library/nginx", "latest", "")),
    ("nginx:1.25", ("index.docker.io", "library/nginx", "1.25", "")),
    ("docker.io/bitnami/redis:7.2", ("index.docker.io", "bitnami/redis", "7.2", "")),
    ("registry.local:5000/team/app:2.0", ("registry.local:5000", "team/app", "2.0", "")),
    ("nginx@sha256:" + "a" * 64, ("index.docker.io", "library/nginx", "", "sha256:" + "a" * 64)),
])
def test_images_are_named_as_trivy_names_them(image: str, expected: tuple) -> None:
    assert trivy_image(image) == expected


def test_long_report_names_are_hashed() -> None:
    assert report_name("ReplicaSet", "web-6d4cf56db6", "nginx") == "replicaset-web-6d4cf56db6-nginx"
    long = report_name("StatefulSet", "alertmanager-kube-prometheus-stack-alertmanager", "config-reloader")
    assert long.startswith("statefulset-") and len(long) <= 63


@pytest.fixture
def trivy(k8s: Any) -> Iterator[tuple[Any, TrivyOperatorController]]:
    controller = TrivyOperatorController()
    k8s.app.add_controller(controller)
    try:
        yield k8s, controller
    finally:
        k8s.app.controllers.remove(controller)


def _reports(k8s: Any) -> list[dict[str, Any]]:
    return json.loads(k8s.kubectl("get", "vulnerabilityreports", "-n", "default", "-o", "json").stdout)["items"]


def test_a_running_deployment_gets_one_report_per_container_owned_by_its_replicaset(trivy: Any) -> None:
    k8s, _controller = trivy
    k8s.kubectl("create", "deployment", "web", "--image=nginx:1.25")
    report = wait_for(lambda: _reports(k8s), what="a report")[0]
    replica_set = json.loads(k8s.kubectl("get", "replicasets", "-o", "json").stdout)["items"][0]
    assert report["metadata"]["name"] == f"replicaset-{replica_set['metadata']['name']}-nginx"
    assert report["metadata"]["ownerReferences"][0]["uid"] == replica_set["metadata"]["uid"]
    labels = report["metadata"]["labels"]
    assert (labels["trivy-operator.resource.kind"], labels["trivy-operator.resource.name"],
            labels["trivy-operator.container.name"]) == ("ReplicaSet", replica_set["metadata"]["name"], "nginx")
    body = report["report"]
    assert (body["registry"]["server"], body["artifact"]["repository"], body["artifact"]["tag"]) == (
        "index.docker.io", "library/nginx", "1.25")
    assert body["artifact"]["digest"].startswith("sha256:")
    unfixable = [item for item in body["vulnerabilities"] if item["fixedVersion"] == ""]
    assert unfixable, "the fixture has unfixable findings"
    assert body["summary"]["highCount"] == sum(1 for item in body["vulnerabilities"] if item["severity"] == "HIGH")


def test_the_old_revisions_reports_go_and_the_ttl_ends_reports(trivy: Any) -> None:
    k8s, controller = trivy
    k8s.kubectl("create", "deployment", "web", "--image=nginx:1.25")
    first = wait_for(lambda: _reports(k8s), what="a report")[0]["metadata"]["name"]
    k8s.kubectl("set", "image", "deployment/web", "nginx=nginx:1.27")

    def only_the_new_report() -> list[str]:
        reports = _reports(k8s)
        return [item["metadata"]["name"] for item in reports
                if item["report"]["artifact"]["tag"] == "1.27" and len(reports) == 1]

    names = wait_for(only_the_new_report, what="only the new revision's report")
    assert first not in names
    context = k8s.app.controllers.context(controller)
    assert controller.expire_reports(context, 0) == [f"default/{names[0]}"]
    assert _reports(k8s) == []
