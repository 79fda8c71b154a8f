"""Which ansible-core runs the integration suites' plays and which Python runs their modules.

By default: this virtualenv's ansible-core and Python. Under ``make compat`` (``scripts/compat``):
``ATLAS_TEST_ANSIBLE_BIN_DIR`` names .venv-compat/bin and ``ATLAS_TEST_EXPECT_ANSIBLE_CORE`` /
``ATLAS_TEST_EXPECT_MODULE_PYTHON`` what it holds (ansible-core 2.16, Python 3.11), so the compat run
proves it really ran the old ansible-core and did not fall back to this venv's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.release import __version__ as PYTEST_VENV_ANSIBLE_CORE  # pylint: disable=import-error

from atlas_lab.pytest_plugin import VENV_BIN  # pylint: disable=import-error

pytestmark = pytest.mark.compat

EXPECTED_ANSIBLE_CORE = os.environ.get("ATLAS_TEST_EXPECT_ANSIBLE_CORE") or PYTEST_VENV_ANSIBLE_CORE
EXPECTED_MODULE_PYTHON = os.environ.get("ATLAS_TEST_EXPECT_MODULE_PYTHON") or "{}.{}".format(*sys.version_info[:2])


def test_plays_run_the_expected_ansible_core_and_modules_the_expected_python(lab: Any) -> None:
    interpreter = next(host["ansible_python_interpreter"]
                       for group in yaml.safe_load(Path(lab.inventory).read_text())["all"]["children"].values()
                       for host in group["hosts"].values())
    assert Path(interpreter).samefile(VENV_BIN / "python")

    versions = lab.ansible("ansible.builtin.debug", {"msg": "{{ ansible_version.full }} {{ ansible_playbook_python }}"})
    assert versions.rc == 0, versions
    core, controller_python = versions.results["localhost"]["msg"].split()
    assert core == EXPECTED_ANSIBLE_CORE
    assert Path(controller_python).samefile(VENV_BIN / "python")

    facts = lab.ansible("ansible.builtin.setup", "gather_subset=!all filter=ansible_python")
    assert facts.rc == 0, facts
    module_python = facts.results["localhost"]["ansible_facts"]["ansible_python"]
    assert "{major}.{minor}".format(**module_python["version"]) == EXPECTED_MODULE_PYTHON
    assert Path(module_python["executable"]).samefile(interpreter)
