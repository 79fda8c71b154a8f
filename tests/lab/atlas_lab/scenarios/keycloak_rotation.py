"""Scenario of the Keycloak admin rotation (roles keycloak_admin_rotation, keycloak_rotation_schedule).

Seeds what the Keycloak operator leaves on a real platform: Keycloak's namespace and the
``<name>-initial-admin`` Secret holding the admin credentials the Keycloak emulator accepts; and what
docs/keycloak-admin-rotation.md tells operators to set up in Vault for the scheduled job: the Kubernetes
auth method (mount ``kubernetes``, checking tokens with a TokenReview against the emulator), a policy
limited to the secret ``secret/keycloak/admin`` and the role ``keycloak-admin-rotation`` bound to the job's
ServiceAccount in ``keycloak``, audience ``vault``. So the CronJob harden.yml installs can run as a Job.

The inventory adopts that Secret's password on the first rotation (the lab's Vault starts empty) and keeps
a copy in ``keycloak/keycloak-admin``, as docs/examples/inventory does: ``playbooks/rotate-secrets.yml``
against the lab rotates for real, and the CronJob harden.yml installs carries the same variables.
"""

from __future__ import annotations

from typing import Any

from atlas_lab.scenarios.base import Scenario
from atlas_lab.services.kubernetes.objects import WriteOptions

VAULT_AUTH_MOUNT = "kubernetes"  # the roles' default (keycloak_rotation_schedule_vault_auth_mount_point)
JOB = "keycloak-admin-rotation"  # the CronJob, its ServiceAccount and its Vault role (the roles' defaults)
KV_PATH = "keycloak/admin"  # keycloak_admin_rotation_kv_path's default
INITIAL_ADMIN = "keycloak-initial-admin"  # what the Keycloak operator names it: <keycloak name>-initial-admin


class KeycloakRotationScenario(Scenario):
    name = "keycloak_rotation"
    description = "Keycloak's namespace and the operator's initial-admin Secret"
    seeds = ("Namespace keycloak", "Secret keycloak/keycloak-initial-admin",
             "Vault auth/kubernetes, policy and role keycloak-admin-rotation")

    def start(self) -> None:
        kubernetes = self.context.kubernetes
        options = WriteOptions(field_manager="keycloak-operator", field_validation="Strict")
        for obj in (
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keycloak"}},
            {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
             "metadata": {"name": INITIAL_ADMIN, "namespace": "keycloak",
                          "labels": {"app": "keycloak", "app.kubernetes.io/managed-by": "keycloak-operator"}},
             "stringData": {"username": self.context.config.keycloak_admin_username,
                            "password": self.context.config.keycloak_admin_password}},
        ):
            resource_type = kubernetes.registry.by_api_version_kind(obj["apiVersion"], obj["kind"])
            kubernetes.objects.create(resource_type, "v1", obj["metadata"].get("namespace", ""), obj, options)

    def inventory_vars(self) -> dict[str, Any]:
        return {"keycloak_admin_rotation_adopt_from_secret": {"namespace": "keycloak", "name": INITIAL_ADMIN,
                                                              "username_key": "username"},
                "keycloak_admin_rotation_secret_copies": [{"namespace": "keycloak", "name": "keycloak-admin",
                                                           "username_key": "username", "password_key": "password"}]}

    def wait_ready(self, timeout: float) -> None:
        if self.context.openbao is not None:  # OpenBao is ready (and initialised, in raft mode) by now
            self._vault_kubernetes_auth()

    def _vault_kubernetes_auth(self) -> None:
        # Imported here: only the supervisor's process needs them.
        import hvac  # pylint: disable=import-outside-toplevel
        import yaml  # pylint: disable=import-outside-toplevel

        vault = hvac.Client(url=self.context.openbao.url, token=self.context.openbao.root_token)
        kubeconfig = yaml.safe_load((self.context.dir / "kubeconfig").read_text(encoding="utf-8"))
        if f"{VAULT_AUTH_MOUNT}/" not in vault.sys.list_auth_methods()["data"]:
            vault.sys.enable_auth_method("kubernetes", path=VAULT_AUTH_MOUNT)
        vault.write(f"auth/{VAULT_AUTH_MOUNT}/config", kubernetes_host=kubeconfig["clusters"][0]["cluster"]["server"],
                    kubernetes_ca_cert=(self.context.dir / "tls" / "ca.crt").read_text(encoding="utf-8"),
                    token_reviewer_jwt=kubeconfig["users"][0]["user"]["token"], disable_local_ca_jwt=True)
        vault.sys.create_or_update_policy(JOB, f'''
path "secret/data/{KV_PATH}" {{ capabilities = ["create", "read", "update"] }}
path "secret/metadata/{KV_PATH}" {{ capabilities = ["read", "update"] }}
''')
        vault.write(f"auth/{VAULT_AUTH_MOUNT}/role/{JOB}", bound_service_account_names=JOB,
                    bound_service_account_namespaces="keycloak", token_policies=JOB, token_ttl="15m",
                    token_max_ttl="30m", audience="vault")


SCENARIO = KeycloakRotationScenario
