"""Several clusters from one inventory: two labs, each a host of atlas_control with its own kubeconfig,
Vault (and token), Keycloak and bucket, hardened by one harden.yml run in parallel (forks); a failure
half-way on one does not stop or corrupt the other; the audit summarises both.

The layout is the one docs/examples/inventory/clusters/ documents (one host per cluster, host variables).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from atlas_lab.pytest_plugin import VENV_BIN, AnsibleResult, Lab, parse_recap
from atlas_lab.services.kubernetes import writes

pytestmark = pytest.mark.timeout(900)
HARDEN = "playbooks/harden.yml"
CLUSTERS = ("cluster-a", "cluster-b")


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Lab]]:
    base = tmp_path_factory.mktemp("clusters")
    with ThreadPoolExecutor(2) as pool:
        labs = dict(zip(CLUSTERS, pool.map(lambda name: Lab.start(base / name), CLUSTERS)))
    try:
        yield labs
    finally:
        for lab in labs.values():
            lab.stop()


def inventory(clusters: dict[str, Lab], path: Path) -> Path:
    """One host per cluster: each lab's own inventory variables become its host variables, with its own
    Vault token (the environment's VAULT_TOKEN is removed below, so a shared token cannot be what works)."""
    hosts = {}
    for name, lab in clusters.items():
        own = yaml.safe_load((lab.dir / "inventory.yml").read_text())["all"]["children"]["atlas_control"]
        hosts[name] = {**own["hosts"]["localhost"], **own["vars"], "atlas_hardening_cluster_name": name,
                       "atlas_hardening_vault_token": lab.vault_token}
    path.write_text(yaml.safe_dump({"all": {"children": {"atlas_control": {"hosts": hosts}}}}))
    return path


def summaries(stdout: str) -> dict[str, dict[str, str]]:
    """cluster -> {item: status}, from each host's hardening summary (its first line names the cluster)."""
    found: dict[str, dict[str, str]] = {}
    for block in re.finditer(r'"msg": \[\n\s+"cluster (?P<cluster>[a-z-]+)",(?P<lines>.*?)\n\s+\]', stdout, re.S):
        found[block["cluster"]] = {m["item"]: m["status"] for m in re.finditer(
            r'"(?P<item>[a-z_-]+) \| (?P<status>[a-z ]+) \| ', block["lines"])}
    return found


def run(clusters: dict[str, Lab], inventory_path: Path, *args: str, playbook: str = HARDEN) -> Any:
    first = clusters["cluster-a"]
    # Nothing of one lab in the environment: every connection setting comes from the host's variables.
    env = {key: value for key, value in first.env.items()
           if key not in ("VAULT_TOKEN", "VAULT_ADDR", "KUBECONFIG", "K8S_AUTH_KUBECONFIG", "AWS_ENDPOINT_URL",
                          "KEYCLOAK_URL", "ALERTMANAGER_URLS")}
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory_path), playbook, "--forks", "2", *args]
    completed = first.run(argv, timeout=600, env=env)
    return AnsibleResult(argv, completed.returncode, completed.stdout, completed.stderr,
                         recap=parse_recap(completed.stdout))


def test_one_run_hardens_both_and_a_failure_on_one_leaves_the_other_done(clusters: dict[str, Lab],
                                                                         tmp_path: Path) -> None:
    path = inventory(clusters, tmp_path / "clusters.yml")
    a, b = clusters["cluster-a"], clusters["cluster-b"]
    # cluster-b's API server refuses the image-scan gate's ClusterPolicy: its run stops half-way.
    b.k8s.add_fault("error", method="PATCH", path="/clusterpolicies/", status=500, count=1000)
    broken = run(clusters, path)
    assert broken.rc == 2, broken
    assert broken.recap["cluster-a"]["failed"] == 0 and broken.recap["cluster-b"]["failed"] == 1, broken.recap
    # cluster-a finished everything and says so; cluster-b failed and printed no summary.
    assert summaries(broken.stdout) == {"cluster-a": {
        "alertmanager": "hardened", "rotation": "hardened", "image-scan": "hardened", "sealed-secrets": "hardened",
        "sealed-secrets-backup-job": "hardened", "disaster-recovery-backups": "hardened"}}, broken.stdout[-3000:]
    assert "fatal: [cluster-b]" in broken.stdout
    # Each cluster got its own objects: Alertmanager HA on both (the roles before the failure ran on b).
    for lab in (a, b):
        alertmanager = lab.run(["kubectl", "get", "alertmanager", "-n", "monitoring", "-o",
                                "jsonpath={.items[0].spec.replicas}"])
        assert alertmanager.stdout == "3", (lab.dir, alertmanager.stderr)
    assert b.run(["kubectl", "get", "clusterpolicy", "verify-image-scan"]).returncode != 0

    b.k8s.clear_faults()
    a.k8s.reset_requests()
    repaired = run(clusters, path)
    assert repaired.rc == 0, repaired
    # Nothing to redo on cluster-a: not a write; cluster-b finishes what the failure left.
    # (the Alertmanager gossip probe's silences go through the pod proxy to Alertmanager, not to the cluster)
    assert {kind: n for kind, n in writes(a.k8s.counts()).items() if "/proxy" not in kind} == {}
    assert repaired.recap["cluster-a"]["changed"] == 0, repaired.recap
    statuses = summaries(repaired.stdout)
    assert set(statuses["cluster-a"].values()) == {"unchanged"}, statuses
    assert statuses["cluster-b"]["image-scan"] == "hardened"
    assert statuses["cluster-b"]["alertmanager"] == "unchanged"

    # The audit of both, with one line per cluster at the end.
    audited = run(clusters, path, playbook="playbooks/audit.yml")
    assert audited.rc == 0, audited
    table = audited.stdout[audited.stdout.index("Show one line per cluster"):]
    assert re.search(r"\| cluster-a \| [0-9.]+ \| ", table) and re.search(r"\| cluster-b \| [0-9.]+ \| ", table), table
