"""The ClusterPolicy verify-image-scan, evaluated by the lab's Kyverno engine (PyPI jmespath with
Kyverno's functions), against the gate's Python verdicts: named cases, then generated ones."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ansible_collections.atlas.hardening.plugins.module_utils._image_scan import admission_verdicts as verdicts
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan import policy_manifests as manifests
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import (
    GateSettings,
    gate_settings,
)
from atlas_lab.services.kyverno.engine import Callbacks, Engine
from atlas_lab.services.kyverno.jmespath_functions import KyvernoFunctions, KyvernoJMESPathError, search

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
MODES = manifests.CONTEXT_MODES


def vulnerability(vulnerability_id: str, severity: str, fixed: str, resource: str = "openssl") -> dict[str, Any]:
    return {"vulnerabilityID": vulnerability_id, "severity": severity, "resource": resource,
            "installedVersion": "1.0.0", "fixedVersion": fixed, "title": vulnerability_id,
            "publishedDate": "2024-01-01T00:00:00Z", "lastModifiedDate": "2024-01-02T00:00:00Z"}


def report(server: str, repository: str, tag: str, vulnerabilities: list[dict[str, Any]], digest: str = "",
           name: str = "replicaset-web-1-app", namespace: str = "web") -> dict[str, Any]:
    return {"apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
            "metadata": {"name": name, "namespace": namespace},
            "report": {"registry": {"server": server}, "artifact": {"repository": repository, "tag": tag, "digest": digest},
                       "vulnerabilities": vulnerabilities}}


NGINX = report("index.docker.io", "library/nginx", "1.25", [
    vulnerability("CVE-2024-0001", "CRITICAL", "3.0.13"), vulnerability("CVE-2024-0002", "HIGH", ""),
    vulnerability("CVE-2024-0003", "MEDIUM", "2.0", "zlib")], digest=DIGEST_A)
ONLY_UNFIXABLE_HIGH = report("index.docker.io", "library/redis", "7.2", [vulnerability("CVE-2024-0010", "HIGH", "")])
ONLY_MEDIUM = report("ghcr.io", "org/api", "v2", [vulnerability("CVE-2024-0020", "MEDIUM", "1.1")])
PRIVATE = report("registry.local:5000", "team/app", "2.0", [vulnerability("CVE-2024-0030", "HIGH", "2.0.1", "libxml2")])
REPORTS = [NGINX, ONLY_UNFIXABLE_HIGH, ONLY_MEDIUM, PRIVATE]


class Lab:
    """The policy and its GlobalContextEntry as the lab's Kyverno sees them."""

    def __init__(self, settings: GateSettings, mode: str, reports: list[dict[str, Any]],
                 rollout: manifests.Rollout | None = None, api_fails: bool = False) -> None:
        self.policy = manifests.cluster_policy(settings, rollout or manifests.Rollout(), mode)
        self.entry = manifests.global_context_entry(mode, settings.severities, "kyverno.io/v2beta1")
        self.reports = reports
        functions = KyvernoFunctions(lambda: NOW)

        def global_context(name: str) -> Any:
            if name == f"{manifests.GLOBAL_ENTRY}.{manifests.PROJECTION}":
                return search(self.entry["spec"]["projections"][0]["jmesPath"], reports, functions)
            assert name == manifests.GLOBAL_ENTRY
            return reports

        def api_call(method: str, path: str) -> Any:
            assert (method, path) == ("GET", manifests.REPORTS_PATH)
            if api_fails:
                raise KyvernoJMESPathError("the server is currently unable to handle the request")
            return {"items": reports}

        self.engine = Engine(Callbacks(api_call=api_call, global_context=global_context), functions)

    def admit(self, obj: dict[str, Any], namespace: str = "web") -> tuple[str, str, list]:
        request = {"operation": "CREATE", "namespace": namespace, "object": obj,
                   "kind": {"group": obj["apiVersion"].rpartition("/")[0], "version": obj["apiVersion"].rpartition("/")[2],
                            "kind": obj["kind"]}}
        results = self.engine.validate(self.policy, request)
        errors = [item for item in results if item.status == "error"]
        assert not errors, errors
        failed = {item.rule.replace("autogen-cronjob-", "").replace("autogen-", ""): item
                  for item in results if item.status == "fail"}
        if not results:
            return "excluded", "", results
        if manifests.DENY_RULE in failed:
            return "refused", failed[manifests.DENY_RULE].message, results
        if manifests.UNSCANNED_RULE in failed:
            return "unscanned", failed[manifests.UNSCANNED_RULE].message, results
        return "admitted", "", results


def pod(*images: str, field: str = "containers", namespace: str = "web") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "registry.local:5000/team/app:2.0.1"}]}
    spec[field] = spec.get(field, []) if field != "containers" else []
    spec[field] = [{"name": f"c{index}", "image": image} for index, image in enumerate(images)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


def python_verdict(obj: dict[str, Any], settings: GateSettings, reports: list[dict[str, Any]], namespace: str = "web"):
    return verdicts.pod_verdict(obj["spec"], namespace, verdicts.ReportIndex(reports, settings.severities), settings, NOW)


DEFAULTS = gate_settings({"severities": ["CRITICAL", "HIGH"]}, NOW)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("image", "outcome"), [
    ("nginx:1.25", "refused"),                       # fixable CRITICAL, Docker Hub short name
    ("docker.io/library/nginx:1.25", "refused"),     # fully qualified
    ("index.docker.io/nginx:1.25", "refused"),
    (f"nginx@{DIGEST_A}", "refused"),                # pinned by digest: matched by the report's digest
    (f"nginx:9.9@{DIGEST_A}", "refused"),            # a digest wins over a misleading tag
    ("redis:7.2", "admitted"),                       # only an unfixable HIGH
    ("ghcr.io/org/api:v2", "admitted"),              # only a fixable MEDIUM
    ("registry.local:5000/team/app:2.0", "refused"),  # private registry with a port
    ("registry.local:5000/team/app:2.0.1", "unscanned"),
    ("nginx:1.26", "unscanned"),
    (f"nginx@{DIGEST_B}", "unscanned"),
])
def test_containers_are_judged_the_same_by_the_policy_and_by_python(mode: str, image: str, outcome: str) -> None:
    obj = pod(image)
    got, message, _results = Lab(DEFAULTS, mode, REPORTS).admit(obj)
    expected = python_verdict(obj, DEFAULTS, REPORTS)
    assert (got, message) == (expected.outcome, expected.message)
    assert got == outcome


def test_the_denial_names_the_container_the_image_and_the_fixable_cves() -> None:
    _outcome, message, _results = Lab(DEFAULTS, "global_resource", REPORTS).admit(pod("nginx:1.25"))
    assert message == ("container c0 runs nginx:1.25; fixable vulnerabilities found: 1 (CRITICAL CVE-2024-0001 in "
                       "openssl (fixed in 3.0.13)). Upgrade the image (kubectl get vulnerabilityreports -A lists the "
                       "findings) or ask for an exception.")


@pytest.mark.parametrize("field", ["initContainers", "ephemeralContainers"])
def test_init_and_ephemeral_containers_are_gated(field: str) -> None:
    obj = pod("nginx:1.25", field=field)
    obj["spec"]["containers"] = [{"name": "main", "image": "ghcr.io/org/api:v2"}]
    assert Lab(DEFAULTS, "global_resource", REPORTS).admit(obj)[0] == "refused"


def test_an_unscanned_image_is_denied_when_configured_unless_scanned_elsewhere() -> None:
    strict = gate_settings({"severities": ["HIGH"], "unscanned_action": "deny",
                            "scanned_elsewhere": ["registry.local:5000"]}, NOW)
    lab = Lab(strict, "global_resource", REPORTS, manifests.Rollout(failure_action="Enforce"))
    outcome, _message, results = lab.admit(pod("nginx:1.26"))
    assert outcome == "unscanned" and any(item.blocks for item in results)
    assert lab.admit(pod("registry.local:5000/team/app:3.0"))[0] == "admitted"
    default = Lab(DEFAULTS, "global_resource", REPORTS, manifests.Rollout(failure_action="Enforce"))
    outcome, _message, results = default.admit(pod("nginx:1.26"))
    assert outcome == "unscanned" and not any(item.blocks for item in results)  # a warning, not a denial


def test_an_exception_admits_until_its_expiry_and_not_after() -> None:
    entry = {"id": "CVE-2024-0001", "expires": "2026-12-02T00:00:00Z", "reason": "fixed image in testing",
             "images": ["docker.io/library/nginx"], "namespaces": ["web"]}
    settings = gate_settings({"severities": ["CRITICAL", "HIGH"], "cve_exceptions": [entry]}, NOW)
    lab = Lab(settings, "global_resource", REPORTS)
    assert lab.admit(pod("nginx:1.25"))[0] == "admitted"
    assert lab.admit(pod("nginx:1.25", namespace="shop"), namespace="shop")[0] == "refused"  # not its namespace
    lab.engine.functions.clock = lambda: datetime.datetime(2026, 12, 2, 0, 0, 1, tzinfo=datetime.timezone.utc)
    assert lab.admit(pod("nginx:1.25"))[0] == "refused"


def test_system_namespaces_are_not_gated() -> None:
    lab = Lab(DEFAULTS, "global_resource", REPORTS)
    assert lab.admit(pod("nginx:1.25", namespace="kube-system"), "kube-system")[0] == "excluded"


@pytest.mark.parametrize(("kind", "api_version", "rule"), [
    ("Deployment", "apps/v1", "autogen-deny-fixable-vulnerabilities"),
    ("StatefulSet", "apps/v1", "autogen-deny-fixable-vulnerabilities"),
    ("DaemonSet", "apps/v1", "autogen-deny-fixable-vulnerabilities"),
    ("Job", "batch/v1", "autogen-deny-fixable-vulnerabilities"),
    ("CronJob", "batch/v1", "autogen-cronjob-deny-fixable-vulnerabilities"),
])
def test_pod_controllers_are_refused_at_creation_through_autogen(kind: str, api_version: str, rule: str) -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}
    spec: dict[str, Any] = {"template": template}
    if kind == "CronJob":
        spec = {"schedule": "@daily", "jobTemplate": {"spec": spec}}
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "web", "namespace": "web"}, "spec": spec}
    lab = Lab(DEFAULTS, "global_resource", REPORTS, manifests.Rollout(failure_action="Enforce"))
    outcome, message, results = lab.admit(obj)
    assert outcome == "refused" and "container web runs nginx:1.25" in message
    assert [item.rule for item in results if item.blocks] == [rule]


def test_enforce_applies_to_the_chosen_namespaces_first() -> None:
    lab = Lab(DEFAULTS, "global_resource", REPORTS, manifests.Rollout(enforce_namespaces=("shop",)))
    assert lab.policy["spec"]["webhookConfiguration"]["failurePolicy"] == "Fail"
    _outcome, _message, results = lab.admit(pod("nginx:1.25", namespace="shop"), "shop")
    assert any(item.blocks for item in results)
    _outcome, _message, results = lab.admit(pod("nginx:1.25"))
    assert not any(item.blocks for item in results)  # Audit elsewhere: reported, admitted


def test_audit_only_ignores_webhook_failures() -> None:
    assert manifests.cluster_policy(DEFAULTS, manifests.Rollout(), "api_call")["spec"]["webhookConfiguration"] == {
        "failurePolicy": "Ignore", "timeoutSeconds": 10}


def test_an_api_call_failure_denies_rather_than_passing_silently() -> None:
    lab = Lab(DEFAULTS, "api_call", REPORTS, manifests.Rollout(failure_action="Enforce"), api_fails=True)
    outcome, message, results = lab.admit(pod("ghcr.io/org/api:v2"))
    assert outcome == "refused" and "could not read Trivy Operator's VulnerabilityReports" in message
    assert any(item.blocks for item in results)


# Generated cases ------------------------------------------------------------------------------

REGISTRIES = ["", "docker.io/", "index.docker.io/", "ghcr.io/", "registry.local:5000/", "localhost:5000/"]
REPOSITORIES = ["nginx", "library/nginx", "bitnami/redis", "team/app", "library/team/app"]
TAGS = ["", ":1.25", ":latest", ":2.0"]
DIGESTS = ["", "@" + DIGEST_A, "@" + DIGEST_B]
IDS = ["CVE-2024-0001", "CVE-2024-0002", "CVE-2023-4567", "GHSA-2c8c-84w2-j38j"]
SEVERITY_NAMES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]


@st.composite
def images(draw: Any) -> str:
    return draw(st.sampled_from(REGISTRIES)) + draw(st.sampled_from(REPOSITORIES)) + draw(st.sampled_from(TAGS)) \
        + draw(st.sampled_from(DIGESTS))


@st.composite
def trivy_reports(draw: Any) -> dict[str, Any]:
    registry = draw(st.sampled_from(["index.docker.io", "ghcr.io", "registry.local:5000", "localhost:5000"]))
    repository = draw(st.sampled_from(["library/nginx", "bitnami/redis", "team/app", "nginx", "library/team/app"]))
    findings = draw(st.lists(st.builds(vulnerability, st.sampled_from(IDS), st.sampled_from(SEVERITY_NAMES),
                                       st.sampled_from(["", "1.2.3", "2.0"]), st.sampled_from(["openssl", "zlib"])),
                             max_size=4))
    return report(registry, repository, draw(st.sampled_from(["1.25", "latest", "2.0", ""])), findings,
                  digest=draw(st.sampled_from(["", DIGEST_A, DIGEST_B])))


@st.composite
def cases(draw: Any) -> tuple[GateSettings, dict[str, Any], str, list[dict[str, Any]], str]:
    exceptions = draw(st.lists(st.fixed_dictionaries({
        "id": st.sampled_from(IDS), "reason": st.just("accepted"),
        "expires": st.sampled_from(["2026-11-01", "2026-12-01T11:59:59Z", "2026-12-01T12:00:01Z", "2027-01-01"]),
        "images": st.lists(st.sampled_from(["nginx", "docker.io/library/nginx:1.25", "team/app", "registry.local:5000/team/app",
                                            "ghcr.io/team/app@" + DIGEST_A]), max_size=2),
        "namespaces": st.lists(st.sampled_from(["web", "shop"]), max_size=1)}), max_size=3))
    settings = gate_settings({
        "severities": draw(st.lists(st.sampled_from(SEVERITY_NAMES), min_size=1, max_size=3, unique=True)),
        "unscanned_action": draw(st.sampled_from(["warn", "deny"])),
        "scanned_elsewhere": draw(st.lists(st.sampled_from(["registry.local:5000", "docker.io/bitnami", "ghcr.io/team"]),
                                           max_size=2)),
        "cve_exceptions": exceptions, "message_vulnerability_limit": draw(st.integers(1, 3))}, NOW)
    namespace = draw(st.sampled_from(["web", "shop", "kube-system"]))
    spec: dict[str, Any] = {}
    for field in ("initContainers", "ephemeralContainers", "containers"):
        chosen = draw(st.lists(images(), min_size=1 if field == "containers" else 0, max_size=2))
        if chosen:
            spec[field] = [{"name": f"{field[:4]}{index}", "image": image} for index, image in enumerate(chosen)]
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}
    return settings, obj, namespace, draw(st.lists(trivy_reports(), max_size=5)), draw(st.sampled_from(MODES))


@hypothesis_settings(max_examples=1500, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_generated_pods_get_the_same_verdict_from_the_policy_and_from_python(case: tuple) -> None:
    settings, obj, namespace, reports, mode = case
    got, message, _results = Lab(settings, mode, reports).admit(obj, namespace)
    expected = python_verdict(obj, settings, reports, namespace)
    assert (got, message) == (expected.outcome, expected.message)
