"""JSON representations, shaped like Keycloak 26 serialises them (null fields left out)."""

from __future__ import annotations

import json
from typing import Any

from atlas_lab.services.keycloak.model import PASSWORD, Client, Realm, Session, User
from atlas_lab.services.keycloak.password_policy import HASH_ITERATIONS


def _compact(rep: dict[str, Any]) -> dict[str, Any]:
    """Keycloak's Jackson mapper uses NON_NULL inclusion."""
    return {key: value for key, value in rep.items() if value is not None}


def brief_user(user: User) -> dict[str, Any]:
    """ModelToRepresentation.toBriefRepresentation."""
    return _compact({
        "id": user.id,
        "username": user.username,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "email": user.email,
        "emailVerified": user.email_verified,
        "createdTimestamp": user.created,
        "enabled": user.enabled,
    })


def user(user: User, can_manage: bool | None = None) -> dict[str, Any]:
    """UserRepresentation; ``access`` is added by GET users/{id} only."""
    rep = brief_user(user)
    rep.update(_compact({
        "attributes": {name: list(values) for name, values in user.attributes.items()} or None,
        "serviceAccountClientId": user.service_account_client,
        "totp": False,
        "disableableCredentialTypes": [],
        "requiredActions": list(user.required_actions),
        "notBefore": user.not_before,
    }))
    if can_manage is not None:
        rep["access"] = {"manageGroupMembership": can_manage, "view": True, "mapRoles": can_manage,
                         "impersonate": can_manage, "manage": can_manage}
    return rep


def credentials(user: User) -> list[dict[str, Any]]:
    """GET users/{id}/credentials: metadata only, ``secretData`` removed like UserResource does."""
    if user.password is None:
        return []
    return [{
        "id": user.password.id,
        "type": PASSWORD,
        "createdDate": user.password.created,
        "credentialData": json.dumps({"hashIterations": HASH_ITERATIONS, "algorithm": "pbkdf2-sha256",
                                      "additionalParameters": {}}, separators=(",", ":")),
    }]


def session(session: Session, username: str, client: Client | None) -> dict[str, Any]:
    return {
        "id": session.id,
        "username": username,
        "userId": session.user_id,
        "ipAddress": session.ip_address,
        "start": session.started * 1000,
        "lastAccess": session.last_refresh * 1000,
        "rememberMe": False,
        "clients": {client.id: client.client_id} if client else {},
        "transientUser": False,
    }


def realm(realm: Realm, full: bool) -> dict[str, Any]:
    """RealmAdminResource.getRealm: the full representation with view-realm, else only the name."""
    if not full:
        return {"realm": realm.name}
    return _compact({
        "id": realm.id,
        "realm": realm.name,
        "displayName": realm.display_name,
        "notBefore": 0,
        "defaultSignatureAlgorithm": "RS256",
        "revokeRefreshToken": False,
        "refreshTokenMaxReuse": 0,
        "accessTokenLifespan": realm.access_token_lifespan,
        "ssoSessionIdleTimeout": realm.sso_session_idle_timeout,
        "ssoSessionMaxLifespan": realm.sso_session_max_lifespan,
        "enabled": realm.enabled,
        "sslRequired": "external",
        "registrationAllowed": False,
        "loginWithEmailAllowed": True,
        "duplicateEmailsAllowed": False,
        "resetPasswordAllowed": False,
        "editUsernameAllowed": False,
        "bruteForceProtected": False,
        "passwordPolicy": realm.password_policy.text or None,
        "requiredCredentials": [PASSWORD],
        "otpPolicyType": "totp",
        "eventsEnabled": False,
        "adminEventsEnabled": False,
        "internationalizationEnabled": False,
        "attributes": {},
    })


def server_info(version: str, now_ms: int) -> dict[str, Any]:
    return {
        "systemInfo": {"version": version, "serverTime": str(now_ms), "uptime": "0 seconds",
                       "uptimeMillis": 0, "javaVersion": "21", "osName": "Linux"},
        "profileInfo": {"name": "community", "disabledFeatures": [], "previewFeatures": [],
                        "experimentalFeatures": []},
    }


def openid_configuration(issuer: str) -> dict[str, Any]:
    endpoint = f"{issuer}/protocol/openid-connect"
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{endpoint}/auth",
        "token_endpoint": f"{endpoint}/token",
        "userinfo_endpoint": f"{endpoint}/userinfo",
        "end_session_endpoint": f"{endpoint}/logout",
        "jwks_uri": f"{endpoint}/certs",
        "grant_types_supported": ["password", "client_credentials", "refresh_token"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }
