"""Loading and normalising manifests (kubernetes_manifests)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.manifests import (
    ManifestError,
    apply_rank,
    check_identity,
    load_manifests,
    normalise,
)

MULTI_DOC = """
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
"""


def test_load_from_definition_src_and_list(tmp_path: Path) -> None:
    src = tmp_path / "objects.yaml"
    src.write_text(MULTI_DOC)
    assert [m["metadata"]["name"] for m in load_manifests(definition=MULTI_DOC)] == ["a", "b", "c"]
    assert [m["metadata"]["name"] for m in load_manifests(src=str(src))] == ["a", "b", "c"]
    assert load_manifests(manifests=[{"kind": "X"}]) == [{"kind": "X"}]


# YAML 1.1 values that a different resolver or constructor would read otherwise.
TYPED_DOC = """
apiVersion: v1
kind: ConfigMap
metadata: {name: typed, labels: {enabled: "on"}}
data:
  switch: on
  octal: 0o17
  old_octal: 017
  float: 1e3
  sexagesimal: 1:30
  date: 2026-12-02
  empty: ~
  text: "s3cr3t: not a key"
"""


def test_the_libyaml_parser_reads_what_the_pure_python_safe_loader_reads() -> None:
    """Manifests go through libyaml when PyYAML has it (six times faster on a thousand): same values."""
    assert yaml.__with_libyaml__, "the test venv's PyYAML is built with libyaml"
    loaded = load_manifests(definition=TYPED_DOC)
    assert loaded == [yaml.load(TYPED_DOC, Loader=yaml.SafeLoader)]
    data = loaded[0]["data"]
    assert (data["switch"], data["old_octal"], data["sexagesimal"], data["empty"]) == (True, 15, 90, None)
    assert (data["octal"], data["float"], str(data["date"])) == ("0o17", "1e3", "2026-12-02")


def test_bad_inputs_have_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="invalid"):
        load_manifests(definition="a: [b")
    with pytest.raises(ManifestError, match=f"Cannot read src {tmp_path}/missing.yaml"):
        load_manifests(src=str(tmp_path / "missing.yaml"))
    with pytest.raises(ManifestError, match="#1 is a list"):
        load_manifests(definition="- a\n- b\n")
    with pytest.raises(ManifestError, match="has no metadata.name"):
        check_identity({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, 0)
    with pytest.raises(ManifestError, match="generateName"):
        check_identity({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "x-"}}, 0)


def test_normalise_namespaces_status_nulls() -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": None},
                "data": {"k": "v", "gone": None}, "status": {}}
    body, warnings = normalise(manifest, namespaced=True, default_namespace="atlas")
    assert body == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "atlas"},
                    "data": {"k": "v"}}
    assert any("status was not applied" in warning for warning in warnings)
    assert manifest["metadata"] == {"name": "a", "labels": None}  # the caller's manifest is untouched
    with pytest.raises(ManifestError, match="no default namespace"):
        normalise(manifest, namespaced=True, default_namespace=None)
    cluster, warnings = normalise({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "namespace": "x"}},
                                  namespaced=False, default_namespace="atlas")
    assert "namespace" not in cluster["metadata"] and "cluster-scoped" in warnings[0]


def test_secret_string_data_becomes_data() -> None:
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"},
                "data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "override", "c": "ü"}}
    body = normalise(manifest, namespaced=True, default_namespace=None)[0]
    assert "stringData" not in body
    assert body["data"] == {"a": "eA==", "b": base64.b64encode(b"override").decode(),
                            "c": base64.b64encode("ü".encode()).decode()}
    with pytest.raises(ManifestError, match="stringData.n must be a string"):
        normalise({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"n": 1}},
                  namespaced=True, default_namespace="a")


def test_apply_rank() -> None:
    assert apply_rank("v1", "Namespace") == 0
    assert apply_rank("apiextensions.k8s.io/v1", "CustomResourceDefinition") == 1
    assert apply_rank("v1", "Secret") == 2
