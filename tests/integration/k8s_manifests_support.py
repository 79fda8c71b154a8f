"""Helpers shared by test_k8s_manifests.py and tests/bench/bench_k8s_manifests.py: a typical role's
set of objects, playbooks that save each k8s_manifests result, and the emulator's write counters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

NS = "atlas-it"
PASSWORD = "Integration-Passw0rd-5813"
ROTATED = "Integration-R0tated-7720"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


def ten_objects(password: str = PASSWORD, replicas: int = 2, namespace: str = NS) -> list[dict[str, Any]]:
    """Ten objects of nine kinds in one namespace (the namespaced ones name none: pass namespace=)."""
    labels = {"app.kubernetes.io/name": "web"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config"}, "data": {"LOG_LEVEL": "info"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-extra"}, "data": {"FEATURES": "a,b"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-db"}, "type": "Opaque",
         "stringData": {"password": password}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "serviceAccountName": "web",
                      "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "web-read"},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "web-read"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web-read"},
         "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": namespace}]},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "web-ingress"},
         "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"],
                  "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]}},
    ]


def write_play(path: Path, tasks: list[dict[str, Any]], module_defaults: dict[str, Any] | None = None) -> Path:
    """A play running ``tasks``; each result is registered and saved next to the playbook as
    ``<name>.result<i>.json`` (ansible-core has no json stdout callback any more)."""
    steps: list[dict[str, Any]] = []
    for index, task in enumerate(tasks):
        steps.append(dict(task, register=f"result{index}"))
        steps.append({"name": f"Save result {index}", "ansible.builtin.copy": {
            "content": f"{{{{ result{index} | to_json }}}}", "dest": f"{path}.result{index}.json", "mode": "0600"},
            "check_mode": False, "changed_when": False})
    play: dict[str, Any] = {"name": "k8s_manifests", "hosts": "localhost", "gather_facts": False, "tasks": steps}
    if module_defaults is not None:
        play["module_defaults"] = {"group/atlas.hardening.kubernetes": module_defaults}
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def apply_task(**args: Any) -> dict[str, Any]:
    return {"name": "Apply", "atlas.hardening.k8s_manifests": args}


def run_json(lab: Any, playbook: Path, *args: str, check: bool = False, diff: bool = False) -> tuple[Any, list[dict]]:
    """Run the playbook: (AnsibleResult, the saved result of each k8s_manifests task)."""
    for old in playbook.parent.glob(playbook.name + ".result*.json"):
        old.unlink()
    run = lab.ansible_playbook(playbook, *args, check=check, diff=diff)
    results = []
    for index in range(len(yaml.safe_load(playbook.read_text())[0]["tasks"]) // 2):
        saved = Path(f"{playbook}.result{index}.json")
        assert saved.exists(), run
        results.append(json.loads(saved.read_text()))
    return run, results


def writes(lab: Any) -> dict[str, int]:
    return {kind: count for kind, count in lab.k8s.counts().items()
            if kind.split(" ", 1)[0] in WRITE_VERBS and not kind.endswith("(dry-run)")}
