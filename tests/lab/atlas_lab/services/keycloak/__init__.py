"""Keycloak 26 emulator: token endpoint and the Admin REST API operations the collection uses.

Usage::

    from atlas_lab.core.http_base import serve
    from atlas_lab.services import keycloak

    handle = serve(keycloak.create_app(admin_password="..."))
    lab = keycloak.KeycloakLabClient(handle.url)
    lab.set_realm(password_policy="length(12) and passwordHistory(3)")

See ``docs/lab-keycloak-emulator.md`` for routes, request kinds and the lab admin API.
"""

from __future__ import annotations

from atlas_lab.services.keycloak.app import DEFAULT_ADMIN_PASSWORD, KeycloakApp
from atlas_lab.services.keycloak.lab_client import KeycloakLabClient
from atlas_lab.services.keycloak.routes import KINDS, ROUTES

__all__ = ["DEFAULT_ADMIN_PASSWORD", "KINDS", "ROUTES", "KeycloakApp", "KeycloakLabClient", "create_app"]


def create_app(admin_username: str = "admin", admin_password: str = DEFAULT_ADMIN_PASSWORD,
               legacy_auth_prefix: bool = False, *, temporary_admin: bool = False,
               access_token_lifespan: int = 60, password_policy: str = "",
               version: str = "26.6.0", scheme: str = "http") -> KeycloakApp:
    """An emulated Keycloak with a master realm holding one administrator.

    ``legacy_auth_prefix`` serves everything under ``/auth`` (Keycloak < 17) and 404s the bare
    paths. ``temporary_admin`` marks the administrator like Keycloak 26's bootstrap admin
    (attribute ``is_temporary_admin: ["true"]``). ``access_token_lifespan`` is the master realm's
    (60 s, as in Keycloak). ``scheme`` only shapes token issuers (set ``https`` when served with TLS).
    """
    return KeycloakApp(admin_username, admin_password, legacy_auth_prefix, temporary_admin=temporary_admin,
                       access_token_lifespan=access_token_lifespan, password_policy=password_policy,
                       version=version, scheme=scheme)
