"""The official ``kubernetes`` Python client (DynamicClient and typed APIs) against the emulator."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError, UnprocessibleEntityError

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "pyclient", "labels": {"app": "api"}},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
             "template": {"metadata": {"labels": {"app": "api"}},
                          "spec": {"containers": [{"name": "api", "image": "registry.example/api:1.0"}]}}},
}


def _namespace(dyn, name: str = "pyclient") -> None:
    dyn.resources.get(api_version="v1", kind="Namespace").create(body={"metadata": {"name": name}})


def _status(error: ApiException) -> dict:
    return json.loads(error.body)


def test_dynamic_client_server_side_apply_and_label_selector(k8s):
    dyn = k8s.dynamic()
    _namespace(dyn)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    applied = deployments.server_side_apply(body=DEPLOYMENT, name="api", namespace="pyclient",
                                            field_manager="atlas-test")
    assert applied.metadata.generation == 1
    assert applied.spec.strategy.type == "RollingUpdate"  # server defaults
    assert applied.metadata.managedFields[0].manager == "atlas-test"
    assert applied.metadata.managedFields[0].operation == "Apply"
    secrets = dyn.resources.get(api_version="v1", kind="Secret")
    secrets.server_side_apply(body={"apiVersion": "v1", "kind": "Secret",
                                    "metadata": {"name": "db", "namespace": "pyclient", "labels": {"app": "api"}},
                                    "stringData": {"password": "hunter2"}},
                              name="db", namespace="pyclient", field_manager="atlas-test")
    listed = secrets.get(namespace="pyclient", label_selector="app=api")
    assert [item.metadata.name for item in listed.items] == ["db"]
    assert base64.b64decode(listed.items[0].data.password) == b"hunter2"
    assert secrets.get(namespace="pyclient", label_selector="app!=api").items == []
    k8s.wait_idle()
    current = deployments.get(name="api", namespace="pyclient")
    conditions = {c.type: c.status for c in current.status.conditions}
    assert conditions["Available"] == "True"
    assert current.status.availableReplicas == 1
    assert current.status.observedGeneration == 1
    counts = k8s.counts()
    assert counts["patch deployments"] == 1 and counts["patch secrets"] == 1
    assert counts["list secrets"] == 2


def test_dynamic_client_errors(k8s):
    dyn = k8s.dynamic()
    _namespace(dyn)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    created = deployments.create(body=DEPLOYMENT, namespace="pyclient")
    stale = created.to_dict()
    deployments.patch(body={"metadata": {"labels": {"tier": "backend"}}}, name="api", namespace="pyclient",
                      content_type="application/merge-patch+json")
    with pytest.raises(ConflictError) as conflict:
        deployments.replace(body=stale, namespace="pyclient")
    body = json.loads(conflict.value.body)
    assert body["code"] == 409 and body["reason"] == "Conflict"
    assert body["details"] == {"name": "api", "group": "apps", "kind": "deployments"}

    with pytest.raises(ConflictError) as exists:
        deployments.create(body=DEPLOYMENT, namespace="pyclient")
    assert json.loads(exists.value.body)["reason"] == "AlreadyExists"

    invalid = json.loads(json.dumps(DEPLOYMENT))
    invalid["metadata"]["name"] = "Not_Valid"
    invalid["spec"]["replicas"] = -1
    with pytest.raises(UnprocessibleEntityError) as unprocessable:
        deployments.create(body=invalid, namespace="pyclient")
    status = json.loads(unprocessable.value.body)
    assert status["reason"] == "Invalid" and status["code"] == 422
    causes = {c["field"]: c for c in status["details"]["causes"]}
    assert causes["metadata.name"]["reason"] == "FieldValueInvalid"
    assert "a lowercase RFC 1123 subdomain" in causes["metadata.name"]["message"]
    assert causes["spec.replicas"]["message"] == "Invalid value: -1: must be greater than or equal to 0"

    with pytest.raises(NotFoundError) as missing:
        deployments.get(name="nope", namespace="pyclient")
    assert json.loads(missing.value.body)["message"] == 'deployments.apps "nope" not found'

    with pytest.raises(NotFoundError) as no_namespace:
        deployments.create(body=dict(DEPLOYMENT, metadata={"name": "x", "namespace": "ghost"}), namespace="ghost")
    assert json.loads(no_namespace.value.body)["message"] == 'namespaces "ghost" not found'


def test_typed_core_v1_api(k8s):
    api = client.CoreV1Api(k8s.api_client())
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="typed")))
    secret = api.create_namespaced_secret("typed", client.V1Secret(
        metadata=client.V1ObjectMeta(name="token", labels={"role": "db"}), string_data={"token": "abc"}))
    assert secret.data == {"token": base64.b64encode(b"abc").decode()}
    assert secret.metadata.uid and secret.metadata.resource_version and secret.metadata.creation_timestamp
    read = api.read_namespaced_secret("token", "typed")
    assert read.type == "Opaque"
    by_field = api.list_namespaced_secret("typed", field_selector="metadata.name=token")
    assert [s.metadata.name for s in by_field.items] == ["token"]
    config_map = api.create_namespaced_config_map("typed", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings"), data={"a": "1"}))
    config_map.data["b"] = "2"
    replaced = api.replace_namespaced_config_map("settings", "typed", config_map)
    assert replaced.data == {"a": "1", "b": "2"}
    with pytest.raises(ApiException) as conflict:
        api.replace_namespaced_config_map("settings", "typed", config_map)  # stale resourceVersion
    assert conflict.value.status == 409
    with pytest.raises(ApiException) as invalid:
        api.create_namespaced_config_map("typed", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="bad"), data={"no spaces allowed": "x"}))
    assert invalid.value.status == 422
    assert _status(invalid.value)["details"]["causes"][0]["field"] == "data[no spaces allowed]"
    service_accounts = api.list_namespaced_service_account("typed")
    assert [sa.metadata.name for sa in service_accounts.items] == ["default"]


def test_wrong_token_gets_401_status(k8s):
    configuration = client.Configuration()
    api_client = k8s.api_client()
    configuration.host = api_client.configuration.host
    configuration.ssl_ca_cert = api_client.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": "Bearer wrong"}
    with pytest.raises(ApiException) as error:
        client.CoreV1Api(client.ApiClient(configuration)).list_namespace()
    assert error.value.status == 401
    assert _status(error.value) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_watch_events(k8s):
    api = client.CoreV1Api(k8s.api_client())
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="watched")))
    start = api.list_namespaced_config_map("watched").metadata.resource_version
    events: list[tuple[str, str, str]] = []
    ready = threading.Event()

    def consume() -> None:
        stream = watch.Watch()
        ready.set()
        for event in stream.stream(api.list_namespaced_config_map, "watched", resource_version=start,
                                   label_selector="watch=me", timeout_seconds=10):
            events.append((event["type"], event["object"].metadata.name, event["object"].data.get("v", "")
                           if event["object"].data else ""))
            if event["type"] == "DELETED":
                stream.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    ready.wait()
    api.create_namespaced_config_map("watched", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="ignored"), data={"v": "0"}))
    api.create_namespaced_config_map("watched", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="seen", labels={"watch": "me"}), data={"v": "1"}))
    api.patch_namespaced_config_map("seen", "watched", {"data": {"v": "2"}})
    api.delete_namespaced_config_map("seen", "watched")
    thread.join(timeout=15)
    assert events == [("ADDED", "seen", "1"), ("MODIFIED", "seen", "2"), ("DELETED", "seen", "2")]
    assert k8s.counts().get("watch configmaps") == 1


def test_custom_resources_through_dynamic_client(k8s):
    dyn = k8s.dynamic()
    _namespace(dyn, "monitoring")
    alertmanagers = dyn.resources.get(api_version="monitoring.coreos.com/v1", kind="Alertmanager")
    body = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
            "metadata": {"name": "main", "namespace": "monitoring"},
            "spec": {"replicas": 3, "clusterLabel": "prod",
                     "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                         {"topologyKey": "kubernetes.io/hostname",
                          "labelSelector": {"matchLabels": {"alertmanager": "main"}}}]}}}}
    created = alertmanagers.server_side_apply(body=body, name="main", namespace="monitoring",
                                              field_manager="atlas-test")
    assert created.spec.replicas == 3 and created.metadata.generation == 1
    status = alertmanagers.status.patch(body={"status": {"availableReplicas": 3, "paused": False,
                                                         "replicas": 3, "updatedReplicas": 3,
                                                         "unavailableReplicas": 0}},
                                        name="main", namespace="monitoring",
                                        content_type="application/merge-patch+json")
    assert status.status.availableReplicas == 3
    assert status.metadata.generation == 1  # status writes do not bump generation
    scaled = alertmanagers.patch(body={"spec": {"replicas": 5}}, name="main", namespace="monitoring",
                                 content_type="application/merge-patch+json")
    assert scaled.metadata.generation == 2
    assert scaled.status.availableReplicas == 3  # main resource writes keep status
    with pytest.raises(UnprocessibleEntityError) as invalid:
        alertmanagers.patch(body={"spec": {"replicas": "five"}}, name="main", namespace="monitoring",
                            content_type="application/merge-patch+json")
    assert json.loads(invalid.value.body)["details"]["causes"][0]["field"] == "spec.replicas"
    vulnerability_reports = dyn.resources.get(api_version="aquasecurity.github.io/v1alpha1",
                                              kind="VulnerabilityReport")
    report = vulnerability_reports.create(namespace="monitoring", body={
        "apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
        "metadata": {"name": "replicaset-web-6d4cf56db6-web", "namespace": "monitoring"},
        "report": {"updateTimestamp": "2026-11-21T10:00:00Z",
                   "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.58.0"},
                   "artifact": {"repository": "library/nginx", "tag": "1.27"},
                   "summary": {"criticalCount": 1, "highCount": 0, "mediumCount": 0, "lowCount": 0,
                               "unknownCount": 0},
                   "vulnerabilities": [{"vulnerabilityID": "CVE-2026-0001", "resource": "openssl",
                                        "installedVersion": "3.0.1", "fixedVersion": "3.0.2",
                                        "severity": "CRITICAL", "title": "example"}]}})
    assert report.report.summary.criticalCount == 1
