"""The Keycloak emulator application: routing, request kinds, state reset."""

from __future__ import annotations

from atlas_lab.core.http_base import EmulatorApp, Request, Response
from atlas_lab.services.keycloak import representations
from atlas_lab.services.keycloak.admin_api import AdminApi
from atlas_lab.services.keycloak.errors import KeycloakError, method_not_allowed, no_route
from atlas_lab.services.keycloak.lab_admin import LabAdmin
from atlas_lab.services.keycloak.model import MASTER, Clock, Realm, new_realm
from atlas_lab.services.keycloak.routes import resolve
from atlas_lab.services.keycloak.token_endpoint import TokenEndpoint, grant_kind
from atlas_lab.services.keycloak.tokens import TokenSigner

DEFAULT_ADMIN_PASSWORD = "Lab-Admin-Passw0rd!"
TEMPORARY_ADMIN_ATTRIBUTE = "is_temporary_admin"


class KeycloakApp(EmulatorApp):
    """An emulated Keycloak 26 server: token endpoint and the Admin REST API operations the
    collection uses. Build it with :func:`atlas_lab.services.keycloak.create_app`."""

    name = "keycloak"

    def __init__(self, admin_username: str = "admin", admin_password: str = DEFAULT_ADMIN_PASSWORD,
                 legacy_auth_prefix: bool = False, *, temporary_admin: bool = False,
                 access_token_lifespan: int = 60, password_policy: str = "",
                 version: str = "26.6.0", scheme: str = "http") -> None:
        super().__init__()
        self.admin_username = admin_username
        self._admin_password = admin_password
        self.legacy_auth_prefix = legacy_auth_prefix
        self.temporary_admin = temporary_admin
        self.initial_token_lifespan = access_token_lifespan
        self.initial_password_policy = password_policy
        self.version = version
        self.scheme = scheme
        self.clock = Clock()
        self.signer = TokenSigner()
        self.realms: dict[str, Realm] = {}
        self.admin_api = AdminApi(self)
        self.token_endpoint = TokenEndpoint(self)
        self.lab_admin = LabAdmin(self)
        self.reset()

    @property
    def base_path(self) -> str:
        """Path prefix of every Keycloak URL: ``/auth`` like Keycloak < 17, else empty."""
        return "/auth" if self.legacy_auth_prefix else ""

    def issuer(self, request: Request | None, realm: str) -> str:
        host = (request.headers.get("Host") if request is not None else None) or "localhost"
        return f"{self.scheme}://{host}{self.base_path}/realms/{realm}"

    def reset(self) -> None:
        with self.lock:
            self.clock.offset = 0
            master = new_realm(MASTER, self.initial_token_lifespan, self.initial_password_policy)
            self.realms = {MASTER: master}
            attributes = {TEMPORARY_ADMIN_ATTRIBUTE: "true"} if self.temporary_admin else {}
            self.lab_admin.upsert_user(master, {"username": self.admin_username, "password": self._admin_password,
                                                "admin": True, "attributes": attributes})

    # Routing -------------------------------------------------------------------------------------
    def _relative(self, path: str) -> str | None:
        prefix = self.base_path
        if not prefix:
            return path
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix):] or "/"
        return None

    def classify(self, request: Request) -> str:
        relative = self._relative(request.path)
        if relative is None:
            return "unknown"
        route = resolve(request.method, relative)[0]
        if route is None:
            return "unknown"
        return grant_kind(request) if route.kind == "token" else route.kind

    def handle(self, request: Request) -> Response:
        try:
            relative = self._relative(request.path)
            if relative is None:
                raise no_route()
            route, params, path_known = resolve(request.method, relative)
            if route is None:
                raise method_not_allowed() if path_known else no_route()
            with self.lock:
                if route.handler == "token":
                    return self.token_endpoint.handle(request, self._public_realm(params["realm"]))
                if route.handler == "discovery":
                    realm = self._public_realm(params["realm"])
                    return Response.json(representations.openid_configuration(self.issuer(request, realm.name)))
                return getattr(self.admin_api, route.handler)(request, params)
        except KeycloakError as error:
            return error.response()

    def _public_realm(self, name: str) -> Realm:
        realm = self.realms.get(name)
        if realm is None or not realm.enabled:
            raise KeycloakError(404, "Realm does not exist")
        return realm

    def admin(self, request: Request, subpath: str) -> Response | None:
        with self.lock:
            return self.lab_admin.dispatch(request, subpath)
