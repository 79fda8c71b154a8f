"""Service account tokens: the TokenRequest subresource and the TokenReview API.

``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` (what ``kubectl create token`` and the
kubelet use) issues a JWT signed ES256 by the emulator, with the claims of a real projected token
(``sub: system:serviceaccount:<ns>:<name>``, ``aud``, ``exp``, and the ``kubernetes.io`` claim with
namespace and service account name/uid). ``POST /apis/authentication.k8s.io/v1/tokenreviews`` (what
Vault's Kubernetes auth method calls) answers ``authenticated: true`` with the service account's user
for such a token while it is valid and its service account still exists (same uid), ``false`` with an
error otherwise. Issued tokens also authenticate API requests as that service account, which RBAC
then authorises (:mod:`.rbac`).
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
        header = {"alg": "ES256", "kid": self.key_id, "typ": "JWT"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64(signature)}", expires

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
        if claims.get("exp", 0) < time.time():
            return None
        return claims


def user_info(claims: dict[str, Any]) -> dict[str, Any]:
    kubernetes = claims.get("kubernetes.io") or {}
    namespace = kubernetes.get("namespace", "")
    account = kubernetes.get("serviceaccount") or {}
    return {"username": f"system:serviceaccount:{namespace}:{account.get('name', '')}",
            "uid": account.get("uid", ""),
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": [f"JTI={claims.get('jti', '')}"]}}


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


def token_review(issuer: TokenIssuer, body: dict[str, Any] | None,
                 service_account_uid: Callable[[str, str], str | None]) -> dict[str, Any]:
    """Review ``spec.token``; ``service_account_uid(namespace, name)`` gives the current uid."""
    spec = dict((body or {}).get("spec") or {})
    token = str(spec.get("token") or "")
    wanted = list(spec.get("audiences") or [])
    status: dict[str, Any] = {"authenticated": False, "user": {}}
    claims = issuer.verify(token)
    if claims is None:
        status["error"] = "[invalid bearer token, token lookup failed]"
    else:
        kubernetes = claims.get("kubernetes.io") or {}
        account = kubernetes.get("serviceaccount") or {}
        current = service_account_uid(kubernetes.get("namespace", ""), account.get("name", ""))
        audiences = claims.get("aud") or []
        matched = [a for a in wanted if a in audiences] if wanted else list(audiences)
        if current is None or current != account.get("uid"):
            status["error"] = "[invalid bearer token, service account has been deleted]"
        elif wanted and not matched:
            status["error"] = "[invalid bearer token, token audiences don't match]"
        else:
            status = {"authenticated": True, "user": user_info(claims), "audiences": matched}
    return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
