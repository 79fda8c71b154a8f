"""The one module base: merged connection options, secrets hidden, one fail_json message per error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import (
    CONNECTION_ARGSPECS,
    HardeningModule,
    merge_argument_specs,
)


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
    result = run(lambda module: {"vault": module.vault().url}, {"vault_url": "vault.example:8200"}, capsys)
    assert result["msg"].startswith("vault_url 'vault.example:8200' is not an http(s) URL")
