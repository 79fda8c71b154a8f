"""Scenario of the Keycloak admin rotation (roles keycloak_admin_rotation, keycloak_rotation_schedule).

Seeds what the Keycloak operator leaves on a real platform: Keycloak's namespace and the
``<name>-initial-admin`` Secret holding the admin credentials the Keycloak emulator accepts.
"""

from __future__ import annotations

from atlas_lab.scenarios.base import Scenario
from atlas_lab.services.kubernetes.objects import WriteOptions


class KeycloakRotationScenario(Scenario):
    name = "keycloak_rotation"
    description = "Keycloak's namespace and the operator's initial-admin Secret"
    seeds = ("Namespace keycloak", "Secret keycloak/keycloak-initial-admin")

    def start(self) -> None:
        kubernetes = self.context.kubernetes
        options = WriteOptions(field_manager="keycloak-operator", field_validation="Strict")
        for obj in (
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keycloak"}},
            {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
             "metadata": {"name": "keycloak-initial-admin", "namespace": "keycloak",
                          "labels": {"app": "keycloak", "app.kubernetes.io/managed-by": "keycloak-operator"}},
             "stringData": {"username": self.context.config.keycloak_admin_username,
                            "password": self.context.config.keycloak_admin_password}},
        ):
            resource_type = kubernetes.registry.by_api_version_kind(obj["apiVersion"], obj["kind"])
            kubernetes.objects.create(resource_type, "v1", obj["metadata"].get("namespace", ""), obj, options)


SCENARIO = KeycloakRotationScenario
