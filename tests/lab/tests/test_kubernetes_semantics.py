"""API semantics of the emulator that the collection relies on, checked over HTTP.

Plain HTTP requests (urllib with the lab CA) show exactly what the server answers: status codes,
Status bodies, Warning headers, managedFields, watch lines, Table documents.
"""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from atlas_lab.services.kubernetes import Controller, ControllerContext, ControllerEvent
from atlas_lab.services.kubernetes.app import writes


class Http:
    def __init__(self, k8s, token: str | None = None):
        self.base = k8s.server.url
        self.token = token if token is not None else k8s.server.token
        self.context = ssl.create_default_context(cafile=str(k8s.server.ca_file))

    def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
             accept: str = "application/json", raw: bool = False) -> tuple[int, Any, dict[str, str]]:
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {self.token}", "Accept": accept,
                                                  "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=20) as response:
                data = response.read()
                return response.status, data.decode() if raw else _decode(data), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read()), dict(error.headers)


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode()


CM = "/api/v1/namespaces/default/configmaps"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def _deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": "busybox:1.36",
                                                           "env": [{"name": "A", "value": "1"}]}]}}}}
    body["spec"].update(spec)
    return body


def _apply(http: Http, path: str, body: dict[str, Any], manager: str, force: bool = False,
           dry_run: bool = False) -> tuple[int, Any, dict[str, str]]:
    query = f"?fieldManager={manager}" + ("&force=true" if force else "") + ("&dryRun=All" if dry_run else "")
    return http.call("PATCH", path + query, json.dumps(body), "application/apply-patch+yaml")


def test_field_validation_modes(k8s):
    http = Http(k8s)
    body = {"metadata": {"name": "cfg"}, "data": {"a": "1"}, "bogus": True}
    status, error, _headers = http.call("POST", CM + "?fieldValidation=Strict", body)
    assert status == 400 and error["reason"] == "BadRequest"
    assert error["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
                                'error: unknown field "bogus"')
    status, created, headers = http.call("POST", CM, body)  # no parameter: the server default is Warn
    assert status == 201 and "bogus" not in created
    assert headers["Warning"] == '299 - "unknown field \\"bogus\\""'
    status, _body, headers = http.call("PUT", CM + "/cfg?fieldValidation=Ignore", dict(body, data={"a": "2"}))
    assert status == 200 and "Warning" not in headers
    status, error, _headers = http.call("PATCH", CM + "/cfg?fieldValidation=Strict", {"bogus": 1},
                                        "application/merge-patch+json")
    assert status == 422
    assert error["details"]["causes"][0]["field"] == "patch"
    assert 'strict decoding error: unknown field "bogus"' in error["message"]


def test_type_errors_of_builtin_kinds_are_decode_errors(k8s):
    http = Http(k8s)
    status, error, _headers = http.call("POST", DEPLOYMENTS, _deployment(replicas="two"))
    assert status == 400
    assert error["message"] == ('Deployment in version "v1" cannot be handled as a Deployment: json: cannot '
                                'unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32')
    status, error, _headers = http.call("POST", "/api/v1/namespaces/default/secrets",
                                        {"metadata": {"name": "s"}, "data": {"k": "not base64!"}})
    assert status == 400 and "illegal base64 data at input byte 3" in error["message"]


def test_strategic_merge_patch_uses_merge_keys(k8s):
    http = Http(k8s)
    deployment = _deployment()
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "name": "http"}]
    deployment["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    assert http.call("POST", DEPLOYMENTS, deployment)[0] == 201
    patch = {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "changed"}],
                        "ports": [{"containerPort": 9090, "name": "metrics"}]},
                       {"name": "sidecar", "image": "envoy:1"}],
        "volumes": [{"name": "cache", "emptyDir": {}}]}}}}
    status, patched, _headers = http.call("PATCH", DEPLOYMENTS + "/web", patch, "application/strategic-merge-patch+json")
    assert status == 200
    spec = patched["spec"]["template"]["spec"]
    main = spec["containers"][0]
    assert [c["name"] for c in spec["containers"]] == ["main", "sidecar"]
    assert main["image"] == "busybox:1.36"
    assert main["env"] == [{"name": "A", "value": "changed"}, {"name": "B", "value": "2"}]
    assert [p["containerPort"] for p in main["ports"]] == [80, 9090]
    assert [v["name"] for v in spec["volumes"]] == ["data", "cache"]
    delete = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    _code, patched, _headers = http.call("PATCH", DEPLOYMENTS + "/web", delete, "application/strategic-merge-patch+json")
    assert [c["name"] for c in patched["spec"]["template"]["spec"]["containers"]] == ["main"]
    status, error, _headers = http.call("PATCH", "/apis/monitoring.coreos.com/v1/namespaces/default/alertmanagers/x",
                                        {"spec": {}}, "application/strategic-merge-patch+json")
    assert status == 415 and error["reason"] == "UnsupportedMediaType"


def test_server_side_apply_ownership_conflicts_and_pruning(k8s):
    http = Http(k8s)
    deployment = _deployment()
    deployment["metadata"]["labels"]["owner"] = "alice"
    status, created, _headers = _apply(http, DEPLOYMENTS + "/web", deployment, "alice")
    assert status == 201
    assert created["metadata"]["managedFields"][0]["manager"] == "alice"
    # Another applier changing a field alice owns: 409 with one cause per field.
    theirs = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "main", "image": "busybox:2"}]}}}}
    status, error, _headers = _apply(http, DEPLOYMENTS + "/web", theirs, "bob")
    assert status == 409 and error["reason"] == "Conflict"
    assert sorted(c["field"] for c in error["details"]["causes"]) == [
        ".spec.replicas", '.spec.template.spec.containers[name="main"].image']
    assert error["details"]["causes"][0]["message"] == 'conflict with "alice"'
    assert error["message"].startswith('Apply failed with 2 conflicts: conflicts with "alice":')
    # Same value: shared ownership, no conflict.
    shared = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1}}
    assert _apply(http, DEPLOYMENTS + "/web", shared, "bob")[0] == 200
    # Force takes the fields over.
    status, forced, _headers = _apply(http, DEPLOYMENTS + "/web", theirs, "bob", force=True)
    assert status == 200 and forced["spec"]["replicas"] == 3
    alice = next(m for m in forced["metadata"]["managedFields"] if m["manager"] == "alice")
    assert "f:replicas" not in alice["fieldsV1"]["f:spec"]
    # alice stops applying her label: it is removed; bob's fields stay.
    without_label = json.loads(json.dumps(deployment))
    del without_label["metadata"]["labels"]["owner"]
    del without_label["spec"]["replicas"]
    without_label["spec"]["template"]["spec"]["containers"][0].pop("image")
    status, pruned, _headers = _apply(http, DEPLOYMENTS + "/web", without_label, "alice")
    assert status == 200, pruned
    assert "owner" not in pruned["metadata"]["labels"]
    assert pruned["spec"]["replicas"] == 3
    assert pruned["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:2"
    # An Update manager (kubectl edit, Helm) takes fields without conflict; the applier then conflicts.
    status, _body, _headers = http.call("PATCH", DEPLOYMENTS + "/web?fieldManager=helm", {"spec": {"replicas": 7}},
                                        "application/merge-patch+json")
    assert status == 200
    status, error, _headers = _apply(http, DEPLOYMENTS + "/web", theirs, "bob")
    assert status == 409 and 'conflict with "helm" using apps/v1' in error["message"]
    status, error, _headers = _apply(http, DEPLOYMENTS + "/web", theirs, "")
    assert status == 422 and "fieldManager: Required value: is required for apply patch" in error["message"]


def test_apply_is_idempotent_and_dry_run_writes_nothing(k8s):
    http = Http(k8s)
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
            "stringData": {"k": "v"}}
    _code, first, _headers = _apply(http, "/api/v1/namespaces/default/secrets/s", body, "me")
    # In another second: managedFields times have a one-second resolution (a CI run once crossed one).
    time.sleep(1.1)
    _code, second, _headers = _apply(http, "/api/v1/namespaces/default/secrets/s", body, "me")
    assert first["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    assert first["metadata"]["managedFields"] == second["metadata"]["managedFields"]
    status, dry, _headers = _apply(http, "/api/v1/namespaces/default/secrets/s",
                                   dict(body, stringData={"k": "changed"}), "me", dry_run=True)
    assert status == 200 and dry["data"]["k"] == "Y2hhbmdlZA=="
    status, dry_new, _headers = _apply(http, "/api/v1/namespaces/default/secrets/t",
                                       dict(body, metadata={"name": "t"}), "me", dry_run=True)
    assert status == 201
    assert http.call("GET", "/api/v1/namespaces/default/secrets/t")[0] == 404
    assert http.call("GET", "/api/v1/namespaces/default/secrets/s")[1]["data"]["k"] == "dg=="
    assert http.call("DELETE", "/api/v1/namespaces/default/secrets/s?dryRun=All")[0] == 200
    assert http.call("GET", "/api/v1/namespaces/default/secrets/s")[0] == 200
    assert writes(k8s.counts()) == {"patch secrets": 2}


def test_generation_resource_version_and_uid(k8s):
    http = Http(k8s)
    _code, created, _headers = http.call("POST", DEPLOYMENTS, _deployment())
    meta = created["metadata"]
    assert meta["generation"] == 1 and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    _code, labelled, _headers = http.call("PATCH", DEPLOYMENTS + "/web", {"metadata": {"labels": {"x": "y"}}},
                                          "application/merge-patch+json")
    assert labelled["metadata"]["generation"] == 1
    assert int(labelled["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    _code, scaled, _headers = http.call("PATCH", DEPLOYMENTS + "/web", {"spec": {"replicas": 2}}, "application/merge-patch+json")
    assert scaled["metadata"]["generation"] == 2
    k8s.wait_idle()  # the deployment controller writes status (a new resourceVersion, same generation)
    _code, scaled, _headers = http.call("GET", DEPLOYMENTS + "/web")
    assert scaled["metadata"]["generation"] == 2
    _code, same, _headers = http.call("PATCH", DEPLOYMENTS + "/web", {"spec": {"replicas": 2}}, "application/merge-patch+json")
    assert same["metadata"]["resourceVersion"] == scaled["metadata"]["resourceVersion"]
    wrong_uid = dict(scaled, metadata=dict(scaled["metadata"], uid="0000", resourceVersion=None))
    status, error, _headers = http.call("PUT", DEPLOYMENTS + "/web", wrong_uid)
    assert status == 409 and "Precondition failed: UID in precondition: 0000" in error["message"]


def test_forbidden_and_errors_for_paths_and_methods(k8s):
    k8s.app.add_token("viewer-token", "viewer", verbs=["get", "list", "watch"], namespaces=["default"])
    viewer = Http(k8s, token="viewer-token")
    assert viewer.call("GET", CM)[0] == 200
    status, error, _headers = viewer.call("POST", CM, {"metadata": {"name": "x"}})
    assert status == 403 and error["reason"] == "Forbidden"
    assert error["message"] == ('configmaps is forbidden: User "viewer" cannot create resource "configmaps" in '
                                'API group "" in the namespace "default"')
    status, error, _headers = viewer.call("GET", "/api/v1/namespaces")
    assert status == 403 and 'cannot list resource "namespaces" in API group "" at the cluster scope' in \
        error["message"]
    http = Http(k8s)
    status, error, _headers = http.call("GET", "/apis/nothing.example.com/v1/things")
    assert status == 404 and error["reason"] == "NotFound"
    status, error, _headers = http.call("POST", CM + "/named", {"metadata": {"name": "x"}})
    assert status == 405 and error["reason"] == "MethodNotAllowed"
    status, error, _headers = http.call("PATCH", CM + "/missing", {"a": 1}, "text/plain")
    assert status == 415
    status, error, _headers = http.call("GET", CM, accept="application/vnd.kubernetes.protobuf")
    assert status == 406 and error["reason"] == "NotAcceptable"


def test_namespace_lifecycle(k8s):
    http = Http(k8s)
    http.call("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    http.call("POST", "/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "c", "finalizers": ["x.io/keep"]}})
    status, deleting, _headers = http.call("DELETE", "/api/v1/namespaces/doomed")
    assert status == 200
    assert deleting["status"]["phase"] == "Terminating" and deleting["metadata"]["deletionTimestamp"]
    k8s.wait_idle()
    assert http.call("GET", "/api/v1/namespaces/doomed")[0] == 404
    assert http.call("GET", "/api/v1/namespaces/doomed/configmaps/c")[0] == 404
    status, error, _headers = http.call("POST", "/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "late"}})
    assert status == 404 and error["message"] == 'namespaces "doomed" not found'


def test_finalizers_and_garbage_collection(k8s):
    http = Http(k8s)
    _code, owner, _headers = http.call("POST", CM, {"metadata": {"name": "owner", "finalizers": ["example.com/cleanup"]}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    http.call("POST", CM, {"metadata": {"name": "dependent", "ownerReferences": [ref]}})
    status, deleting, _headers = http.call("DELETE", CM + "/owner")
    assert status == 200 and deleting["metadata"]["deletionTimestamp"]
    assert http.call("GET", CM + "/dependent")[0] == 200
    more_finalizers = {"metadata": {"finalizers": ["example.com/cleanup", "example.com/new"]}}
    status, error, _headers = http.call("PATCH", CM + "/owner", more_finalizers, "application/merge-patch+json")
    assert status == 422 and "no new finalizers can be added" in error["message"]
    http.call("PATCH", CM + "/owner", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
    assert http.call("GET", CM + "/owner")[0] == 404
    assert http.call("GET", CM + "/dependent")[0] == 404


def test_table_and_partial_metadata(k8s):
    http = Http(k8s)
    http.call("POST", DEPLOYMENTS, _deployment())
    k8s.wait_idle()
    table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    status, table, _headers = http.call("GET", DEPLOYMENTS, accept=table_accept)
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert table["rows"][0]["cells"][:4] == ["web", "1/1", 1, 1]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    metadata_accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    _code, metadata, _headers = http.call("GET", DEPLOYMENTS, accept=metadata_accept)
    assert metadata["kind"] == "PartialObjectMetadataList" and "spec" not in metadata["items"][0]


def test_list_pagination_and_watch_expiry(k8s):
    http = Http(k8s)
    for index in range(5):
        http.call("POST", CM, {"metadata": {"name": f"page-{index}", "labels": {"page": "yes"}}})
    _code, first, _headers = http.call("GET", CM + "?labelSelector=page%3Dyes&limit=2")
    assert [i["metadata"]["name"] for i in first["items"]] == ["page-0", "page-1"]
    assert first["metadata"]["remainingItemCount"] == 3
    _code, second, _headers = http.call("GET", CM + f"?labelSelector=page%3Dyes&limit=2&continue={first['metadata']['continue']}")
    assert [i["metadata"]["name"] for i in second["items"]] == ["page-2", "page-3"]
    status, body, _headers = http.call("GET", CM + "?watch=true&resourceVersion=notanumber&timeoutSeconds=1", raw=True)
    assert status == 200 and json.loads(body.splitlines()[0])["type"] == "ERROR"
    _code, stream, _headers = http.call("GET", CM + "?watch=1&labelSelector=page%3Dyes&timeoutSeconds=1", raw=True)
    events = [json.loads(line) for line in stream.splitlines()]
    assert [e["type"] for e in events] == ["ADDED"] * 5


def test_scale_subresource(k8s):
    http = Http(k8s)
    http.call("POST", DEPLOYMENTS, _deployment())
    status, scale, _headers = http.call("GET", DEPLOYMENTS + "/web/scale")
    assert status == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    assert scale["status"]["selector"] == "app=web"
    _code, scaled, _headers = http.call("PATCH", DEPLOYMENTS + "/web/scale", {"spec": {"replicas": 3}},
                                        "application/merge-patch+json")
    assert scaled["spec"]["replicas"] == 3
    k8s.wait_idle()
    _code, deployment, _headers = http.call("GET", DEPLOYMENTS + "/web")
    assert deployment["spec"]["replicas"] == 3 and deployment["status"]["readyReplicas"] == 3


def test_statefulset_controller_creates_ready_pods(k8s):
    http = Http(k8s)
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "am"},
           "spec": {"replicas": 3, "serviceName": "am", "selector": {"matchLabels": {"app": "am"}},
                    "template": {"metadata": {"labels": {"app": "am"}},
                                 "spec": {"containers": [{"name": "am", "image": "alertmanager:0.25",
                                                          "ports": [{"name": "web", "containerPort": 9093}]}]}}}}
    assert http.call("POST", "/apis/apps/v1/namespaces/default/statefulsets", sts)[0] == 201
    k8s.wait_idle()
    _code, pods, _headers = http.call("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dam")
    assert sorted(p["metadata"]["name"] for p in pods["items"]) == ["am-0", "am-1", "am-2"]
    assert all(p["status"]["phase"] == "Running" for p in pods["items"])
    _code, current, _headers = http.call("GET", "/apis/apps/v1/namespaces/default/statefulsets/am")
    status = current["status"]
    assert (status["readyReplicas"], status["currentReplicas"], status["updatedReplicas"]) == (3, 3, 3)
    assert status["observedGeneration"] == 1
    http.call("PATCH", "/apis/apps/v1/namespaces/default/statefulsets/am", {"spec": {"replicas": 1}},
              "application/merge-patch+json")
    k8s.wait_idle()
    _code, pods, _headers = http.call("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dam")
    assert [p["metadata"]["name"] for p in pods["items"]] == ["am-0"]


def test_statefulset_controller_adopts_and_runs_a_restored_pod(k8s):
    """A Velero restore brings a StatefulSet's Pod back without its owner reference: the controller adopts
    the orphan its selector matches, as kube-controller-manager does, and the kubelet runs it; it is not
    replaced."""
    http = Http(k8s)
    template = {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "pg:16"}]}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 0, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": template}}
    assert http.call("POST", "/apis/apps/v1/namespaces/default/statefulsets", sts)[0] == 201
    k8s.wait_idle()
    _code, statefulset, _headers = http.call("GET", "/apis/apps/v1/namespaces/default/statefulsets/db")
    revision = statefulset["status"]["updateRevision"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "db-0", "labels": {"app": "db", "controller-revision-hash": revision}},
           "spec": template["spec"]}
    code, created, _headers = http.call("POST", "/api/v1/namespaces/default/pods", pod)
    assert code == 201
    http.call("PATCH", "/apis/apps/v1/namespaces/default/statefulsets/db", {"spec": {"replicas": 1}},
              "application/merge-patch+json")
    k8s.wait_idle()
    _code, current, _headers = http.call("GET", "/api/v1/namespaces/default/pods/db-0")
    assert current["metadata"]["uid"] == created["metadata"]["uid"]
    assert [(r["kind"], r["name"], r["controller"]) for r in current["metadata"]["ownerReferences"]] == [
        ("StatefulSet", "db", True)]
    assert current["status"]["phase"] == "Running"
    _code, statefulset, _headers = http.call("GET", "/apis/apps/v1/namespaces/default/statefulsets/db")
    assert statefulset["status"]["readyReplicas"] == 1


class _Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = json.dumps({"path": self.path, "auth": self.headers.get("Authorization")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def backend():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pod_and_service_proxy(k8s, backend):
    http = Http(k8s)
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "am"},
           "spec": {"replicas": 1, "serviceName": "am", "selector": {"matchLabels": {"app": "am"}},
                    "template": {"metadata": {"labels": {"app": "am"}},
                                 "spec": {"containers": [{"name": "am", "image": "alertmanager:0.25",
                                                          "ports": [{"name": "web", "containerPort": 9093}]}]}}}}
    http.call("POST", "/apis/apps/v1/namespaces/default/statefulsets", sts)
    http.call("POST", "/api/v1/namespaces/default/services",
              {"metadata": {"name": "am"}, "spec": {"selector": {"app": "am"},
                                                    "ports": [{"name": "web", "port": 80, "targetPort": "web"}]}})
    k8s.wait_idle()
    status, error, _headers = http.call("GET", "/api/v1/namespaces/default/pods/am-0:9093/proxy/-/ready")
    assert status == 503 and error["reason"] == "ServiceUnavailable"
    k8s.app.proxy_targets.set_pod("default", "am-0", 9093, backend)
    status, body, _headers = http.call("GET", "/api/v1/namespaces/default/pods/am-0:web/proxy/api/v2/status?x=1")
    assert status == 200 and body["path"] == "/api/v2/status?x=1"
    assert body["auth"] is None  # the client's token is not passed to the backend
    status, body, _headers = http.call("GET", "/api/v1/namespaces/default/services/am:web/proxy/api/v2/alerts")
    assert status == 200 and body["path"] == "/api/v2/alerts"
    status, error, _headers = http.call("GET", "/api/v1/namespaces/default/pods/missing:9093/proxy/")
    assert status == 404 and error["message"] == 'pods "missing" not found'
    counts = k8s.counts()
    assert counts["get pods/proxy"] == 3 and counts["get services/proxy"] == 1


class _Recorder(Controller):
    name = "recorder"
    watches = (("monitoring.coreos.com", "Alertmanager"),)

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        self.seen.append((event.type, event.name))
        if event.type == "ADDED":
            ctx.patch_status(event.object, {"replicas": 0, "availableReplicas": 0, "updatedReplicas": 0,
                                            "unavailableReplicas": 0, "paused": False,
                                            "conditions": [{"type": "Reconciled", "status": "True",
                                                            "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
            ctx.create({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"{event.name}-generated", "namespace": event.namespace}},
                       owner=event.object)


def test_custom_controller_reacts_and_writes_through_the_api(k8s):
    recorder = k8s.app.add_controller(_Recorder())
    try:
        http = Http(k8s)
        am = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager", "metadata": {"name": "main"},
              "spec": {"replicas": 1}}
        assert http.call("POST", "/apis/monitoring.coreos.com/v1/namespaces/default/alertmanagers", am)[0] == 201
        k8s.wait_idle()
        _code, current, _headers = http.call("GET", "/apis/monitoring.coreos.com/v1/namespaces/default/alertmanagers/main")
        assert current["status"]["conditions"][0]["type"] == "Reconciled"
        assert any(m["manager"] == "recorder" and m.get("subresource") == "status"
                   for m in current["metadata"]["managedFields"])
        assert http.call("GET", CM + "/main-generated")[0] == 200
        assert writes(k8s.counts()) == {"create alertmanagers": 1}  # controller writes are not requests
        http.call("DELETE", "/apis/monitoring.coreos.com/v1/namespaces/default/alertmanagers/main")
        k8s.wait_idle()
        assert http.call("GET", CM + "/main-generated")[0] == 404  # owner gone: garbage collected
        assert recorder.seen[0] == ("ADDED", "main") and recorder.seen[-1] == ("DELETED", "main")
        assert k8s.app.controllers.errors == []
    finally:
        k8s.app.controllers.remove(recorder)


def test_fault_injection_uses_request_kinds(k8s):
    http = Http(k8s)
    k8s.app.faults.add({"action": "error", "kind": "create configmaps", "status": 500})
    status, _body, _headers = http.call("POST", CM, {"metadata": {"name": "x"}})
    assert status == 500
    status, _body, _headers = http.call("POST", CM, {"metadata": {"name": "x"}})
    assert status == 201
    assert k8s.counts()["create configmaps"] == 2


def test_token_request_and_token_review(k8s):
    http = Http(k8s)
    http.call("POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "rotator"}})
    issued = k8s.kubectl("create", "token", "rotator", "-n", "default", "--audience=vault", "--duration=1h")
    token = issued.stdout.strip()
    assert token.count(".") == 2
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["aud"] == ["vault"] and claims["exp"] - claims["iat"] == 3600
    assert claims["sub"] == "system:serviceaccount:default:rotator"
    status, review, _headers = http.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                          "spec": {"token": token, "audiences": ["vault"]}})
    assert status == 201 and review["status"]["authenticated"] is True
    user = review["status"]["user"]
    assert user["username"] == "system:serviceaccount:default:rotator"
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    _code, account, _headers = http.call("GET", "/api/v1/namespaces/default/serviceaccounts/rotator")
    assert user["uid"] == account["metadata"]["uid"]
    # A token bound to Vault's audience is no key to the API server; one for the API's audience is.
    assert Http(k8s, token=token).call("GET", CM)[0] == 401
    api_token = k8s.kubectl("create", "token", "rotator", "-n", "default").stdout.strip()
    as_account = Http(k8s, token=api_token)
    # Authenticated, then authorised by RBAC: nothing is granted to the new account until a binding does.
    assert as_account.call("GET", CM)[0] == 403
    http.call("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", {
        "metadata": {"name": "rotator-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "rotator", "namespace": "default"}]})
    assert as_account.call("GET", CM)[0] == 200
    _code, wrong_audience, _headers = http.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                                {"spec": {"token": token, "audiences": ["other"]}})
    assert wrong_audience["status"]["authenticated"] is False
    http.call("DELETE", "/api/v1/namespaces/default/serviceaccounts/rotator")
    _code, deleted, _headers = http.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                         {"spec": {"token": token}})
    assert deleted["status"] == {"authenticated": False, "user": {},
                                 "error": "[invalid bearer token, service account has been deleted]"}
    assert as_account.call("GET", CM)[0] == 401
    assert k8s.counts()["create serviceaccounts/token"] == 2 and k8s.counts()["create tokenreviews"] == 3


def test_reset_returns_to_the_marked_initial_state(k8s):
    http = Http(k8s)
    http.call("POST", "/api/v1/namespaces", {"metadata": {"name": "seeded"}})
    k8s.app.proxy_targets.set_pod("seeded", "am-0", 9093, "127.0.0.1:1")
    k8s.app.mark_initial_state()
    try:
        http.call("POST", "/api/v1/namespaces", {"metadata": {"name": "scratch"}})
        k8s.app.proxy_targets.clear()
        k8s.app.reset()
        assert http.call("GET", "/api/v1/namespaces/seeded")[0] == 200
        assert http.call("GET", "/api/v1/namespaces/scratch")[0] == 404
        assert k8s.app.proxy_targets.snapshot()["pods"] == {"seeded/am-0/9093": "127.0.0.1:1"}
    finally:
        http.call("DELETE", "/api/v1/namespaces/seeded")
        k8s.wait_idle()
        k8s.app.proxy_targets.clear()
        k8s.app.mark_initial_state()


def test_custom_resource_schema_extensions(k8s):
    http = Http(k8s)
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gadgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {"spec": {"type": "object", "properties": {
                            "limit": {"x-kubernetes-int-or-string": True},
                            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "note": {"type": "string", "nullable": True},
                            "name": {"type": "string", "pattern": "^[a-z]+$"}}}}}}}]}}
    assert http.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)[0] == 201
    path = "/apis/example.com/v1/namespaces/default/gadgets"

    def gadget(object_name: str, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": object_name}, "spec": spec}

    status, created, headers = http.call("POST", path, gadget("a", limit="50%", extra={"any": {"nested": [1, "x"]}},
                                         note=None, unknown=1))
    assert status == 201, created
    assert created["spec"] == {"limit": "50%", "extra": {"any": {"nested": [1, "x"]}}, "note": None}
    assert headers["Warning"] == '299 - "unknown field \\"spec.unknown\\""'
    assert http.call("POST", path, gadget("b", limit=3))[0] == 201
    status, error, _headers = http.call("POST", path, gadget("c", limit=True))
    assert status == 422 and error["details"]["causes"][0]["field"] == "spec.limit"
    status, error, _headers = http.call("POST", path, gadget("d", name="UPPER"))
    assert status == 422
    assert error["details"]["causes"][0]["message"] == ('Invalid value: "UPPER": spec.name in body should match '
                                                        "'^[a-z]+$'")


CRONJOB = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "bad", "namespace": "default"},
           "spec": {"schedule": "17 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}


@pytest.mark.parametrize("spec, field, detail", [
    ({"schedule": "99 * * * *"}, "spec.schedule", 'Invalid value: "99 * * * *": end of range (99) above maximum (59): 99'),
    ({"schedule": "0 0 * * 7"}, "spec.schedule", 'Invalid value: "0 0 * * 7": end of range (7) above maximum (6): 7'),
    ({"schedule": "1 2 3"}, "spec.schedule", "expected exactly 5 fields, found 3: [1 2 3]"),
    ({"timeZone": "Mars/Olympus"}, "spec.timeZone", 'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'),
    ({"timeZone": "Local"}, "spec.timeZone", "timeZone must be an explicit time zone"),
])
def test_cronjob_schedule_and_time_zone_are_validated_as_kube_apiserver_does(k8s, spec, field, detail):
    obj = json.loads(json.dumps(CRONJOB))
    obj["spec"].update(spec)
    status, body = k8s.request("POST", "/apis/batch/v1/namespaces/default/cronjobs", obj)
    assert status == 422, body
    assert body["message"].startswith(f'CronJob.batch "bad" is invalid: {field}: '), body["message"]
    assert detail in body["message"]
    assert [cause["field"] for cause in body["details"]["causes"]] == [field]


def test_a_pdb_percentage_above_100_is_refused(k8s):
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"minAvailable": "200%", "selector": {"matchLabels": {"app": "x"}}}}
    status, body = k8s.request("POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", pdb)
    assert status == 422, body
    assert 'spec.minAvailable: Invalid value: "200%": must not be greater than 100%' in body["message"]
    pdb["spec"]["minAvailable"] = "100%"
    assert k8s.request("POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", pdb)[0] == 201


def test_quantities_are_stored_in_canonical_form(k8s):
    """As kube-apiserver stores resource.Quantity: 0.5 -> 500m, 1024Mi -> 1Gi; a re-apply of the same amount
    written otherwise changes nothing. Each canonical text parses to the same amount with the official
    Python client's parser (an independent reading of the quantity grammar)."""
    from kubernetes.utils.quantity import parse_quantity  # pylint: disable=import-outside-toplevel

    http = Http(k8s)
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "resources": {
                "requests": {"cpu": 0.5, "memory": "1024Mi"}, "limits": {"cpu": "1000m", "memory": "1.5Gi"}}}]}}
    path = "/api/v1/namespaces/default/pods/q?fieldManager=test"
    status, created, _headers = http.call("PATCH", path, body, content_type="application/apply-patch+yaml")
    assert status == 201
    resources = created["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1536Mi"}}
    for sent, stored in ((0.5, "500m"), ("1024Mi", "1Gi"), ("1000m", "1"), ("1.5Gi", "1536Mi")):
        assert parse_quantity(stored) == parse_quantity(str(sent))
    again = json.loads(json.dumps(body).replace('"cpu": 0.5', '"cpu": "500m"'))
    _status, applied, _headers = http.call("PATCH", path, again, content_type="application/apply-patch+yaml")
    assert applied["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def _service(name: str, cluster_ip: str | None = None) -> dict:
    spec: dict = {"ports": [{"port": 80}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def test_cluster_ips_are_allocated_once_and_in_the_service_range(k8s):
    """kube-apiserver's ClusterIP allocator (default range 10.96.0.0/12): a requested address already in
    use, or outside the range, is refused with its message; assigned addresses never collide."""
    assert k8s.request("POST", "/api/v1/namespaces/default/services", _service("dns", "10.96.0.10"))[0] == 201
    for name, address, detail in [
            ("dns2", "10.96.0.10", "failed to allocate IP 10.96.0.10: provided IP is already allocated"),
            ("far", "10.0.0.10", "failed to allocate IP 10.0.0.10: the provided IP (10.0.0.10) is not in the valid "
                                 "range. The range of valid IPs is 10.96.0.0/12")]:
        status, body = k8s.request("POST", "/api/v1/namespaces/default/services", _service(name, address))
        assert status == 422, body
        assert body["message"] == (f'Service "{name}" is invalid: spec.clusterIPs: Invalid value: '
                                   f'[]string{{"{address}"}}: {detail}')
    dry = k8s.request("POST", "/api/v1/namespaces/default/services?dryRun=All", _service("dns3", "10.96.0.10"))
    assert dry[0] == 422, "a dry run allocates too"
    # The address the API server would choose for "probe", taken by another Service first: probe gets another.
    first = k8s.request("POST", "/api/v1/namespaces/default/services", _service("probe"))[1]["spec"]["clusterIP"]
    assert k8s.request("DELETE", "/api/v1/namespaces/default/services/probe")[0] == 200
    assert k8s.request("POST", "/api/v1/namespaces/default/services", _service("squatter", first))[0] == 201
    again = k8s.request("POST", "/api/v1/namespaces/default/services", _service("probe"))[1]["spec"]
    assert again["clusterIP"] != first and again["clusterIPs"] == [again["clusterIP"]]
    for index in range(40):
        assert k8s.request("POST", "/api/v1/namespaces/default/services", _service(f"web-{index}"))[0] == 201
    listed = json.loads(k8s.kubectl("get", "services", "-n", "default", "-o", "json").stdout)["items"]
    addresses = [item["spec"]["clusterIP"] for item in listed]
    assert len(addresses) == len(set(addresses)), addresses
