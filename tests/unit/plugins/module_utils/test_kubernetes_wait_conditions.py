"""Wait conditions and field paths (kubernetes_wait), without a server."""

from __future__ import annotations

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import (
    Absent,
    ConditionStatus,
    Exists,
    FieldEquals,
    condition_from_spec,
    field_value,
    parse_path,
    readiness_condition,
)


def deployment(replicas: int = 3, generation: int = 2, observed: int = 2, updated: int = 3, available: int = 3,
               condition: str = "True") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "availableReplicas": available,
                       "conditions": [{"type": "Available", "status": condition, "reason": "MinimumReplicasAvailable"}]}}


def test_deployment_readiness() -> None:
    ready = readiness_condition("apps/v1", "Deployment")
    assert ready.check(deployment())[0]
    met, seen = ready.check(deployment(observed=1))
    assert not met and "has not seen generation 2" in seen
    met, seen = ready.check(deployment(available=1, condition="False"))
    assert not met and "Available=False" in seen and "1/3 available" in seen
    assert not ready.check(None)[0]


def test_statefulset_readiness() -> None:
    ready = readiness_condition("apps/v1", "StatefulSet")
    sts = {"metadata": {"generation": 1}, "spec": {"replicas": 2}, "status": {"readyReplicas": 2, "observedGeneration": 1}}
    assert ready.check(sts)[0]
    sts["status"]["readyReplicas"] = 1
    met, seen = ready.check(sts)
    assert not met and seen == "1/2 ready replicas"


def test_kinds_without_readiness_only_need_to_exist() -> None:
    assert isinstance(readiness_condition("v1", "ConfigMap"), Exists)
    assert isinstance(readiness_condition("apiextensions.k8s.io/v1", "CustomResourceDefinition"), ConditionStatus)


def test_condition_and_field_specs() -> None:
    condition = condition_from_spec({"type": "Ready", "status": "True", "reason": None})
    pod = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "reason": "X"}]}}
    met, seen = condition.check(pod)
    assert not met and seen == "Ready=False (X)"
    field = condition_from_spec({"field": "status.phase", "value": "Running"})
    assert isinstance(field, FieldEquals) and field.check(pod) == (True, "status.phase='Running'")
    assert condition_from_spec({"field": "spec.paused", "value": "true"}).check({"spec": {"paused": True}})[0]
    with pytest.raises(KubernetesError, match="needs either type"):
        condition_from_spec({"status": "True"})


def test_paths() -> None:
    assert parse_path("status.loadBalancer.ingress[0].ip") == ["status", "loadBalancer", "ingress", 0, "ip"]
    assert parse_path('metadata.labels["app.kubernetes.io/name"]') == ["metadata", "labels", "app.kubernetes.io/name"]
    assert field_value({"a": [{"b": 1}]}, parse_path("a[0].b")) == (True, 1)
    assert field_value({"a": []}, parse_path("a[0].b")) == (False, None)
    with pytest.raises(KubernetesError, match="not a path"):
        parse_path("a[x")


def test_absent() -> None:
    assert Absent().check(None) == (True, "gone")
    met, seen = Absent().check({"metadata": {"deletionTimestamp": "now", "finalizers": ["f"]}})
    assert not met and seen == "being deleted, finalizers f"
