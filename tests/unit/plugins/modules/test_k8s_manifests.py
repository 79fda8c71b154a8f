"""k8s_manifests run as Ansible runs it (AnsibleModule, exit_json/fail_json) against the lab's
Kubernetes emulator; the whole JSON output is searched for secret values."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.atlas.hardening.plugins.modules import k8s_manifests

PASSWORD = "Module-Test-Passw0rd-4411"
DEFINITION = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: atlas-module
---
apiVersion: v1
kind: Secret
metadata:
  name: admin
type: Opaque
stringData:
  password: "{PASSWORD}"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  level: info
"""


def run_with_output(capsys: pytest.CaptureFixture[str], **args: Any) -> tuple[dict[str, Any], str]:
    with patch_module_args(args), pytest.raises(SystemExit):
        k8s_manifests.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def run(capsys: pytest.CaptureFixture[str], **args: Any) -> dict[str, Any]:
    return run_with_output(capsys, **args)[0]


def assert_no_secret(output: str, *values: str) -> None:
    for value in values:
        assert value not in output
        assert base64.b64encode(value.encode()).decode() not in output


def test_apply_twice_then_check_mode(k8s: Any, capsys: pytest.CaptureFixture[str]) -> None:
    params = k8s.params(definition=DEFINITION, namespace="atlas-module")
    first, output = run_with_output(capsys, **params, _ansible_diff=True)
    assert first["changed"] is True
    assert [(r["kind"], r["action"]) for r in first["results"]] == [
        ("Namespace", "created"), ("Secret", "created"), ("ConfigMap", "created")]
    assert first["api_requests"] == {"GET": 3, "PATCH": 3}  # + the schema list and v1's document
    assert len(first["diff"]) == 3
    assert_no_secret(output, PASSWORD, k8s.token)

    second, output = run_with_output(capsys, **params, _ansible_diff=True)
    assert second["changed"] is False
    assert second["diff"] == []
    assert k8s.writes() == {"patch namespaces": 1, "patch secrets": 1, "patch configmaps": 1}  # the first run's

    k8s.admin.reset_requests()
    rotated = DEFINITION.replace(PASSWORD, "Rotated-Passw0rd-9922")
    preview, output = run_with_output(capsys, **k8s.params(definition=rotated, namespace="atlas-module"),
                                      _ansible_check_mode=True, _ansible_diff=True)
    assert preview["changed"] is True
    assert [r["action"] for r in preview["results"]] == ["unchanged", "updated", "unchanged"]
    assert preview["diff"][0]["after"]["data"] == {"password": "<hidden: new value>"}
    assert k8s.writes() == {}
    assert_no_secret(output, PASSWORD, "Rotated-Passw0rd-9922", k8s.token)


def test_no_diff_key_without_diff_mode(k8s: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, **k8s.params(manifests=[
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}]))
    assert result["changed"] is True and "diff" not in result


def test_failure_is_one_message_without_secrets(k8s: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result, output = run_with_output(capsys, **k8s.params(definition=DEFINITION.split("---", 2)[1], namespace="absent-ns"))
    assert result["failed"] is True
    assert result["msg"] == ("Applying Secret absent-ns/admin failed: namespace 'absent-ns' does not exist. Add the "
                             "Namespace to the same set of manifests (it is applied first) or create it beforehand.")
    assert result["results"] == []
    assert "Traceback" not in output
    assert_no_secret(output, PASSWORD)


def test_missing_kubeconfig(k8s: Any, capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    missing = tmp_path / "kubeconfig"
    result = run(capsys, **k8s.params(k8s_kubeconfig=str(missing), definition=DEFINITION))
    assert result["failed"] is True
    assert result["msg"] == (f"The kubeconfig file {missing} given by k8s_kubeconfig does not exist or is not a file. "
                             "Check the path, or unset the option to use KUBECONFIG or ~/.kube/config.")


def test_options_are_exclusive(k8s: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, **k8s.params(definition=DEFINITION, manifests=[]))
    assert result["failed"] is True and "mutually exclusive" in result["msg"]
    result = run(capsys, **k8s.params())
    assert result["failed"] is True and "one of the following is required" in result["msg"]


BROKEN_VALUE = "Br0ken-Yaml-S3cr3t-7731"


@pytest.mark.parametrize("definition", [
    # YAML: an unclosed quoted scalar (PyYAML's message quotes the line that holds the value)
    f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: broken\nstringData:\n  password: "{BROKEN_VALUE}\n',
    # YAML: a tab where indentation is expected, right after the value
    f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: broken\nstringData:\n  password: {BROKEN_VALUE}\n\t- x\n",
    # JSON (a YAML flow mapping) that is never closed
    f'{{"apiVersion": "v1", "kind": "Secret", "metadata": {{"name": "broken"}}, "stringData": {{"password": '
    f'"{BROKEN_VALUE}"',
], ids=["unclosed-quote", "tab", "json"])
def test_invalid_yaml_or_json_never_shows_a_value(k8s: Any, capsys: pytest.CaptureFixture[str],
                                                  definition: str) -> None:
    result, output = run_with_output(capsys, **k8s.params(definition=definition, namespace="default"),
                                     _ansible_verbosity=4)
    assert result["failed"] is True
    assert result["msg"].startswith("The YAML in definition is invalid: ")
    assert " at line " in result["msg"]
    assert_no_secret(output, BROKEN_VALUE)
    assert k8s.writes() == {}


def test_invalid_base64_in_data_never_shows_the_value(k8s: Any, capsys: pytest.CaptureFixture[str]) -> None:
    definition = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: bad-base64\n  namespace: default\n"
                  f"data:\n  password: {BROKEN_VALUE}!\n")
    result, output = run_with_output(capsys, **k8s.params(definition=definition), _ansible_verbosity=4,
                                     _ansible_diff=True)
    assert result["failed"] is True
    assert_no_secret(output, BROKEN_VALUE, f"{BROKEN_VALUE}!")


def test_a_negative_wait_timeout_is_refused_before_any_request(k8s: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, **k8s.params(definition=DEFINITION, namespace="atlas-module", wait=True, wait_timeout=-5))
    assert result["failed"] is True
    assert result["msg"] == "wait_timeout must be between 0 and 86400 (got -5)."
    assert k8s.writes() == {}
