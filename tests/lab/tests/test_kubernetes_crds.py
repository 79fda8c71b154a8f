"""The bundled CRDs: generated from the cloudcoil models (kept in sync), structural, and servable."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from atlas_lab.services.kubernetes.crds import generate
from atlas_lab.services.kubernetes.customresources import bundled_crd_files

SAMPLES: dict[str, dict[str, Any]] = {
    "alertmanagers.monitoring.coreos.com": {"spec": {"replicas": 3, "clusterLabel": "prod", "alertmanagerConfigSelector": {
        "matchLabels": {"alertmanagerConfig": "main"}}, "resources": {"requests": {"cpu": "100m", "memory": 128}}}},
    "prometheuses.monitoring.coreos.com": {"spec": {"replicas": 2, "alerting": {"alertmanagers": [
        {"name": "alertmanager-operated", "namespace": "monitoring", "port": "web"}]}}},
    "servicemonitors.monitoring.coreos.com": {"spec": {"selector": {"matchLabels": {"app": "x"}},
                                                       "endpoints": [{"port": "metrics", "interval": "30s"}]}},
    "podmonitors.monitoring.coreos.com": {"spec": {"selector": {"matchLabels": {"app": "x"}},
                                                   "podMetricsEndpoints": [{"port": "metrics"}]}},
    "prometheusrules.monitoring.coreos.com": {"spec": {"groups": [{"name": "g", "rules": [
        {"alert": "Down", "expr": "up == 0", "for": "5m", "labels": {"severity": "critical"}}]}]}},
    "alertmanagerconfigs.monitoring.coreos.com": {"spec": {"route": {"receiver": "null"},
                                                           "receivers": [{"name": "null"}]}},
    "backups.velero.io": {"spec": {"includedNamespaces": ["vault"], "storageLocation": "default", "ttl": "720h0m0s"}},
    "restores.velero.io": {"spec": {"backupName": "nightly-1"}},
    "schedules.velero.io": {"spec": {"schedule": "0 2 * * *", "template": {"includedNamespaces": ["*"]}}},
    "backupstoragelocations.velero.io": {"spec": {"provider": "aws", "objectStorage": {"bucket": "backups"},
                                                  "config": {"region": "eu-west-1"}}},
    "volumesnapshotlocations.velero.io": {"spec": {"provider": "aws", "config": {"region": "eu-west-1"}}},
    "sealedsecrets.bitnami.com": {"spec": {"encryptedData": {"password": "AgBy3i4OJSWK+PiTySYZZA=="},
                                           "template": {"type": "Opaque"}}},
    "policies.kyverno.io": {"spec": {"rules": [{"name": "require-labels", "match": {"any": [
        {"resources": {"kinds": ["Pod"]}}]}, "validate": {"message": "label app required",
                                                          "pattern": {"metadata": {"labels": {"app": "?*"}}}}}]}},
    "clusterpolicies.kyverno.io": {"spec": {"background": True, "rules": [{"name": "r", "match": {"any": [
        {"resources": {"kinds": ["Pod"]}}]}, "validate": {"failureAction": "Enforce", "deny": {}}}]}},
    "policyreports.wgpolicyk8s.io": {"scope": {"kind": "Pod", "name": "web", "namespace": "default"},
                                     "summary": {"pass": 1, "fail": 1},
                                     "results": [{"policy": "p", "rule": "r", "result": "fail", "source": "kyverno",
                                                  "timestamp": {"seconds": 1764590400, "nanos": 0}}]},
    "globalcontextentries.kyverno.io": {"spec": {"kubernetesResource": {
        "group": "aquasecurity.github.io", "version": "v1alpha1", "resource": "vulnerabilityreports"}}},
    "policyexceptions.kyverno.io": {"spec": {"exceptions": [{"policyName": "p", "ruleNames": ["r"]}],
                                             "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}}},
    "vulnerabilityreports.aquasecurity.github.io": {"report": {
        "updateTimestamp": "2026-11-21T10:00:00Z", "scanner": {"name": "Trivy", "vendor": "Aqua", "version": "0.58"},
        "artifact": {"repository": "library/nginx", "tag": "1.27"},
        "summary": {"criticalCount": 0, "highCount": 0, "mediumCount": 0, "lowCount": 0, "unknownCount": 0},
        "vulnerabilities": []}},
}
INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "backups.velero.io": ({"spec": {"includedNamespaces": "vault"}},
                          'spec.includedNamespaces: Invalid value: "string": spec.includedNamespaces in body must be '
                          'of type array: "string"'),
    "sealedsecrets.bitnami.com": ({"spec": {}}, "spec.encryptedData: Required value"),
    "vulnerabilityreports.aquasecurity.github.io": (
        {"report": {"summary": {"criticalCount": -1}}}, "report.summary.criticalCount: Invalid value: -1"),
}


def test_generated_crds_match_the_cloudcoil_models():
    expected = generate.generate()
    for path, text in expected.items():
        assert path.exists(), f"{path.name} missing: run python -m atlas_lab.services.kubernetes.crds.generate"
        assert path.read_text(encoding="utf-8") == text, \
            f"{path.name} is out of date: run python -m atlas_lab.services.kubernetes.crds.generate"


def _structural(node: dict[str, Any], path: str, problems: list[str]) -> None:
    if not (node.get("type") or node.get("x-kubernetes-int-or-string") or
            node.get("x-kubernetes-preserve-unknown-fields")):
        problems.append(path)
    for name, child in (node.get("properties") or {}).items():
        _structural(child, f"{path}.{name}", problems)
    if isinstance(node.get("items"), dict):
        _structural(node["items"], f"{path}[]", problems)
    if isinstance(node.get("additionalProperties"), dict):
        _structural(node["additionalProperties"], f"{path}{{}}", problems)


def test_bundled_crds_are_structural():
    files = bundled_crd_files()
    assert len(files) == 18
    for path in files:
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        for version in crd["spec"]["versions"]:
            problems: list[str] = []
            _structural(version["schema"]["openAPIV3Schema"], "", problems)
            assert problems == [], f"{path.name} {version['name']}: nodes without type: {problems[:5]}"
        assert sum(1 for v in crd["spec"]["versions"] if v["storage"]) == 1


@pytest.mark.parametrize("crd_name", sorted(SAMPLES))
def test_bundled_kinds_accept_upstream_shaped_objects(k8s, crd_name):
    _status, crd = k8s.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd_name}")
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    spec = crd["spec"]
    version = next(v["name"] for v in spec["versions"] if v["storage"])
    scope = "namespaces/default/" if spec["scope"] == "Namespaced" else ""
    path = f"/apis/{spec['group']}/{version}/{scope}{spec['names']['plural']}"
    body = dict(SAMPLES[crd_name], apiVersion=f"{spec['group']}/{version}", kind=spec["names"]["kind"],
                metadata={"name": "sample"})
    status, created = k8s.request("POST", path + "?fieldValidation=Strict", body)
    assert status == 201, created
    if crd_name in INVALID:
        bad, message = INVALID[crd_name]
        status, error = k8s.request("POST", path, dict(bad, apiVersion=body["apiVersion"], kind=body["kind"],
                                                       metadata={"name": "bad"}))
        assert status == 422, error
        assert message in error["message"]
