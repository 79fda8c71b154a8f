"""Sealed Secrets end to end against the lab's simulated controller (checked against kubesealpy and
kubectl in tests/lab/tests/test_sealed_secrets_controller.py): the role installs and backs the keys
up, sealing has no churn, the keys survive a disaster, nothing leaks, bad input writes nothing."""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from atlas_lab.pytest_plugin import Lab, wait_for
from atlas_lab.services.kubernetes import writes

pytestmark = pytest.mark.timeout(600)
NAMESPACE = "kube-system"
KEY_SELECTOR = "sealedsecrets.bitnami.com/sealed-secrets-key"
MODULE_DEFAULTS = {
    "group/atlas.hardening.kubernetes": {"k8s_kubeconfig": "{{ atlas_hardening_k8s_kubeconfig }}"},
    "group/atlas.hardening.vault": {"vault_url": "{{ atlas_hardening_vault_url }}"},
}


def playbook(tmp_path: Path, name: str, tasks: list[dict[str, Any]] | None = None,
             roles: list[str] | None = None) -> Path:
    play: dict[str, Any] = {"name": name, "hosts": "atlas_control", "gather_facts": False,
                            "module_defaults": MODULE_DEFAULTS}
    if roles:
        play["roles"] = [{"role": role} for role in roles]
    if tasks:
        play["tasks"] = tasks
    path = tmp_path / f"{name.replace(' ', '-')}.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False), encoding="utf-8")
    return path


def kubectl(lab: Lab, *args: str, stdin: str | None = None) -> Any:
    return lab.run(["kubectl", *args], input=stdin)


def get_json(lab: Lab, *args: str) -> Any:
    result = kubectl(lab, "get", *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def install(lab: Lab, tmp_path: Path, kv_path: str, *args: str, check: bool = False, **variables: Any) -> Any:
    return lab.ansible_playbook(playbook(tmp_path, "install sealed secrets", roles=["atlas.hardening.sealed_secrets"]),
                                *args, check=check, extra_vars={"sealed_secrets_kv_path": kv_path, **variables})


def seal_task(path: Path | None, data: dict[str, str], **options: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"name": "db", "namespace": "apps", "data": data, **options}
    if path is not None:
        args["path"] = str(path)
    return {"name": "Seal", "atlas.hardening.sealed_secret": args, "register": "sealed"}


def secret_value(lab: Lab, name: str, namespace: str, key: str) -> bytes | None:
    result = kubectl(lab, "get", "secret", name, "-n", namespace, "-o", "json")
    if result.returncode != 0:
        return None
    return base64.b64decode(json.loads(result.stdout)["data"].get(key, ""))


@pytest.fixture
def installed(clean_lab: Lab, tmp_path: Path) -> tuple[Lab, str]:
    kv_path = "sealed-secrets-" + secrets.token_hex(4)
    result = install(clean_lab, tmp_path, kv_path)
    assert result.rc == 0, result
    assert kubectl(clean_lab, "create", "namespace", "apps").returncode == 0
    return clean_lab, kv_path


def test_install_check_mode_first_run_then_nothing_left_to_do(clean_lab: Lab, tmp_path: Path) -> None:
    kv_path = "sealed-secrets-" + secrets.token_hex(4)
    clean_lab.k8s.reset_requests()
    check = install(clean_lab, tmp_path, kv_path, check=True)
    assert check.rc == 0, check
    assert writes(clean_lab.k8s.counts()) == {}, "--check wrote to the cluster"

    first = install(clean_lab, tmp_path, kv_path)
    assert first.rc == 0 and first.changed > 0, first
    deployment = get_json(clean_lab, "deployment", "sealed-secrets-controller", "-n", NAMESPACE)
    pod = deployment["spec"]["template"]["spec"]
    assert "@sha256:" in pod["containers"][0]["image"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    [key] = get_json(clean_lab, "secrets", "-n", NAMESPACE, "-l", KEY_SELECTOR)["items"]

    clean_lab.k8s.reset_requests()
    second = install(clean_lab, tmp_path, kv_path)
    assert second.rc == 0 and second.changed == 0, second
    assert {kind: n for kind, n in writes(clean_lab.k8s.counts()).items() if "/proxy" not in kind} == {}
    check_keys = clean_lab.ansible_playbook(playbook(tmp_path, "check", [
        {"atlas.hardening.sealed_secrets_keys": {"state": "check", "kv_path": kv_path}, "register": "checked"},
        {"ansible.builtin.debug": {"msg": "cluster keys: {{ checked.cluster_keys | join(',') }}"}}]))
    assert check_keys.rc == 0, check_keys
    assert f"cluster keys: {key['metadata']['name']}" in check_keys.stdout


def test_an_existing_helm_installation_is_adopted_not_doubled(clean_lab: Lab, tmp_path: Path) -> None:
    """The Helm chart names the controller after its release: the role stops before writing and says
    what to set; with that set, it installs nothing and uses the Helm-managed controller."""
    labels = {"app.kubernetes.io/name": "sealed-secrets"}
    rules = [{"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets"], "verbs": ["get", "list", "watch"]},
             {"apiGroups": ["bitnami.com"], "resources": ["sealedsecrets/status"], "verbs": ["update"]},
             {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update", "watch"]},
             {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}]
    account = {"kind": "ServiceAccount", "name": "sealed-secrets", "namespace": "sealed-secrets"}
    helm = [{"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": "sealed-secrets", "namespace": "sealed-secrets"}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "sealed-secrets-unsealer"}, "rules": rules},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "sealed-secrets"}, "subjects": [account],
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": "sealed-secrets-unsealer"}},
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "sealed-secrets", "namespace": "sealed-secrets"},
             "spec": {"selector": labels, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}},
            {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "sealed-secrets", "namespace": "sealed-secrets",
                          "annotations": {"meta.helm.sh/release-name": "sealed-secrets"}},
             "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                 "serviceAccountName": "sealed-secrets",
                 "containers": [{"name": "controller", "image": "docker.io/bitnami/sealed-secrets-controller:0.36.0",
                                 "ports": [{"name": "http", "containerPort": 8080}]}]}}}}]
    assert kubectl(clean_lab, "create", "namespace", "sealed-secrets").returncode == 0
    for obj in helm:
        assert kubectl(clean_lab, "apply", "-f", "-", stdin=json.dumps(obj)).returncode == 0
    clean_lab.k8s.reset_requests()
    refused = install(clean_lab, tmp_path, "unused")
    assert refused.rc != 0
    assert ("set sealed_secrets_namespace=sealed-secrets, sealed_secrets_controller_name=sealed-secrets and "
            "sealed_secrets_manage_controller=false to adopt it" in refused.stdout), refused
    assert writes(clean_lab.k8s.counts()) == {}

    kv_path = "sealed-secrets-" + secrets.token_hex(4)
    clean_lab.k8s.reset_requests()
    adopted = install(clean_lab, tmp_path, kv_path, sealed_secrets_namespace="sealed-secrets",
                      sealed_secrets_controller_name="sealed-secrets", sealed_secrets_manage_controller=False,
                      sealed_secrets_wait_timeout=30)
    assert adopted.rc == 0, adopted
    assert {kind: n for kind, n in writes(clean_lab.k8s.counts()).items() if "/proxy" not in kind} == {}
    assert get_json(clean_lab, "deployments", "-n", NAMESPACE)["items"] == []  # no second controller
    assert len(get_json(clean_lab, "secrets", "-n", "sealed-secrets", "-l", KEY_SELECTOR)["items"]) == 1
    assert adopted.changed == 1, adopted  # the key backup, the one write (to Vault)
    check = clean_lab.ansible_playbook(playbook(tmp_path, "check", [{"atlas.hardening.sealed_secrets_keys": {
        "state": "check", "kv_path": kv_path, "controller_namespace": "sealed-secrets",
        "controller_name": "sealed-secrets"}}]))
    assert check.rc == 0, check  # fails when the cluster holds a key Vault does not


def test_sealing_has_no_churn_and_one_changed_value_reseals_one_key(
        installed: tuple[Lab, str], tmp_path: Path) -> None:
    lab, _kv_path = installed
    git_file = tmp_path / "git" / "apps" / "db.yaml"
    values = {"username": "app", "password": "Tr0ub4dor&3-" + secrets.token_hex(4)}
    first = lab.ansible_playbook(playbook(tmp_path, "seal", [seal_task(git_file, values)]))
    assert first.rc == 0 and first.changed == 1, first
    wait_for(lambda: secret_value(lab, "db", "apps", "password") == values["password"].encode(), what="unsealed")
    original = git_file.read_bytes()

    lab.k8s.reset_requests()
    again = lab.ansible_playbook(playbook(tmp_path, "seal", [seal_task(git_file, values)]), diff=True)
    assert again.rc == 0 and again.changed == 0, again
    assert git_file.read_bytes() == original
    assert {kind: n for kind, n in writes(lab.k8s.counts()).items() if "/proxy" not in kind} == {}

    changed = dict(values, password="correct-horse-" + secrets.token_hex(4))
    third = lab.ansible_playbook(playbook(tmp_path, "seal", [seal_task(git_file, changed)]), diff=True)
    assert third.rc == 0 and third.changed == 1, third
    assert "resealed: password" in third.stdout and "resealed: username" not in third.stdout
    before, after = yaml.safe_load(original), yaml.safe_load(git_file.read_text())
    assert after["spec"]["encryptedData"]["username"] == before["spec"]["encryptedData"]["username"]
    assert after["spec"]["encryptedData"]["password"] != before["spec"]["encryptedData"]["password"]
    wait_for(lambda: secret_value(lab, "db", "apps", "password") == changed["password"].encode(), what="re-unsealed")


def test_no_value_or_key_leaks_at_vvv_diff_in_files_or_events(installed: tuple[Lab, str], tmp_path: Path) -> None:
    lab, kv_path = installed
    password = "Leak-Canary-" + secrets.token_hex(6)
    git_file = tmp_path / "leak.yaml"
    runs = [lab.ansible_playbook(playbook(tmp_path, "seal", [seal_task(git_file, {"password": password})]),
                                 "-vvv", diff=True, check=check) for check in (True, False)]
    keys = lab.ansible_playbook(playbook(tmp_path, "keys", [
        {"atlas.hardening.sealed_secrets_keys": {"state": "backup", "kv_path": kv_path}}]), "-vvv")
    assert all(run.rc == 0 for run in [*runs, keys]), runs + [keys]
    [key_secret] = get_json(lab, "secrets", "-n", NAMESPACE, "-l", KEY_SELECTOR)["items"]
    private_key = base64.b64decode(key_secret["data"]["tls.key"]).decode()
    key_line = private_key.splitlines()[5]
    events = kubectl(lab, "get", "events", "-A", "-o", "json").stdout
    haystacks = [run.stdout + run.stderr for run in [*runs, keys]] + [git_file.read_text(), events]
    for needle in (password, base64.b64encode(password.encode()).decode(), key_line,
                   key_secret["data"]["tls.key"][:40]):
        assert not any(needle in text for text in haystacks), "a secret leaked"


def test_keys_survive_a_rebuilt_controller_including_an_older_renewed_key(installed: tuple[Lab, str],
                                                                          tmp_path: Path) -> None:
    lab, kv_path = installed
    old = lab.ansible_playbook(playbook(tmp_path, "seal-old", [
        dict(seal_task(None, {"password": "sealed-with-key-1"}), **{"atlas.hardening.sealed_secret": {
            "name": "old", "namespace": "apps", "data": {"password": "sealed-with-key-1"}}})]))
    assert old.rc == 0, old
    renewed = lab.run(["kubectl", "create", "--raw",
                       f"/api/v1/namespaces/{NAMESPACE}/services/http:sealed-secrets-controller:/proxy/lab/renew-key",
                       "-f", "-"], input="{}")
    assert renewed.returncode == 0, renewed.stderr
    new = lab.ansible_playbook(playbook(tmp_path, "seal-new", [seal_task(None, {"password": "sealed-with-key-2"})]))
    assert new.rc == 0, new
    backup = lab.ansible_playbook(playbook(tmp_path, "backup", [
        {"atlas.hardening.sealed_secrets_keys": {"state": "backup", "kv_path": kv_path}}]))
    assert backup.rc == 0 and backup.changed == 1, backup

    # The disaster: every key and the controller gone, the unsealed Secrets too.
    for args in (["delete", "deployment", "sealed-secrets-controller", "-n", NAMESPACE],
                 ["delete", "secrets", "-n", NAMESPACE, "-l", KEY_SELECTOR],
                 ["delete", "secret", "old", "db", "-n", "apps"]):
        assert kubectl(lab, *args).returncode == 0
    assert install(lab, tmp_path, kv_path, sealed_secrets_backup_keys=False).rc == 0  # a fresh key, the old lost
    restore = lab.ansible_playbook(playbook(tmp_path, "restore", [
        {"atlas.hardening.sealed_secrets_keys": {"state": "restore", "kv_path": kv_path}, "register": "restored"},
        {"ansible.builtin.debug": {"var": "restored.restored"}}]))
    assert restore.rc == 0 and restore.changed == 1, restore
    for name, value in (("old", b"sealed-with-key-1"), ("db", b"sealed-with-key-2")):
        kubectl(lab, "annotate", "sealedsecret", name, "-n", "apps", "retry=1", "--overwrite")
        wait_for(lambda n=name, v=value: secret_value(lab, n, "apps", "password") == v, timeout=30,
                 what=f"{name} unsealed after the restore")
    # The key the rebuilt controller created before the restore was backed up by the restore.
    check = lab.ansible_playbook(playbook(tmp_path, "check", [
        {"atlas.hardening.sealed_secrets_keys": {"state": "check", "kv_path": kv_path}}]))
    assert check.rc == 0, check
    assert len(get_json(lab, "secrets", "-n", NAMESPACE, "-l", KEY_SELECTOR)["items"]) == 3


@pytest.mark.parametrize(("options", "message"), [
    ({"certificate": "not a certificate"}, "is not a PEM X.509 certificate"),
    ({"scope": "global"}, "value of scope must be one of"),
    ({"controller_name": "absent"}, "no Service of that name"),
])
def test_bad_input_gets_one_clear_message_and_nothing_is_written(installed: tuple[Lab, str], tmp_path: Path,
                                                                 options: dict[str, Any], message: str) -> None:
    lab, _kv_path = installed
    lab.k8s.reset_requests()
    task = seal_task(tmp_path / "bad.yaml", {"password": "bad-input-value"}, **options)
    result = lab.ansible_playbook(playbook(tmp_path, "bad", [task]))
    assert result.rc != 0 and message in result.stdout, result
    assert writes(lab.k8s.counts()) == {} and not (tmp_path / "bad.yaml").exists()


def test_an_unmanaged_existing_secret_is_refused_unless_adopted(installed: tuple[Lab, str], tmp_path: Path) -> None:
    lab, _kv_path = installed
    assert kubectl(lab, "create", "secret", "generic", "db", "-n", "apps", "--from-literal=password=plain").returncode == 0
    lab.k8s.reset_requests()
    refused = lab.ansible_playbook(playbook(tmp_path, "seal", [seal_task(None, {"password": "sealed"})]))
    assert refused.rc != 0 and "no SealedSecret owns it" in refused.stdout, refused
    assert writes(lab.k8s.counts()) == {}
    task = seal_task(None, {"password": "sealed"}, adopt_existing=True)
    adopted = lab.ansible_playbook(playbook(tmp_path, "seal", [task]))
    assert adopted.rc == 0, adopted
    wait_for(lambda: secret_value(lab, "db", "apps", "password") == b"sealed", what="the takeover")


def test_migration_takes_plain_secrets_over_reports_configmap_credentials_and_runs_once(
        installed: tuple[Lab, str], tmp_path: Path) -> None:
    lab, _kv_path = installed
    password = "Migrate-Me-" + secrets.token_hex(6)
    for args in (["create", "namespace", "shop"],
                 ["create", "secret", "generic", "db", "-n", "shop", f"--from-literal=password={password}"],
                 ["create", "configmap", "app", "-n", "shop", f"--from-literal=DB_PASSWORD={password}",
                  "--from-literal=color=blue"]):
        assert kubectl(lab, *args).returncode == 0
    token = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
             "metadata": {"name": "sa-token", "namespace": "shop",
                          "annotations": {"kubernetes.io/service-account.name": "default"}}}
    assert kubectl(lab, "apply", "-f", "-", stdin=json.dumps(token)).returncode == 0
    directory = tmp_path / "gitops"
    migrate = [{"atlas.hardening.sealed_secrets_migrate": {"namespaces": ["shop"], "directory": str(directory),
                                                           "apply": True}, "register": "migration"},
               {"ansible.builtin.debug": {"var": "migration"}}]

    lab.k8s.reset_requests()
    check = lab.ansible_playbook(playbook(tmp_path, "migrate", migrate), "-vvv", check=True)
    assert check.rc == 0, check
    assert writes(lab.k8s.counts()) == {} and not directory.exists()

    first = lab.ansible_playbook(playbook(tmp_path, "migrate", migrate), "-vvv")
    assert first.rc == 0 and first.changed == 1, first
    file = directory / "shop" / "db.yaml"
    assert yaml.safe_load(file.read_text())["kind"] == "SealedSecret"
    assert '"reason": "the key\'s name looks like a credential"' in first.stdout and '"key": "DB_PASSWORD"' in first.stdout
    assert "a service-account token" in first.stdout

    def taken_over() -> bool:
        live = get_json(lab, "secret", "db", "-n", "shop")
        return any(ref["kind"] == "SealedSecret" for ref in live["metadata"].get("ownerReferences") or [])
    wait_for(taken_over, what="the controller to take the Secret over")
    assert secret_value(lab, "db", "shop", "password") == password.encode()

    original = file.read_bytes()
    lab.k8s.reset_requests()
    again = lab.ansible_playbook(playbook(tmp_path, "migrate", migrate))
    assert again.rc == 0 and again.changed == 0, again
    assert "already sealed" in again.stdout and file.read_bytes() == original
    assert {kind: n for kind, n in writes(lab.k8s.counts()).items() if "/proxy" not in kind} == {}
    for run in (check, first, again):
        assert password not in run.stdout and base64.b64encode(password.encode()).decode() not in run.stdout
    assert password not in file.read_text()


def test_the_controller_identity_does_its_job_and_is_refused_everything_else(
        installed: tuple[Lab, str], tmp_path: Path) -> None:
    """The lab's controller acts as its Pod's ServiceAccount under the emulator's RBAC: it unsealed
    with the role's grants (the fixture), stops unsealing once its binding is gone, and kubectl's
    `auth can-i --as` shows it refused everything outside its job."""
    lab, kv_path = installed
    account = f"system:serviceaccount:{NAMESPACE}:sealed-secrets-controller"
    # (kubectl auth can-i arguments, allowed?)
    table = [
        (["watch", "sealedsecrets.bitnami.com", "-A"], True),
        (["update", "sealedsecrets.bitnami.com", "--subresource=status", "-n", "apps"], True),
        (["create", "secrets", "-n", "apps"], True),
        (["create", "events", "-n", "apps"], True),
        (["update", "sealedsecrets.bitnami.com", "-n", "apps"], False),     # the spec is the user's
        (["delete", "sealedsecrets.bitnami.com", "-n", "apps"], False),
        (["create", "deployments.apps", "-n", NAMESPACE], False),
        (["get", "configmaps", "-n", "apps"], False),
        (["create", "rolebindings.rbac.authorization.k8s.io", "-n", NAMESPACE], False),
        (["escalate", "clusterroles.rbac.authorization.k8s.io"], False),
        (["create", "serviceaccounts/token", "-n", NAMESPACE], False),
    ]
    for can_i, allowed in table:
        answer = kubectl(lab, "auth", "can-i", *can_i, f"--as={account}")
        assert answer.stdout.strip() == ("yes" if allowed else "no"), (can_i, answer.stdout, answer.stderr)
    # Anyone authenticated may fetch the certificate through the proxy, and nothing else.
    user = ["--as=someone", "--as-group=system:authenticated", "-n", NAMESPACE]
    assert kubectl(lab, "auth", "can-i", "get", "services/http:sealed-secrets-controller:", "--subresource=proxy",
                   *user).stdout.strip() == "yes"
    assert kubectl(lab, "auth", "can-i", "get", "services/kube-dns", "--subresource=proxy",
                   *user).stdout.strip() == "no"

    assert kubectl(lab, "delete", "clusterrolebinding", "sealed-secrets-controller").returncode == 0
    sealed = lab.ansible_playbook(playbook(tmp_path, "seal", [seal_task(None, {"password": "needs-rbac"})]))
    assert sealed.rc == 0, sealed
    assert lab.k8s.call("POST", "k8s/controllers/wait-idle", {"timeout": 10})["idle"]
    assert secret_value(lab, "db", "apps", "password") is None  # refused: nothing unsealed
    assert install(lab, tmp_path, kv_path).rc == 0  # the role puts the binding back
    kubectl(lab, "annotate", "sealedsecret", "db", "-n", "apps", "retry=1", "--overwrite")
    wait_for(lambda: secret_value(lab, "db", "apps", "password") == b"needs-rbac", what="unsealed again")


BACKUP_JOB = "sealed-secrets-key-backup"


def test_the_daily_backup_job_runs_as_its_own_identities_and_backs_up_a_renewal(
        installed: tuple[Lab, str], tmp_path: Path) -> None:
    """The CronJob harden.yml installs, run by the lab as a Job (its Pod in the execution environment built
    from `make ee`'s files): the Kubernetes API with its ServiceAccount's token, Vault through Kubernetes
    auth with its projected token bound to Vault's audience and a policy limited to the backup path (no
    VAULT_TOKEN). A renewal made since is in Vault after one run, the second changes nothing; the identity
    is refused everything but listing the Secrets of its namespace."""
    import hvac  # pylint: disable=import-outside-toplevel
    from kubernetes import client as k8s_client  # pylint: disable=import-outside-toplevel
    from kubernetes import config as k8s_config  # pylint: disable=import-outside-toplevel

    lab, kv_path = installed
    mount, policy = "k8s-" + secrets.token_hex(4), "ss-backup-" + secrets.token_hex(4)
    schedule = lab.ansible_playbook(playbook(tmp_path, "schedule", roles=[
        "atlas.hardening.sealed_secrets_key_backup_schedule"]), extra_vars={
        "sealed_secrets_key_backup_schedule_image": "registry.example/platform/atlas-hardening-ee:0.1.0",
        "sealed_secrets_key_backup_schedule_vault_auth_mount_point": mount,
        "sealed_secrets_key_backup_schedule_kv_path": kv_path})
    assert schedule.rc == 0, schedule
    core = k8s_client.CoreV1Api(k8s_config.new_client_from_config(str(lab.kubeconfig)))
    cronjob = k8s_client.BatchV1Api(core.api_client).read_namespaced_cron_job(BACKUP_JOB, NAMESPACE)
    container = cronjob.spec.job_template.spec.template.spec.containers[0]
    assert cronjob.spec.job_template.spec.template.spec.service_account_name == BACKUP_JOB
    assert container.command[1].endswith("/playbooks/backup_sealed_secrets_keys.yml")

    def token(audiences: list[str]) -> str:
        return core.create_namespaced_service_account_token(BACKUP_JOB, NAMESPACE, k8s_client.AuthenticationV1TokenRequest(
            spec=k8s_client.V1TokenRequestSpec(audiences=audiences, expiration_seconds=600))).status.token

    vault = hvac.Client(url=lab.openbao_url, token=lab.vault_token)
    admin_kubeconfig = yaml.safe_load(lab.kubeconfig.read_text())
    vault.sys.enable_auth_method("kubernetes", path=mount)
    vault.write(f"auth/{mount}/config", kubernetes_host=lab.kubernetes_url, kubernetes_ca_cert=lab.ca_file.read_text(),
                token_reviewer_jwt=admin_kubeconfig["users"][0]["user"]["token"], disable_local_ca_jwt=True)
    vault.sys.create_or_update_policy(policy, f'''
path "secret/data/{kv_path}/*" {{ capabilities = ["create", "read", "update"] }}
path "secret/metadata/{kv_path}/*" {{ capabilities = ["read", "list"] }}
path "sys/mounts/secret" {{ capabilities = ["read"] }}
''')
    vault.write(f"auth/{mount}/role/sealed-secrets-key-backup", bound_service_account_names=BACKUP_JOB,
                bound_service_account_namespaces=NAMESPACE, token_policies=policy, token_ttl="15m", audience="vault")
    job_kubeconfig = dict(admin_kubeconfig)
    job_kubeconfig["users"] = [dict(admin_kubeconfig["users"][0], user={"token": token([])})]
    kubeconfig_file = tmp_path / "job-kubeconfig"
    kubeconfig_file.write_text(yaml.safe_dump(job_kubeconfig))

    def run_job(name: str) -> str:
        """Fire the CronJob now; the lab runs its Job; returns `kubectl logs job/<name>`."""
        lab.k8s.call("POST", "k8s/cronjobs/run", {"namespace": NAMESPACE, "name": BACKUP_JOB, "job": name})
        jobs = k8s_client.BatchV1Api(core.api_client)

        def finished() -> str | None:
            status = jobs.read_namespaced_job(name, NAMESPACE).status  # None until the controller writes it
            return next((c.type for c in (status.conditions if status else None) or []
                         if c.type in ("Complete", "Failed") and c.status == "True"), None)

        condition = wait_for(finished, timeout=420, what=f"the Job {name}")
        logs = kubectl(lab, "logs", f"job/{name}", "-n", NAMESPACE).stdout
        assert condition == "Complete", logs
        return logs

    renewed = kubectl(lab, "create", "--raw", f"/api/v1/namespaces/{NAMESPACE}/services/"
                      "http:sealed-secrets-controller:/proxy/lab/renew-key", "-f", "-", stdin="{}")
    assert renewed.returncode == 0, renewed.stderr
    new_key = json.loads(renewed.stdout)["secret"]
    run_job("key-backup-1")
    assert vault.secrets.kv.v2.read_secret_version(f"{kv_path}/keys/{new_key}", raise_on_deleted_version=True)
    again = run_job("key-backup-2")
    assert re.search(r"localhost +: ok=\d+ +changed=0 ", again), again

    account = f"system:serviceaccount:{NAMESPACE}:{BACKUP_JOB}"
    for can_i, allowed in [(["list", "secrets", "-n", NAMESPACE], True),
                           (["list", "secrets", "-n", "apps"], False),
                           (["create", "secrets", "-n", NAMESPACE], False),
                           (["delete", "secrets", "-n", NAMESPACE], False),
                           (["patch", "deployments.apps", "-n", NAMESPACE], False),
                           (["create", "pods", "-n", NAMESPACE], False)]:
        answer = kubectl(lab, "auth", "can-i", *can_i, f"--as={account}")
        assert answer.stdout.strip() == ("yes" if allowed else "no"), (can_i, answer.stdout)
    denied = lab.run(["kubectl", "--kubeconfig", str(kubeconfig_file), "get", "secrets", "-n", "apps"])
    assert "forbidden" in denied.stderr, denied.stderr


def test_many_secrets_in_one_task_read_per_namespace_and_rerun_without_writes(
        installed: tuple[Lab, str], tmp_path: Path) -> None:
    lab, _kv_path = installed
    assert kubectl(lab, "create", "namespace", "billing").returncode == 0
    many = [{"name": f"s{index}", "namespace": namespace, "data": {"password": f"batch-{namespace}-{index}"},
             "path": str(tmp_path / "git" / namespace / f"s{index}.yaml")}
            for namespace in ("apps", "billing") for index in range(4)]
    task = [{"atlas.hardening.sealed_secret": {"secrets": many}, "register": "batch"},
            {"ansible.builtin.debug": {"msg": (
                "resealed {{ batch.results | map(attribute='resealed_keys') | flatten | length }}"
                " kept {{ batch.results | map(attribute='kept_keys') | flatten | length }}")}}]
    lab.k8s.reset_requests()
    first = lab.ansible_playbook(playbook(tmp_path, "batch", task))
    assert first.rc == 0 and first.changed == 1, first
    counts = lab.k8s.counts()
    assert counts.get("get sealedsecrets", 0) == 0 and counts.get("get secrets", 0) == 0, counts
    assert counts["list sealedsecrets"] == 2 and counts["list secrets"] == 2, counts  # one per namespace
    assert counts["patch sealedsecrets"] == 8, counts
    for entry in many:
        wait_for(lambda e=entry: secret_value(lab, e["name"], e["namespace"], "password") == e["data"]["password"].encode(),
                 what=f"{entry['namespace']}/{entry['name']} unsealed")
    files = {entry["path"]: Path(entry["path"]).read_bytes() for entry in many}

    lab.k8s.reset_requests()
    again = lab.ansible_playbook(playbook(tmp_path, "batch", task))
    assert again.rc == 0 and again.changed == 0, again
    assert {kind: n for kind, n in writes(lab.k8s.counts()).items() if "/proxy" not in kind} == {}
    assert "resealed 0 kept 8" in again.stdout, again.stdout
    assert all(Path(path).read_bytes() == content for path, content in files.items())
    twice = lab.ansible_playbook(playbook(tmp_path, "twice", [{"atlas.hardening.sealed_secret": {
        "secrets": [many[0], many[0]]}}]))
    assert twice.rc != 0 and "is given twice" in twice.stdout, twice
