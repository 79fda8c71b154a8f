"""Bearer-token authentication, impersonation, and the messages of a refusal.

The lab's main token is an administrator (``system:masters``). Other users (ServiceAccount tokens,
extra tokens added with a user name and groups) are authorised by RBAC (:mod:`.rbac`). An extra token
may instead carry a fixed policy (verbs, resources, namespaces), to test how clients report
``403 Forbidden`` without writing RBAC objects; its refusals read as RBAC's (``User "x" cannot create
resource "secrets" in API group "" in the namespace "y"``).
"""

from __future__ import annotations

import dataclasses
import hmac
import threading

from atlas_lab.services.kubernetes import errors as E


@dataclasses.dataclass
class User:
    name: str
    groups: list[str] = dataclasses.field(default_factory=lambda: ["system:authenticated"])
    verbs: set[str] | None = None  # None: every verb
    resources: set[str] | None = None  # "secrets", "deployments.apps"; None: every resource
    namespaces: set[str] | None = None  # None: every namespace and cluster scope

    @property
    def fixed_policy(self) -> bool:
        """True when this user's rights are the fields above rather than RBAC objects."""
        return self.verbs is not None or self.resources is not None or self.namespaces is not None

    def allows(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        if self.verbs is not None and verb not in self.verbs:
            return False
        qualified = f"{resource}.{group}" if group else resource
        if self.resources is not None and qualified not in self.resources and resource not in self.resources:
            return False
        if self.namespaces is not None and (namespace is None or namespace not in self.namespaces):
            return False
        return True


class TokenAuthenticator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, User] = {}

    def add(self, token: str, user: User) -> None:
        with self._lock:
            self._tokens[token] = user

    def remove(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def authenticate(self, authorization: str | None) -> User:
        """The user of an ``Authorization: Bearer`` header; 401 Unauthorized otherwise."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise E.unauthorized()
        presented = authorization[7:].strip()
        with self._lock:
            for token, user in self._tokens.items():
                if hmac.compare_digest(token.encode(), presented.encode()):
                    return user
        raise E.unauthorized()


def forbidden_path(user: User, verb: str, path: str) -> E.ApiError:
    return E.ApiError(403, "Forbidden", f'forbidden: User "{user.name}" cannot {verb} path "{path}"', {})


def forbidden(user: User, verb: str, group: str, resource: str, subresource: str, name: str,
              namespace: str | None) -> E.ApiError:
    qualified_resource = f"{resource}/{subresource}" if subresource else resource
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    why = (f'User "{user.name}" cannot {verb} resource "{qualified_resource}" in API group "{group}" {scope}')
    return E.forbidden(group, qualified_resource, name, why)
