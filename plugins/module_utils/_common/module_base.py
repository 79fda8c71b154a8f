# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the one base of every module of the collection.

A module's ``main()`` is its own argument spec, its documentation, and one call::

    HardeningModule(argument_spec(), connections=("kubernetes",)).run(apply_manifests_task)

The base merges the connection options of the services named in ``connections`` (refusing an
option defined twice), hides every secret a connection holds or obtains (``no_log_values``),
exposes check and diff mode, and turns a :class:`HardeningError` raised anywhere below into one
``fail_json`` message with its details. Connections are built on first use, so a module imports
a service's client library only when it talks to that service.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.atlas.hardening.plugins.module_utils._aws.options import AWS_CONNECTION_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.options import KEYCLOAK_CONNECTION_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.options import KUBERNETES_CONNECTION_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._vault.options import VAULT_CONNECTION_ARGSPEC

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.atlas.hardening.plugins.module_utils._aws.connection import AWSConnection
    from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.admin_api import KeycloakAdminAPI
    from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import KubernetesConnection
    from ansible_collections.atlas.hardening.plugins.module_utils._vault.connection import VaultConnection

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

    # Connections, built on first use -----------------------------------------------------------
    def kubernetes(self, user_agent: str = "atlas.hardening") -> KubernetesConnection:
        from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import connect

        # Credentials obtained later in the run (a refreshed exec credential) are hidden as they come.
        return connect(self.params, user_agent=user_agent, on_secret=lambda value: self.hide([value]),
                       run_command=self._run_credential_plugin)

    def _run_credential_plugin(self, argv: list[str], environ: dict[str, str], cwd: str) -> tuple:
        """A kubeconfig's exec plugin, run as Ansible runs commands (bytes out, nothing expanded)."""
        return self.run_command(argv, environ_update=environ, cwd=cwd or None, encoding=None,
                                expand_user_and_vars=False)

    def vault(self) -> VaultConnection:
        from ansible_collections.atlas.hardening.plugins.module_utils._vault.config import vault_client_from_params

        connection = vault_client_from_params(self.params)
        self.hide(connection.no_log_values)
        connection.no_log_values = self.no_log_values  # tokens of later logins are hidden too
        return connection

    def keycloak(self, credentials_required: bool = True) -> KeycloakAdminAPI:
        from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.config import (
            keycloak_client_from_params,
        )

        client = keycloak_client_from_params(self.params, credentials_required=credentials_required)
        client.no_log_values = self.no_log_values  # every token obtained later is hidden
        return client

    def aws(self) -> AWSConnection:
        from ansible_collections.atlas.hardening.plugins.module_utils._aws.config import aws_client_from_params

        connection = aws_client_from_params(self.params)
        self.hide(connection.no_log_values)
        return connection

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
