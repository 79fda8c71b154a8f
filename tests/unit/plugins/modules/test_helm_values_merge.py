"""helm_values_merge: only the keys it sets change; comments, quoting and layout stay; no write when equal."""

from __future__ import annotations

import difflib
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.atlas.hardening.plugins.module_utils._helm.values_merge import (
    ValuesFileError,
    guess_layout,
    merge_values_text,
    same_value,
)
from ansible_collections.atlas.hardening.plugins.modules import helm_values_merge
from atlas_lab.scenarios.alertmanager_ha.kube_prometheus_stack import values_file_text  # pylint: disable=import-error

# The lab's kube-prometheus-stack values file, shaped as a team keeps it in git: comments, quotes,
# indented sequences (tests/unit/conftest.py puts the lab package on sys.path).
VALUES = values_file_text()

HA = {"alertmanager": {"alertmanagerSpec": {"replicas": 3, "podAntiAffinity": "hard",
                                            "podAntiAffinityTopologyKey": "kubernetes.io/hostname",
                                            "clusterLabel": "monitoring/main"},
                       "podDisruptionBudget": {"enabled": True, "minAvailable": 2}}}


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_only_the_set_keys_change_and_everything_else_is_kept_verbatim():
    after, changes = merge_values_text(VALUES, HA)
    assert changed_lines(VALUES, after) == [
        "-    replicas: 1", "+    replicas: 3",
        '-    podAntiAffinity: ""', '+    podAntiAffinity: "hard"',
        "+    clusterLabel: monitoring/main",
        "-    enabled: false", "-    minAvailable: 1", "+    enabled: true", "+    minAvailable: 2",
    ]
    assert [change["key"] for change in changes] == [
        "alertmanager.alertmanagerSpec.replicas", "alertmanager.alertmanagerSpec.podAntiAffinity",
        "alertmanager.alertmanagerSpec.clusterLabel", "alertmanager.podDisruptionBudget.enabled",
        "alertmanager.podDisruptionBudget.minAvailable"]
    assert changes[0] == {"key": "alertmanager.alertmanagerSpec.replicas", "before": 1, "after": 3}


def test_second_merge_changes_nothing_and_returns_the_same_text():
    after = merge_values_text(VALUES, HA)[0]
    again, changes = merge_values_text(after, HA)
    assert changes == [] and again is after


def test_types_matter_when_comparing():
    assert not same_value(1, True) and not same_value("3", 3) and same_value(3, 3.0)
    changes = merge_values_text("a:\n  replicas: '3'\n", {"a": {"replicas": 3}})[1]
    assert changes == [{"key": "a.replicas", "before": "3", "after": 3}]


def test_null_becomes_a_mapping_but_a_scalar_is_not_overwritten():
    after = merge_values_text("alertmanager:\n  podDisruptionBudget:\n",
                              {"alertmanager": {"podDisruptionBudget": {"enabled": True}}})[0]
    assert "enabled: true" in after
    with pytest.raises(ValuesFileError, match=r"alertmanager.alertmanagerSpec holds a str in the values file"):
        merge_values_text("alertmanager:\n  alertmanagerSpec: oops\n", HA)


def test_layout_of_the_file_is_reused():
    assert guess_layout(VALUES) == (2, 2)
    assert guess_layout("a:\n    b:\n    - x\n") == (4, 0)
    four = "alertmanager:\n    alertmanagerSpec:\n        tolerations:\n        - key: a\n        replicas: 1\n"
    after = merge_values_text(four, HA)[0]
    assert after.startswith(four.replace("replicas: 1", "replicas: 3"))


def test_comment_only_and_empty_files_and_broken_yaml():
    assert merge_values_text("# empty for now\n", {"a": 1})[0] == "# empty for now\na: 1\n"
    assert merge_values_text("", {"a": {"b": 1}})[0] == "a:\n  b: 1\n"
    with pytest.raises(ValuesFileError, match=r"values file is not valid YAML"):
        merge_values_text("a: [1,\n", {"a": 1})
    with pytest.raises(ValuesFileError, match=r"holds a list at the top, not a mapping"):
        merge_values_text("- 1\n", {"a": 1})


# --- The module --------------------------------------------------------------------------------------

def run_module(capsys, **args) -> dict:
    with patch_module_args(args), pytest.raises(SystemExit):
        helm_values_merge.main()
    return json.loads(capsys.readouterr().out)


def test_module_writes_once_then_reports_no_change_without_touching_the_file(tmp_path, capsys):
    path = tmp_path / "values.yaml"
    path.write_text(VALUES)
    os.chmod(path, 0o640)
    first = run_module(capsys, path=str(path), values=HA, backup=True, _ansible_diff=True)
    assert first["changed"] is True and len(first["changes"]) == 5
    assert first["diff"]["before"] == VALUES and "replicas: 3" in first["diff"]["after"]
    assert open(first["backup_file"]).read() == VALUES
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    written = path.stat().st_mtime_ns
    second = run_module(capsys, path=str(path), values=HA)
    assert second["changed"] is False and second["changes"] == []
    assert path.stat().st_mtime_ns == written


def test_module_check_mode_reports_but_does_not_write(tmp_path, capsys):
    path = tmp_path / "values.yaml"
    path.write_text(VALUES)
    result = run_module(capsys, path=str(path), values=HA, _ansible_check_mode=True, _ansible_diff=True)
    assert result["changed"] is True and "replicas: 3" in result["diff"]["after"]
    assert path.read_text() == VALUES


def test_module_missing_file_is_one_clear_message_unless_create(tmp_path, capsys):
    path = tmp_path / "nope.yaml"
    result = run_module(capsys, path=str(path), values=HA)
    assert result["failed"] is True
    assert result["msg"] == (f"Helm values file {path} does not exist: check the path, or set create: true to start "
                             "a new one.")
    created = run_module(capsys, path=str(path), values=HA, create=True)
    assert created["changed"] is True and created["created"] is True
    assert "minAvailable: 2" in path.read_text()


def test_null_for_an_absent_key_is_no_change_but_clears_a_set_one():
    assert merge_values_text("a:\n  b: 1\n", {"a": {"maxUnavailable": None}}) == ("a:\n  b: 1\n", [])
    after, changes = merge_values_text("a:\n  maxUnavailable: 1\n", {"a": {"maxUnavailable": None}})
    assert changes == [{"key": "a.maxUnavailable", "before": 1, "after": None}]
    assert "maxUnavailable:" in after and "1" not in after


@pytest.mark.parametrize("values, expected", [
    ({"a": {"b": {"d": 2}, "n": 5}}, "a:\n  b:\n    c: 1  # eol\n    d: 2\n  n: 5\n\n# next\nz: 1\n"),
    ({"a": {"n": {"m": 1}, "b": {"d": 2}}}, "a:\n  b:\n    c: 1  # eol\n    d: 2\n  n:\n    m: 1\n\n# next\nz: 1\n"),
])
def test_keys_appended_to_a_block_go_above_the_blank_line_and_comment_that_close_it(values, expected):
    assert merge_values_text("a:\n  b:\n    c: 1  # eol\n\n# next\nz: 1\n", values)[0] == expected


def test_chart_values_file_from_the_lab_gets_the_pdb_keys_inside_its_block():
    after = merge_values_text(VALUES, {"alertmanager": {"podDisruptionBudget": {
        "unhealthyPodEvictionPolicy": "AlwaysAllow"}}})[0]
    assert "    minAvailable: 1\n    unhealthyPodEvictionPolicy: AlwaysAllow\n\nprometheus:\n" in after
