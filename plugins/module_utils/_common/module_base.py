# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the one base of every module of the collection.

A module's ``main()`` is its own argument spec, its documentation, and one call::

    HardeningModule(argument_spec(), connections=("kubernetes",)).run(apply_manifests_task)

The base merges the connection options of the services named in ``connections`` (refusing an
option defined twice), hides every secret a connection holds or obtains (``no_log_values``),
exposes check and diff mode, and turns a :class:`HardeningError` raised anywhere below into one
``fail_json`` message with its details.

The connections themselves are built by each service's ``config`` module, from the module
(``kubernetes_connection(module)``, ``vault_connection(module)``, ``keycloak_admin_api(module)``,
``aws_connection(module)``), which hide the secrets they hold or obtain later. The base does not refer
to them: Ansible packs into a module's payload every file its imports reach, so a Kubernetes module
carries no Vault, Keycloak or AWS code, and its start-up does not grow with the collection's services.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, NoReturn

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.atlas.hardening.plugins.module_utils._aws.options import AWS_CONNECTION_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.options import KEYCLOAK_CONNECTION_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.options import KUBERNETES_CONNECTION_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._vault.options import VAULT_CONNECTION_ARGSPEC

CONNECTION_ARGSPECS: Mapping[str, Mapping[str, dict[str, Any]]] = {
    "aws": AWS_CONNECTION_ARGSPEC,
    "keycloak": KEYCLOAK_CONNECTION_ARGSPEC,
    "kubernetes": KUBERNETES_CONNECTION_ARGSPEC,
    "vault": VAULT_CONNECTION_ARGSPEC,
}


def merge_argument_specs(own: Mapping[str, dict[str, Any]], connections: Sequence[str]) -> dict[str, dict[str, Any]]:
    """A module's options plus the named connections' options (deep copies: safe to modify)."""
    merged = copy.deepcopy(dict(own))
    for name in connections:
        for option, spec in CONNECTION_ARGSPECS[name].items():
            if option in merged:
                raise ValueError(f"option {option} is defined by the module and by the {name} connection")
            merged[option] = copy.deepcopy(spec)
    return merged


class HardeningModule(AnsibleModule):
    """An AnsibleModule with the collection's connections, secrecy and error handling."""

    def __init__(self, argument_spec: Mapping[str, dict[str, Any]], *, connections: Sequence[str] = (),
                 supports_check_mode: bool = True, **kwargs: Any) -> None:
        super().__init__(argument_spec=merge_argument_specs(argument_spec, connections),
                         supports_check_mode=supports_check_mode, **kwargs)

    @property
    def diff_mode(self) -> bool:
        return bool(self._diff)

    def hide(self, values: Iterable[str]) -> None:
        """Never show these values in any output of this module (plain; callers add encodings)."""
        self.no_log_values.update(value for value in values if value)

    # The one exit ----------------------------------------------------------------------------
    def run(self, task: Callable[[HardeningModule], Mapping[str, Any]]) -> NoReturn:
        """Run the module's task; its result becomes exit_json, a HardeningError one fail_json."""
        try:
            result = dict(task(self))
        except HardeningError as exc:
            self.fail_json(msg=str(exc), **exc.details)
            raise  # fail_json exits; this line is never reached
        self.exit_json(**result)
        raise SystemExit(0)  # exit_json exits; for type checkers
