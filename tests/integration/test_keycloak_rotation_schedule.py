"""The scheduled rotation job (role keycloak_rotation_schedule) applied to the lab's Kubernetes API
emulator, which validates objects against the upstream schemas; then the job's own command line and
variables run outside the cluster.

The job's own command line also runs outside the cluster (a token file, a kubeconfig); and the CronJob
itself runs as a Job in the lab (its kubelet simulation: controllers/jobs.py).
"""

from __future__ import annotations

import base64
import json
import shlex
import uuid
from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml
from keycloak_rotation_support import REPO_ROOT, VENV_BIN, RotationCase, module_result
from kubernetes import client as k8s_client

from atlas_lab.pytest_plugin import wait_for

pytestmark = pytest.mark.timeout(600)
IMAGE = "registry.example/platform/atlas-hardening-ee:0.1.0"


@pytest.fixture
def case(clean_lab):  # noqa: ANN001, ANN201 - pytest fixture
    return RotationCase(clean_lab)


def schedule_playbook(tmp_path: Path) -> Path:
    """What harden.yml does for the tag `rotation`: the role, with the inventory's connection settings."""
    path = tmp_path / "schedule.yml"
    path.write_text(yaml.safe_dump([{
        "name": "Install the rotation job",
        "hosts": "atlas_control",
        "gather_facts": False,
        "module_defaults": {"group/atlas.hardening.kubernetes": {
            "k8s_kubeconfig": "{{ atlas_hardening_k8s_kubeconfig | default(omit) }}"}},
        "roles": [{"role": "atlas.hardening.keycloak_rotation_schedule"}],
    }], sort_keys=False), encoding="utf-8")
    return path


def apply_schedule(case: RotationCase, tmp_path: Path, *args: str, **extra: object):  # noqa: ANN201
    variables = {
        "keycloak_rotation_schedule_namespace": case.namespace,
        "keycloak_rotation_schedule_image": IMAGE,
        "keycloak_admin_rotation_kv_path": case.kv_path,
        "keycloak_admin_rotation_username": case.username,
        "keycloak_admin_rotation_secret_copies": case.copies,
        "keycloak_admin_rotation_event_namespace": case.namespace,
        "keycloak_admin_rotation_adopt_from_secret": {"namespace": case.namespace, "name": "keycloak-initial-admin"},
    }
    variables.update(extra)
    return case.lab.ansible_playbook(schedule_playbook(tmp_path), "-v", *args, extra_vars=variables)


JOB_NAME = "keycloak-admin-rotation"


def service_account_token(case: RotationCase, name: str, audiences: list[str]) -> str:
    return case.core.create_namespaced_service_account_token(
        name, case.namespace, k8s_client.AuthenticationV1TokenRequest(spec=k8s_client.V1TokenRequestSpec(
            audiences=audiences, expiration_seconds=600))).status.token


def vault_kubernetes_auth(case: RotationCase) -> str:
    """Vault's Kubernetes auth method for the job, as docs/keycloak-admin-rotation.md tells operators to
    set it up (a unique mount per test); returns the mount."""
    mount = "k8s-" + uuid.uuid4().hex[:8]
    policy = "kc-rotation-" + uuid.uuid4().hex[:8]
    kubeconfig = yaml.safe_load(case.lab.kubeconfig.read_text())
    case.vault.sys.enable_auth_method("kubernetes", path=mount)
    case.vault.write(f"auth/{mount}/config", kubernetes_host=case.lab.kubernetes_url,
                     kubernetes_ca_cert=case.lab.ca_file.read_text(),
                     token_reviewer_jwt=kubeconfig["users"][0]["user"]["token"], disable_local_ca_jwt=True)
    case.vault.sys.create_or_update_policy(policy, f'''
path "secret/data/{case.kv_path}" {{ capabilities = ["create", "read", "update"] }}
path "secret/metadata/{case.kv_path}" {{ capabilities = ["read", "update"] }}
''')
    case.vault.write(f"auth/{mount}/role/{JOB_NAME}", bound_service_account_names=JOB_NAME,
                     bound_service_account_namespaces=case.namespace, token_policies=policy,
                     token_ttl="15m", token_max_ttl="30m", audience="vault")
    return mount


def job_command(case: RotationCase, tmp_path: Path, mount: str) -> tuple[list[str], dict[str, str]]:
    """The CronJob container's command line and environment, run on this machine: the job's projected
    Vault token (what the kubelet mounts: audience vault, 600 s) and its variables file as files."""
    token_file = tmp_path / "token"
    token_file.write_text(service_account_token(case, JOB_NAME, ["vault"]))
    vars_file = tmp_path / "rotation-vars.yml"
    vars_file.write_text(case.core.read_namespaced_config_map(JOB_NAME, case.namespace).data["rotation-vars.yml"])
    container = k8s_client.BatchV1Api(case.core.api_client).read_namespaced_cron_job(
        JOB_NAME, case.namespace).spec.job_template.spec.template.spec.containers[0]
    command = [str(VENV_BIN / "ansible-playbook"), str(REPO_ROOT / "playbooks" / "rotate-secrets.yml")]
    command += [arg.replace("@/etc/atlas-hardening/vars/rotation-vars.yml", f"@{vars_file}")
                for arg in container.command[2:]]
    command += ["-e", json.dumps({"atlas_hardening_vault_auth_mount_point": mount,
                                  "atlas_hardening_vault_kubernetes_token_path": str(token_file)}), "-v"]
    env = case.env({item.name: item.value for item in container.env if item.name in ("VAULT_ADDR", "KEYCLOAK_URL")})
    env.pop("VAULT_TOKEN")  # no token: the Kubernetes login is the only way in
    return command, env


def test_job_objects_least_privilege_and_idempotence(case: RotationCase, tmp_path: Path) -> None:
    other = "apps-" + uuid.uuid4().hex[:6]
    case.copies.append({"namespace": other, "name": "sso-admin", "password_key": "admin-password"})
    case.core.create_namespace(k8s_client.V1Namespace(metadata=k8s_client.V1ObjectMeta(name=other)))
    case.create(vault=False, keycloak_user=False, rotated_days_ago=None)

    result = apply_schedule(case, tmp_path)
    assert result.rc == 0, str(result)
    name = "keycloak-admin-rotation"
    cronjob = k8s_client.BatchV1Api(case.core.api_client).read_namespaced_cron_job(name, case.namespace)
    spec = cronjob.spec
    assert spec.concurrency_policy == "Forbid" and spec.schedule == "17 3 * * *" and spec.time_zone == "Etc/UTC"
    assert spec.successful_jobs_history_limit == 3 and spec.failed_jobs_history_limit == 5
    assert spec.starting_deadline_seconds == 3600
    job = spec.job_template.spec
    assert job.active_deadline_seconds == 900 and job.backoff_limit == 2
    pod = job.template.spec
    assert pod.service_account_name == name and pod.restart_policy == "Never"
    container = pod.containers[0]
    assert container.image == IMAGE
    assert container.command[:2] == ["ansible-playbook",
                                     "/usr/share/ansible/collections/ansible_collections/atlas/hardening/"
                                     "playbooks/rotate_secrets.yml"]
    env = {item.name: item.value for item in container.env}
    assert env["VAULT_ADDR"] == case.lab.vault_url and env["KEYCLOAK_URL"] == case.lab.keycloak_url
    assert container.security_context.read_only_root_filesystem and not container.security_context.allow_privilege_escalation
    assert pod.security_context.run_as_non_root

    config = case.core.read_namespaced_config_map(name, case.namespace).data["rotation-vars.yml"]
    job_vars = yaml.safe_load(config)
    assert job_vars["atlas_hardening_vault_auth_method"] == "kubernetes"
    assert job_vars["atlas_hardening_vault_kubernetes_role"] == "keycloak-admin-rotation"
    assert job_vars["atlas_hardening_hosts"] == "localhost"
    assert job_vars["keycloak_admin_rotation_kv_path"] == case.kv_path
    assert job_vars["keycloak_admin_rotation_rotated_by"] == f"cronjob/{case.namespace}/{name}"

    rbac = k8s_client.RbacAuthorizationV1Api(case.core.api_client)
    own = rbac.read_namespaced_role(name, case.namespace).rules
    rules = sorted((tuple(rule.resources), tuple(rule.verbs), tuple(rule.resource_names or ())) for rule in own)
    assert rules == [(("events",), ("create",), ()),
                     (("secrets",), ("get",), ("keycloak-initial-admin",)),
                     (("secrets",), ("get", "patch"), ("keycloak-admin", "sso-consumer"))]
    foreign = rbac.read_namespaced_role(name, other).rules
    assert [(tuple(r.resources), tuple(r.verbs), tuple(r.resource_names)) for r in foreign] == [
        (("secrets",), ("get", "patch"), ("sso-admin",))]
    for namespace in (case.namespace, other):
        binding = rbac.read_namespaced_role_binding(name, namespace)
        assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [("ServiceAccount", name, case.namespace)]
    assert not [role for role in rbac.list_cluster_role().items if role.metadata.name == name]

    case.lab.k8s.reset_requests()
    again = apply_schedule(case, tmp_path)
    assert again.rc == 0 and again.changed == 0, again
    writes = {kind: n for kind, n in case.lab.k8s.counts().items() if kind.split(" ")[0] in ("create", "patch")}
    assert not writes, writes


def test_check_mode_creates_nothing(case: RotationCase, tmp_path: Path) -> None:
    case.create(vault=False, keycloak_user=False, rotated_days_ago=None)
    result = apply_schedule(case, tmp_path, "--check")
    assert result.rc == 0 and result.changed > 0, result
    cronjobs = k8s_client.BatchV1Api(case.core.api_client).list_namespaced_cron_job(case.namespace).items
    assert cronjobs == []


def test_missing_image_is_explained(case: RotationCase, tmp_path: Path) -> None:
    case.create(vault=False, keycloak_user=False, rotated_days_ago=None)
    result = apply_schedule(case, tmp_path, keycloak_rotation_schedule_image="")
    assert result.rc != 0 and "needs keycloak_rotation_schedule_image" in result.stdout, result
    assert k8s_client.BatchV1Api(case.core.api_client).list_namespaced_cron_job(case.namespace).items == []


def test_the_jobs_command_and_variables_rotate_with_vault_kubernetes_auth(case: RotationCase, tmp_path: Path) -> None:
    """Run the container's command with the ConfigMap's variables file and environment, as the Pod would
    (no inventory: implicit localhost), logging in to the real OpenBao with Vault's Kubernetes auth method:
    OpenBao checks the job ServiceAccount's token with a TokenReview against the Kubernetes emulator.
    Only the token file and the auth mount differ from the cluster (a file instead of the projected volume,
    a unique mount per test), and the kubeconfig stands in for the in-cluster configuration."""
    case.create(rotated_days_ago=120)
    assert apply_schedule(case, tmp_path).rc == 0
    name = JOB_NAME
    mount = vault_kubernetes_auth(case)
    command, env = job_command(case, tmp_path, mount)
    token = (tmp_path / "token").read_text()
    completed = case.lab.run(command, env=env)
    assert completed.returncode == 0, shlex.join(command) + "\n" + completed.stdout + completed.stderr
    result = module_result(completed.stdout)
    assert result["rotated"] and result["action"] == "rotated", result
    # The Kubernetes login, the 6 requests of a rotation, and the revocation of the login token.
    assert result["api_requests"]["vault"] == 8
    assert case.lab.vault_proxy.counts().get("auth.login") == 1
    assert case.lab.vault_proxy.counts().get("auth.write") == 1  # auth/token/revoke-self
    case.assert_consistent()
    assert case.vault_metadata()["custom_metadata"]["rotated_by"] == f"cronjob/{case.namespace}/{name}"
    assert token not in completed.stdout + completed.stderr

    # The same ServiceAccount's token for the Kubernetes API (its default audience) is no key to Vault.
    api_token = service_account_token(case, name, [])
    with pytest.raises(hvac.exceptions.VaultError):
        hvac.Client(url=case.lab.openbao_url).auth.kubernetes.login(role=name, jwt=api_token, mount_point=mount)

    # A ServiceAccount the Vault role does not bind is refused, with a message saying what to check.
    other = case.core.create_namespaced_service_account(case.namespace, k8s_client.V1ServiceAccount(
        metadata=k8s_client.V1ObjectMeta(name="intruder")))
    (tmp_path / "token").write_text(service_account_token(case, other.metadata.name, []))
    refused = case.lab.run(command + ["-e", json.dumps({"keycloak_admin_rotation_force": True})], env=env)
    assert refused.returncode != 0
    assert "rejected the Kubernetes login" in refused.stdout and "vault_kubernetes_role" in refused.stdout


def test_the_job_runs_as_its_service_account_and_is_refused_everything_else(case: RotationCase, tmp_path: Path) -> None:
    """Least privilege, proven: the emulator authorises by RBAC, the job's command talks to the API with
    the job ServiceAccount's own token (what the projected kube-api-access volume holds) and rotates;
    then the same identity is refused every other Secret, Secrets of other namespaces and every other
    write. The real kubectl's `auth can-i --as` (impersonation + SelfSubjectAccessReview) gives the same
    answers as the requests themselves, for every case of the table."""
    other = "apps-" + uuid.uuid4().hex[:6]
    case.core.create_namespace(k8s_client.V1Namespace(metadata=k8s_client.V1ObjectMeta(name=other)))
    case.create(rotated_days_ago=120)
    case.put_secret(case.namespace, "unrelated", {"token": "not-for-the-job"})
    case.put_secret(case.namespace, "keycloak-initial-admin", {"password": case.initial_password})
    case.put_secret(other, "keycloak-admin", {"password": "another-namespace"})
    assert apply_schedule(case, tmp_path).rc == 0
    kubeconfig = yaml.safe_load(case.lab.kubeconfig.read_text())
    kubeconfig["users"][0]["user"] = {"token": service_account_token(case, JOB_NAME, [])}
    job_kubeconfig = tmp_path / "job-kubeconfig"
    job_kubeconfig.write_text(yaml.safe_dump(kubeconfig))
    job_kubeconfig.chmod(0o600)

    command, env = job_command(case, tmp_path, vault_kubernetes_auth(case))
    env.update(KUBECONFIG=str(job_kubeconfig), K8S_AUTH_KUBECONFIG=str(job_kubeconfig))
    completed = case.lab.run(command, env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert module_result(completed.stdout)["action"] == "rotated"
    case.assert_consistent()

    account = f"system:serviceaccount:{case.namespace}:{JOB_NAME}"
    ns = ["-n", case.namespace]
    # (kubectl auth can-i arguments, the same request, allowed?)
    table = [
        (["patch", "secrets/keycloak-admin", *ns], ["patch", "secret", "keycloak-admin", *ns, "-p", "{}"], True),
        (["get", "secrets/sso-consumer", *ns], ["get", "secret", "sso-consumer", *ns], True),
        (["get", "secrets/keycloak-initial-admin", *ns], ["get", "secret", "keycloak-initial-admin", *ns], True),
        (["patch", "secrets/keycloak-initial-admin", *ns], ["patch", "secret", "keycloak-initial-admin", *ns,
                                                            "-p", "{}"], False),
        (["get", "secrets/unrelated", *ns], ["get", "secret", "unrelated", *ns], False),
        (["list", "secrets", *ns], ["get", "secrets", *ns], False),
        (["delete", "secrets/keycloak-admin", *ns], ["delete", "secret", "keycloak-admin", *ns], False),
        (["get", "secrets/keycloak-admin", "-n", other], ["get", "secret", "keycloak-admin", "-n", other], False),
        (["list", "secrets", "--all-namespaces"], ["get", "secrets", "--all-namespaces"], False),
        (["create", "configmaps", *ns], ["create", "configmap", "x", *ns], False),
        (["patch", "cronjobs.batch/" + JOB_NAME, *ns], ["patch", "cronjob", JOB_NAME, *ns, "-p", "{}"], False),
        (["create", "rolebindings.rbac.authorization.k8s.io", *ns],
         ["create", "rolebinding", "x", "--clusterrole=admin", f"--serviceaccount={case.namespace}:{JOB_NAME}", *ns],
         False),
        (["get", "secrets/keycloak-admin", "-n", "kube-system"], ["get", "secret", "keycloak-admin", "-n",
                                                                  "kube-system"], False),
    ]
    kubectl = str(VENV_BIN / "kubectl")
    admin_env = dict(case.lab.env, KUBECONFIG=str(case.lab.kubeconfig))
    job_env = dict(case.lab.env, KUBECONFIG=str(job_kubeconfig))
    for can_i, request, allowed in table:
        answer = case.lab.run([kubectl, "auth", "can-i", *can_i, f"--as={account}"], env=admin_env)
        assert answer.stdout.strip() == ("yes" if allowed else "no"), (can_i, answer.stdout, answer.stderr)
        done = case.lab.run([kubectl, *request], env=job_env)
        assert ("forbidden: User" in done.stderr) is not allowed, (request, done.stdout, done.stderr)
        assert done.returncode == (0 if allowed else 1), (request, done.stderr)
    assert case.lab.run([kubectl, "get", "secret", "unrelated", *ns], env=job_env).stderr.strip() == (
        f'Error from server (Forbidden): secrets "unrelated" is forbidden: User "{account}" cannot get resource '
        f'"secrets" in API group "" in the namespace "{case.namespace}"')
    # Events: the rotation wrote its audit trail under the same identity; the job may create, not read them.
    events = case.core.list_namespaced_event(case.namespace).items
    assert any(event.reason == "PasswordRotated" for event in events), [e.reason for e in events]
    assert case.lab.run([kubectl, "auth", "can-i", "list", "events", *ns, f"--as={account}"],
                        env=admin_env).stdout.strip() == "no"


def test_a_grant_no_longer_needed_is_pruned(case: RotationCase, tmp_path: Path) -> None:
    """A Secret copy removed from the variables: the Role and RoleBinding of its namespace go too (they
    carry the job's labels); a Role of another owner in that namespace stays."""
    other = "apps-" + uuid.uuid4().hex[:6]
    case.core.create_namespace(k8s_client.V1Namespace(metadata=k8s_client.V1ObjectMeta(name=other)))
    case.create(vault=False, keycloak_user=False, rotated_days_ago=None)
    rbac = k8s_client.RbacAuthorizationV1Api(case.core.api_client)
    name = "keycloak-admin-rotation"
    rbac.create_namespaced_role(other, k8s_client.V1Role(
        metadata=k8s_client.V1ObjectMeta(name="someone-elses", labels={"app.kubernetes.io/instance": name}),
        rules=[k8s_client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get"])]))
    with_copy = case.copies + [{"namespace": other, "name": "sso-admin", "password_key": "admin-password"}]
    assert apply_schedule(case, tmp_path, keycloak_admin_rotation_secret_copies=with_copy).rc == 0
    assert rbac.read_namespaced_role(name, other).rules[0].resource_names == ["sso-admin"]

    check = apply_schedule(case, tmp_path, "--check")
    assert check.rc == 0 and check.changed > 0, check
    assert rbac.read_namespaced_role(name, other) is not None  # check mode deletes nothing
    result = apply_schedule(case, tmp_path)
    assert result.rc == 0 and result.changed > 0, result
    remaining = {(role.metadata.namespace, role.metadata.name) for role in rbac.list_role_for_all_namespaces().items
                 if role.metadata.namespace in (other, case.namespace)}
    assert remaining == {(other, "someone-elses"), (case.namespace, name)}
    bindings = {binding.metadata.namespace for binding in rbac.list_role_binding_for_all_namespaces().items
                if binding.metadata.name == name}
    assert other not in bindings and case.namespace in bindings
    case.lab.k8s.reset_requests()
    again = apply_schedule(case, tmp_path)
    assert again.rc == 0 and again.changed == 0, again


def test_the_adopt_grant_goes_once_the_job_has_succeeded(case: RotationCase, tmp_path: Path) -> None:
    """`get` on the adopted Secret is needed by the first run only (adoption happens while Vault holds
    nothing): once the CronJob records a success, the next apply drops it; `always` keeps it."""
    case.create(vault=False, keycloak_user=False, rotated_days_ago=None)
    rbac = k8s_client.RbacAuthorizationV1Api(case.core.api_client)

    def adopted_grant() -> list[list[str]]:
        rules = rbac.read_namespaced_role(JOB_NAME, case.namespace).rules
        return [rule.verbs for rule in rules if "keycloak-initial-admin" in (rule.resource_names or [])]

    assert apply_schedule(case, tmp_path).rc == 0
    assert adopted_grant() == [["get"]]
    again = apply_schedule(case, tmp_path)  # no success recorded yet: the grant stays, nothing written
    assert again.rc == 0 and again.changed == 0, again

    # What the CronJob controller records when a Job of the CronJob completes.
    k8s_client.BatchV1Api(case.core.api_client).patch_namespaced_cron_job_status(
        JOB_NAME, case.namespace, {"status": {"lastScheduleTime": "2026-12-01T03:17:00Z",
                                              "lastSuccessfulTime": "2026-12-01T03:18:02Z"}})
    kept = apply_schedule(case, tmp_path, keycloak_rotation_schedule_adopt_grant="always")
    assert kept.rc == 0 and kept.changed == 0 and adopted_grant() == [["get"]], kept
    check = apply_schedule(case, tmp_path, "--check")
    assert check.rc == 0 and check.changed == 1 and adopted_grant() == [["get"]], check
    dropped = apply_schedule(case, tmp_path)
    assert dropped.rc == 0 and dropped.changed == 1 and adopted_grant() == [], dropped
    assert apply_schedule(case, tmp_path).changed == 0
    account = f"system:serviceaccount:{case.namespace}:{JOB_NAME}"
    answer = case.lab.run([str(VENV_BIN / "kubectl"), "auth", "can-i", "get", "secrets/keycloak-initial-admin",
                           "-n", case.namespace, f"--as={account}"],
                          env=dict(case.lab.env, KUBECONFIG=str(case.lab.kubeconfig)))
    assert answer.stdout.strip() == "no", answer


def run_scheduled_job(case: RotationCase, job: str, timeout: float = 420,
                      by_hand: bool = False) -> tuple[dict[str, Any], str]:
    """Fire the CronJob now, as its schedule would (the lab's kube-controller-manager creates the Job) or
    by hand (`kubectl create job --from=cronjob/...`, what an operator types), let the lab's kubelet run it,
    and return the finished Job and `kubectl logs job/<job>`."""
    if by_hand:
        created = case.lab.run(["kubectl", "create", "job", job, f"--from=cronjob/{JOB_NAME}", "-n", case.namespace])
        assert created.returncode == 0, created.stderr
    else:
        case.lab.k8s.call("POST", "k8s/cronjobs/run", {"namespace": case.namespace, "name": JOB_NAME, "job": job})
    jobs = k8s_client.BatchV1Api(case.core.api_client)

    def condition() -> str | None:
        status = jobs.read_namespaced_job(job, case.namespace).status  # None until the controller writes it
        return next((c.type for c in (status.conditions if status else None) or []
                     if c.type in ("Complete", "Failed") and c.status == "True"), None)

    finished = wait_for(condition, timeout=timeout, what=f"the Job {job} to finish")
    logs = case.lab.run(["kubectl", "logs", f"job/{job}", "-n", case.namespace])
    assert logs.returncode == 0, logs.stderr
    return {"condition": finished, "job": jobs.read_namespaced_job(job, case.namespace)}, logs.stdout


def test_the_cronjob_runs_as_a_job_in_the_lab_rotates_then_finds_nothing_due(
        case: RotationCase, tmp_path: Path) -> None:
    """The CronJob itself, run by the lab (issue: scheduled jobs proven by running them): its Pod's
    command in the execution environment built from `make ee`'s files, its volumes at the paths it names,
    the Vault login with its own projected token through OpenBao's Kubernetes auth (TokenReview against
    the emulator), the in-cluster API access as its own ServiceAccount."""
    case.create(rotated_days_ago=120)
    mount = vault_kubernetes_auth(case)
    assert apply_schedule(case, tmp_path, keycloak_rotation_schedule_vault_auth_mount_point=mount).rc == 0
    before = case.vault_metadata()["current_version"]

    first, logs = run_scheduled_job(case, "rotation-1")
    assert first["condition"] == "Complete", logs
    assert first["job"].status.succeeded == 1 and first["job"].status.completion_time is not None
    assert "rotation | hardened" in logs, logs
    assert case.vault_metadata()["current_version"] > before
    assert case.vault_metadata()["custom_metadata"]["rotated_by"] == f"cronjob/{case.namespace}/{JOB_NAME}"
    case.assert_consistent()
    for secret in case.seen_passwords:
        assert secret not in logs and base64.b64encode(secret.encode()).decode() not in logs

    version = case.vault_metadata()["current_version"]
    second, logs = run_scheduled_job(case, "rotation-2", by_hand=True)
    assert second["condition"] == "Complete", logs
    assert "rotation | unchanged" in logs, logs
    assert case.vault_metadata()["current_version"] == version

    # A broken configuration (the Vault role the job logs in with is gone): the Job fails, its log says why.
    case.vault.delete(f"auth/{mount}/role/{JOB_NAME}")
    third, logs = run_scheduled_job(case, "rotation-3")
    assert third["condition"] == "Failed", logs
    assert third["job"].status.failed == 3  # backoffLimit 2: three Pods
    assert "rejected the Kubernetes login" in logs, logs
