"""Local validation against the published OpenAPI v3 schemas, checked case by case against what the
lab's API server answers to a server-side dry run of the same object (its validation is separate code:
Go-style strict decoding plus jsonschema over the upstream schemas). Where the server accepts, the
local check must accept; where the local check refuses, the server must refuse too."""

from __future__ import annotations

import copy
import hashlib
import os
from typing import Any

import pytest

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import connect
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesApiError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.published_schemas import PublishedSchemas
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.schema_validation import schema_problems

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                 "name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}],
                 "resources": {"requests": {"cpu": 1, "memory": "64Mi"}, "limits": {"cpu": "500m"}},
                 "readinessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}}}}
SERVICE: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
ALERTMANAGER: dict[str, Any] = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
                                "metadata": {"name": "main", "namespace": "default"},
                                "spec": {"replicas": 3, "logLevel": "info"}}


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = obj
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return obj


DELETE = object()
CASES = [
    ("valid deployment (Quantity as a number, named port)", DEPLOYMENT, False),
    ("replicas as a string", changed(DEPLOYMENT, "spec.replicas", "two"), True),
    ("unknown field", changed(DEPLOYMENT, "spec.replicaz", 2), True),
    ("unknown metadata field", changed(DEPLOYMENT, "metadata.label", {"a": "b"}), True),
    ("missing selector", changed(DEPLOYMENT, "spec.selector", DELETE), True),
    ("null replicas means unset", changed(DEPLOYMENT, "spec.replicas", None), False),
    ("container without a name", changed(DEPLOYMENT, "spec.template.spec.containers.0.name", DELETE), True),
    ("tty as a string", changed(DEPLOYMENT, "spec.template.spec.containers.0.tty", "yes"), True),
    ("labels as a list", changed(DEPLOYMENT, "spec.selector.matchLabels", ["app"]), True),
    ("valid service, integer targetPort", SERVICE, False),
    ("string targetPort", changed(SERVICE, "spec.ports.0.targetPort", "http"), False),
    ("port as a string", changed(SERVICE, "spec.ports.0.port", "80"), True),
    ("valid alertmanager", ALERTMANAGER, False),
    ("custom resource: replicas as a string", changed(ALERTMANAGER, "spec.replicas", "3"), True),
    ("custom resource: value outside the enum", changed(ALERTMANAGER, "spec.logLevel", "verbose"), True),
    ("custom resource: unknown field", changed(ALERTMANAGER, "spec.replica", 3), True),
]


@pytest.mark.parametrize(("case", "manifest", "refused"), CASES, ids=[case[0] for case in CASES])
def test_the_local_verdict_is_the_servers(k8s: Any, tmp_path: Any, case: str, manifest: dict[str, Any],
                                          refused: bool) -> None:
    connection = connect(k8s.params(), environ={})
    schema, components = PublishedSchemas(connection, str(tmp_path)).schema(manifest["apiVersion"], manifest["kind"])
    problems = schema_problems(manifest, schema, components)
    try:
        KubernetesObjects(connection).apply(manifest, dry_run=True)
        server_refused = False
    except KubernetesApiError as exc:
        server_refused = exc.status in (400, 422, 500)
    assert server_refused is refused, f"{case}: the lab's API server {'refused' if server_refused else 'accepted'} it"
    assert bool(problems) is refused, f"{case}: {problems}"


def test_a_problem_never_quotes_a_value(k8s: Any, tmp_path: Any) -> None:
    connection = connect(k8s.params(), environ={})
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
              "stringData": {"password": "Sup3r-S3cret-71"}, "immutable": "Sup3r-S3cret-72"}
    schema, components = PublishedSchemas(connection, str(tmp_path)).schema("v1", "Secret")
    problems = schema_problems(secret, schema, components)
    assert problems == ["immutable must be a boolean, not a string"]


def test_documents_are_cached_by_their_hash_and_a_tampered_file_is_ignored(k8s: Any, tmp_path: Any) -> None:
    connection = connect(k8s.params(), environ={})
    cache = tmp_path / "cache"
    assert PublishedSchemas(connection, str(cache)).schema("apps/v1", "Deployment") is not None
    (cached,) = list(cache.iterdir())
    assert hashlib.sha512(cached.read_bytes()).hexdigest().upper() + ".json" == cached.name
    assert oct(os.stat(cache).st_mode & 0o777) == "0o700"  # created by the first fetch
    k8s.admin.reset_requests()
    assert PublishedSchemas(connection, str(cache)).schema("apps/v1", "Deployment") is not None
    assert k8s.admin.counts() == {"get openapi": 1}  # the list only
    cached.write_text('{"components": {"schemas": {}}}')
    k8s.admin.reset_requests()
    assert PublishedSchemas(connection, str(cache)).schema("apps/v1", "Deployment") is not None
    assert k8s.admin.counts() == {"get openapi": 2}  # fetched again


def test_an_unwritable_cache_only_costs_the_fetch(k8s: Any, tmp_path: Any) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    connection = connect(k8s.params(), environ={})
    assert PublishedSchemas(connection, str(blocked / "cache")).schema("v1", "ConfigMap") is not None
