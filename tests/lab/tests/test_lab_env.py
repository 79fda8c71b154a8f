"""The files `up` writes, used the way people and tools use them: the env file sourced by bash and
read by real clients (hvac, kubectl, boto3, Alertmanager's API, Keycloak's token endpoint), the
inventory read by Ansible, and the fixture's helpers."""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
import sys
import textwrap
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from atlas_lab.pytest_plugin import Lab, parse_recap

REQUIRED_VARIABLES = (
    "VAULT_ADDR", "VAULT_TOKEN", "ATLAS_LAB_OPENBAO_ADDR", "K8S_AUTH_KUBECONFIG", "KUBECONFIG", "ATLAS_LAB_CA_FILE",
    "KEYCLOAK_URL", "KEYCLOAK_REALM", "KEYCLOAK_USER", "KEYCLOAK_PASSWORD", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "ALERTMANAGER_URLS", "ATLAS_LAB_VAULT_PROXY_ADMIN_URL",
    "ATLAS_LAB_KUBERNETES_ADMIN_URL", "ATLAS_LAB_KEYCLOAK_ADMIN_URL", "ATLAS_LAB_CONTROL_URL",
)


def run_python(lab: Lab, code: str) -> dict:
    """Run ``code`` in a fresh interpreter whose only configuration is the sourced env file."""
    script = f". {lab.env_file} && exec {sys.executable} -c {shlex.quote(textwrap.dedent(code))}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(lab.dir)}
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_lab_env_file_is_sourceable_and_complete(lab: Lab) -> None:
    result = subprocess.run(["bash", "-c", f"set -eu; . {lab.env_file}; env -0"], capture_output=True,
                            env={"PATH": "/usr/bin:/bin"}, check=True)
    sourced = dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    for name in REQUIRED_VARIABLES:
        assert sourced.get(name), f"{name} missing from {lab.env_file}"
        assert sourced[name] == lab.vars[name]
    assert sourced["VAULT_ADDR"] == lab.urls["vault_proxy"] != lab.urls["openbao"] == sourced["ATLAS_LAB_OPENBAO_ADDR"]
    assert sourced["KUBECONFIG"] == sourced["K8S_AUTH_KUBECONFIG"] == str(lab.dir / "kubeconfig")
    assert len(sourced["ALERTMANAGER_URLS"].split(",")) == lab.state["alertmanager_peers"]
    # Lab secrets: owner-only files.
    for path in (lab.env_file, lab.dir / "state.json", lab.dir / "config.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert lab.vault_token not in (lab.dir / "state.json").read_text()
    assert lab.keycloak_admin_password not in lab.inventory.read_text()


def test_lab_env_vault_through_the_proxy(lab: Lab) -> None:
    """hvac configured by VAULT_ADDR/VAULT_TOKEN alone writes through the fault proxy to real OpenBao."""
    path = f"lab-env-{uuid.uuid4().hex[:8]}"
    before = lab.vault_proxy.counts().get("kv2.write", 0)
    seen = run_python(lab, f"""
        import json, os, hvac
        client = hvac.Client()  # VAULT_ADDR and VAULT_TOKEN from the environment
        assert client.is_authenticated()
        client.secrets.kv.v2.create_or_update_secret(path="{path}", secret={{"answer": "42"}})
        direct = hvac.Client(url=os.environ["ATLAS_LAB_OPENBAO_ADDR"])
        data = direct.secrets.kv.v2.read_secret_version(path="{path}", raise_on_deleted_version=True)
        print(json.dumps({{"answer": data["data"]["data"]["answer"], "addr": client.url}}))
    """)
    assert seen == {"answer": "42", "addr": lab.vault_url}
    assert lab.vault_proxy.counts().get("kv2.write", 0) == before + 1


def test_lab_env_kubectl_with_the_kubeconfig(lab: Lab) -> None:
    """The real kubectl, configured only by the env file (KUBECONFIG, TLS verified with the lab CA)."""
    kubectl = Path(sys.executable).parent / "kubectl"
    result = subprocess.run(["bash", "-c", f". {lab.env_file} && {kubectl} get namespaces -o json"],
                            capture_output=True, text=True, check=False, timeout=60,
                            # HOME for kubectl's cache: without one it writes .kube/ into the working directory.
                            env={"PATH": "/usr/bin:/bin", "HOME": str(lab.dir)})
    assert result.returncode == 0, result.stderr
    names = {item["metadata"]["name"] for item in json.loads(result.stdout)["items"]}
    # The namespaces of every lab, also after a reset (which drops the scenarios' seeds such as keycloak).
    assert {"default", "kube-system", "kube-public"} <= names
    # The Keycloak operator's admin Secret the lab seeds (dropped by a reset, which the session lab may have
    # had by now) is checked on a lab of its own: test_harden_playbook's demo test adopts it and logs in.
    token = subprocess.run([str(kubectl), "config", "view", "--raw", "-o",
                            "jsonpath={.users[0].user.token}"], capture_output=True, text=True, env=lab.env,
                           check=True).stdout
    assert token and token not in (lab.dir / "state.json").read_text()


def test_lab_env_boto3_s3_and_kms_against_moto(lab: Lab) -> None:
    """boto3 with no arguments: AWS_ENDPOINT_URL and the credentials come from the env file."""
    bucket = f"lab-env-{uuid.uuid4().hex[:8]}"
    seen = run_python(lab, f"""
        import json, boto3
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="{bucket}", CreateBucketConfiguration={{"LocationConstraint": "eu-west-1"}})
        s3.put_object(Bucket="{bucket}", Key="k", Body=b"v")
        body = s3.get_object(Bucket="{bucket}", Key="k")["Body"].read().decode()
        kms = boto3.client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]
        plain = kms.decrypt(CiphertextBlob=blob)["Plaintext"].decode()
        print(json.dumps({{"body": body, "plain": plain, "endpoint": s3.meta.endpoint_url,
                          "kms_endpoint": kms.meta.endpoint_url}}))
    """)
    assert seen == {"body": "v", "plain": "secret", "endpoint": lab.aws_endpoint_url,
                    "kms_endpoint": lab.aws_endpoint_url}


def test_lab_env_alertmanager_peers_form_one_cluster(lab: Lab) -> None:
    urls = lab.vars["ALERTMANAGER_URLS"].split(",")
    expected = lab.state["alertmanager_peers"]
    assert len(urls) == expected >= 3
    views = []
    for url in urls:
        with urllib.request.urlopen(f"{url}/api/v2/status", timeout=5) as response:
            cluster = json.load(response)["cluster"]
        assert cluster["status"] == "ready", (url, cluster)
        views.append(sorted(peer["address"] for peer in cluster["peers"]))
    assert len(views[0]) == expected
    assert all(view == views[0] for view in views)  # every peer sees the same members


def test_lab_env_keycloak_admin_credentials(lab: Lab) -> None:
    form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli",
                                   "username": lab.vars["KEYCLOAK_USER"],
                                   "password": lab.vars["KEYCLOAK_PASSWORD"]}).encode()
    url = f"{lab.vars['KEYCLOAK_URL']}/realms/{lab.vars['KEYCLOAK_REALM']}/protocol/openid-connect/token"
    with urllib.request.urlopen(urllib.request.Request(url, data=form), timeout=5) as response:
        token = json.load(response)
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 60


def test_lab_inventory_points_ansible_at_the_lab(lab: Lab) -> None:
    result = lab.ansible("ansible.builtin.debug", {"msg": "{{ ansible_python_interpreter }} {{ atlas_hardening_vault_url }} "
                                                          "{{ atlas_hardening_k8s_kubeconfig }} {{ group_names }}"})
    assert result.rc == 0, result
    assert result.results["localhost"]["msg"] == (f"{sys.executable} {lab.vault_url} {lab.kubeconfig} "
                                                  "['atlas_control']")
    assert result.recap["localhost"] == {"ok": 1, "changed": 0, "unreachable": 0, "failed": 0}
    command = lab.ansible("ansible.builtin.command", "/bin/false")
    assert command.rc == 2 and command.results["localhost"] == {"status": "FAILED", "rc": 1}, command
    assert command.recap["localhost"]["failed"] == 1


def test_lab_ansible_playbook_helper_counts_changes(lab: Lab, tmp_path: Path) -> None:
    """The helper finds the collection (ANSIBLE_COLLECTIONS_PATH) and parses PLAY RECAP: changed, then idempotent."""
    target = tmp_path / "out.txt"
    playbook = tmp_path / "play.yml"
    collection_root = "{{ lookup('ansible.builtin.env', 'ANSIBLE_COLLECTIONS_PATH') }}/ansible_collections/atlas/hardening"
    playbook.write_text(yaml.safe_dump([{
        "name": "Lab helper check", "hosts": "atlas_control", "gather_facts": False,
        "tasks": [
            {"name": "The collection is found as atlas.hardening",
             "ansible.builtin.assert": {"that": "lookup('ansible.builtin.file', collection_root ~ '/galaxy.yml') "
                                                "is search('name: hardening')"},
             "vars": {"collection_root": collection_root}},
            {"name": "Write a file once",
             "ansible.builtin.copy": {"content": "lab\n", "dest": str(target), "mode": "0600"}},
        ],
    }], sort_keys=False))
    first = lab.ansible_playbook(playbook)
    assert first.rc == 0, first
    assert first.recap == {"localhost": {"ok": 2, "changed": 1, "unreachable": 0, "failed": 0, "skipped": 0,
                                         "rescued": 0, "ignored": 0}}
    second = lab.ansible_playbook(playbook, "--diff")
    assert (second.rc, second.changed, second.ok) == (0, 0, 2), second
    check = lab.ansible_playbook(playbook, check=True, extra_vars={"unused": 1})
    assert check.rc == 0 and check.changed == 0, check


def test_lab_parse_recap_takes_the_last_recap() -> None:
    stdout = ("PLAY RECAP *****\nlocalhost : ok=1 changed=1 unreachable=0 failed=0\n\n"
              "PLAY RECAP *****\nlocalhost                  : ok=3    changed=0    unreachable=0    failed=1    "
              "skipped=2    rescued=0    ignored=0   \nother : ok=1 changed=2 unreachable=0 failed=0\n")
    assert parse_recap(stdout) == {
        "localhost": {"ok": 3, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 2, "rescued": 0, "ignored": 0},
        "other": {"ok": 1, "changed": 2, "unreachable": 0, "failed": 0},
    }
    assert parse_recap("no recap here") == {}


def test_lab_reset_clears_faults_counters_and_moto(lab: Lab) -> None:
    lab.keycloak.add_fault("error", kind="*", status=503, count=5)
    lab.vault_proxy.add_fault("error", kind="kv2.write", status=500)
    bucket = f"lab-reset-{uuid.uuid4().hex[:8]}"
    run_python(lab, f"""
        import boto3, json
        boto3.client("s3").create_bucket(Bucket="{bucket}", CreateBucketConfiguration={{"LocationConstraint": "eu-west-1"}})
        print(json.dumps({{}}))
    """)
    lab.reset()
    assert lab.keycloak.faults() == [] and lab.vault_proxy.faults() == []
    assert lab.keycloak.requests()["total"] == 0
    buckets = run_python(lab, """
        import boto3, json
        print(json.dumps([b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]))
    """)
    assert bucket not in buckets


def test_lab_control_api_restarts_a_killed_peer(lab: Lab) -> None:
    """Through the supervisor's control API: SIGKILL a peer, restart it, and it rejoins the mesh."""
    peers = lab.alertmanager_peers()
    victim = peers[-1]
    lab.stop_alertmanager_peer(victim["name"], "KILL")
    assert [peer["name"] for peer in lab.alertmanager_peers()] == [peer["name"] for peer in peers[:-1]]
    assert victim["web_url"] not in lab.alertmanager_urls  # the env file follows
    restarted = lab.restart_alertmanager_peer(victim["name"])
    assert restarted["web_url"] == victim["web_url"] and restarted["pid"] != victim["pid"]
    assert lab.alertmanager_urls == [peer["web_url"] for peer in peers]
    state = json.loads((lab.dir / "state.json").read_text())
    assert state["services"][victim["name"]]["pid"] == restarted["pid"]  # `down` will find the new process


@pytest.mark.parametrize("service", ["kubernetes", "keycloak", "vault_proxy", "control"])
def test_lab_admin_clients_answer(lab: Lab, service: str) -> None:
    assert lab.admin(service).health()


def test_every_lab_file_that_holds_a_secret_is_readable_by_its_owner_only(lab: Lab) -> None:
    """docs/lab.md: files holding secrets are 0600. OpenBao's dev mode prints its root token in its log."""
    secrets = [lab.vault_token, lab.keycloak_admin_password, lab.vars["AWS_SECRET_ACCESS_KEY"]]
    holding = []
    for path in sorted(p for p in lab.dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(secret.encode() in data for secret in secrets):
            holding.append(path)
            assert path.stat().st_mode & 0o077 == 0, f"{path} holds a secret and is mode {path.stat().st_mode:o}"
    assert lab.dir / "openbao" / "openbao.log" in holding  # the root token is in it: the check looked there
