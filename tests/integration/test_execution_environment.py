"""The execution environment's definition (execution-environment.yml): what it pins agrees with what
`make test` tests, and `make ee`'s context holds what the jobs need. The jobs themselves run in the lab,
in an environment built from that context (atlas_lab.core.execution_environment, scenarios/scheduled_jobs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from atlas_lab.core.execution_environment import REPO


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, equals, version = line.partition("==")
        if equals and not line.startswith("#"):
            found[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return found


def test_the_pins_are_the_versions_make_test_tests() -> None:
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text(encoding="utf-8"))
    tested = pins(REPO / "constraints.txt")
    image = pins(REPO / "execution-environment" / "requirements.txt")
    assert definition["version"] == 3
    assert definition["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={tested['ansible-core']}"
    differing = {name: (version, tested[name]) for name, version in image.items()
                 if name in tested and tested[name] != version}
    assert differing == {}, f"run scripts/pin-ee-requirements: {differing}"
    wanted = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[;]", line, maxsplit=1)[0]).lower()
              for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")}
    assert wanted - set(image) == set(), "requirements.txt names a package the image does not pin"
    # The CronJob roles' default playbook paths are where the image installs the collection.
    for role in ("keycloak_rotation_schedule", "sealed_secrets_key_backup_schedule", "disaster_recovery_drill_schedule"):
        defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
        playbook = defaults[f"{role}_playbook"]
        assert playbook.startswith("/usr/share/ansible/collections/ansible_collections/atlas/hardening/playbooks/")
        assert (REPO / "playbooks" / Path(playbook).name).is_file(), playbook
