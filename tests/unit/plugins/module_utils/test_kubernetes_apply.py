"""The apply helper against the lab's Kubernetes API emulator (server-side apply, managedFields,
dry run, strict validation, watch), counting requests with the emulator's counters."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.apply import (
    ApplyOptions,
    ApplyReport,
    apply_manifests,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import connect
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.diff import HIDDEN_NEW, HIDDEN_OLD
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.events import record_event
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.manifests import ManifestError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import KubernetesWaitTimeout

NS = "atlas-apply"
PASSWORD = "Sup3r-S3cret-Value-71"


def ten_objects(namespace: str = NS, password: str = PASSWORD, replicas: int = 2) -> list[dict[str, Any]]:
    """A typical role's set: ten objects of nine kinds in one new namespace."""
    labels = {"app.kubernetes.io/name": "web"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": namespace}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": namespace},
         "data": {"LOG_LEVEL": "info"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-extra", "namespace": namespace},
         "data": {"FEATURES": "a,b"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-db", "namespace": namespace},
         "type": "Opaque", "stringData": {"password": password}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "serviceAccountName": "web",
                      "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "web-read", "namespace": namespace},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "web-read", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web-read"},
         "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": namespace}]},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "web-ingress", "namespace": namespace},
         "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"],
                  "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]}},
    ]


def objects(k8s: Any) -> KubernetesObjects:
    return KubernetesObjects(connect(k8s.params(), environ={}))


def apply(k8s: Any, manifests: list[dict[str, Any]], **options: Any) -> ApplyReport:
    return apply_manifests(objects(k8s), manifests, ApplyOptions(**options))


def actions(report: ApplyReport) -> list[tuple[str, str]]:
    return [(f"{result.ref.kind}/{result.ref.name}", result.action) for result in report.results]


def test_first_apply_creates_second_writes_nothing(k8s: Any) -> None:
    first = apply(k8s, ten_objects())
    assert first.changed
    assert {pair[1] for pair in actions(first)} == {"created"}
    assert actions(first)[0] == ("Namespace/atlas-apply", "created")
    # One read (the namespace: it is new, so nothing in it is read), one apply per object, and before
    # the first write in the new namespace the published schemas (validate_first): the list and the
    # documents of v1, apps/v1, rbac.authorization.k8s.io/v1 and networking.k8s.io/v1.
    assert k8s.admin.counts() == {"get namespaces": 1, "patch namespaces": 1, "patch serviceaccounts": 1,
                                  "patch configmaps": 2, "patch secrets": 1, "patch services": 1,
                                  "patch deployments": 1, "patch roles": 1, "patch rolebindings": 1,
                                  "patch networkpolicies": 1, "get openapi": 5}
    assert first.api_requests == {"GET": 6, "PATCH": 10}

    k8s.admin.reset_requests()
    second = apply(k8s, ten_objects())
    assert not second.changed
    assert {pair[1] for pair in actions(second)} == {"unchanged"}
    assert k8s.writes() == {}
    # No dry run either: every object is proven up to date from its managedFields.
    assert not any(kind.endswith("(dry-run)") for kind in k8s.admin.counts())
    # One read per kind and namespace; the two ConfigMaps share one LIST.
    assert k8s.admin.counts() == {"get namespaces": 1, "get serviceaccounts": 1, "list configmaps": 1,
                                  "get secrets": 1, "get services": 1, "get deployments": 1, "get roles": 1,
                                  "get rolebindings": 1, "get networkpolicies": 1}
    assert second.api_requests == {"GET": 9}


def test_check_mode_writes_nothing(k8s: Any) -> None:
    report = apply(k8s, ten_objects(), check_mode=True, diff=True)
    assert {pair[1] for pair in actions(report)} == {"created"}
    assert k8s.writes() == {}
    assert objects(k8s).get(ObjectRef("v1", "Namespace", NS)) is None
    # The objects of the new namespace cannot be dry-run (their namespace does not exist yet): said so.
    assert "not validated by the API server in check mode, its namespace atlas-apply is new" in report.results[1].warnings[0]

    apply(k8s, ten_objects())
    changed = ten_objects(replicas=3)
    k8s.admin.reset_requests()
    report = apply(k8s, changed, check_mode=True, diff=True)
    assert [pair for pair in actions(report) if pair[1] != "unchanged"] == [("Deployment/web", "updated")]
    assert k8s.writes() == {}
    assert k8s.admin.counts()["patch deployments (dry-run)"] == 1
    live = objects(k8s).get(ObjectRef("apps/v1", "Deployment", "web", NS))
    assert live is not None and live["spec"]["replicas"] == 2
    assert report.diffs[0]["before"]["spec"]["replicas"] == 2 and report.diffs[0]["after"]["spec"]["replicas"] == 3


def test_a_change_is_one_dry_run_and_one_write(k8s: Any) -> None:
    apply(k8s, ten_objects())
    manifests = ten_objects()
    manifests[2]["data"]["LOG_LEVEL"] = "debug"
    k8s.admin.reset_requests()
    report = apply(k8s, manifests)
    assert [pair for pair in actions(report) if pair[1] != "unchanged"] == [("ConfigMap/web-config", "updated")]
    assert k8s.writes() == {"patch configmaps": 1}
    assert k8s.admin.counts()["patch configmaps (dry-run)"] == 1
    live = objects(k8s).get(ObjectRef("v1", "ConfigMap", "web-config", NS))
    assert live is not None and live["data"] == {"LOG_LEVEL": "debug"}


def test_field_removed_from_the_manifest_is_removed_live(k8s: Any) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default",
                                                                      "labels": {"team": "platform"}},
                "data": {"a": "1", "b": "2"}}
    apply(k8s, [manifest])
    smaller = copy.deepcopy(manifest)
    del smaller["metadata"]["labels"]
    del smaller["data"]["b"]
    report = apply(k8s, [smaller])
    assert actions(report) == [("ConfigMap/c", "updated")]
    live = objects(k8s).get(ObjectRef("v1", "ConfigMap", "c", "default"))
    assert live is not None and live["data"] == {"a": "1"} and "team" not in (live["metadata"].get("labels") or {})
    k8s.admin.reset_requests()
    assert not apply(k8s, [smaller]).changed
    assert k8s.writes() == {}


def test_secret_diff_and_results_never_show_values(k8s: Any) -> None:
    created = apply(k8s, ten_objects(), diff=True)
    rotated = apply(k8s, ten_objects(password="N3w-Rotated-Value-99"), diff=True)
    assert actions(rotated)[4] == ("Secret/web-db", "updated")
    secret_diff = [entry for entry in rotated.diffs if entry["before_header"] == f"Secret {NS}/web-db"][0]
    assert secret_diff["before"]["data"] == {"password": HIDDEN_OLD}
    assert secret_diff["after"]["data"] == {"password": HIDDEN_NEW}
    output = json.dumps([created.diffs, created.result_dicts(), rotated.diffs, rotated.result_dicts()])
    for value in (PASSWORD, "N3w-Rotated-Value-99"):
        assert value not in output
        assert base64.b64encode(value.encode()).decode() not in output
    # Every form of both values is handed to no_log.
    assert {PASSWORD, "N3w-Rotated-Value-99", base64.b64encode(PASSWORD.encode()).decode()} <= rotated.secret_values


def test_conflict_with_another_manager_and_force(k8s: Any) -> None:
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "default"},
              "data": {"mode": "theirs"}}
    apply(k8s, [theirs], field_manager="helm")
    ours = copy.deepcopy(theirs)
    ours["data"]["mode"] = "ours"
    with pytest.raises(KubernetesError) as error:
        apply(k8s, [ours])
    message = str(error.value)
    assert message.startswith("Applying ConfigMap default/shared conflicts with another field manager: ")
    assert '"helm"' in message and ".data.mode" in message
    assert message.endswith("leave them out of the manifest, or set force_conflicts: true to make "
                            "'atlas-hardening' take them over.")
    assert k8s.writes() == {"patch configmaps": 1}  # only helm's apply
    report = apply(k8s, [ours], force_conflicts=True)
    assert actions(report) == [("ConfigMap/shared", "updated")]
    live = objects(k8s).get(ObjectRef("v1", "ConfigMap", "shared", "default"))
    assert live is not None and live["data"]["mode"] == "ours"
    assert not apply(k8s, [ours]).changed


def test_unknown_field_is_an_error(k8s: Any) -> None:
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "typo", "namespace": "default"},
           "spec": {"replicaz": 2, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    with pytest.raises(KubernetesError) as error:
        apply(k8s, [bad])
    message = str(error.value)
    assert message.startswith("The Kubernetes API server rejected Deployment default/typo: ")
    assert ".spec.replicaz: field not declared in schema" in message
    assert message.endswith("Fix the manifest (field validation is Strict: unknown or misspelled fields are errors).")
    assert k8s.admin.counts() == {"get deployments": 1, "patch deployments": 1}  # the rejected apply
    assert objects(k8s).get(ObjectRef("apps/v1", "Deployment", "typo", "default")) is None
    assert error.value.details["results"] == []


def test_failure_half_way_reports_what_was_done(k8s: Any) -> None:
    manifests = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "first", "namespace": "default"}},
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "second", "namespace": "nowhere"}}]
    with pytest.raises(KubernetesError) as error:
        apply(k8s, manifests, validate_first="dry_run")
    assert str(error.value) == ("1 of the 2 objects to write would be refused, so none of them was written: "
                                "Validating ConfigMap nowhere/second failed: namespace 'nowhere' does not exist. Add "
                                "the Namespace to the same set of manifests (it is applied first) or create it "
                                "beforehand.")
    assert error.value.details["results"] == []
    with pytest.raises(KubernetesError) as error:  # the schema cannot know: the write fails part-way
        apply(k8s, manifests)
    assert str(error.value) == ("Applying ConfigMap nowhere/second failed: namespace 'nowhere' does not exist. Add "
                                "the Namespace to the same set of manifests (it is applied first) or create it "
                                "beforehand. Written before the failure: ConfigMap default/first (created); run the "
                                "task again once the failure is fixed.")
    assert [(r["name"], r["action"]) for r in error.value.details["results"]] == [("first", "created")]


def test_bad_manifests(k8s: Any) -> None:
    with pytest.raises(KubernetesError, match="does not serve apiVersion 'example.com/v9'"):
        apply(k8s, [{"apiVersion": "example.com/v9", "kind": "Thing", "metadata": {"name": "x"}}])
    with pytest.raises(ManifestError, match=r"ConfigMap default/a appears twice in the set \(manifests #1 and #2\)"):
        apply(k8s, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}}] * 2)
    with pytest.raises(ManifestError, match="no default namespace"):
        apply(k8s, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}])
    assert k8s.writes() == {}


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.atlas.example"},
    "spec": {"group": "atlas.example", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {
                     "size": {"type": "integer"}}}}}}}]},
}
WIDGET = {"apiVersion": "atlas.example/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"},
          "spec": {"size": 3}}


def test_crd_and_its_objects_in_one_set(k8s: Any) -> None:
    preview = apply(k8s, [WIDGET, CRD], check_mode=True)
    assert actions(preview) == [("CustomResourceDefinition/widgets.atlas.example", "created"), ("Widget/w", "created")]
    assert "its CustomResourceDefinition widgets.atlas.example is new" in preview.results[1].warnings[0]
    assert k8s.writes() == {}

    report = apply(k8s, [WIDGET, CRD])
    assert actions(report) == [("CustomResourceDefinition/widgets.atlas.example", "created"), ("Widget/w", "created")]
    assert not any(kind == "get discovery" for kind in k8s.admin.counts())  # the kind came from the CRD itself
    k8s.admin.reset_requests()
    assert not apply(k8s, [WIDGET, CRD]).changed
    assert k8s.writes() == {}
    bad = copy.deepcopy(WIDGET)
    bad["spec"]["colour"] = "red"
    with pytest.raises(KubernetesError, match="rejected Widget default/w: .*colour"):
        apply(k8s, [bad])


def test_state_absent(k8s: Any) -> None:
    apply(k8s, ten_objects())
    preview = apply(k8s, ten_objects(), state="absent", check_mode=True)
    assert {pair[1] for pair in actions(preview)} == {"deleted"}
    assert k8s.writes() == {"patch namespaces": 1, "patch serviceaccounts": 1, "patch configmaps": 2,
                            "patch secrets": 1, "patch services": 1, "patch deployments": 1, "patch roles": 1,
                            "patch rolebindings": 1, "patch networkpolicies": 1}  # the apply above only
    k8s.admin.reset_requests()
    report = apply(k8s, ten_objects(), state="absent", wait=True, wait_timeout=30)
    assert actions(report)[0] == ("NetworkPolicy/web-ingress", "deleted")  # reverse order: Namespace last
    assert actions(report)[-1] == ("Namespace/atlas-apply", "deleted")
    assert sum(count for kind, count in k8s.writes().items() if kind.startswith("delete")) == 10
    assert objects(k8s).get(ObjectRef("v1", "Namespace", NS)) is None
    k8s.admin.reset_requests()
    again = apply(k8s, ten_objects(), state="absent")
    assert not again.changed and k8s.writes() == {}


def test_wait_for_readiness_and_timeout_message(k8s: Any) -> None:
    report = apply(k8s, ten_objects(), wait=True, wait_timeout=30)
    assert report.changed
    live = objects(k8s).get(ObjectRef("apps/v1", "Deployment", "web", NS))
    assert live is not None and live["status"]["availableReplicas"] == 2
    k8s.admin.reset_requests()
    # Everything is ready and unchanged: waiting costs nothing more than the reads.
    apply(k8s, ten_objects(), wait=True, wait_timeout=30)
    assert not any(kind.startswith("watch") for kind in k8s.admin.counts())
    with pytest.raises(KubernetesWaitTimeout) as error:
        apply(k8s, ten_objects()[:1] + ten_objects()[6:7], wait=True, wait_timeout=1,
              wait_condition={"field": "status.phase", "value": "Never", "kind": "Deployment"})
    assert str(error.value) == (
        f"Timed out after 1 s waiting for 1 object(s): Deployment {NS}/web to have status.phase == 'Never' "
        "(last seen: status.phase unset). Check the objects' events and controllers (kubectl describe), or raise "
        "wait_timeout.")


def test_record_event(k8s: Any) -> None:
    apply(k8s, ten_objects())
    api = objects(k8s)
    secret = api.get(ObjectRef("v1", "Secret", "web-db", NS))
    assert secret is not None
    record_event(api, secret, "Rotated", "password rotated by atlas.hardening", dry_run=True)
    assert k8s.writes() == {"patch namespaces": 1, "patch serviceaccounts": 1, "patch configmaps": 2,
                            "patch secrets": 1, "patch services": 1, "patch deployments": 1, "patch roles": 1,
                            "patch rolebindings": 1, "patch networkpolicies": 1}
    response = record_event(api, secret, "Rotated", "password rotated by atlas.hardening")
    assert response.status == 201
    # The emulator's Deployment controller records its own events (ScalingReplicaSet) in the namespace.
    events = [e for e in api.list(api.resource("v1", "Event"), NS)[0] if e["involvedObject"]["kind"] == "Secret"]
    assert [(e["reason"], e["involvedObject"]["uid"]) for e in events] == [("Rotated", secret["metadata"]["uid"])]


@pytest.fixture
def slow_controllers(tmp_path: Any) -> Any:
    """An emulator of its own whose simulated pods become ready 1.5 s after creation."""
    from atlas_lab.core.admin_client import LabAdminClient  # pylint: disable=import-error,import-outside-toplevel
    from atlas_lab.services.kubernetes import create_app, start  # pylint: disable=import-error,import-outside-toplevel

    running = start(create_app(token="slow-controllers-token", load_crds=False, ready_delay=1.5), tmp_path)
    try:
        yield running, LabAdminClient(running.url, ca_file=str(running.ca_file))
    finally:
        running.stop()


STATEFULSET = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
               "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                        "template": {"metadata": {"labels": {"app": "db"}},
                                     "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}}}}


def test_wait_watches_until_ready(slow_controllers: Any) -> None:
    running, admin = slow_controllers
    api = KubernetesObjects(connect({"k8s_kubeconfig": str(running.kubeconfig)}, environ={}))
    report = apply_manifests(api, [STATEFULSET], ApplyOptions(wait=True, wait_timeout=30))
    assert actions(report) == [("StatefulSet/db", "created")]
    live = api.get(ObjectRef("apps/v1", "StatefulSet", "db", "default"))
    assert live is not None and live["status"]["readyReplicas"] == 2
    counts = admin.counts()
    # Read, apply, then watch (no polling): the watch streamed the changes until ready.
    assert counts["get statefulsets"] == 2 and counts["patch statefulsets"] == 1  # the read, and the check above
    assert 1 <= counts["watch statefulsets"] <= 2


def test_wait_timeout_says_what_it_last_saw(slow_controllers: Any) -> None:
    running, _admin = slow_controllers
    api = KubernetesObjects(connect({"k8s_kubeconfig": str(running.kubeconfig)}, environ={}))
    with pytest.raises(KubernetesWaitTimeout) as error:
        apply_manifests(api, [STATEFULSET], ApplyOptions(wait=True, wait_timeout=1))
    assert str(error.value).startswith("Timed out after 1 s waiting for 1 object(s): StatefulSet default/db to have "
                                       "every replica ready (last seen: 0/2 ready replicas")
    assert error.value.details["results"][0]["action"] == "created"


# ---------------------------------------------------------------------------------------------
# update_only: objects another tool owns are updated, never created
def _configmap(name: str, value: str, namespace: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"key": value}}


def test_update_only_refuses_a_missing_object_before_any_write(k8s: Any) -> None:
    connection = connect(k8s.params(), environ={})
    with pytest.raises(ManifestError, match="ConfigMap default/absent-cm does not exist.*Nothing was written"):
        apply_manifests(connection, [_configmap("other-cm", "a"), _configmap("absent-cm", "b")],
                        ApplyOptions(update_only=("ConfigMap",)))
    assert k8s.writes() == {}


def test_update_only_never_recreates_an_object_deleted_during_the_run(k8s: Any) -> None:
    connection = connect(k8s.params(), environ={})
    apply_manifests(connection, [_configmap("vanishing-cm", "a")])
    objects = KubernetesObjects(connection)
    real_apply = objects.apply

    def delete_first(manifest: dict[str, Any], **kwargs: Any) -> Any:
        if not kwargs.get("dry_run"):
            objects.delete(ObjectRef("v1", "ConfigMap", "vanishing-cm", "default"))
        return real_apply(manifest, **kwargs)

    objects.apply = delete_first  # type: ignore[method-assign]
    with pytest.raises(ManifestError, match="was deleted while it was being updated"):
        apply_manifests(objects, [_configmap("vanishing-cm", "b")], ApplyOptions(update_only=("ConfigMap",)))
    assert objects.get(ObjectRef("v1", "ConfigMap", "vanishing-cm", "default")) is None


def test_update_only_reads_again_when_a_controller_updated_the_object(k8s: Any) -> None:
    connection = connect(k8s.params(), environ={})
    apply_manifests(connection, [_configmap("busy-cm", "a")])
    objects = KubernetesObjects(connection)
    real_apply = objects.apply
    bumped = {"done": False}

    def bump_first(manifest: dict[str, Any], **kwargs: Any) -> Any:
        if not bumped["done"]:
            bumped["done"] = True  # someone else writes between our read and our apply
            real_apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "busy-cm", "namespace": "default", "labels": {"touched": "yes"}}},
                       field_manager="someone-else")
        return real_apply(manifest, **kwargs)

    objects.apply = bump_first  # type: ignore[method-assign]
    report = apply_manifests(objects, [_configmap("busy-cm", "b")], ApplyOptions(update_only=("ConfigMap",)))
    assert [result.action for result in report.results] == ["updated"]
    assert objects.get(ObjectRef("v1", "ConfigMap", "busy-cm", "default"))["data"] == {"key": "b"}


def test_create_only_creates_a_missing_object_and_leaves_an_existing_one_alone(k8s: Any) -> None:
    connection = connect(k8s.params(), environ={})
    labelled = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "created-only", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    first = apply_manifests(connection, [labelled], ApplyOptions(create_only=("Namespace",)))
    assert [result.action for result in first.results] == ["created"]
    k8s.admin.reset_requests()
    objects = KubernetesObjects(connection)
    live = objects.get(ObjectRef("v1", "Namespace", "default"))
    existing = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "default", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    second = apply_manifests(connection, [existing], ApplyOptions(create_only=("Namespace",)))
    assert [result.action for result in second.results] == ["unchanged"]
    assert k8s.writes() == {}
    assert objects.get(ObjectRef("v1", "Namespace", "default"))["metadata"].get("labels") == live["metadata"].get("labels")


def _mismatched_deployment(name: str = "bad", namespace: str = "default") -> dict[str, Any]:
    """Valid for the schema, refused by the API server's semantic validation (selector vs template labels)."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "other"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def test_a_set_with_an_object_its_schema_refuses_writes_nothing(k8s: Any) -> None:
    """Checked against the published schemas before the first write: every refusal in one message, no
    value in it, and no request per object."""
    connection = connect(k8s.params(), environ={})
    typo = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typo", "namespace": "default"},
            "datta": {"a": "b"}}
    wrong = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad", "namespace": "default"},
             "spec": {"replicas": "two", "template": {"spec": {"containers": [{"image": "busybox", "tty": "yes"}]}}}}
    with pytest.raises(KubernetesError) as raised:
        apply_manifests(connection, [_configmap("would-be-first", "a"), wrong, typo])
    message = str(raised.value)
    assert message == (
        "2 of the 3 objects to write would be refused, so none of them was written: Deployment default/bad does "
        "not match the schema the API server publishes for apps/v1 Deployment: spec.selector is required; "
        "spec.replicas must be an integer, not a string; spec.template.spec.containers[0].name is required; "
        "spec.template.spec.containers[0].tty must be a boolean, not a string. ConfigMap default/typo does not "
        "match the schema the API server publishes for v1 ConfigMap: datta is not a field the API server knows "
        "here.")
    assert raised.value.details["results"] == []
    assert k8s.admin.counts() == {"list configmaps": 1, "get deployments": 1, "get openapi": 3}
    # Cached by content hash: the next run fetches the list only.
    k8s.admin.reset_requests()
    with pytest.raises(KubernetesError):
        apply_manifests(connection, [_configmap("would-be-first", "a"), wrong, typo])
    assert k8s.admin.counts() == {"list configmaps": 1, "get deployments": 1, "get openapi": 1}


def test_a_set_with_an_object_the_server_refuses_writes_nothing(k8s: Any) -> None:
    """validate_first=dry_run: every object that would change is dry-run before the first write, which
    also catches what no schema says (semantic validation); all refusals in one message."""
    connection = connect(k8s.params(), environ={})
    typo = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typo", "namespace": "default"},
            "datta": {"a": "b"}}
    with pytest.raises(KubernetesError) as raised:
        apply_manifests(connection, [_configmap("would-be-first", "a"), _mismatched_deployment(), typo],
                        ApplyOptions(validate_first="dry_run"))
    message = str(raised.value)
    assert message.startswith("2 of the 3 objects to write would be refused, so none of them was written: "
                              "The Kubernetes API server rejected Deployment default/bad: "), message
    assert "selector` does not match template `labels`" in message and "ConfigMap default/typo" in message
    assert "Written before the failure" not in message
    assert raised.value.details["results"] == []
    # One dry run per object, no write.
    assert k8s.admin.counts() == {"list configmaps": 1, "get deployments": 1, "patch configmaps (dry-run)": 2,
                                  "patch deployments (dry-run)": 1}
    assert objects(k8s).get(ObjectRef("v1", "ConfigMap", "would-be-first", "default")) is None


def test_objects_of_a_new_namespace_are_validated_once_it_exists(k8s: Any) -> None:
    """The Namespace level is written first (its objects cannot be dry-run before): exactly that is
    reported, and the next run, manifest fixed, completes."""
    connection = connect(k8s.params(), environ={})
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh-ns"}}
    with pytest.raises(KubernetesError) as raised:
        apply_manifests(connection, [namespace, _configmap("cm", "a", "fresh-ns"),
                                     _mismatched_deployment("web", "fresh-ns")], ApplyOptions(validate_first="dry_run"))
    message = str(raised.value)
    assert message.startswith("1 of the 2 objects to write would be refused, so none of them was written: ")
    assert message.endswith("Written before the failure: Namespace fresh-ns (created); run the task again once "
                            "the failure is fixed.")
    assert objects(k8s).get(ObjectRef("v1", "ConfigMap", "cm", "fresh-ns")) is None
    fixed = _mismatched_deployment("web", "fresh-ns")
    fixed["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    report = apply_manifests(connection, [namespace, _configmap("cm", "a", "fresh-ns"), fixed],
                             ApplyOptions(validate_first="dry_run"))
    assert [result.action for result in report.results] == ["unchanged", "created", "created"]


def test_a_single_object_to_write_is_not_dry_run_first(k8s: Any) -> None:
    connection = connect(k8s.params(), environ={})
    apply_manifests(connection, [_configmap("alone", "a")])
    assert k8s.admin.counts() == {"get configmaps": 1, "patch configmaps": 1}


def test_a_failure_part_way_names_exactly_what_was_written(k8s: Any) -> None:
    """Without validate_first (or for a refusal the dry run could not foresee) the error lists the writes."""
    connection = connect(k8s.params(), environ={})
    good = _configmap("written-first", "a")
    bad = _mismatched_deployment()
    with pytest.raises(KubernetesError) as raised:
        apply_manifests(connection, [good, bad], ApplyOptions(validate_first="none"))
    message = str(raised.value)
    assert message.endswith("Written before the failure: ConfigMap default/written-first (created); run the task "
                            "again once the failure is fixed.")
    assert [(r["name"], r["action"]) for r in raised.value.details["results"]] == [("written-first", "created")]


def _configmaps(count: int, prefix: str = "cm") -> list[dict[str, Any]]:
    return [_configmap(f"{prefix}-{index:02d}", str(index)) for index in range(count)]


@pytest.mark.parametrize("limit", [1, 3])
def test_writes_never_exceed_the_concurrency_bound(k8s: Any, limit: int) -> None:
    """Each write held 50 ms by the emulator, so that requests overlap whenever the client lets them."""
    k8s.admin.add_fault("delay", kind="patch configmaps", delay=0.05, count=100)
    k8s.admin.reset_requests()
    report = apply(k8s, _configmaps(12), concurrency=limit)
    assert [result.ref.name for result in report.results] == [f"cm-{index:02d}" for index in range(12)]
    peak = k8s.admin.peak_in_flight()
    assert peak <= limit and (peak > 1) is (limit > 1), peak  # bounded, and concurrent when allowed


def test_a_failure_with_writes_in_flight_lists_exactly_what_was_written(k8s: Any) -> None:
    k8s.admin.add_fault("error", kind="patch configmaps", path="/cm-04$", status=500,
                        body={"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500,
                              "reason": "InternalError", "message": "etcd timeout"})
    k8s.admin.add_fault("delay", kind="patch configmaps", delay=0.05, count=100)  # the first matching rule acts
    with pytest.raises(KubernetesError) as raised:
        apply(k8s, _configmaps(12), concurrency=3)
    reader = objects(k8s)
    stored = reader.list(reader.resource("v1", "ConfigMap"), "default")[0]
    live = {item["metadata"]["name"] for item in stored if item["metadata"]["name"].startswith("cm-")}
    reported = {result["name"] for result in raised.value.details["results"]}
    assert reported == live and "cm-04" not in live
    assert all(f"ConfigMap default/{name} (created)" in str(raised.value) for name in live)
    assert len(live) < 11  # no new write started after the failure


def test_a_certain_change_is_written_without_a_dry_run_first(k8s: Any) -> None:
    """replicas 2 -> 3 cannot be a no-op: one PATCH. A changed string may be one (a Quantity is stored
    normalised): dry run first, then the write."""
    deployment = next(obj for obj in ten_objects() if obj["kind"] == "Deployment")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    apply(k8s, [namespace, deployment])
    scaled = copy.deepcopy(deployment)
    scaled["spec"]["replicas"] = 3
    k8s.admin.reset_requests()
    assert actions(apply(k8s, [namespace, scaled]))[1] == ("Deployment/web", "updated")
    assert k8s.admin.counts() == {"get namespaces": 1, "get deployments": 1, "patch deployments": 1}

    upgraded = copy.deepcopy(scaled)
    upgraded["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    k8s.admin.reset_requests()
    assert actions(apply(k8s, [namespace, upgraded]))[1] == ("Deployment/web", "updated")
    assert k8s.admin.counts() == {"get namespaces": 1, "get deployments": 1, "patch deployments (dry-run)": 1,
                                  "patch deployments": 1}

    # The same CPU written otherwise: stored as "500m" either way, so the dry run shows no change.
    upgraded["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "500m"}}
    apply(k8s, [namespace, upgraded])
    same_cpu = copy.deepcopy(upgraded)
    same_cpu["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": 0.5}}
    k8s.admin.reset_requests()
    assert actions(apply(k8s, [namespace, same_cpu]))[1] == ("Deployment/web", "unchanged")
    assert k8s.writes() == {}


def _two_kinds(count: int) -> list[dict[str, Any]]:
    """``count`` ConfigMaps and ``count`` ServiceAccounts in the namespace NS (created first)."""
    namespace = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}]
    accounts = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"sa-{index:02d}", "namespace": NS}}
                for index in range(count)]
    configmaps = [_configmap(f"cm-{index:02d}", str(index), NS) for index in range(count)]
    return namespace + configmaps + accounts


@pytest.mark.parametrize("count", [5, 25])
def test_request_counts_first_apply_at_most_n_plus_kinds_and_a_rerun_that_does_not_grow(k8s: Any, count: int) -> None:
    """Issue 15's request targets, counted (not timed): a first apply sends one write per object and one
    read per kind (the objects of the namespace it creates are not read), plus, to validate against the
    published schemas, the OpenAPI v3 index and one document per group version (cached by hash across
    runs); a re-run with nothing to change sends the same requests whatever N is, and writes nothing."""
    manifests = _two_kinds(count)  # kinds: Namespace, ConfigMap, ServiceAccount
    k8s.admin.reset_requests()
    apply(k8s, manifests, validate_first="none")
    first = k8s.admin.counts()
    assert sum(first.values()) == len(manifests) + 1, first  # N writes + the Namespace's GET
    k8s.app.reset()
    k8s.admin.reset_requests()
    apply(k8s, manifests)
    validated = k8s.admin.counts()
    assert validated.get("get openapi", 0) == 2 and sum(validated.values()) == len(manifests) + 1 + 2, validated
    k8s.admin.reset_requests()
    report = apply(k8s, manifests)
    assert not report.changed
    rerun = k8s.admin.counts()
    assert k8s.writes() == {}
    # The Namespace's GET and one LIST per kind in that namespace (nothing to write: nothing validated),
    # one request per kind whatever N is.
    assert rerun == {"get namespaces": 1, "list configmaps": 1, "list serviceaccounts": 1}, rerun
