"""The one module base: merged connection options, secrets hidden, one fail_json message per error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.atlas.hardening.plugins.module_utils._common import module_base
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import (
    CONNECTION_ARGSPECS,
    HardeningModule,
    merge_argument_specs,
)
from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import vault_connection


def test_connection_options_are_merged_as_copies() -> None:
    spec = merge_argument_specs({"name": {"type": "str"}}, ("kubernetes", "vault"))
    assert set(spec) == {"name"} | set(CONNECTION_ARGSPECS["kubernetes"]) | set(CONNECTION_ARGSPECS["vault"])
    spec["vault_url"]["default"] = "changed"
    assert "default" not in CONNECTION_ARGSPECS["vault"]["vault_url"]


def test_an_option_defined_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="k8s_context is defined by the module and by the kubernetes connection"):
        merge_argument_specs({"k8s_context": {"type": "str"}}, ("kubernetes",))


def run(task: Any, args: dict[str, Any], capsys: pytest.CaptureFixture[str], **spec: Any) -> dict[str, Any]:
    with patch_module_args(args):
        module = HardeningModule(dict(spec), connections=("vault",))
        with pytest.raises(SystemExit):
            module.run(task)
    return json.loads(capsys.readouterr().out)


def test_the_task_result_is_the_module_result(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(lambda module: {"changed": True, "check": module.check_mode, "diff": module.diff_mode},
                 {"_ansible_check_mode": True, "_ansible_diff": True}, capsys)
    assert (result["changed"], result["check"], result["diff"]) == (True, True, True)


def test_a_hardening_error_is_one_message_with_its_details_and_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "s3cr3t-value-of-the-test"

    def task(module: HardeningModule) -> dict[str, Any]:
        module.hide([secret, ""])
        raise HardeningError(f"Vault refused the token {secret}: check VAULT_TOKEN.", path="secret/x")

    result = run(task, {"vault_url": "http://127.0.0.1:1"}, capsys)
    assert result["failed"] is True
    assert result["msg"] == "Vault refused the token ********: check VAULT_TOKEN."
    assert result["path"] == "secret/x"
    assert secret not in json.dumps(result)


def test_a_connection_error_fails_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(lambda module: {"vault": vault_connection(module).url}, {"vault_url": "vault.example:8200"}, capsys)
    assert result["msg"].startswith("vault_url 'vault.example:8200' is not an http(s) URL")


# What Ansible sends: the module and every file its imports reach, zipped (AnsiballZ). Built by
# ansible-core itself, in a process of its own (its plugin loader is configured once per process).
CONNECTION_CODE = {"kubernetes": "_kubernetes/connection.py", "vault": "_vault/connection.py",
                   "keycloak": "_keycloak/admin_api.py", "aws": "_aws/connection.py"}
BUILD_PAYLOADS = """
import base64, io, json, re, sys, zipfile
from ansible.executor import module_common
from ansible.plugins.loader import init_plugin_loader, module_loader
from ansible.template import Templar
init_plugin_loader([sys.argv[1]])
found_files = {}
for name in sys.argv[2:]:
    found = module_loader.find_plugin_with_context("atlas.hardening." + name)
    built = module_common.modify_module(
        module_name=found.resolved_fqcn, module_path=found.plugin_resolved_path, module_args={},
        templar=Templar(loader=None), remote_is_local=True,
        task_vars={"ansible_playbook_python": sys.executable, "ansible_python_interpreter": sys.executable})
    payload = max(re.findall(rb"[A-Za-z0-9+/=]{4096,}", built.b_module_data), key=len)  # the base64 zip
    found_files[name] = zipfile.ZipFile(io.BytesIO(base64.b64decode(payload))).namelist()
print(json.dumps(found_files))
"""
PAYLOAD_SERVICES = {
    "k8s_manifests": {"kubernetes"},
    "helm_values_merge": set(),
    "vault_raft_snapshot": {"vault", "aws"},
    "keycloak_admin_password": {"kubernetes", "vault", "keycloak"},
}


def test_a_modules_payload_carries_only_the_services_it_talks_to() -> None:
    collections_root = Path(module_base.__file__).parents[6]  # the directory holding ansible_collections/
    # Without PYTHONPATH: ansible-test gives module_utils tests a copy of ansible without its controller code.
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    built = subprocess.run([sys.executable, "-c", BUILD_PAYLOADS, str(collections_root), *PAYLOAD_SERVICES],
                           capture_output=True, text=True, check=False, timeout=120, env=environ)
    assert built.returncode == 0, built.stderr
    for name, files in json.loads(built.stdout).items():
        carried = {service for service, code in CONNECTION_CODE.items()
                   if any(file.endswith("plugins/module_utils/" + code) for file in files)}
        assert carried == PAYLOAD_SERVICES[name], name
