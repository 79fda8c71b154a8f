"""Benchmark of Sealed Secrets: the controller through `harden.yml --tags sealed-secrets` (first run and
second run), then sealing N Secrets with `atlas.hardening.sealed_secret` (one task with ``secrets``,
then a task per Secret in a loop; first seal and the no-churn re-run of each) side by side with PyPI
kubesealpy sealing the same values (what a Python user would
pick without the kubeseal CLI), and migrating N plaintext Secrets in one `sealed_secrets_migrate` task.

The requests column counts Kubernetes API requests (the certificate fetch through the service proxy
included); kubesealpy sends one (the certificate), then only seals locally, and rewrites every
ciphertext on every run.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

SECRETS = 20
CERT_PATH = "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:/proxy/v1/cert.pem"


def _timed_playbook(lab: Any, name: str, playbook: str | Path, *args: str) -> dict[str, Any]:
    lab.k8s.reset_requests()
    started = time.monotonic()
    run = lab.ansible_playbook(playbook, *args)
    wall = time.monotonic() - started
    if run.rc != 0:
        raise RuntimeError(f"{name}: the run failed:\n{run}")
    return {"name": name, "wall_seconds": round(wall, 3), "requests": {"kubernetes": sum(lab.k8s.counts().values())},
            "notes": f"changed={run.changed}"}


def _seal_playbook(directory: Path, one_task: bool) -> Path:
    if one_task:
        tasks = [{"name": "Seal the bench's Secrets in one task", "atlas.hardening.sealed_secret": {"secrets": [
            {"name": f"bench-{index}", "namespace": "bench-seal",
             "data": {"username": f"user-{index}", "password": f"bench-password-{index}"},
             "path": str(directory / f"bench-{index}.yaml")} for index in range(SECRETS)]}}]
    else:
        tasks = [{"name": "Seal the bench's Secrets, a task per Secret", "loop": list(range(SECRETS)), "no_log": True,
                  "atlas.hardening.sealed_secret": {
                      "name": "loop-{{ item }}", "namespace": "bench-seal",
                      "data": {"username": "user-{{ item }}", "password": "bench-password-{{ item }}"},
                      "path": str(directory / "loop-{{ item }}.yaml")}}]
    path = directory / ("seal-one-task.yml" if one_task else "seal-loop.yml")
    path.write_text(yaml.safe_dump([{"name": "Seal", "hosts": "atlas_control", "gather_facts": False,
                                     "module_defaults": {"group/atlas.hardening.kubernetes": {
                                         "k8s_kubeconfig": "{{ atlas_hardening_k8s_kubeconfig }}"}},
                                     "tasks": tasks}], sort_keys=False), encoding="utf-8")
    return path


def _kubesealpy(lab: Any, directory: Path) -> dict[str, Any]:
    """kubesealpy: fetch the certificate once through the proxy, seal every Secret, write the files."""
    from kubesealpy import Sealer  # pylint: disable=import-outside-toplevel
    lab.k8s.reset_requests()
    started = time.monotonic()
    pem = lab.run(["kubectl", "get", "--raw", CERT_PATH]).stdout
    sealer = Sealer.from_certificate_pem(pem)
    for index in range(SECRETS):
        sealed = sealer.seal(name=f"bench-{index}", namespace="bench-seal",
                             data={"username": f"user-{index}".encode(), "password": f"bench-password-{index}".encode()})
        (directory / f"kubesealpy-{index}.yaml").write_text(sealed.to_yaml(), encoding="utf-8")
    wall = time.monotonic() - started
    return {"name": f"sealed-secrets: kubesealpy, {SECRETS} Secrets (in-process, files only)",
            "wall_seconds": round(wall, 3), "requests": {"kubernetes": sum(lab.k8s.counts().values())},
            "notes": "every run re-seals every value (new ciphertexts: the churn the module avoids)"}


def run(lab: Any) -> list[dict[str, Any]]:
    lab.reset()
    rows = [_timed_playbook(lab, "sealed-secrets: harden.yml --tags sealed-secrets, first run",
                            "playbooks/harden.yml", "--tags", "sealed-secrets"),
            _timed_playbook(lab, "sealed-secrets: second run (nothing to do)",
                            "playbooks/harden.yml", "--tags", "sealed-secrets")]
    lab.run(["kubectl", "create", "namespace", "bench-seal"])
    with tempfile.TemporaryDirectory(prefix="bench-seal-") as scratch:
        directory = Path(scratch)
        playbook = _seal_playbook(directory, one_task=True)
        loop = _seal_playbook(directory, one_task=False)
        rows.append(_timed_playbook(lab, f"sealed-secrets: sealed_secret, {SECRETS} Secrets in one task (cluster + Git)",
                                    playbook))
        deadline = time.monotonic() + 30
        while lab.run(["kubectl", "get", "secret", f"bench-{SECRETS - 1}", "-n", "bench-seal"]).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the controller did not unseal the bench's Secrets")
            time.sleep(0.2)
        rows.append(_timed_playbook(lab, f"sealed-secrets: sealed_secret re-run, {SECRETS} Secrets (no churn)",
                                    playbook))
        rows.append(_timed_playbook(lab, f"sealed-secrets: sealed_secret, a task per Secret ({SECRETS}, loop)", loop))
        rows.append(_timed_playbook(lab, "sealed-secrets: the same loop re-run (no churn)", loop))
        rows.append(_kubesealpy(lab, directory))
    lab.run(["kubectl", "create", "namespace", "bench-migrate"])
    for index in range(SECRETS):
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"plain-{index}", "namespace": "bench-migrate"},
                  "data": {"password": base64.b64encode(f"plain-{index}".encode()).decode()}}
        lab.run(["kubectl", "create", "-f", "-"], input=json.dumps(secret))
    with tempfile.TemporaryDirectory(prefix="bench-migrate-") as scratch:
        migrate = Path(scratch) / "migrate.yml"
        migrate.write_text(yaml.safe_dump([{"name": "Migrate", "hosts": "atlas_control", "gather_facts": False,
                                            "module_defaults": {"group/atlas.hardening.kubernetes": {
                                                "k8s_kubeconfig": "{{ atlas_hardening_k8s_kubeconfig }}"}},
                                            "tasks": [{"atlas.hardening.sealed_secrets_migrate": {
                                                "namespaces": ["bench-migrate"], "apply": True,
                                                "directory": str(Path(scratch) / "git")}}]}]), encoding="utf-8")
        rows.append(_timed_playbook(lab, f"sealed-secrets: sealed_secrets_migrate, {SECRETS} Secrets, one task", migrate))
    lab.reset()
    return rows
