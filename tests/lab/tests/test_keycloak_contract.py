"""Contract test: the Keycloak emulator against Keycloak's published Admin REST OpenAPI document
(``../shared/contracts/keycloak-admin-openapi-26.6.json`` from the repository root) and, for the
token endpoint (not part of the Admin API), against RFC 6749 sections 5.1/5.2 and OpenID Connect
Discovery 1.0 section 3.

A scenario drives every route the emulator serves, on success and error paths, through a plain
HTTP client that records each exchange. Every admin exchange must then map to a documented path
and method; its query parameters must be declared with a compatible type; a JSON request body and
a documented JSON response must validate against the referenced component schemas (``$ref``
resolved in the document, objects closed with ``additionalProperties: false`` so an invented or
misspelt field fails, ``int32``/``int64`` ranges checked); the status must be documented for the
operation, or be one of the few framework-level answers Keycloak gives before the operation runs
(listed in FRAMEWORK_ANSWERS with the exact body).
"""

from __future__ import annotations

import copy
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from atlas_lab.services.keycloak import ROUTES
from atlas_lab.services.keycloak.errors import NOT_FOUND_RESOURCE, SERVER_LOG_HINT
from atlas_lab.services.keycloak.routes import TOKEN_PATH

if TYPE_CHECKING:
    from conftest_keycloak import Exchange, KeycloakHttp

    from atlas_lab.services.keycloak import KeycloakLabClient

pytest_plugins = ("conftest_keycloak",)

REPO_ROOT = Path(__file__).resolve().parents[3]
# Keycloak's published document, vendored unmodified (tests/lab/contracts/README.md), so the contract
# is checked on every machine; the team's shared copy, when present, must be the same document.
CONTRACT = REPO_ROOT / "tests" / "lab" / "contracts" / "keycloak-admin-openapi-26.6.json.gz"
SHARED_CONTRACT = REPO_ROOT.parent / "shared" / "contracts" / "keycloak-admin-openapi-26.6.json"
CONTRACT_URI = "urn:keycloak-admin-openapi-26.6"

ADMIN = "admin"
POLICY = "length(12) and upperCase(1) and lowerCase(1) and digits(1) and specialChars(1) and passwordHistory(3)"

# Answers Keycloak gives before the documented operation runs, so the OpenAPI document (generated
# from the resource methods' annotations) does not list them: status -> the exact bodies allowed.
FRAMEWORK_ANSWERS: dict[int, tuple[dict[str, Any], ...]] = {
    # AdminRoot.authenticateRealmAdminRequest: NotAuthorizedException("Bearer")
    401: ({"error": "HTTP 401 Unauthorized"},),
    # RealmsAdminResource.getRealmAdmin and UsersResource.user (resource locators); JAX-RS routing
    404: ({"error": "Realm not found."}, {"error": "User not found"},
          {"error": NOT_FOUND_RESOURCE, "error_description": SERVER_LOG_HINT}),
    # JAX-RS @Consumes(application/json) and Jackson (KeycloakErrorHandler)
    415: ({"error": "HTTP 415 Unsupported Media Type"},),
    400: ({"error": "invalid_request", "error_description": "Cannot parse the JSON"},),
    405: ({"error": "HTTP 405 Method Not Allowed"},),
}
# Error bodies of documented 4xx answers that declare no schema: KeycloakErrorHandler's
# {"error": message} or ErrorResponseException's {"error": key, "error_description": text}.
ERROR_BODY = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {"type": "string", "minLength": 1}, "error_description": {"type": "string"}},
}
# RFC 6749 section 5.1 (successful response); Keycloak adds the fields after "scope".
TOKEN_RESPONSE = {
    "type": "object", "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string", "minLength": 1},
        "token_type": {"type": "string", "pattern": "^[Bb][Ee][Aa][Rr][Ee][Rr]$"},
        "expires_in": {"type": "integer", "minimum": 1},
        "refresh_token": {"type": "string", "minLength": 1},
        "scope": {"type": "string"},
        "refresh_expires_in": {"type": "integer", "minimum": 0},
        "not-before-policy": {"type": "integer"},
        "session_state": {"type": "string"},
        "id_token": {"type": "string"},
    },
    "additionalProperties": False,
}
# RFC 6749 section 5.2 (error response): codes and the error_description character set.
OAUTH_ERROR = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {
        "error": {"enum": ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                           "unsupported_grant_type", "invalid_scope"]},
        "error_description": {"type": "string", "pattern": "^[\\x20-\\x21\\x23-\\x5B\\x5D-\\x7E]+$"},
        "error_uri": {"type": "string"},
    },
}
# OpenID Connect Discovery 1.0, section 3: REQUIRED provider metadata.
DISCOVERY_REQUIRED = ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
                      "response_types_supported", "subject_types_supported",
                      "id_token_signing_alg_values_supported"]

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2 ** 31) <= value < 2 ** 31


@FORMATS.checks("int64")
def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2 ** 63) <= value < 2 ** 63


# ---------------------------------------------------------------------------------------------
# The contract document
@dataclass
class Contract:
    document: dict[str, Any]
    registry: Registry
    path_patterns: list[tuple[str, re.Pattern[str]]]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for template, pattern in self.path_patterns:
            if pattern.match(path):
                item = self.document["paths"][template]
                operation = item.get(method.lower())
                if operation is not None:
                    return template, operation
        return None

    def parameters(self, template: str, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
        declared = list(self.document["paths"][template].get("parameters", [])) + list(operation.get("parameters", []))
        return {parameter["name"]: parameter for parameter in declared if parameter.get("in") == "query"}

    def validator(self, schema: dict[str, Any]) -> jsonschema.Draft4Validator:
        return jsonschema.Draft4Validator(schema, registry=self.registry, format_checker=FORMATS)

    def referenced_schemas(self, schema: Any, seen: set[str] | None = None) -> set[str]:
        """Component schema names reachable from ``schema``."""
        seen = set() if seen is None else seen
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if isinstance(ref, str) and ref.split("#")[-1].startswith("/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    self.referenced_schemas(self.document["components"]["schemas"][name], seen)
            for value in schema.values():
                self.referenced_schemas(value, seen)
        elif isinstance(schema, list):
            for value in schema:
                self.referenced_schemas(value, seen)
        return seen


def _close_objects(node: Any) -> None:
    """Representations are Java classes: Jackson writes only their declared properties."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node and not {"allOf", "anyOf", "oneOf"} & set(node):
            node["additionalProperties"] = False
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for value in node:
            _close_objects(value)


def _absolute_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: (CONTRACT_URI + value if key == "$ref" and isinstance(value, str) and value.startswith("#")
                      else _absolute_refs(value)) for key, value in node.items()}
    if isinstance(node, list):
        return [_absolute_refs(value) for value in node]
    return node


@pytest.fixture(scope="module")
def contract() -> Contract:
    assert CONTRACT.is_file(), f"{CONTRACT} is missing"
    document = json.loads(gzip.decompress(CONTRACT.read_bytes()).decode("utf-8"))
    strict = copy.deepcopy(document)
    _close_objects(strict["components"]["schemas"])
    registry = Registry().with_resource(CONTRACT_URI, Resource(contents=strict, specification=DRAFT4))
    patterns = []
    # Literal segments first, so /users/count wins over /users/{user-id} like in JAX-RS.
    for template in sorted(document["paths"], key=lambda t: (t.count("/"), t.count("{"))):
        regex = "".join(re.escape(piece) if i % 2 == 0 else "[^/]+"
                        for i, piece in enumerate(re.split(r"\{([^}]+)\}", template)))
        patterns.append((template, re.compile(f"^{regex}$")))
    return Contract(_absolute_refs(document), registry, patterns)


def test_vendored_contract_is_the_published_document() -> None:
    if not SHARED_CONTRACT.is_file():
        pytest.skip(f"no shared copy at {SHARED_CONTRACT} to compare the vendored contract with")
    assert gzip.decompress(CONTRACT.read_bytes()) == SHARED_CONTRACT.read_bytes()


# ---------------------------------------------------------------------------------------------
# The scenario: every route, on success and error paths
def run_scenario(kc: KeycloakHttp, lab: KeycloakLabClient) -> None:
    lab.set_realm(password_policy=POLICY)
    lab.seed_user("plain", "Plain-Passw0rd!", email="plain@example.org", firstName="Plain", lastName="User")
    lab.seed_user("helpdesk", "Helpdesk-Pw0rd!", clientRoles={"master-realm": ["manage-users"]})
    lab.seed_user("temp-admin", "Temp-Admin-Pw0rd!", admin=True, attributes={"is_temporary_admin": "true"})
    lab.seed_user("disabled", "Disabled-Pw0rd!", enabled=False)
    lab.seed_user("pending", "Pending-Pw0rd!", temporary=True)
    lab.create_service_client("rotation-job", secret="job-secret")
    realm = "/admin/realms/master"

    # Token endpoint: every grant and its errors
    session = kc.token(ADMIN, kc.admin_password).body
    kc.token(ADMIN, "wrong-password")
    kc.token("disabled", "Disabled-Pw0rd!")
    kc.token("pending", "Pending-Pw0rd!")
    kc.token(ADMIN, kc.admin_password, client_id="unknown-client")
    kc.token(client_id="rotation-job", client_secret="job-secret")
    kc.token(client_id="rotation-job", client_secret="wrong")
    kc.token()
    kc.token(grant_type="refresh_token", refresh_token=session["refresh_token"])
    kc.token(grant_type="refresh_token", refresh_token="not-a-token")
    kc.token(grant_type="refresh_token")
    kc.token(grant_type="urn:ietf:params:oauth:grant-type:device_code")
    kc.request("POST", "/realms/master/protocol/openid-connect/token", form={"client_id": "admin-cli"})
    kc.token(ADMIN, kc.admin_password, realm="no-such-realm")
    kc.request("GET", "/realms/master/.well-known/openid-configuration")

    # Unauthenticated and unknown
    kc.request("GET", realm)
    kc.request("GET", f"{realm}/users", token="garbage")
    kc.login()
    kc.request("GET", "/admin/realms/no-such-realm")
    kc.request("GET", f"{realm}/no-such-resource")
    kc.request("GET", "/admin/serverinfo")

    # Realm
    kc.request("GET", realm)

    # Users queries with every parameter the collection may use
    for query in ({"username": ADMIN, "exact": "true"}, {"username": "adm"}, {"search": "temp"},
                  {"search": "plain", "briefRepresentation": "true"}, {"first": "1", "max": "2"},
                  {"q": "is_temporary_admin:true"}, {"email": "plain@example.org", "exact": "true"},
                  {"enabled": "false"}, {"username": "service-account-rotation-job", "exact": "true"},
                  {"firstName": "plain", "lastName": "user", "emailVerified": "false"}):
        kc.request("GET", f"{realm}/users", query=query)
    kc.request("GET", f"{realm}/users/count")
    kc.request("GET", f"{realm}/users/count", query={"search": "adm"})
    admin_id = kc.user_id(ADMIN)
    temp_id = kc.user_id("temp-admin")
    kc.request("GET", f"{realm}/users/{admin_id}")
    kc.request("GET", f"{realm}/users/{temp_id}")
    kc.request("GET", f"{realm}/users/{kc.user_id('service-account-rotation-job')}")
    kc.request("GET", f"{realm}/users/no-such-id")
    kc.request("GET", f"{realm}/users/{admin_id}/credentials")
    kc.request("GET", f"{realm}/users/{admin_id}/sessions")

    # Reset password: success, temporary, every refusal
    kc.reset_password(temp_id, "Rotated-Temp-Pw0rd!")
    kc.reset_password(temp_id, "Rotated-Temp-Pw0rd!")  # history
    kc.reset_password(temp_id, "short")  # policy
    kc.reset_password(temp_id, "   ")
    kc.request("PUT", f"{realm}/users/{temp_id}/reset-password", json_body={"type": "password"})
    kc.request("PUT", f"{realm}/users/{temp_id}/reset-password", raw_body=b"{broken", content_type="application/json")
    kc.request("PUT", f"{realm}/users/{temp_id}/reset-password", raw_body=b"value=x",
               content_type="application/x-www-form-urlencoded")
    kc.reset_password(temp_id, "Temporary-Pw0rd-1!", temporary=True)
    kc.reset_password("no-such-id", "Whatever-Pw0rd-1!")
    kc.request("DELETE", f"{realm}/users/{temp_id}/reset-password")
    kc.request("POST", f"{realm}/users/{temp_id}/logout")
    kc.request("POST", f"{realm}/users/no-such-id/logout")

    # Lesser administrators and plain users
    kc.login("helpdesk", "Helpdesk-Pw0rd!")
    kc.request("GET", realm)
    kc.reset_password(temp_id, "Helpdesk-Set-Pw0rd-1!")
    kc.login("plain", "Plain-Passw0rd!")
    kc.request("GET", realm)
    kc.request("GET", f"{realm}/users")
    kc.request("GET", f"{realm}/users/count")
    kc.request("GET", f"{realm}/users/{admin_id}")
    kc.request("GET", f"{realm}/users/{admin_id}/credentials")
    kc.request("GET", f"{realm}/users/{admin_id}/sessions")
    kc.reset_password(admin_id, "Plain-Sets-Pw0rd-1!")
    kc.request("POST", f"{realm}/users/{admin_id}/logout")
    kc.request("GET", "/admin/serverinfo")


@pytest.fixture(scope="module")
def exchanges(keycloak_server: Any) -> Iterator[list[Exchange]]:
    from conftest_keycloak import KeycloakHttp  # pylint: disable=import-outside-toplevel

    from atlas_lab.services.keycloak import KeycloakLabClient  # pylint: disable=import-outside-toplevel

    lab = KeycloakLabClient(keycloak_server.url)
    lab.reset()
    recorded: list[Exchange] = []
    run_scenario(KeycloakHttp(lab.keycloak_url, recorder=recorded.append), lab)
    yield recorded
    lab.reset()


def _admin(exchanges: list[Exchange]) -> list[Exchange]:
    return [exchange for exchange in exchanges if exchange.path.startswith("/admin/realms")]


# ---------------------------------------------------------------------------------------------
# Tests
def test_every_emulated_admin_route_is_a_documented_operation(contract: Contract) -> None:
    for route in ROUTES:
        documented = route.template in contract.document["paths"] and \
            route.method.lower() in contract.document["paths"][route.template]
        assert documented == route.in_admin_contract, (
            f"{route.method} {route.template}: in the OpenAPI document = {documented}, "
            f"route says in_admin_contract = {route.in_admin_contract}")


def test_the_scenario_exercises_every_route(contract: Contract, exchanges: list[Exchange]) -> None:
    del contract
    exercised = set()
    for exchange in exchanges:
        for route in ROUTES:
            if route.method == exchange.method and route.params(exchange.path) is not None:
                exercised.add((route.method, route.template))
                break
    assert exercised == {(route.method, route.template) for route in ROUTES}


def test_admin_exchanges_conform_to_the_openapi_document(contract: Contract, exchanges: list[Exchange]) -> None:
    problems: list[str] = []
    for exchange in _admin(exchanges):
        problems.extend(_check_admin_exchange(contract, exchange))
    assert not problems, "\n".join(problems)


def _check_admin_exchange(contract: Contract, exchange: Exchange) -> list[str]:
    label = f"{exchange.method} {exchange.path} -> {exchange.reply.status}"
    reply = exchange.reply
    found = contract.operation(exchange.method, exchange.path)
    if found is None:
        # Only a framework answer may come back for an undocumented path or method.
        return [] if reply.body in FRAMEWORK_ANSWERS.get(reply.status, ()) else [f"{label}: undocumented operation"]
    template, operation = found
    problems = []
    declared = contract.parameters(template, operation)
    for name, values in exchange.query.items():
        parameter = declared.get(name)
        if parameter is None:
            problems.append(f"{label}: query parameter {name!r} is not declared")
            continue
        kind = parameter.get("schema", {}).get("type")
        for value in values:
            if kind == "boolean" and value not in ("true", "false"):
                problems.append(f"{label}: {name}={value!r} is not a boolean")
            if kind == "integer" and not re.fullmatch(r"-?\d+", value):
                problems.append(f"{label}: {name}={value!r} is not an integer")
    request_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if exchange.request_content_type == "application/json" and isinstance(exchange.request_body, (dict, list)):
        if request_schema is None:
            problems.append(f"{label}: sent a JSON body the operation does not take")
        else:
            problems.extend(f"{label}: request body: {error.message}"
                            for error in contract.validator(request_schema).iter_errors(exchange.request_body))
    response = operation["responses"].get(str(reply.status))
    if response is None:
        if reply.body not in FRAMEWORK_ANSWERS.get(reply.status, ()):
            problems.append(f"{label}: status not documented for {exchange.method.upper()} {template}: {reply.body}")
        return problems
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None:
        if not reply.headers.get("Content-Type", "").startswith("application/json"):
            problems.append(f"{label}: Content-Type {reply.headers.get('Content-Type')!r}")
        problems.extend(f"{label}: response: {error.message} at {list(error.absolute_path)}"
                        for error in contract.validator(schema).iter_errors(reply.body))
    elif reply.status < 300:
        if reply.raw:
            problems.append(f"{label}: documented without content but answered {reply.raw[:80]!r}")
    else:
        problems.extend(f"{label}: error body: {error.message}"
                        for error in contract.validator(ERROR_BODY).iter_errors(reply.body))
    return problems


def test_token_endpoint_conforms_to_rfc6749(exchanges: list[Exchange]) -> None:
    token_path = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(TOKEN_PATH)) + "$")
    token_exchanges = [exchange for exchange in exchanges if token_path.match(exchange.path)]
    statuses = set()
    problems = []
    for exchange in token_exchanges:
        reply = exchange.reply
        statuses.add(reply.status)
        label = f"token {exchange.request_body.get('grant_type') if exchange.request_body else None} -> {reply.status}"
        if reply.status == 404:
            if reply.body != {"error": "Realm does not exist"}:
                problems.append(f"{label}: {reply.body}")
            continue
        if not reply.headers.get("Content-Type", "").startswith("application/json"):
            problems.append(f"{label}: Content-Type {reply.headers.get('Content-Type')!r}")
        if reply.headers.get("Cache-Control") != "no-store" or reply.headers.get("Pragma") != "no-cache":
            problems.append(f"{label}: RFC 6749 5.1 requires Cache-Control: no-store and Pragma: no-cache")
        schema = TOKEN_RESPONSE if reply.status == 200 else OAUTH_ERROR
        if reply.status not in (200, 400, 401):
            problems.append(f"{label}: RFC 6749 5.2 answers errors with 400 (or 401 for client authentication)")
        problems.extend(f"{label}: {error.message}"
                        for error in jsonschema.Draft4Validator(schema).iter_errors(reply.body))
    assert not problems, "\n".join(problems)
    assert statuses == {200, 400, 401, 404}
    assert len(token_exchanges) >= 14


def test_openid_discovery_document(exchanges: list[Exchange]) -> None:
    documents = [exchange.reply for exchange in exchanges if exchange.path.endswith("/.well-known/openid-configuration")]
    assert documents and documents[0].status == 200
    body = documents[0].body
    assert not [name for name in DISCOVERY_REQUIRED if name not in body]
    assert body["token_endpoint"] == body["issuer"] + "/protocol/openid-connect/token"


def test_the_contract_check_catches_deviations(contract: Contract, exchanges: list[Exchange]) -> None:
    """The checker itself must fail on a misspelt field, a wrong type, an undocumented status or
    query parameter, and an error body of the wrong shape."""
    import dataclasses  # pylint: disable=import-outside-toplevel

    user_get = next(e for e in _admin(exchanges) if e.method == "GET" and e.reply.status == 200
                    and re.fullmatch(r"/admin/realms/master/users/[0-9a-f-]{36}", e.path))
    assert not _check_admin_exchange(contract, user_get)

    def mutated(exchange: Exchange, **reply_changes: Any) -> Exchange:
        return dataclasses.replace(exchange, reply=dataclasses.replace(exchange.reply, **reply_changes))

    assert _check_admin_exchange(contract, mutated(user_get, body=dict(user_get.reply.body, requiredAction=[])))
    assert _check_admin_exchange(contract, mutated(user_get, body=dict(user_get.reply.body, enabled="yes")))
    assert _check_admin_exchange(contract, mutated(user_get, body=dict(user_get.reply.body, createdTimestamp=2 ** 70)))
    assert _check_admin_exchange(contract, mutated(user_get, status=409, body={"error": "conflict"}))
    assert _check_admin_exchange(contract, dataclasses.replace(user_get, query={"usernam": ["x"]}))
    forbidden = next(e for e in _admin(exchanges) if e.reply.status == 403)
    assert not _check_admin_exchange(contract, forbidden)
    assert _check_admin_exchange(contract, mutated(forbidden, body={"errorMessage": "x"}))
    reset = next(e for e in _admin(exchanges) if e.path.endswith("/reset-password") and e.reply.status == 204)
    assert _check_admin_exchange(contract, dataclasses.replace(reset, request_body={"value": 5}))


def test_contract_coverage(contract: Contract, exchanges: list[Exchange], record_property: Any) -> None:
    """The figures docs/lab-keycloak-emulator.md quotes; asserting them keeps the scenario from
    shrinking."""
    admin = _admin(exchanges)
    operations: set[tuple[str, str]] = set()
    answers: set[tuple[str, str, int]] = set()
    schemas: set[str] = set()
    direct: set[str] = set()
    for exchange in admin:
        found = contract.operation(exchange.method, exchange.path)
        if found is None:
            continue
        template, operation = found
        operations.add((exchange.method, template))
        answers.add((exchange.method, template, exchange.reply.status))
        bodies = [operation["responses"].get(str(exchange.reply.status), {}).get("content", {})]
        if exchange.request_content_type == "application/json":
            bodies.append(operation.get("requestBody", {}))
        for body in bodies:
            contract.referenced_schemas(body, schemas)
            direct.update(re.findall(r"/components/schemas/(\w+)", json.dumps(body)))
    record_property("keycloak_contract_operations", len(operations))
    record_property("keycloak_contract_schemas", len(schemas))
    print(f"\nKeycloak contract: {len(admin)} admin exchanges, {len(operations)} documented operations, "
          f"{len(answers)} distinct (operation, status) answers, validated against {len(direct)} component "
          f"schemas ({', '.join(sorted(direct))}) and the {len(schemas)} they reference; "
          f"{len(exchanges) - len(admin)} token/discovery/serverinfo exchanges")
    assert len(operations) == sum(1 for route in ROUTES if route.in_admin_contract)
    assert direct == {"UserRepresentation", "RealmRepresentation", "CredentialRepresentation",
                      "UserSessionRepresentation"}
    assert len(answers) >= 24
