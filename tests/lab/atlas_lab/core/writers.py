"""Files ``up`` leaves for people and tools: the sourceable env file and the Ansible inventory."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from atlas_lab.config import write_private

ENV_FILE = "env"
INVENTORY_FILE = "inventory.yml"

ENV_HEADER = """\
# atlas.hardening lab: written by `python -m atlas_lab up`; gone stale after `make lab-down`.
# Use it with:  source {path}
# It holds lab-only secrets (random per lab): do not copy it anywhere.
"""


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write ``export NAME=value`` lines that bash, sh and zsh can source."""
    lines = [ENV_HEADER.format(path=path)]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    write_private(path, "\n".join(lines) + "\n")


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a file written by :func:`write_env_file` (without running a shell)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("export "):
            name, _equals, quoted = line[len("export "):].partition("=")
            parsed = shlex.split(quoted)
            values[name] = parsed[0] if parsed else ""
    return values


def inventory(python: str, connection_vars: dict[str, Any]) -> dict[str, Any]:
    """The lab as an Ansible inventory: localhost in ``atlas_control``, like docs/examples/inventory."""
    return {
        "all": {
            "children": {
                "atlas_control": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": python,
                        },
                    },
                    "vars": connection_vars,
                },
            },
        },
    }


def write_inventory(path: Path, python: str, connection_vars: dict[str, Any]) -> None:
    header = ("# atlas.hardening lab inventory: written by `python -m atlas_lab up`.\n"
              "# Secrets are not in here: source the env file next to it (VAULT_TOKEN, KEYCLOAK_PASSWORD).\n")
    body = yaml.safe_dump(inventory(python, connection_vars), sort_keys=False, default_flow_style=False)
    write_private(path, header + "---\n" + body)
