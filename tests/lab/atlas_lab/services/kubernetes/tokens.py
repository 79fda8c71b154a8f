"""Service account tokens: the TokenRequest subresource and the TokenReview API.

``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` (what ``kubectl create token`` and the
kubelet use) issues a JWT signed ES256 by the emulator, with the claims of a real projected token
(``sub: system:serviceaccount:<ns>:<name>``, ``aud``, ``exp``, and the ``kubernetes.io`` claim with
namespace and service account name/uid). ``POST /apis/authentication.k8s.io/v1/tokenreviews`` (what
Vault's Kubernetes auth method calls) answers ``authenticated: true`` with the service account's user
for such a token while it is valid and its service account still exists (same uid), ``false`` with an
error otherwise. Issued tokens also authenticate API requests as that service account, which RBAC
then authorises (:mod:`.rbac`), when their audiences include the API server's (a token bound to Vault's
audience is refused by the API, as kube-apiserver refuses it).

Legacy tokens: a Secret of type ``kubernetes.io/service-account-token`` annotated
``kubernetes.io/service-account.name`` gets ``data.token`` (a JWT with the legacy claims, issuer
``kubernetes/serviceaccount``, no expiry), ``ca.crt`` and ``namespace`` from the token controller
(:class:`~.controllers.cluster.TokenSecretController`); such a token authenticates while its Secret
still holds it and its ServiceAccount exists, for the API server's audiences only.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from atlas_lab.services.kubernetes import errors as E

ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
LEGACY_PREFIX = "kubernetes.io/serviceaccount/"
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
DEFAULT_AUDIENCES = [ISSUER]
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _rfc3339(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


class TokenIssuer:
    """Signs and verifies service account tokens (ES256, key made at start)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = uuid.uuid4().hex
        self._lock = threading.Lock()

    def issue(self, namespace: str, service_account: dict[str, Any], audiences: list[str],
              expiration: int) -> tuple[str, float]:
        now = time.time()
        expires = now + expiration
        meta = service_account["metadata"]
        claims = {
            "aud": audiences, "exp": int(expires), "iat": int(now), "nbf": int(now), "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "sub": f"system:serviceaccount:{namespace}:{meta['name']}",
            "kubernetes.io": {"namespace": namespace,
                              "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}},
        }
        return self._sign(claims), expires

    def issue_legacy(self, namespace: str, service_account: dict[str, Any], secret_name: str) -> str:
        meta = service_account["metadata"]
        claims = {"iss": LEGACY_ISSUER, "sub": f"system:serviceaccount:{namespace}:{meta['name']}",
                  f"{LEGACY_PREFIX}namespace": namespace, f"{LEGACY_PREFIX}secret.name": secret_name,
                  f"{LEGACY_PREFIX}service-account.name": meta["name"],
                  f"{LEGACY_PREFIX}service-account.uid": meta["uid"]}
        return self._sign(claims)

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "ES256", "kid": self.key_id, "typ": "JWT"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this issuer signed and that has not expired, else ``None``."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            signature = _unb64(parts[2])
            if len(signature) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            self._key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
            claims = json.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError):
            return None
        if claims.get("iss") != LEGACY_ISSUER and claims.get("exp", 0) < time.time():
            return None
        return claims


def _account_of(claims: dict[str, Any]) -> tuple[str, str, str]:
    """(namespace, service account name, uid) named by a bound or a legacy token."""
    if claims.get("iss") == LEGACY_ISSUER:
        return (str(claims.get(f"{LEGACY_PREFIX}namespace") or ""),
                str(claims.get(f"{LEGACY_PREFIX}service-account.name") or ""),
                str(claims.get(f"{LEGACY_PREFIX}service-account.uid") or ""))
    kubernetes = claims.get("kubernetes.io") or {}
    account = kubernetes.get("serviceaccount") or {}
    return str(kubernetes.get("namespace") or ""), str(account.get("name") or ""), str(account.get("uid") or "")


def user_info(claims: dict[str, Any]) -> dict[str, Any]:
    namespace, name, uid = _account_of(claims)
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]
    info: dict[str, Any] = {"username": f"system:serviceaccount:{namespace}:{name}", "uid": uid, "groups": groups}
    if claims.get("iss") != LEGACY_ISSUER:
        info["extra"] = {"authentication.kubernetes.io/credential-id": [f"JTI={claims.get('jti', '')}"]}
    return info


# get(resource key, namespace, name) -> the stored object or None
StoreGet = Callable[[tuple[str, str], str, str], "dict[str, Any] | None"]


def authenticate_token(issuer: TokenIssuer, token: str, get: StoreGet) -> tuple[dict[str, Any] | None, list[str], str]:
    """(user info, the token's audiences, "") for a valid service account token, else (None, [], error)."""
    claims = issuer.verify(token)
    if claims is None:
        return None, [], "[invalid bearer token, token lookup failed]"
    namespace, name, uid = _account_of(claims)
    account = get(("", "serviceaccounts"), namespace, name)
    if account is None or account["metadata"].get("uid") != uid:
        return None, [], "[invalid bearer token, service account has been deleted]"
    if claims.get("iss") == LEGACY_ISSUER:
        secret = get(("", "secrets"), namespace, str(claims.get(f"{LEGACY_PREFIX}secret.name") or ""))
        stored = ((secret or {}).get("data") or {}).get("token") or ""
        if not stored or base64.b64decode(stored).decode("utf-8", "replace") != token:
            return None, [], "[invalid bearer token, token lookup failed]"
        return user_info(claims), list(DEFAULT_AUDIENCES), ""
    return user_info(claims), list(claims.get("aud") or []), ""


def token_request(issuer: TokenIssuer, namespace: str, service_account: dict[str, Any],
                  body: dict[str, Any] | None) -> dict[str, Any]:
    spec = dict((body or {}).get("spec") or {})
    audiences = list(spec.get("audiences") or DEFAULT_AUDIENCES)
    expiration = int(spec.get("expirationSeconds") or DEFAULT_EXPIRATION)
    if expiration < MIN_EXPIRATION:
        raise E.invalid_object("authentication.k8s.io", "TokenRequest", service_account["metadata"]["name"],
                               [E.invalid("spec.expirationSeconds", expiration,
                                          "may not specify a duration less than 10 minutes")])
    token, expires = issuer.issue(namespace, service_account, audiences, expiration)
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": service_account["metadata"]["name"], "namespace": namespace,
                         "creationTimestamp": _rfc3339(time.time())},
            "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": None},
            "status": {"token": token, "expirationTimestamp": _rfc3339(expires)}}


def token_review(issuer: TokenIssuer, body: dict[str, Any] | None, get: StoreGet) -> dict[str, Any]:
    """Review ``spec.token`` against the stored service accounts (and legacy token Secrets)."""
    spec = dict((body or {}).get("spec") or {})
    wanted = list(spec.get("audiences") or [])
    status: dict[str, Any] = {"authenticated": False, "user": {}}
    info, audiences, error = authenticate_token(issuer, str(spec.get("token") or ""), get)
    matched = [a for a in wanted if a in audiences] if wanted else list(audiences)
    if info is None:
        status["error"] = error
    elif wanted and not matched:
        status["error"] = "[invalid bearer token, token audiences don't match]"
    else:
        status = {"authenticated": True, "user": info, "audiences": matched}
    return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
