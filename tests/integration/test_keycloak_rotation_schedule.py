"""The scheduled rotation job (role keycloak_rotation_schedule) applied to the lab's Kubernetes API
emulator, which validates objects against the upstream schemas; then the job's own command line and
variables run outside the cluster.

What cannot be shown here: the Pod itself does not run (the emulator has no kubelet), and Vault's
Kubernetes auth needs a TokenReview the emulator does not serve yet, so the job's playbook runs with
the lab's Vault token instead (the variables file and everything else are the job's).
"""

from __future__ import annotations

import json
import shlex
import uuid
from pathlib import Path

import pytest
import yaml
from keycloak_rotation_support import REPO_ROOT, VENV_BIN, RotationCase, module_result
from kubernetes import client as k8s_client

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
                                     "playbooks/rotate-secrets.yml"]
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


def test_the_jobs_command_and_variables_rotate(case: RotationCase, tmp_path: Path) -> None:
    """Run the container's command with the ConfigMap's variables file, as the Pod would (no inventory:
    implicit localhost), except Vault auth (token instead of kubernetes, see the module docstring)."""
    case.create(rotated_days_ago=120)
    assert apply_schedule(case, tmp_path).rc == 0
    name = "keycloak-admin-rotation"
    vars_file = tmp_path / "rotation-vars.yml"
    vars_file.write_text(case.core.read_namespaced_config_map(name, case.namespace).data["rotation-vars.yml"])
    container = k8s_client.BatchV1Api(case.core.api_client).read_namespaced_cron_job(
        name, case.namespace).spec.job_template.spec.template.spec.containers[0]
    command = [str(VENV_BIN / "ansible-playbook"), str(REPO_ROOT / "playbooks" / "rotate-secrets.yml")]
    command += [arg.replace("@/etc/atlas-hardening/vars/rotation-vars.yml", f"@{vars_file}")
                for arg in container.command[2:]]
    command += ["-e", json.dumps({"atlas_hardening_vault_auth_method": "token"}), "-v"]
    env = case.env({item.name: item.value for item in container.env if item.name in ("VAULT_ADDR", "KEYCLOAK_URL")})
    env.pop("ANSIBLE_INVENTORY", None)
    completed = case.lab.run(command, env=env)
    assert completed.returncode == 0, shlex.join(command) + "\n" + completed.stdout + completed.stderr
    result = module_result(completed.stdout)
    assert result["rotated"] and result["action"] == "rotated", result
    case.assert_consistent()
    assert case.vault_metadata()["custom_metadata"]["rotated_by"] == f"cronjob/{case.namespace}/{name}"
