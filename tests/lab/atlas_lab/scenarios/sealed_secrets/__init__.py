"""Scenario of Sealed Secrets (roles sealed_secrets and sealed_secrets_keys, docs/sealed-secrets.md).

Seeds nothing: the role installs the controller as the upstream manifest does, and the lab runs the
simulated controller (atlas_lab.scenarios.sealed_secrets.controller) for every ready Pod of that
image, behind the emulator's service proxy, as a cluster would run the real one.
"""

from __future__ import annotations

from atlas_lab.scenarios.base import Scenario, ScenarioContext
from atlas_lab.scenarios.sealed_secrets.controller import SealedSecretsController


class SealedSecretsScenario(Scenario):
    name = "sealed_secrets"
    description = "a simulated Sealed Secrets controller for every Pod running its image"
    controllers = ("sealed-secrets-controller (keys, renewal, unsealing, /v1/cert.pem behind the service proxy)",)

    def __init__(self, context: ScenarioContext) -> None:
        super().__init__(context)
        self.controller = SealedSecretsController(host=context.host)

    def start(self) -> None:
        self.context.kubernetes.add_controller(self.controller)

    def reset(self) -> None:
        self.controller.reset()

    def stop(self) -> None:
        self.controller.reset()


SCENARIO = SealedSecretsScenario
