"""k8s_info run as Ansible runs it against the lab's Kubernetes emulator: one request per call, and no
Secret value anywhere in the output (plain or base64), whatever the verbosity."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.atlas.hardening.plugins.modules import k8s_info, k8s_manifests

PASSWORD = "Info-Test-Passw0rd-8817"
OBJECTS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: atlas-info}}
---
apiVersion: v1
kind: Secret
metadata:
  name: admin
  namespace: atlas-info
  labels: {{app: info}}
stringData: {{password: "{PASSWORD}"}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: atlas-info
  labels: {{app: info}}
data: {{level: info}}
"""


def run(module: Any, capsys: pytest.CaptureFixture[str], **args: Any) -> tuple[dict[str, Any], str]:
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    out = capsys.readouterr().out
    return json.loads(out), out


@pytest.fixture
def seeded(k8s: Any, capsys: pytest.CaptureFixture[str]) -> Any:
    applied, _out = run(k8s_manifests, capsys, **k8s.params(definition=OBJECTS))
    assert applied["changed"] is True
    return k8s


def test_a_secret_is_read_without_its_values(seeded: Any, capsys: pytest.CaptureFixture[str]) -> None:
    params = seeded.params(api_version="v1", kind="Secret", name="admin", namespace="atlas-info",
                           _ansible_verbosity=4)
    result, out = run(k8s_info, capsys, **params)
    assert result["changed"] is False and result["exists"] is True and result["api_requests"] == {"GET": 1}
    (secret,) = result["objects"]
    assert secret["data"] == {"password": "<withheld: Secret value>"}
    for value in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode()):
        assert value not in out


def test_a_list_by_label_across_namespaces(seeded: Any, capsys: pytest.CaptureFixture[str]) -> None:
    seeded.admin.reset_requests()
    result, out = run(k8s_info, capsys, **seeded.params(api_version="v1", kind="Secret", label_selector="app=info"))
    assert [obj["metadata"]["name"] for obj in result["objects"]] == ["admin"]
    assert result["objects"][0]["kind"] == "Secret"  # list items get their kind back
    assert seeded.admin.counts() == {"list secrets": 1}
    assert PASSWORD not in out


def test_missing_objects_are_not_errors(seeded: Any, capsys: pytest.CaptureFixture[str]) -> None:
    params = seeded.params(api_version="batch/v1", kind="CronJob", name="none", namespace="atlas-info")
    missing, _out = run(k8s_info, capsys, **params)
    assert missing["exists"] is False and missing["objects"] == []
    params = seeded.params(api_version="v1", kind="ConfigMap", namespace="no-such-namespace")
    nowhere, _out = run(k8s_info, capsys, **params)
    assert nowhere["exists"] is False and nowhere["objects"] == []


def test_an_unknown_kind_is_explained(seeded: Any, capsys: pytest.CaptureFixture[str]) -> None:
    failed, _out = run(k8s_info, capsys, **seeded.params(api_version="example.com/v1", kind="Nothing"))
    assert failed["failed"] is True
    assert "example.com/v1" in failed["msg"]
