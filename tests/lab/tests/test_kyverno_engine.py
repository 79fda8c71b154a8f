"""The lab's Kyverno engine against Kyverno's documented behaviour (kyverno v1.16 source and docs):
image names, variable substitution, operators, functions, autogen, failure actions, and the webhook's
decisions in the emulator (a processing error blocks under failurePolicy Fail, even in Audit)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from atlas_lab.services.kubernetes import errors as E
from atlas_lab.services.kubernetes.objects import WriteOptions
from atlas_lab.services.kyverno import conditions
from atlas_lab.services.kyverno.admission import KyvernoAdmission
from atlas_lab.services.kyverno.engine import Engine, rules_with_autogen
from atlas_lab.services.kyverno.images import image_info
from atlas_lab.services.kyverno.jmespath_functions import KyvernoFunctions, KyvernoJMESPathError, search
from atlas_lab.services.kyverno.variables import VariableNotFound, substitute

DIGEST = "sha256:" + "1" * 64
FUNCTIONS = KyvernoFunctions(lambda: datetime.datetime(2026, 12, 1, 12, tzinfo=datetime.timezone.utc))


@pytest.mark.parametrize(("image", "normalized", "path"), [
    # pkg/utils/image/infos.go: default registry docker.io, default tag latest, and no library/
    ("nginx", "docker.io/nginx:latest", "nginx"),
    ("library/nginx:1.25", "docker.io/library/nginx:1.25", "library/nginx"),
    (f"nginx@{DIGEST}", f"docker.io/nginx@{DIGEST}", "nginx"),
    (f"nginx:1.25@{DIGEST}", f"docker.io/nginx@{DIGEST}", "nginx"),  # the digest wins in String()
    ("localhost:5000/team/app", "localhost:5000/team/app:latest", "team/app"),
    ("localhost/app:1", "localhost/app:1", "app"),
    ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1", "org/app"),
])
def test_image_normalize_follows_kyverno(image: str, normalized: str, path: str) -> None:
    assert search(f"image_normalize('{image}')", {}, FUNCTIONS) == normalized
    assert image_info(image).path == path


def test_an_invalid_image_is_a_processing_error() -> None:
    with pytest.raises(KyvernoJMESPathError, match="bad image"):
        search("image_normalize('Nginx:latest')", {}, FUNCTIONS)


def test_variables_keep_their_type_alone_and_are_json_in_a_string() -> None:
    context = {"ids": ["CVE-2024-1"], "n": 3.0, "name": "web"}
    assert substitute("{{ ids }}", context, FUNCTIONS) == ["CVE-2024-1"]
    assert substitute("ids={{ ids }} n={{ n }} {{ name }}", context, FUNCTIONS) == 'ids=["CVE-2024-1"] n=3 web'
    assert substitute("\\{{ ids }}", context, FUNCTIONS) == "{{ ids }}"
    assert substitute("{{ length(`{{ ids }}`) }}", context, FUNCTIONS) == 1  # nested: the inner one first


def test_a_missing_path_is_an_error_where_jmespath_returns_null() -> None:
    assert search("request.object.nothing", {"request": {"object": {}}}, FUNCTIONS) is None
    with pytest.raises(VariableNotFound, match="not found"):
        substitute("{{ request.object.nothing }}", {"request": {"object": {}}}, FUNCTIONS)


@pytest.mark.parametrize(("operator", "key", "value", "expected"), [
    ("AnyIn", "CREATE", ["CREATE", "UPDATE"], True),
    ("AnyIn", ["a", "b"], ["b"], True),
    ("AllIn", ["a", "b"], ["b"], False),
    ("AnyNotIn", ["a"], "a-string", False),  # a value that is not an array: false, never a pass
    ("AnyNotIn", ["a", "c"], ["a"], True),
    ("Equals", 0.0, 0, True),
    ("Equals", "nginx:1.25", "nginx:*", True),
    ("GreaterThan", 2.0, 0, True),
    ("GreaterThan", "x", 0, False),
])
def test_condition_operators(operator: str, key: Any, value: Any, expected: bool) -> None:
    assert conditions.evaluate({"key": key, "operator": operator, "value": value}) is expected


def test_regex_replace_all_expands_like_go() -> None:
    assert search("regex_replace_all('^a(b)$', 'ab', 'x${1}y')", {}, FUNCTIONS) == "xby"
    assert search("regex_replace_all('^a(b)$', 'ab', 'x$1y')", {}, FUNCTIONS) == "x"  # $1y is group "1y"
    assert search("object_from_lists(['a', 'a'], [`1`, `2`])", {}, FUNCTIONS) == {"a": 2}
    assert search("time_before(time_now_utc(), '2026-12-01T12:00:01Z')", {}, FUNCTIONS) is True


POLICY: dict[str, Any] = {
    "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
    "spec": {"rules": [{"name": "no-latest", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                        "validate": {"failureAction": "Audit", "message": "{{ element.name }} uses latest",
                                     "failureActionOverrides": [{"action": "Enforce", "namespaces": ["prod-*"]}],
                                     "foreach": [{"list": "request.object.spec.containers[]",
                                                  "deny": {"conditions": {"any": [
                                                      {"key": "{{ ends_with(element.image, ':latest') }}",
                                                       "operator": "Equals", "value": True}]}}}]}}]},
}


def _request(obj: dict[str, Any], namespace: str = "prod-eu") -> dict[str, Any]:
    group, _slash, version = obj["apiVersion"].rpartition("/")
    return {"operation": "CREATE", "namespace": namespace, "object": obj,
            "kind": {"group": group, "version": version, "kind": obj["kind"]}}


def test_autogen_rewrites_the_rule_for_the_pod_controllers() -> None:
    names = [rule["name"] for rule in rules_with_autogen(POLICY)]
    assert names == ["no-latest", "autogen-no-latest", "autogen-cronjob-no-latest"]
    cronjob = rules_with_autogen(POLICY)[2]
    assert cronjob["validate"]["foreach"][0]["list"] == "request.object.spec.jobTemplate.spec.template.spec.containers[]"
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
        "template": {"spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}}}
    results = Engine(functions=FUNCTIONS).validate(POLICY, _request(deployment))
    assert [(item.rule, item.status, item.action, item.message) for item in results] == [
        ("autogen-no-latest", "fail", "Enforce", "web uses latest")]


def test_failure_action_overrides_apply_per_namespace() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}
    engine = Engine(functions=FUNCTIONS)
    assert [item.blocks for item in engine.validate(POLICY, _request(pod, "prod-eu"))] == [True]
    assert [item.blocks for item in engine.validate(POLICY, _request(pod, "staging"))] == [False]


@pytest.mark.parametrize(("failure_policy", "refused"), [("Fail", True), ("Ignore", False)])
def test_a_processing_error_blocks_under_fail_even_in_audit(k8s: Any, failure_policy: str, refused: bool) -> None:
    app = k8s.app
    admission = KyvernoAdmission(app.objects, app.requests.record)
    app.objects.admission_plugins.append(admission)
    try:
        policy = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "broken"},
                  "spec": {"webhookConfiguration": {"failurePolicy": failure_policy}, "rules": [{
                      "name": "reads-nothing", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                      "validate": {"failureAction": "Audit", "message": "m", "deny": {"conditions": {"any": [
                          {"key": "{{ request.object.metadata.labels.missing }}", "operator": "Equals",
                           "value": "x"}]}}}}]}}
        options = WriteOptions(field_validation="Strict")
        app.objects.create(app.registry.get("kyverno.io", "clusterpolicies"), "v1", "", policy, options)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
               "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
        pods = app.registry.get("", "pods")
        if refused:
            with pytest.raises(E.ApiError) as denied:
                app.objects.create(pods, "v1", "default", pod, options)
            assert denied.value.code == 400
            assert denied.value.message.startswith('admission webhook "validate.kyverno.svc-fail" denied the request')
            assert "reads-nothing" in denied.value.message
        else:
            app.objects.create(pods, "v1", "default", pod, options)
    finally:
        app.objects.admission_plugins.remove(admission)


def test_an_update_of_an_object_that_already_violated_is_allowed(k8s: Any) -> None:
    """allowExistingViolations (default true): an update of an object that already failed the rule passes,
    an update that introduces the violation is refused."""
    app = k8s.app
    admission = KyvernoAdmission(app.objects, app.requests.record)
    options = WriteOptions(field_validation="Strict")
    pods = app.registry.get("", "pods")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "prod-eu"},
           "spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}
    app.objects.create(app.registry.get("", "namespaces"), "v1", "", {"metadata": {"name": "prod-eu"}}, options)
    app.objects.create(pods, "v1", "prod-eu", pod, options)  # before the policy
    app.objects.create(app.registry.get("kyverno.io", "clusterpolicies"), "v1", "", POLICY, options)
    app.objects.admission_plugins.append(admission)
    try:
        current = app.objects.get(pods, "prod-eu", "p")
        current["metadata"]["labels"] = {"team": "web"}
        app.objects.update(pods, "v1", "prod-eu", "p", current, options)  # already violating: allowed
        clean = dict(pod, metadata={"name": "q", "namespace": "prod-eu"},
                     spec={"containers": [{"name": "web", "image": "nginx:1.27"}]})
        app.objects.create(pods, "v1", "prod-eu", clean, options)
        updated = app.objects.get(pods, "prod-eu", "q")
        updated["spec"]["containers"][0]["image"] = "nginx:latest"
        with pytest.raises(E.ApiError, match="web uses latest"):
            app.objects.update(pods, "v1", "prod-eu", "q", updated, options)
    finally:
        app.objects.admission_plugins.remove(admission)


@pytest.mark.parametrize(("subject", "user", "matches"), [
    # Kyverno's CheckSubjects (docs "Match and exclude": subjects): a ServiceAccount is the user
    # system:serviceaccount:<namespace>:<name>, a User its name, a Group any of the user's groups.
    ({"kind": "ServiceAccount", "name": "drill", "namespace": "velero"},
     {"username": "system:serviceaccount:velero:drill", "groups": ["system:serviceaccounts"]}, True),
    ({"kind": "ServiceAccount", "name": "drill", "namespace": "velero"},
     {"username": "system:serviceaccount:other:drill", "groups": []}, False),
    ({"kind": "User", "name": "jane@*"}, {"username": "jane@example.org", "groups": []}, True),
    ({"kind": "Group", "name": "platform-admins"}, {"username": "x", "groups": ["platform-admins"]}, True),
    ({"kind": "Group", "name": "platform-admins"}, {"username": "platform-admins", "groups": []}, False),
])
def test_match_by_subjects_compares_the_request_user(subject: dict[str, str], user: dict[str, Any],
                                                     matches: bool) -> None:
    policy = {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "by-subject"},
              "spec": {"background": False, "rules": [{
                  "name": "deny", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}, "subjects": [subject]}]},
                  "validate": {"failureAction": "Enforce", "message": "no",
                               "deny": {"conditions": {"any": [{"key": 1, "operator": "Equals", "value": 1}]}}}}]}}
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps"}}
    request = dict(_request(config_map, "apps"), userInfo=user)
    statuses = [item.status for item in Engine(functions=FUNCTIONS).validate(policy, request)]
    assert statuses == (["fail"] if matches else [])


def test_admission_sees_the_requesting_user(k8s: Any) -> None:
    """The emulator passes the authenticated user to admission: the same ConfigMap is refused for the
    ServiceAccount a policy names and let through for the administrator."""
    admission = KyvernoAdmission(k8s.app.objects, k8s.app.requests.record)
    k8s.app.objects.admission_plugins.append(admission)
    try:
        k8s.kubectl("create", "namespace", "subjects")
        k8s.kubectl("create", "serviceaccount", "writer", "-n", "subjects")
        k8s.kubectl("create", "rolebinding", "writer", "--clusterrole=edit", "--serviceaccount=subjects:writer",
                    "-n", "subjects")
        k8s.kubectl("apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "writer-no-configmaps"},
            "spec": {"background": False, "rules": [{
                "name": "deny", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}, "subjects": [
                    {"kind": "ServiceAccount", "name": "writer", "namespace": "subjects"}]}]},
                "validate": {"failureAction": "Enforce", "message": "not for writer",
                             "deny": {"conditions": {"any": [{"key": 1, "operator": "Equals", "value": 1}]}}}}]}}))
        token = k8s.kubectl("create", "token", "writer", "-n", "subjects").stdout.strip()
        refused = k8s.kubectl(f"--token={token}", "create", "configmap", "c", "-n", "subjects", check=False)
        assert refused.returncode == 1 and "not for writer" in refused.stderr, refused
        assert k8s.kubectl("create", "configmap", "c", "-n", "subjects").returncode == 0
    finally:
        k8s.app.objects.admission_plugins.remove(admission)
