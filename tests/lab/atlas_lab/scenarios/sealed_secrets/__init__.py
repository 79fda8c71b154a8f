"""Scenario of Sealed Secrets (roles sealed_secrets and sealed_secrets_keys, docs/sealed-secrets.md).

Seeds nothing: the role installs the controller as the upstream manifest does, and the lab runs the
simulated controller (atlas_lab.scenarios.sealed_secrets.controller) for every ready Pod of that
image, behind the emulator's service proxy, as a cluster would run the real one.
"""

from __future__ import annotations

from atlas_lab.scenarios.base import Scenario, ScenarioContext
from atlas_lab.scenarios.sealed_secrets.controller import SealedSecretsController
from atlas_lab.services.kubernetes.rbac import Attributes


class SealedSecretsScenario(Scenario):
    name = "sealed_secrets"
    description = "a simulated Sealed Secrets controller for every Pod running its image"
    controllers = ("sealed-secrets-controller (keys, renewal, unsealing, /v1/cert.pem behind the service proxy)",)

    def __init__(self, context: ScenarioContext) -> None:
        super().__init__(context)
        rbac = context.kubernetes.authorizer.rbac

        def authorize(user: str, groups: tuple[str, ...], verb: str, group: str, resource: str, namespace: str,
                      subresource: str) -> bool:
            return bool(rbac.authorize(Attributes(user, groups, verb, api_group=group, resource=resource,
                                                  namespace=namespace, subresource=subresource)).allowed)

        self.controller = SealedSecretsController(host=context.host, authorize=authorize)

    def start(self) -> None:
        self.context.kubernetes.add_controller(self.controller)

    def reset(self) -> None:
        self.controller.reset()

    def stop(self) -> None:
        self.controller.reset()


SCENARIO = SealedSecretsScenario
