"""Shared set-up and checks of the Keycloak admin rotation suites (test_keycloak_rotation*.py).

Every test gets its own Keycloak admin user, KV path and Kubernetes namespace, so the suites do not
depend on order. State is checked from the outside: the real OpenBao (directly, not through the
fault proxy, so checks neither count nor hit faults), the Keycloak emulator's token endpoint (a real
password login + an admin call) and the Kubernetes emulator through the official ``kubernetes``
client. The module runs as platform teams run it: ``ansible-playbook playbooks/rotate_secrets.yml``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from atlas_lab.core.processes import descendants, kill_tree  # pylint: disable=import-error
from atlas_lab.pytest_plugin import REPO_ROOT, VENV_BIN, AnsibleResult, Lab, parse_recap  # pylint: disable=import-error
from atlas_lab.services.keycloak.lab_client import KeycloakLabClient  # pylint: disable=import-error

PLAYBOOK = REPO_ROOT / "playbooks" / "rotate-secrets.yml"
ROTATE_TASK = "keycloak_admin_rotation : Rotate the Keycloak admin password when it is due, for "
INITIAL_PASSWORD_LENGTH = 20
# Kinds that change something, per service (the lab's request classification).
VAULT_WRITES = ("kv2.write", "kv2.metadata.write", "kv2.patch", "kv2.delete", "kv2.destroy", "kv1.write",
                "kv1.delete")
KEYCLOAK_WRITES = ("users.reset_password", "users.logout")


def new_password() -> str:
    return "Init-" + secrets.token_urlsafe(INITIAL_PASSWORD_LENGTH) + "9a!"


@dataclass
class Run:
    """One ``ansible-playbook`` run and the module's own result (parsed from ``-v`` output)."""

    ansible: AnsibleResult
    module: dict[str, Any]

    @property
    def rc(self) -> int:
        return self.ansible.rc

    @property
    def output(self) -> str:
        return self.ansible.stdout + self.ansible.stderr

    @property
    def failed(self) -> bool:
        return bool(self.module.get("failed")) or self.rc != 0

    @property
    def message(self) -> str:
        return str(self.module.get("msg", ""))

    def __str__(self) -> str:
        return str(self.ansible)


def module_result(stdout: str, task: str = ROTATE_TASK) -> dict[str, Any]:
    """The result the default callback prints for ``task`` with -v (one line) or -vvv (indented)."""
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if not (line.startswith("TASK [") and task in line):
            continue
        for position in range(index + 1, len(lines)):
            current = lines[position]
            if current.startswith("TASK [") or current.startswith("PLAY RECAP"):
                return {}
            match = re.match(r"^(ok|changed|fatal): \[[^\]]+\](?:: FAILED!)? => (\{.*)$", current)
            if not match:
                continue
            text = match.group(2)
            for following in lines[position + 1:]:
                try:
                    return json.loads(text)
                except ValueError:
                    text += "\n" + following
            return json.loads(text)
    return {}


@dataclass
class RotationCase:
    """One admin user with its Vault secret, Secret copies and Event namespace in the lab."""

    lab: Lab
    username: str = field(default_factory=lambda: "admin-" + uuid.uuid4().hex[:10])
    kv_path: str = field(default_factory=lambda: "rotation-tests/" + uuid.uuid4().hex[:12])
    namespace: str = field(default_factory=lambda: "kc-" + uuid.uuid4().hex[:8])
    initial_password: str = field(default_factory=new_password)
    copies: list[dict[str, Any]] = field(default_factory=list)
    extra_vars: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keycloak = KeycloakLabClient(self.lab.vars["ATLAS_LAB_KEYCLOAK_ADMIN_URL"])
        self.vault = hvac.Client(url=self.lab.openbao_url, token=self.lab.vault_token)
        self.core = k8s_client.CoreV1Api(k8s_config.new_client_from_config(str(self.lab.kubeconfig)))
        if not self.copies:
            self.copies = [
                {"namespace": self.namespace, "name": "keycloak-admin", "password_key": "password",
                 "username_key": "username"},
                {"namespace": self.namespace, "name": "sso-consumer", "password_key": "admin-password"},
            ]
        self.seen_passwords: set[str] = {self.initial_password}

    # Set-up -----------------------------------------------------------------------------------
    def create(self, *, vault: bool = True, rotated_days_ago: int | None = 120, keycloak_user: bool = True,
               **user_fields: Any) -> RotationCase:
        """Seed Keycloak, Vault (password + an old rotation date) and the namespace with its copies."""
        if keycloak_user:
            self.keycloak.seed_user(self.username, self.initial_password, admin=True, **user_fields)
        if vault:
            self.vault.secrets.kv.v2.create_or_update_secret(
                self.kv_path, secret={"username": self.username, "password": self.initial_password},
                mount_point="secret")
            if rotated_days_ago is not None:
                rotated_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - rotated_days_ago * 86400))
                self.vault.secrets.kv.v2.update_metadata(
                    self.kv_path, mount_point="secret", max_versions=0, cas_required=False,
                    delete_version_after="0s", custom_metadata={"rotated_at": rotated_at, "owner": "tests"})
        self.core.create_namespace(k8s_client.V1Namespace(metadata=k8s_client.V1ObjectMeta(name=self.namespace)))
        for copy in self.copies:
            data = {copy.get("password_key", "password"): self.initial_password}
            if copy.get("username_key"):
                data[copy["username_key"]] = self.username
            self.put_secret(copy["namespace"], copy["name"], data)
        self.reset_counters()
        return self

    def put_secret(self, namespace: str, name: str, string_data: dict[str, str]) -> None:
        self.core.create_namespaced_secret(namespace, k8s_client.V1Secret(
            metadata=k8s_client.V1ObjectMeta(name=name, namespace=namespace), string_data=string_data))

    def reset_counters(self) -> None:
        for admin in (self.lab.vault_proxy, self.lab.keycloak, self.lab.k8s):
            admin.reset_requests()

    # Running ----------------------------------------------------------------------------------
    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The lab's environment without its bootstrap admin credentials (KEYCLOAK_USER/PASSWORD): by
        default the rotation acts as the rotated user itself; tests of other identities add them back."""
        values = dict(self.lab.env, KEYCLOAK_USER="", KEYCLOAK_PASSWORD="")
        values.update(extra or {})
        return values

    def role_vars(self, **overrides: Any) -> dict[str, Any]:
        values = {
            "keycloak_admin_rotation_username": self.username,
            "keycloak_admin_rotation_kv_path": self.kv_path,
            "keycloak_admin_rotation_secret_copies": self.copies,
            # The lab's inventory adopts its seeded Secret; these tests choose their own source, or none.
            "keycloak_admin_rotation_adopt_from_secret": {},
            "keycloak_admin_rotation_event_namespace": self.namespace,
            "keycloak_admin_rotation_password_length": 24,
        }
        values.update(self.extra_vars)
        values.update(overrides)
        return values

    def argv(self, *args: str, check: bool = False, verbosity: str = "-v", **overrides: Any) -> list[str]:
        argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(self.lab.inventory), str(PLAYBOOK), verbosity,
                "-e", json.dumps(self.role_vars(**overrides))]
        if check:
            argv.append("--check")
        return argv + list(args)

    def run(self, *args: str, check: bool = False, verbosity: str = "-v", env: dict[str, str] | None = None,
            timeout: float = 300, **overrides: Any) -> Run:
        argv = self.argv(*args, check=check, verbosity=verbosity, **overrides)
        completed = self.lab.run(argv, timeout=timeout, env=self.env(env))
        result = AnsibleResult(argv, completed.returncode, completed.stdout, completed.stderr,
                               recap=parse_recap(completed.stdout))
        run = Run(result, module_result(completed.stdout))
        self._remember_passwords()
        return run

    def start(self, *args: str, env: dict[str, str] | None = None, **overrides: Any) -> subprocess.Popen[str]:
        """Start a run in its own process group (so that a test can kill it with its module process)."""
        return subprocess.Popen(self.argv(*args, **overrides), cwd=REPO_ROOT, env=self.env(env),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    @staticmethod
    def kill(process: subprocess.Popen[str]) -> None:
        """SIGKILL the run's whole process tree (ansible-playbook, its setsid workers, the module), then
        check that none of it is left before anything else happens."""
        tree = [process.pid, *descendants(process.pid)]
        survivors = kill_tree(process.pid)
        process.wait(timeout=30)
        assert survivors == [], f"processes of the killed run still alive: {survivors}"
        assert len(tree) > 2, f"the run's tree was only {tree}: the module was not running yet"

    def finish(self, process: subprocess.Popen[str], timeout: float = 300) -> Run:
        stdout, _stderr = process.communicate(timeout=timeout)
        self._remember_passwords()
        result = AnsibleResult([], process.returncode, stdout, "", recap=parse_recap(stdout))
        return Run(result, module_result(stdout))

    # State, from the outside ------------------------------------------------------------------
    def vault_data(self) -> dict[str, Any]:
        response = self.vault.secrets.kv.v2.read_secret_version(self.kv_path, mount_point="secret",
                                                                raise_on_deleted_version=True)
        return response["data"]["data"]

    def vault_version(self) -> int:
        return int(self.vault_metadata()["current_version"])

    def vault_metadata(self) -> dict[str, Any]:
        return self.vault.secrets.kv.v2.read_secret_metadata(self.kv_path, mount_point="secret")["data"]

    def _remember_passwords(self) -> None:
        try:
            data = self.vault_data()
        except hvac.exceptions.InvalidPath:
            return
        for key in ("password", "previous_password", "pending_password"):
            if data.get(key):
                self.seen_passwords.add(data[key])

    def works(self, password: str | None) -> bool:
        return bool(password) and self.keycloak.password_works(self.username, password)

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        secret = self.core.read_namespaced_secret(name, namespace)
        value = (secret.data or {}).get(key)
        return base64.b64decode(value).decode() if value is not None else None

    def events(self) -> list[Any]:
        return self.core.list_namespaced_event(self.namespace).items

    def counts(self) -> dict[str, dict[str, int]]:
        return {"vault": self.lab.vault_proxy.counts(), "keycloak": self.lab.keycloak.counts(),
                "kubernetes": self.lab.k8s.counts()}

    def writes(self) -> dict[str, int]:
        counts = self.counts()
        k8s_writes = sum(n for kind, n in counts["kubernetes"].items()
                         if kind.split(" ")[0] in ("create", "patch", "update", "delete", "apply"))
        return {"vault": sum(counts["vault"].get(kind, 0) for kind in VAULT_WRITES),
                "keycloak": sum(counts["keycloak"].get(kind, 0) for kind in KEYCLOAK_WRITES),
                "kubernetes": k8s_writes}

    # Invariants -------------------------------------------------------------------------------
    def assert_stored_password_works(self) -> str:
        """Right after a failure: Vault holds (as password or pending_password) a password that logs in."""
        data = self.vault_data()
        working = [key for key in ("password", "pending_password") if self.works(data.get(key))]
        assert working, f"no stored password works; Vault keys: {sorted(data)}"
        return data[working[0]]

    def assert_consistent(self) -> str:
        """After a successful run: one password works, it is Vault's, every copy holds it, no pending."""
        data = self.vault_data()
        password = data["password"]
        assert not {"pending_password", "pending_rotation_id", "pending_since"} & set(data), sorted(data)
        assert self.works(password), "Vault's password does not log in"
        others = [p for p in self.seen_passwords if p != password and self.works(p)]
        assert not others, f"{len(others)} other known password(s) still log in"
        for copy in self.copies:
            assert self.secret_value(copy["namespace"], copy["name"], copy.get("password_key", "password")) == password
            if copy.get("username_key"):
                assert self.secret_value(copy["namespace"], copy["name"], copy["username_key"]) == self.username
        metadata = self.vault_metadata()["custom_metadata"] or {}
        assert metadata.get("rotation_id") == data.get("rotation_id")
        return password

    def assert_no_secret_in(self, *texts: str) -> None:
        """No password this test has seen (nor its base64 form) appears in ``texts``."""
        blob = "\n".join(texts)
        for password in self.seen_passwords:
            assert password not in blob
            assert base64.b64encode(password.encode()).decode() not in blob


def wait_for_hang(admin: Any, timeout: float = 60) -> None:
    """Wait until a 'hang' fault holds a request (its hits counter moved)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(fault["action"] == "hang" and fault["hits"] > 0 for fault in admin.faults()):
            return
        time.sleep(0.1)
    raise AssertionError("the run never reached the request the fault holds")


def free_port() -> int:
    import socket  # pylint: disable=import-outside-toplevel
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_mount() -> str:
    return "kv1-" + uuid.uuid4().hex[:8]


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
