"""Local "nothing to do" decision from managedFields (kubernetes_change_detection).

The managedFields below have the shape a real kube-apiserver writes for a server-side apply
(fieldsV1 trie; associative list items as ``k:{...}`` with every key field, including defaulted
ones such as a container port's protocol; metadata.name/namespace never tracked).
"""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.change_detection import (
    dry_run_changes,
    is_up_to_date,
    owned_fields,
)

MANAGER = "atlas-hardening"

APPLIED_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "atlas", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                     "args": ["--quiet"]}]},
        },
    },
}

DEPLOYMENT_FIELDS: dict[str, Any] = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:containers": {'k:{"name":"web"}': {
                ".": {}, "f:name": {}, "f:image": {}, "f:args": {},
                "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
            }}},
        },
    },
}


def live_deployment(fields: dict[str, Any] | None = None, manager: str = MANAGER) -> dict[str, Any]:
    """The applied Deployment as the API server stores it: defaults added, bookkeeping, status."""
    live = copy.deepcopy(APPLIED_DEPLOYMENT)
    live["metadata"].update(uid="1b2c", resourceVersion="41", generation=1, creationTimestamp="2026-11-21T05:00:00Z",
                            managedFields=[
                                {"manager": manager, "operation": "Apply", "apiVersion": "apps/v1",
                                 "time": "2026-11-21T05:00:00Z", "fieldsType": "FieldsV1",
                                 "fieldsV1": fields if fields is not None else copy.deepcopy(DEPLOYMENT_FIELDS)},
                                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
                                 "subresource": "status", "fieldsType": "FieldsV1",
                                 "fieldsV1": {"f:status": {"f:replicas": {}}}},
                            ])
    spec = live["spec"]
    spec.update(strategy={"type": "RollingUpdate"}, revisionHistoryLimit=10, progressDeadlineSeconds=600)
    container = spec["template"]["spec"]["containers"][0]
    container.update(imagePullPolicy="IfNotPresent", terminationMessagePath="/dev/termination-log")
    container["ports"][0]["protocol"] = "TCP"
    spec["template"]["spec"]["restartPolicy"] = "Always"
    live["status"] = {"replicas": 2, "observedGeneration": 1}
    return live


def test_applied_state_already_live_is_up_to_date() -> None:
    assert is_up_to_date(APPLIED_DEPLOYMENT, live_deployment(), MANAGER)


def test_absent_object_is_not_up_to_date() -> None:
    assert not is_up_to_date(APPLIED_DEPLOYMENT, None, MANAGER)


def test_changed_scalar_is_detected() -> None:
    applied = copy.deepcopy(APPLIED_DEPLOYMENT)
    applied["spec"]["replicas"] = 3
    assert not is_up_to_date(applied, live_deployment(), MANAGER)


def test_changed_atomic_list_is_detected() -> None:
    applied = copy.deepcopy(APPLIED_DEPLOYMENT)
    applied["spec"]["template"]["spec"]["containers"][0]["args"] = ["--quiet", "--verbose"]
    assert not is_up_to_date(applied, live_deployment(), MANAGER)


def test_field_dropped_from_manifest_is_a_change() -> None:
    """The manager owns metadata.labels.app; applying without it would remove the label."""
    applied = copy.deepcopy(APPLIED_DEPLOYMENT)
    del applied["metadata"]["labels"]
    assert not is_up_to_date(applied, live_deployment(), MANAGER)


def test_field_not_yet_owned_is_a_change() -> None:
    """Same value already live (set by someone else): applying takes ownership, which is a write."""
    applied = copy.deepcopy(APPLIED_DEPLOYMENT)
    applied["metadata"]["labels"]["tier"] = "front"
    live = live_deployment()
    live["metadata"]["labels"]["tier"] = "front"
    assert not is_up_to_date(applied, live, MANAGER)


def test_other_manager_is_not_us() -> None:
    assert not is_up_to_date(APPLIED_DEPLOYMENT, live_deployment(), "someone-else")
    assert not is_up_to_date(APPLIED_DEPLOYMENT, live_deployment(manager="kubectl"), MANAGER)


def test_update_operation_entry_does_not_count_as_apply() -> None:
    live = live_deployment()
    live["metadata"]["managedFields"][0]["operation"] = "Update"
    assert owned_fields(live, MANAGER) is None
    assert not is_up_to_date(APPLIED_DEPLOYMENT, live, MANAGER)


def test_extra_container_from_another_manager_is_fine() -> None:
    """An injected sidecar is in the live list but owned by someone else."""
    live = live_deployment()
    live["spec"]["template"]["spec"]["containers"].append({"name": "istio-proxy", "image": "proxy:1"})
    assert is_up_to_date(APPLIED_DEPLOYMENT, live, MANAGER)


def test_missing_container_is_detected() -> None:
    live = live_deployment()
    live["spec"]["template"]["spec"]["containers"][0]["name"] = "renamed"
    assert not is_up_to_date(APPLIED_DEPLOYMENT, live, MANAGER)


def test_secret_data_and_types_are_compared_strictly() -> None:
    applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"},
               "type": "Opaque", "data": {"password": "c2VjcmV0"}}
    live = copy.deepcopy(applied)
    live["metadata"]["managedFields"] = [{"manager": MANAGER, "operation": "Apply", "apiVersion": "v1",
                                          "fieldsType": "FieldsV1",
                                          "fieldsV1": {"f:type": {}, "f:data": {".": {}, "f:password": {}}}}]
    assert is_up_to_date(applied, live, MANAGER)
    other = copy.deepcopy(applied)
    other["data"]["password"] = "b3RoZXI="
    assert not is_up_to_date(other, live, MANAGER)


def test_json_types_matter() -> None:
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"},
               "data": {"enabled": "true"}}
    live = copy.deepcopy(applied)
    live["data"]["enabled"] = True
    live["metadata"]["managedFields"] = [{"manager": MANAGER, "operation": "Apply", "apiVersion": "v1",
                                          "fieldsV1": {"f:data": {"f:enabled": {}}}}]
    assert not is_up_to_date(applied, live, MANAGER)


def test_set_list_items() -> None:
    applied = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "namespace": "a", "finalizers": ["example.com/keep"]}}
    live = copy.deepcopy(applied)
    live["metadata"]["managedFields"] = [{"manager": MANAGER, "operation": "Apply", "apiVersion": "v1",
                                          "fieldsV1": {"f:metadata": {"f:finalizers": {
                                              '.': {}, 'v:"example.com/keep"': {}}}}}]
    assert is_up_to_date(applied, live, MANAGER)
    live["metadata"]["finalizers"] = ["other"]
    assert not is_up_to_date(applied, live, MANAGER)


def test_defaults_inside_an_atomic_list_leave_it_to_the_server() -> None:
    """NetworkPolicy ports are an atomic list and get protocol: TCP by default; no local proof."""
    applied = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "n", "namespace": "a"},
               "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}}
    live = copy.deepcopy(applied)
    live["spec"]["ingress"][0]["ports"][0]["protocol"] = "TCP"
    live["metadata"]["managedFields"] = [{"manager": MANAGER, "operation": "Apply",
                                          "apiVersion": "networking.k8s.io/v1",
                                          "fieldsV1": {"f:spec": {"f:podSelector": {}, "f:ingress": {}}}}]
    assert not is_up_to_date(applied, live, MANAGER)


def test_dry_run_comparison_ignores_bookkeeping_only() -> None:
    live = live_deployment()
    same = copy.deepcopy(live)
    same["metadata"]["resourceVersion"] = "42"
    same["metadata"]["managedFields"][0]["time"] = "2026-11-21T06:00:00Z"
    assert not dry_run_changes(live, same)
    changed = copy.deepcopy(same)
    changed["spec"]["replicas"] = 5
    assert dry_run_changes(live, changed)
    owner_changed = copy.deepcopy(same)
    owner_changed["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:paused"] = {}
    assert dry_run_changes(live, owner_changed)


def test_a_status_written_by_a_controller_between_the_read_and_the_dry_run_is_no_change() -> None:
    """The race a Deployment rolling out causes (CI saw it): the live object was read, then the
    controller wrote status (and its status-subresource managed-field entry), then the dry run."""
    live = live_deployment()
    rolled = copy.deepcopy(live)
    rolled["metadata"]["resourceVersion"] = "43"
    rolled["status"] = {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2}
    rolled["metadata"]["managedFields"].append({"manager": "kube-controller-manager", "operation": "Update",
                                                "apiVersion": "apps/v1", "subresource": "status",
                                                "fieldsV1": {"f:status": {"f:replicas": {}}}})
    assert not dry_run_changes(live, rolled, APPLIED_DEPLOYMENT)
    # A manifest that sets a status (a resource without a status subresource) compares it.
    with_status = dict(live, status={"phase": "Ready"})
    assert dry_run_changes(with_status, dict(with_status, status={"phase": "Pending"}), with_status)


def test_name_only_manifest_owns_nothing() -> None:
    """The API server drops a manager whose field set is empty: no entry is the applied state."""
    applied = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "atlas"}}
    live = {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "atlas", "labels": {"kubernetes.io/metadata.name": "atlas"}, "managedFields": []}}
    assert is_up_to_date(applied, live, MANAGER)
    live["metadata"]["managedFields"] = [{"manager": MANAGER, "operation": "Apply", "apiVersion": "v1",
                                          "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}]
    assert not is_up_to_date(applied, live, MANAGER)  # we owned a label: applying would remove it
