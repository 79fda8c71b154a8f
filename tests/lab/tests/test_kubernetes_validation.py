"""Built-in validation cross-checked with kubernetes-validate, an independent validator.

For each object, ``kubernetes_validate.validate`` (the Kubernetes 1.37 OpenAPI schemas, through
jsonschema) and the emulator must agree on accept/reject; the emulator must answer as the real API
server does (400 for a JSON type error, 422 Invalid with the field for a rule).
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

POD_SPEC = {"containers": [{"name": "app", "image": "registry.example/app:1.0", "ports": [{"containerPort": 8080}]}]}
VALID: dict[str, dict[str, Any]] = {
    "deployment": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                   "spec": {"selector": {"matchLabels": {"a": "b"}},
                            "template": {"metadata": {"labels": {"a": "b"}}, "spec": POD_SPEC}}},
    "service": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {"selector": {"a": "b"}, "ports": [{"port": 80, "targetPort": "http"}]}},
    "cronjob": {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
                "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {
                    "spec": dict(POD_SPEC, restartPolicy="OnFailure")}}}}},
    "role": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
             "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
    "networkpolicy": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "n"},
                      "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
    "pdb": {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "b"}}}},
}
PATHS = {"Deployment": "/apis/apps/v1/namespaces/default/deployments",
         "Service": "/api/v1/namespaces/default/services",
         "CronJob": "/apis/batch/v1/namespaces/default/cronjobs",
         "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
         "NetworkPolicy": "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
         "PodDisruptionBudget": "/apis/policy/v1/namespaces/default/poddisruptionbudgets"}


def _mutate(name: str, path: list[Any], value: Any, delete: bool = False) -> dict[str, Any]:
    obj = copy.deepcopy(VALID[name])
    target = obj
    for part in path[:-1]:
        target = target[part]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


# (object, expected status, text in the message)
INVALID = [
    (_mutate("deployment", ["spec", "template", "spec", "containers", 0, "name"], None, delete=True), 422,
     "spec.template.spec.containers[0].name: Required value"),
    (_mutate("deployment", ["spec", "replicas"], "three"), 400,
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (_mutate("deployment", ["spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"], "80"), 400,
     "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports"
     ".containerPort of type int32"),
    (_mutate("service", ["spec", "ports", 0, "port"], None, delete=True), 422, "spec.ports[0].port: Required value"),
    (_mutate("cronjob", ["spec", "schedule"], None, delete=True), 422, "spec.schedule: Required value"),
    (_mutate("role", ["rules", 0, "verbs"], None, delete=True), 422, "rules[0].verbs: Required value"),
    (_mutate("networkpolicy", ["spec", "podSelector"], "all"), 400,
     "json: cannot unmarshal string into Go struct field NetworkPolicySpec.spec.podSelector of type v1.LabelSelector"),
    (_mutate("pdb", ["spec", "selector"], ["a"]), 400,
     "json: cannot unmarshal array into Go struct field PodDisruptionBudgetSpec.spec.selector of type"),
]


def _post(k8s, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return k8s.request("POST", PATHS[obj["kind"]] + "?fieldValidation=Strict", obj)


def _independent_verdict(obj: dict[str, Any]) -> bool:
    try:
        kubernetes_validate.validate(obj, "1.37", strict=True)
    except kubernetes_validate.ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_objects_are_accepted_by_both(k8s, name):
    assert _independent_verdict(VALID[name])
    status, body = _post(k8s, VALID[name])
    assert status == 201, body


@pytest.mark.parametrize("index", range(len(INVALID)))
def test_invalid_objects_are_rejected_by_both(k8s, index):
    obj, expected_status, message = INVALID[index]
    assert not _independent_verdict(obj)
    status, body = _post(k8s, obj)
    assert status == expected_status, body
    assert message in body["message"]
    assert body["reason"] == ("Invalid" if expected_status == 422 else "BadRequest")
