"""The image-scan gate (role kyverno_image_scan, module image_scan_info) on the lab: the policy
installed by the role, admission decided by the lab's Kyverno webhook, seen through the real kubectl
and the Python client; the reports written by the simulated Trivy Operator from running workloads.

Reports exist only for images that ran: each test first runs the fixture's images in the namespace
``scanned`` (audited, never enforced), as a platform would have them running somewhere.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_manifests_support import writes
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from atlas_lab.pytest_plugin import Lab, wait_for

pytestmark = pytest.mark.timeout(600)
SCANNED = "scanned"
FIXTURE_IMAGES = {"nginx": "nginx:1.25", "clean": "nginx:1.27", "redis": "redis:7.2", "api": "ghcr.io/atlas/api:v2",
                  "cart": "registry.atlas.local:5000/shop/cart:2.0"}
KYVERNO_AGENT = "kyverno-admission-controller"


def flat(text: str) -> str:
    """A denial as one line: Kyverno's message is YAML, folded at 80 columns."""
    return " ".join(text.split())


def kubectl(lab: Lab, *args: str, stdin: str | None = None) -> Any:
    return lab.run(["kubectl", *args], input=stdin)


def gate_playbook(tmp_path: Path) -> Path:
    path = tmp_path / "gate.yml"
    path.write_text(yaml.safe_dump([{
        "name": "Install the image-scan gate", "hosts": "atlas_control", "gather_facts": False,
        "module_defaults": {"group/atlas.hardening.kubernetes": {
            "k8s_kubeconfig": "{{ atlas_hardening_k8s_kubeconfig | default(omit) }}"}},
        "roles": [{"role": "atlas.hardening.kyverno_image_scan"}],
    }], sort_keys=False), encoding="utf-8")
    return path


def install_gate(lab: Lab, tmp_path: Path, *args: str, check: bool = False, **variables: Any) -> Any:
    return lab.ansible_playbook(gate_playbook(tmp_path), *args, check=check, extra_vars=variables or None)


def reports(lab: Lab, namespace: str | None = None) -> list[dict[str, Any]]:
    scope = ["-n", namespace] if namespace else ["-A"]
    listed = kubectl(lab, "get", "vulnerabilityreports", *scope, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)["items"]


def run_fixture_images(lab: Lab) -> None:
    kubectl(lab, "create", "namespace", SCANNED)
    for name, image in FIXTURE_IMAGES.items():
        created = kubectl(lab, "create", "deployment", name, "-n", SCANNED, f"--image={image}")
        assert created.returncode == 0, created.stderr
    wait_for(lambda: len(reports(lab, SCANNED)) == len(FIXTURE_IMAGES), what="a report per fixture image")


def pod_manifest(name: str, image: str, namespace: str, field: str = "containers") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if field == "containers":
        spec["containers"] = [{"name": name, "image": image}]
    else:
        spec[field] = [{"name": name, "image": image}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def create(lab: Lab, obj: dict[str, Any]) -> Any:
    return kubectl(lab, "create", "-f", "-", stdin=json.dumps(obj))


@pytest.fixture
def gated(clean_lab: Lab, tmp_path: Path) -> Lab:
    """Fixture images running (so reported), the gate installed, enforcing in namespace shop."""
    run_fixture_images(clean_lab)
    assert kubectl(clean_lab, "create", "namespace", "shop").returncode == 0
    installed = install_gate(clean_lab, tmp_path, kyverno_image_scan_enforce_namespaces=["shop"])
    assert installed.rc == 0, installed
    return clean_lab


@pytest.mark.parametrize(("image", "admitted"), [
    ("nginx:1.25", False),                              # a fixable CRITICAL, Docker Hub short name
    ("docker.io/library/nginx:1.25", False),            # the same image, fully qualified
    ("index.docker.io/nginx:1.25", False),              # the same image as Trivy names its registry
    ("redis:7.2", True),                                 # only an unfixable HIGH
    ("ghcr.io/atlas/api:v2", True),                      # only a fixable MEDIUM
    ("registry.atlas.local:5000/shop/cart:2.0", False),  # a private registry with a port
    ("nginx:1.27", True),                                # clean (a LOW only)
])
def test_kubectl_sees_refusals_and_admissions_as_from_a_real_kyverno(gated: Lab, image: str, admitted: bool) -> None:
    result = create(gated, pod_manifest("probe", image, "shop"))
    if admitted:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0
    assert 'Error from server: error when creating "STDIN": admission webhook "validate.kyverno.svc-fail" denied the request' \
        in result.stderr, result.stderr
    assert "resource Pod/shop/probe was blocked due to the following policies" in result.stderr
    assert "deny-fixable-vulnerabilities: 'container probe runs " + image in flat(result.stderr)
    assert "fixed in" in result.stderr


def test_the_denial_names_the_cves_and_their_fixed_versions_through_the_python_client(gated: Lab) -> None:
    api = k8s_client.CoreV1Api(k8s_config.new_client_from_config(config_file=str(gated.kubeconfig)))
    with pytest.raises(ApiException) as refused:
        api.create_namespaced_pod("shop", pod_manifest("web", "nginx:1.25", "shop"))
    assert refused.value.status == 400
    message = flat(json.loads(refused.value.body)["message"])
    assert "CRITICAL CVE-2024-6119 in openssl (fixed in 3.0.14-1~deb12u2)" in message
    assert "HIGH CVE-2023-44487 in libnghttp2-14 (fixed in 1.52.0-1+deb12u1)" in message
    assert "CVE-2023-52425" not in message  # HIGH without a fix
    assert "CVE-2024-2511" not in message  # MEDIUM


def test_a_digest_pinned_image_is_matched_by_the_reports_digest(gated: Lab) -> None:
    nginx = next(item for item in reports(gated, SCANNED) if item["report"]["artifact"]["tag"] == "1.25"
                 and item["report"]["artifact"]["repository"] == "library/nginx")
    digest = nginx["report"]["artifact"]["digest"]
    refused = create(gated, pod_manifest("pinned", f"nginx@{digest}", "shop"))
    assert refused.returncode != 0 and "CVE-2024-6119" in refused.stderr, refused.stderr
    other = create(gated, pod_manifest("other", "nginx@sha256:" + "0" * 64, "shop"))
    assert other.returncode == 0, other.stderr  # no report of that digest: a warning, not a denial
    assert "has not scanned yet" in other.stderr


def test_an_init_container_and_a_debug_container_are_gated(gated: Lab) -> None:
    init = create(gated, pod_manifest("init", "nginx:1.25", "shop", field="initContainers"))
    assert init.returncode != 0 and "container init runs nginx:1.25" in init.stderr, init.stderr
    assert create(gated, pod_manifest("target", "nginx:1.27", "shop")).returncode == 0
    debug = kubectl(gated, "debug", "-n", "shop", "target", "--image=nginx:1.25", "--container=debugger")
    assert debug.returncode != 0, debug.stdout + debug.stderr
    assert "deny-fixable-vulnerabilities-in-debug-containers" in debug.stderr, debug.stderr
    allowed = kubectl(gated, "debug", "-n", "shop", "target", "--image=nginx:1.27", "--container=debugger")
    assert allowed.returncode == 0, allowed.stderr


def test_a_deployment_is_refused_at_creation_through_autogen(gated: Lab) -> None:
    result = kubectl(gated, "create", "deployment", "web", "-n", "shop", "--image=nginx:1.25")
    assert result.returncode != 0
    assert "resource Deployment/shop/web was blocked" in result.stderr
    assert "autogen-deny-fixable-vulnerabilities" in result.stderr, result.stderr
    cron = kubectl(gated, "create", "cronjob", "nightly", "-n", "shop", "--image=nginx:1.25", "--schedule=@daily")
    assert cron.returncode != 0 and "autogen-cronjob-deny-fixable-vulnerabilities" in cron.stderr, cron.stderr


def test_audit_admits_with_a_warning_and_unscanned_images_are_warned(gated: Lab) -> None:
    assert kubectl(gated, "create", "namespace", "web").returncode == 0
    audited = create(gated, pod_manifest("old", "nginx:1.25", "web"))
    assert audited.returncode == 0, audited.stderr
    assert "Warning: policy verify-image-scan.deny-fixable-vulnerabilities: container old runs nginx:1.25" in audited.stderr

    def report_of_old() -> list[dict[str, Any]]:
        listed = json.loads(kubectl(gated, "get", "policyreports", "-n", "web", "-o", "json").stdout or '{"items": []}')
        return [item for item in listed["items"] if item["scope"]["name"] == "old"]

    report = wait_for(report_of_old, what="the Pod's PolicyReport")[0]  # Kyverno's background scan
    failed = [item for item in report["results"] if item["result"] == "fail"]
    assert [item["rule"] for item in failed] == ["deny-fixable-vulnerabilities"], report
    assert "CVE-2024-6119" in failed[0]["message"] and failed[0]["severity"] == "high"
    assert report["summary"]["fail"] == 1
    new = create(gated, pod_manifest("new", "nginx:1.26", "shop"))
    assert new.returncode == 0, new.stderr
    assert "Warning: policy verify-image-scan.unscanned-images: container new runs nginx:1.26, which Trivy " \
           "Operator has not scanned yet" in new.stderr


def test_unscanned_images_are_denied_when_configured_unless_scanned_elsewhere(gated: Lab, tmp_path: Path) -> None:
    strict = install_gate(gated, tmp_path, kyverno_image_scan_enforce_namespaces=["shop"],
                          kyverno_image_scan_unscanned_action="deny",
                          kyverno_image_scan_scanned_elsewhere=["registry.ci.local"])
    assert strict.rc == 0, strict
    refused = create(gated, pod_manifest("new", "nginx:1.26", "shop"))
    assert refused.returncode != 0
    assert "container new runs nginx:1.26, which Trivy Operator has not scanned" in flat(refused.stderr)
    assert "unscanned-images:" in refused.stderr
    assert create(gated, pod_manifest("ci", "registry.ci.local/team/app:1", "shop")).returncode == 0


def test_system_namespaces_are_not_gated(gated: Lab, tmp_path: Path) -> None:
    enforced = install_gate(gated, tmp_path, kyverno_image_scan_failure_action="Enforce",
                            kyverno_image_scan_force_enforce=True)
    assert enforced.rc == 0, enforced
    assert create(gated, pod_manifest("tool", "nginx:1.25", "trivy-system")).returncode == 0
    assert create(gated, pod_manifest("tool", "nginx:1.25", "default")).returncode != 0


def test_a_cve_exception_admits_until_its_expiry_and_not_after(gated: Lab, tmp_path: Path) -> None:
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    exceptions = [{"id": cve, "expires": expires, "reason": "patched image in testing", "images": ["nginx:1.25"],
                   "namespaces": ["shop"]} for cve in ("CVE-2024-6119", "CVE-2023-44487")]
    excepted = install_gate(gated, tmp_path, kyverno_image_scan_enforce_namespaces=["shop"],
                            kyverno_image_scan_cve_exceptions=exceptions)
    assert excepted.rc == 0, excepted
    assert create(gated, pod_manifest("before", "nginx:1.25", "shop")).returncode == 0
    time.sleep(max(0.0, (datetime.datetime.fromisoformat(expires.replace("Z", "+00:00"))
                         - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 1)
    after = create(gated, pod_manifest("after", "nginx:1.25", "shop"))
    assert after.returncode != 0 and "CVE-2024-6119" in after.stderr, after.stderr
    # The next run drops the expired entries from the policy and says so.
    rerun = install_gate(gated, tmp_path, kyverno_image_scan_enforce_namespaces=["shop"],
                         kyverno_image_scan_cve_exceptions=exceptions, kyverno_image_scan_force_enforce=True)
    assert rerun.rc == 0 and "Expired image-scan exceptions: CVE-2024-6119, CVE-2023-44487" in rerun.stdout, rerun


def test_a_workload_exception_admits_its_workload_and_is_pruned_once_expired(gated: Lab, tmp_path: Path) -> None:
    later = (datetime.date.today() + datetime.timedelta(days=7)).isoformat()
    exception = {"namespace": "shop", "kind": "Deployment", "name": "legacy", "expires": later,
                 "reason": "vendor image, replaced next sprint"}
    installed = install_gate(gated, tmp_path, kyverno_image_scan_enforce_namespaces=["shop"],
                             kyverno_image_scan_workload_exceptions=[exception])
    assert installed.rc == 0, installed
    assert kubectl(gated, "create", "deployment", "legacy", "-n", "shop", "--image=nginx:1.25").returncode == 0

    def legacy_pods() -> str:
        return str(kubectl(gated, "get", "pods", "-n", "shop", "-l", "app=legacy", "-o", "name").stdout).strip()

    wait_for(legacy_pods, what="the excepted Deployment's Pod")  # its Pods are covered too
    assert kubectl(gated, "create", "deployment", "other", "-n", "shop", "--image=nginx:1.25").returncode != 0
    expired = dict(exception, expires="2026-01-01")
    pruned = install_gate(gated, tmp_path, kyverno_image_scan_enforce_namespaces=["shop"],
                          kyverno_image_scan_workload_exceptions=[expired], kyverno_image_scan_force_enforce=True)
    assert pruned.rc == 0, pruned
    listed = kubectl(gated, "get", "policyexceptions", "-n", "kyverno", "-o", "name")
    assert listed.stdout.strip() == "", listed.stdout


def test_enforce_is_refused_while_a_running_workload_would_be_refused(clean_lab: Lab, tmp_path: Path) -> None:
    run_fixture_images(clean_lab)
    clean_lab.k8s.reset_requests()
    refused = install_gate(clean_lab, tmp_path, kyverno_image_scan_enforce_namespaces=[SCANNED])
    assert refused.rc != 0
    assert "Enforce would refuse these running workloads: scanned/Deployment/cart, scanned/Deployment/nginx." \
        in refused.stdout, refused
    assert writes(clean_lab) == {}, "the refused run wrote to the cluster"
    fixed = [kubectl(clean_lab, "set", "image", f"deployment/{name}", f"*={image}", "-n", SCANNED)
             for name, image in (("nginx", "nginx:1.27"), ("cart", "nginx:1.27"))]
    assert all(item.returncode == 0 for item in fixed), fixed
    wait_for(lambda: not [item for item in json.loads(kubectl(clean_lab, "get", "pods", "-n", SCANNED, "-o", "json")
                                                      .stdout)["items"]
                          if "1.25" in item["spec"]["containers"][0]["image"]
                          or "cart" in item["spec"]["containers"][0]["image"]], what="the old Pods to go")
    allowed = install_gate(clean_lab, tmp_path, kyverno_image_scan_enforce_namespaces=[SCANNED])
    assert allowed.rc == 0, allowed
    clean_lab.k8s.reset_requests()
    again = install_gate(clean_lab, tmp_path, kyverno_image_scan_enforce_namespaces=[SCANNED])
    assert again.rc == 0 and again.changed == 0, again
    assert writes(clean_lab) == {}, "the second run wrote"
    check = install_gate(clean_lab, tmp_path, check=True, kyverno_image_scan_severities=["CRITICAL"],
                         kyverno_image_scan_enforce_namespaces=[SCANNED])
    assert check.rc == 0 and check.changed == 1, check
    assert writes(clean_lab) == {}, "--check wrote"


@pytest.mark.parametrize(("variables", "message"), [
    ({"kyverno_image_scan_severities": ["HIGH", "SEVERE"]}, "kyverno_image_scan_severities: SEVERE is not a Trivy severity"),
    ({"kyverno_image_scan_cve_exceptions": [{"id": "CVE-2024-6119", "reason": "x"}]},
     "kyverno_image_scan_cve_exceptions[0] (CVE-2024-6119) has no expires date"),
    ({"kyverno_image_scan_cve_exceptions": [{"id": "CVE-24-6119", "expires": "2027-01-01", "reason": "x"}]},
     "id 'CVE-24-6119' is not a vulnerability id as Trivy reports it"),
])
def test_bad_input_gets_one_clear_message_and_nothing_is_written(clean_lab: Lab, tmp_path: Path,
                                                                 variables: dict, message: str) -> None:
    clean_lab.k8s.reset_requests()
    result = install_gate(clean_lab, tmp_path, **variables)
    assert result.rc != 0
    assert message in result.stdout, result
    assert writes(clean_lab) == {}


@pytest.mark.parametrize(("crd", "message"), [
    ("clusterpolicies.kyverno.io", "Kyverno is not installed"),
    ("vulnerabilityreports.aquasecurity.github.io", "Trivy Operator's VulnerabilityReport CRD is missing"),
])
def test_a_missing_kyverno_or_trivy_operator_is_said_before_any_write(clean_lab: Lab, tmp_path: Path,
                                                                      crd: str, message: str) -> None:
    assert kubectl(clean_lab, "delete", "crd", crd).returncode == 0
    clean_lab.k8s.reset_requests()
    result = install_gate(clean_lab, tmp_path)
    assert result.rc != 0 and message in result.stdout, result
    assert writes(clean_lab) == {}


def kyverno_requests(lab: Lab) -> list[dict[str, Any]]:
    return [entry for entry in lab.k8s.requests()["entries"] if entry.get("user_agent") == KYVERNO_AGENT]


def test_an_admission_costs_no_request_with_the_global_context_and_one_per_rule_with_the_api_call(
        clean_lab: Lab, tmp_path: Path) -> None:
    run_fixture_images(clean_lab)
    assert install_gate(clean_lab, tmp_path).rc == 0
    clean_lab.k8s.reset_requests()
    for index in range(5):
        assert create(clean_lab, pod_manifest(f"p{index}", "nginx:1.27", SCANNED)).returncode == 0
    assert kyverno_requests(clean_lab) == []

    # A Kyverno without GlobalContextEntry: the role detects it and falls back to an apiCall.
    assert kubectl(clean_lab, "delete", "crd", "globalcontextentries.kyverno.io").returncode == 0
    fallback = install_gate(clean_lab, tmp_path, "-v")
    assert fallback.rc == 0 and "api_call" in fallback.stdout, fallback
    clean_lab.k8s.reset_requests()
    for index in range(5):
        assert create(clean_lab, pod_manifest(f"q{index}", "nginx:1.27", SCANNED)).returncode == 0
    # Two rules read the reports, each with its own apiCall (Kyverno does not share rule contexts).
    assert len(kyverno_requests(clean_lab)) == 5 * 2, kyverno_requests(clean_lab)


def test_kyverno_reads_the_reports_only_through_the_role_the_gate_installs(gated: Lab) -> None:
    account = "system:serviceaccount:kyverno:kyverno-admission-controller"
    for verb in ("list", "watch"):
        assert kubectl(gated, "auth", "can-i", verb, "vulnerabilityreports.aquasecurity.github.io",
                       f"--as={account}").stdout.strip() == "yes"
    for verb, resource in (("create", "vulnerabilityreports.aquasecurity.github.io"), ("list", "secrets"),
                           ("delete", "vulnerabilityreports.aquasecurity.github.io")):
        assert kubectl(gated, "auth", "can-i", verb, resource, f"--as={account}").stdout.strip() == "no"
    # Without the ClusterRole, Kyverno's informer cannot sync: the policy is silently not applied.
    assert kubectl(gated, "delete", "clusterrole", "kyverno:atlas-image-scan:vulnerabilityreports").returncode == 0
    wait_for(lambda: kubectl(gated, "auth", "can-i", "list", "vulnerabilityreports.aquasecurity.github.io",
                             f"--as={account}").stdout.strip() == "no", what="the aggregated role to lose the grant")
    assert create(gated, pod_manifest("unchecked", "nginx:1.25", "shop")).returncode == 0


def test_the_installed_objects_follow_the_upstream_schemas_strictly(gated: Lab) -> None:
    policy = json.loads(kubectl(gated, "get", "clusterpolicy", "verify-image-scan", "-o", "json").stdout)
    policy["spec"]["rules"][0]["context"][0]["globalReference"]["refreshEvery"] = "10s"  # not a Kyverno field
    refused = kubectl(gated, "replace", "--validate=strict", "-f", "-", stdin=json.dumps(policy))
    assert refused.returncode != 0 and 'unknown field "spec.rules[0].context[0].globalReference.refreshEvery"' \
        in refused.stderr, refused.stderr
    entry = json.loads(kubectl(gated, "get", "globalcontextentry", "trivy-vulnerability-reports", "-o", "json").stdout)
    entry["spec"]["kubernetesResource"]["kind"] = "VulnerabilityReport"
    refused = kubectl(gated, "replace", "--validate=strict", "-f", "-", stdin=json.dumps(entry))
    assert refused.returncode != 0 and 'unknown field "spec.kubernetesResource.kind"' in refused.stderr, refused.stderr


def test_a_kyverno_serving_projections_gets_the_projection_mode(clean_lab: Lab, tmp_path: Path) -> None:
    """Kyverno 1.16 serves GlobalContextEntry as v2beta1 with spec.projections: the CRD is changed so,
    the role detects it from discovery, and the projection is what the lab's Kyverno keeps."""
    crd = json.loads(kubectl(clean_lab, "get", "crd", "globalcontextentries.kyverno.io", "-o", "json").stdout)
    alpha = crd["spec"]["versions"][0]
    beta = json.loads(json.dumps(alpha))
    beta["name"], alpha["storage"] = "v2beta1", False
    beta["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["projections"] = {
        "type": "array", "items": {"type": "object", "required": ["name", "jmesPath"],
                                   "properties": {"name": {"type": "string"}, "jmesPath": {"type": "string"}}}}
    crd["spec"]["versions"] = [alpha, beta]
    replaced = kubectl(clean_lab, "replace", "-f", "-", stdin=json.dumps(crd))
    assert replaced.returncode == 0, replaced.stderr
    run_fixture_images(clean_lab)
    assert kubectl(clean_lab, "create", "namespace", "shop").returncode == 0
    installed = install_gate(clean_lab, tmp_path, "-v", kyverno_image_scan_enforce_namespaces=["shop"])
    assert installed.rc == 0 and '"context_mode": "global_projection"' in installed.stdout, installed
    entry = json.loads(kubectl(clean_lab, "get", "globalcontextentries.v2beta1.kyverno.io",
                               "trivy-vulnerability-reports", "-o", "json").stdout)
    assert entry["spec"]["projections"][0]["name"] == "fixable"
    clean_lab.k8s.reset_requests()
    refused = create(clean_lab, pod_manifest("web", "nginx:1.25", "shop"))
    assert refused.returncode != 0 and "CVE-2024-6119" in refused.stderr, refused.stderr
    assert create(clean_lab, pod_manifest("api", "ghcr.io/atlas/api:v2", "shop")).returncode == 0
    assert kyverno_requests(clean_lab) == []
