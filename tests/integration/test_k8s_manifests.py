"""atlas.hardening.k8s_manifests through ansible-playbook against the lab's Kubernetes API emulator.

Idempotence and check mode are proven with the emulator's write counters, not only with
``changed``; secrecy by searching the whole output of ``--diff -vvv`` runs for the values.
"""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_manifests_support import NS, PASSWORD, ROTATED, apply_task, run_json, ten_objects, write_play, writes

pytestmark = pytest.mark.timeout(600)


@pytest.mark.compat
def test_first_run_creates_second_writes_nothing_check_mode_writes_nothing(clean_lab: Any, tmp_path: Path) -> None:
    playbook = write_play(tmp_path / "apply.yml", [apply_task(manifests=ten_objects(), namespace=NS)],
                          module_defaults={"k8s_kubeconfig": str(clean_lab.kubeconfig)})

    run, (preview,) = run_json(clean_lab, playbook, check=True)
    assert run.rc == 0, run
    assert preview["changed"] is True
    assert {result["action"] for result in preview["results"]} == {"created"}
    assert writes(clean_lab) == {}

    run, (first,) = run_json(clean_lab, playbook)
    assert run.rc == 0, run
    assert first["changed"] is True and {r["action"] for r in first["results"]} == {"created"}
    # Ten writes, one read (the namespace), and the published schemas the objects are checked against before
    # the first write: the list, plus the documents of v1, apps/v1, rbac and networking unless cached.
    assert first["api_requests"]["PATCH"] == 10 and 2 <= first["api_requests"]["GET"] <= 6, first["api_requests"]
    assert sum(writes(clean_lab).values()) == 10

    clean_lab.k8s.reset_requests()
    run, (second,) = run_json(clean_lab, playbook)
    assert run.rc == 0, run
    assert second["changed"] is False and {r["action"] for r in second["results"]} == {"unchanged"}
    assert writes(clean_lab) == {}
    assert sum(clean_lab.k8s.counts().values()) == 9 == second["api_requests"]["GET"]

    clean_lab.k8s.reset_requests()
    changed = write_play(tmp_path / "changed.yml", [apply_task(manifests=ten_objects(replicas=3), namespace=NS)])
    run, (preview,) = run_json(clean_lab, changed, check=True)
    assert run.rc == 0, run
    assert [(r["kind"], r["action"]) for r in preview["results"] if r["action"] != "unchanged"] == [
        ("Deployment", "updated")]
    assert writes(clean_lab) == {}


@pytest.mark.compat
def test_secret_values_never_appear_in_diff_or_verbose_output(clean_lab: Any, tmp_path: Path) -> None:
    create = write_play(tmp_path / "create.yml", [apply_task(manifests=ten_objects(), namespace=NS)])
    rotate = write_play(tmp_path / "rotate.yml", [apply_task(manifests=ten_objects(password=ROTATED), namespace=NS)])
    outputs = []
    for playbook, check in ((create, False), (rotate, True), (rotate, False)):
        run = clean_lab.ansible_playbook(playbook, "-vvv", diff=True, check=check)
        assert run.rc == 0, run
        outputs.append(run.stdout + run.stderr)
    text = "\n".join(outputs)
    assert "<hidden: new value>" in text and "<hidden: old value>" in text
    assert '"action": "updated"' in outputs[2]
    for value in (PASSWORD, ROTATED):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text
    assert lab_token(clean_lab) not in text


def lab_token(lab: Any) -> str:
    kubeconfig = yaml.safe_load(Path(lab.vars["K8S_AUTH_KUBECONFIG"]).read_text())
    return kubeconfig["users"][0]["user"]["token"]


def test_force_conflicts(clean_lab: Any, tmp_path: Path) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "default"},
              "data": {"mode": "theirs"}}
    ours = dict(config, data={"mode": "ours"})
    playbook = write_play(tmp_path / "conflict.yml", [
        apply_task(manifests=[config], field_manager="helm"),
        dict(apply_task(manifests=[ours]), ignore_errors=True),
        apply_task(manifests=[ours], force_conflicts=True),
        apply_task(manifests=[ours]),
    ])
    run, (theirs, refused, forced, again) = run_json(clean_lab, playbook)
    assert run.rc == 0, run
    assert theirs["changed"] is True
    assert refused["failed"] is True
    assert refused["msg"].startswith("Applying ConfigMap default/shared conflicts with another field manager: ")
    assert '"helm"' in refused["msg"] and refused["msg"].endswith(
        "set force_conflicts: true to make 'atlas-hardening' take them over.")
    assert forced["changed"] is True and forced["results"][0]["action"] == "updated"
    assert again["changed"] is False


def test_unknown_field_is_one_clear_error(clean_lab: Any, tmp_path: Path) -> None:
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "typo", "namespace": "default"},
           "spec": {"selector": {"a": "b"}, "ports": [{"port": 80}], "clusterIPz": "None"}}
    playbook = write_play(tmp_path / "bad.yml", [dict(apply_task(manifests=[bad]), ignore_errors=True)])
    run, (result,) = run_json(clean_lab, playbook)
    assert run.rc == 0, run
    assert result["failed"] is True
    assert result["msg"].startswith("The Kubernetes API server rejected Service default/typo: failed to create "
                                    "typed patch object (default/typo; ")
    assert result["msg"].endswith(": .spec.clusterIPz: field not declared in schema. Fix the manifest "
                                  "(field validation is Strict: unknown or misspelled fields are errors).")
    assert "Traceback (most recent call last)" not in run.stdout + run.stderr
    assert clean_lab.k8s.counts() == {"get services": 1, "patch services": 1}  # one read, the rejected apply
    stored = clean_lab.k8s.call("GET", "k8s/objects")
    assert "typo" not in json.dumps(stored)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_errors_are_one_clear_message_each(clean_lab: Any, tmp_path: Path) -> None:
    port = _closed_port()
    missing = tmp_path / "missing-kubeconfig"
    manifests = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}]
    playbook = write_play(tmp_path / "errors.yml", [
        dict(apply_task(manifests=manifests, k8s_kubeconfig=str(missing)), ignore_errors=True),
        dict(apply_task(manifests=manifests, k8s_api_key="wrong-token-123456"), ignore_errors=True),
        dict(apply_task(manifests=manifests, k8s_host=f"http://127.0.0.1:{port}"), ignore_errors=True),
    ])
    run, (no_file, wrong_token, unreachable) = run_json(clean_lab, playbook)
    assert run.rc == 0, run
    assert no_file["msg"] == (f"The kubeconfig file {missing} given by k8s_kubeconfig does not exist or is not a "
                              "file. Check the path, or unset the option to use KUBECONFIG or ~/.kube/config.")
    kubeconfig = clean_lab.vars["K8S_AUTH_KUBECONFIG"]
    assert wrong_token["msg"] == (
        f"The Kubernetes API server at {clean_lab.kubernetes_url} rejected the credentials from kubeconfig "
        f"{kubeconfig} (context 'atlas-lab', user 'atlas-lab-admin') (401 Unauthorized). Check the token or client "
        f"certificate of user 'atlas-lab-admin' in kubeconfig {kubeconfig}: the token may be wrong or expired.")
    assert unreachable["msg"].startswith(f"Cannot reach the Kubernetes API server at http://127.0.0.1:{port} (")
    assert "Connection refused" in unreachable["msg"]
    for result in (no_file, wrong_token, unreachable):
        assert "Traceback (most recent call last)" not in json.dumps(result)
    assert "wrong-token-123456" not in run.stdout
