"""Keycloak Admin API layer against the lab's Keycloak 26 emulator (tests/lab/atlas_lab/services/keycloak),
whose request counters show exactly which calls the layer made."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.doc_fragments.keycloak import ModuleDocFragment
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.admin_api import KeycloakAdminAPI
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.config import (
    keycloak_admin_api,
    keycloak_client_from_params,
)
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.errors import (
    KeycloakAccountNotReady,
    KeycloakAuthError,
    KeycloakConfigError,
    KeycloakConnectionError,
    KeycloakCredentialsRejected,
    KeycloakNotFoundError,
    KeycloakOutcomeUnknown,
    KeycloakPasswordRejected,
    KeycloakPermissionError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._keycloak.options import KEYCLOAK_CONNECTION_ARGSPEC

ADMIN = "admin"
ADMIN_PASSWORD = "Adm1n-" + secrets.token_urlsafe(12)


class FakeClock:
    """The client's clock, moved by the test (the emulator's clock moves through its lab API)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keycloak_server() -> Iterator[Any]:
    from atlas_lab.core.http_base import serve  # pylint: disable=import-error
    from atlas_lab.services import keycloak  # pylint: disable=import-error

    handle = serve(keycloak.create_app(admin_username=ADMIN, admin_password=ADMIN_PASSWORD))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def lab(keycloak_server: Any) -> Any:
    from atlas_lab.services.keycloak import KeycloakLabClient  # pylint: disable=import-error

    client = KeycloakLabClient(keycloak_server.url)
    client.reset()  # initial realm, users, clock offset; counters and faults cleared
    return client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def admin_api(url: str, clock: FakeClock, **overrides: Any) -> KeycloakAdminAPI:
    settings: dict[str, Any] = {"username": ADMIN, "password": ADMIN_PASSWORD}
    settings.update(overrides)
    return KeycloakAdminAPI(url, clock=clock, timeout=10, **settings)


def counts(lab: Any) -> dict[str, int]:
    return lab.counts()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Options
def test_doc_fragment_documents_exactly_the_argspec() -> None:
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(documented) == sorted(KEYCLOAK_CONNECTION_ARGSPEC)
    for name, option in KEYCLOAK_CONNECTION_ARGSPEC.items():
        assert name.startswith("keycloak_")
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
        for variable in option.get("fallback", (None, []))[1]:
            assert f"E({variable})" in " ".join(documented[name]["description"]), (name, variable)
    assert {name for name, option in KEYCLOAK_CONNECTION_ARGSPEC.items() if option.get("no_log")} == {
        "keycloak_client_secret", "keycloak_password"}


@pytest.mark.parametrize("params, message", [
    ({}, "No Keycloak URL: set keycloak_url or the KEYCLOAK_URL environment variable"),
    ({"keycloak_url": "sso.example"}, "keycloak_url 'sso.example' is not an http(s) URL"),
    ({"keycloak_url": "http://127.0.0.1:1"}, "No Keycloak credentials: set keycloak_username and keycloak_password, "
                                             "or keycloak_client_id and keycloak_client_secret"),
    ({"keycloak_url": "http://127.0.0.1:1", "keycloak_username": "admin"},
     "keycloak_username is set but keycloak_password is not (KEYCLOAK_PASSWORD)."),
    ({"keycloak_url": "http://127.0.0.1:1", "keycloak_client_secret": "s", "keycloak_ca_cert": "/nonexistent.pem"},
     "keycloak_ca_cert /nonexistent.pem does not exist or is not a file"),
])
def test_configuration_errors_say_what_to_set(params: dict[str, Any], message: str) -> None:
    with pytest.raises(KeycloakConfigError) as raised:
        keycloak_client_from_params(params)
    assert message in str(raised.value)


def test_client_without_credentials_serves_as_a_base_for_logins(lab: Any, keycloak_server: Any) -> None:
    base = keycloak_client_from_params({"keycloak_url": keycloak_server.url}, credentials_required=False)
    with pytest.raises(KeycloakConfigError) as raised:
        base.find_user("master", ADMIN)
    assert str(raised.value).startswith("No Keycloak identity to log in with: set keycloak_username and "
                                        "keycloak_password, or keycloak_client_id and keycloak_client_secret")
    assert counts(lab) == {}  # nothing sent for a login that could not work
    assert base.login(ADMIN, ADMIN_PASSWORD).find_user("master", ADMIN) is not None
    assert counts(lab) == {"token.password": 1, "users.query": 1}


def test_constructor_sends_nothing(lab: Any, keycloak_server: Any) -> None:
    client = keycloak_client_from_params({"keycloak_url": keycloak_server.url, "keycloak_username": ADMIN,
                                          "keycloak_password": ADMIN_PASSWORD})
    assert client.request_count == 0
    assert counts(lab) == {}


# ---------------------------------------------------------------------------------------------
# Logins and tokens
def test_password_grant_then_admin_calls_reuse_the_token(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    api = admin_api(keycloak_server.url, clock)
    assert api.find_user("master", ADMIN)["username"] == ADMIN  # type: ignore[index]
    assert api.realm_password_policy("master") == ""
    assert counts(lab) == {"token.password": 1, "users.query": 1, "realm.get": 1}
    assert api.request_count == 3
    assert len(api.no_log_values) == 2  # access and refresh tokens
    assert ADMIN_PASSWORD not in api.no_log_values


def test_token_is_refreshed_shortly_before_expiry(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    api = admin_api(keycloak_server.url, clock)
    api.realm_password_policy("master")
    clock.now += 45  # 15 s left of 60: still used
    api.realm_password_policy("master")
    assert counts(lab) == {"token.password": 1, "realm.get": 2}
    clock.now += 8  # 7 s left: refreshed first (no password sent)
    lab.advance_time(53)
    api.realm_password_policy("master")
    assert counts(lab) == {"token.password": 1, "token.refresh_token": 1, "realm.get": 3}


def test_a_401_gets_one_new_token_and_one_retry(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    api = admin_api(keycloak_server.url, clock)
    api.realm_password_policy("master")
    lab.advance_time(120)  # the server considers the token expired; the client does not know
    api.realm_password_policy("master")
    assert counts(lab) == {"token.password": 1, "realm.get": 3, "token.refresh_token": 1}


def test_expired_session_logs_in_again_with_the_password(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    api = admin_api(keycloak_server.url, clock)
    api.realm_password_policy("master")
    lab.advance_time(100000)  # beyond the SSO session: the refresh token is refused too
    api.realm_password_policy("master")
    assert counts(lab) == {"token.password": 2, "token.refresh_token": 1, "realm.get": 3}


def test_wrong_password_gives_one_clear_message_and_is_never_resent(
        lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    wrong = "Wrong-" + secrets.token_urlsafe(8)
    api = admin_api(keycloak_server.url, clock, password=wrong)
    with pytest.raises(KeycloakCredentialsRejected) as raised:
        api.find_user("master", ADMIN)
    message = str(raised.value)
    assert message == (
        f"Keycloak at {keycloak_server.url} rejected the password of user 'admin' in realm master (invalid_grant: "
        "Invalid user credentials): check keycloak_username / keycloak_password (KEYCLOAK_USER / KEYCLOAK_PASSWORD). "
        "Not retried, so that brute-force detection cannot lock the account; if the password was rotated, use the "
        "current one from Vault.")
    assert wrong not in message
    with pytest.raises(KeycloakCredentialsRejected):
        api.find_user("master", ADMIN)
    assert counts(lab) == {"token.password": 1}


def test_stale_password_after_rotation_is_tried_at_most_once(lab: Any, keycloak_server: Any,
                                                             clock: FakeClock) -> None:
    """The community.general trap: a long-running client whose own password was changed."""
    api = admin_api(keycloak_server.url, clock)
    user = api.find_user("master", ADMIN)
    new_password = "N3w-" + secrets.token_urlsafe(12)
    api.reset_password("master", user["id"], new_password)  # type: ignore[index]
    api.realm_password_policy("master")  # the token still works: a reset does not end sessions
    lab.advance_time(100000)
    for _attempt in range(3):
        with pytest.raises(KeycloakCredentialsRejected):
            api.realm_password_policy("master")
    assert counts(lab)["token.password"] == 2  # the first login, then one failed attempt: no more
    assert lab.password_works(ADMIN, new_password)


def test_login_as_another_user(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    lab.seed_user("ops", "0ps-" + "x" * 12, admin=True)
    api = admin_api(keycloak_server.url, clock)
    ops = api.login("ops", "0ps-" + "x" * 12)
    assert ops.username == "ops"
    assert ops.find_user("master", "ops")["username"] == "ops"  # type: ignore[index]
    with pytest.raises(KeycloakCredentialsRejected):
        api.login("ops", "not-it")
    assert counts(lab) == {"token.password": 2, "users.query": 1}
    assert api.request_count == 2  # the two logins; ops's own calls are counted on ops


def test_account_with_required_actions_is_not_ready(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    lab.seed_user("fresh", "Fr3sh-" + "y" * 10, admin=True, requiredActions=["UPDATE_PASSWORD"])
    with pytest.raises(KeycloakAccountNotReady) as raised:
        admin_api(keycloak_server.url, clock).login("fresh", "Fr3sh-" + "y" * 10)
    assert "(invalid_grant: Account is not fully set up): the account is disabled or has pending required " \
           "actions" in str(raised.value)
    assert raised.value.description == "Account is not fully set up"


def test_client_credentials_grant(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    secret = secrets.token_urlsafe(16)
    lab.create_service_client("atlas-rotator", secret, admin=True)
    api = keycloak_client_from_params({"keycloak_url": keycloak_server.url, "keycloak_client_id": "atlas-rotator",
                                       "keycloak_client_secret": secret})
    assert api.find_user("master", ADMIN) is not None
    assert counts(lab)["token.client_credentials"] == 1
    # A login test from a service-account identity goes through admin-cli (password grant).
    assert api.login(ADMIN, ADMIN_PASSWORD).client_id == "admin-cli"
    assert counts(lab)["token.password"] == 1
    wrong = KeycloakAdminAPI(keycloak_server.url, client_id="atlas-rotator", client_secret="nope", clock=clock)
    with pytest.raises(KeycloakAuthError) as raised:
        wrong.authenticate()
    assert str(raised.value) == (
        f"Keycloak at {keycloak_server.url} rejected the client 'atlas-rotator' in realm master (unauthorized_client: "
        "Invalid client or Invalid client credentials): check keycloak_client_id / keycloak_client_secret "
        "(KEYCLOAK_CLIENT_ID / KEYCLOAK_CLIENT_SECRET), and that the client allows service accounts.")


def test_unknown_auth_realm(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    with pytest.raises(KeycloakNotFoundError) as raised:
        admin_api(keycloak_server.url, clock, auth_realm="nope").authenticate()
    assert str(raised.value) == (f"Keycloak at {keycloak_server.url} has no realm 'nope' to log in to (Realm does not "
                                 "exist): check keycloak_realm.")
    assert counts(lab) == {"token.password": 1}  # no /auth probing for a missing realm


def test_unreachable_url_gives_one_clear_message(clock: FakeClock) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(KeycloakConnectionError) as raised:
        admin_api(url, clock).find_user("master", ADMIN)
    assert str(raised.value) == (
        f"Cannot reach Keycloak at {url} while trying to log in as user 'admin' in realm master: Connection refused. "
        "Check keycloak_url / KEYCLOAK_URL and that Keycloak is running and reachable from this host.")
    assert raised.value.request_sent is False


# ---------------------------------------------------------------------------------------------
# Base path: /auth (Keycloak < 17) detected only when the first request 404s
@pytest.fixture(scope="module")
def legacy_server() -> Iterator[Any]:
    from atlas_lab.core.http_base import serve  # pylint: disable=import-error
    from atlas_lab.services import keycloak  # pylint: disable=import-error

    handle = serve(keycloak.create_app(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, legacy_auth_prefix=True))
    try:
        yield handle
    finally:
        handle.stop()


def test_legacy_auth_prefix_is_found_with_a_credential_free_probe(legacy_server: Any, clock: FakeClock) -> None:
    from atlas_lab.services.keycloak import KeycloakLabClient  # pylint: disable=import-error

    lab = KeycloakLabClient(legacy_server.url)
    lab.reset()
    api = admin_api(legacy_server.url, clock)
    assert api.find_user("master", ADMIN) is not None
    assert api.base_url == legacy_server.url + "/auth"
    assert counts(lab) == {"unknown": 1, "oidc.discovery": 1, "token.password": 1, "users.query": 1}
    entries = lab.requests()["entries"]
    assert [(entry["method"], entry["path"]) for entry in entries[:2]] == [
        ("POST", "/realms/master/protocol/openid-connect/token"),
        ("GET", "/auth/realms/master/.well-known/openid-configuration")]


def test_auth_prefix_given_for_a_modern_server_is_dropped(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    api = admin_api(keycloak_server.url + "/auth/", clock)
    assert api.find_user("master", ADMIN) is not None
    assert api.base_url == keycloak_server.url
    assert counts(lab) == {"unknown": 1, "oidc.discovery": 1, "token.password": 1, "users.query": 1}


def test_modern_server_costs_no_probe(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    admin_api(keycloak_server.url, clock).authenticate()
    assert counts(lab) == {"token.password": 1}


def test_wrong_path_gives_one_clear_message(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    with pytest.raises(KeycloakNotFoundError) as raised:
        admin_api(keycloak_server.url + "/sso", clock).authenticate()
    assert str(raised.value) == (
        f"No Keycloak token endpoint at {keycloak_server.url}/sso/realms/master/protocol/openid-connect/token, nor "
        "with the /auth prefix (404): check keycloak_url (the server root, e.g. https://sso.example; add /auth only "
        "for Keycloak before 17 or a custom --http-relative-path).")


# ---------------------------------------------------------------------------------------------
# Users, passwords, realm
def test_find_user_is_exact_and_case_insensitive(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    lab.seed_user("admin2", "Adm1n2-" + "z" * 10)
    api = admin_api(keycloak_server.url, clock)
    assert api.find_user("master", "ADMIN")["username"] == ADMIN  # type: ignore[index]
    assert api.find_user("master", "adm") is None
    user = api.find_user("master", "admin2")
    assert user is not None
    assert api.get_user("master", user["id"])["username"] == "admin2"


def test_get_unknown_user(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    with pytest.raises(KeycloakNotFoundError) as raised:
        admin_api(keycloak_server.url, clock).get_user("master", "no-such-id")
    assert "found nothing to read user no-such-id in realm master (404: User not found)" in str(raised.value)


def test_reset_password_is_permanent_and_logs_in(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    lab.seed_user("svc", "0ld-" + "p" * 12, admin=True)
    api = admin_api(keycloak_server.url, clock)
    user = api.find_user("master", "svc")
    new_password = "N3w-" + secrets.token_urlsafe(12)
    api.reset_password("master", user["id"], new_password)  # type: ignore[index]
    assert counts(lab)["users.reset_password"] == 1
    checked = api.login("svc", new_password)
    assert checked.find_user("master", "svc") is not None
    assert lab.user_info("svc")["requiredActions"] == []


def test_policy_violation_is_its_own_error_without_the_password(lab: Any, keycloak_server: Any,
                                                                clock: FakeClock) -> None:
    lab.set_realm(password_policy="length(16) and passwordHistory(2)")
    api = admin_api(keycloak_server.url, clock)
    assert api.realm_password_policy("master") == "length(16) and passwordHistory(2)"
    user = api.find_user("master", ADMIN)
    short = "Sh0rt-" + secrets.token_hex(2)
    with pytest.raises(KeycloakPasswordRejected) as raised:
        api.reset_password("master", user["id"], short)  # type: ignore[index]
    assert raised.value.error == "invalidPasswordMinLengthMessage"
    assert str(raised.value).startswith("Keycloak at {} refused the new password for user {} in realm master "
                                        "(invalidPasswordMinLengthMessage: ".format(keycloak_server.url, user["id"]))
    assert short not in str(raised.value)
    with pytest.raises(KeycloakPasswordRejected) as history:
        api.reset_password("master", user["id"], ADMIN_PASSWORD)  # type: ignore[index]
    assert history.value.error == "invalidPasswordHistoryMessage"


def test_reset_password_5xx_is_outcome_unknown(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    api = admin_api(keycloak_server.url, clock)
    user = api.find_user("master", ADMIN)
    lab.add_fault("error", kind="users.reset_password", status=503)
    with pytest.raises(KeycloakOutcomeUnknown) as raised:
        api.reset_password("master", user["id"], "Wh4tever-" + "q" * 10)  # type: ignore[index]
    assert "the password may or may not have been changed: log in to find out." in str(raised.value)
    assert counts(lab)["users.reset_password"] == 1  # never retried


def test_reset_password_lost_answer_is_outcome_unknown(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    api = admin_api(keycloak_server.url, clock)
    user = api.find_user("master", ADMIN)
    new_password = "L0st-" + secrets.token_urlsafe(12)
    lab.add_fault("drop", kind="users.reset_password", apply_first=True)
    with pytest.raises(KeycloakOutcomeUnknown) as raised:
        api.reset_password("master", user["id"], new_password)  # type: ignore[index]
    assert "The password may or may not have been changed: log in to find out." in str(raised.value)
    assert new_password not in str(raised.value)
    assert lab.password_works(ADMIN, new_password)  # it was applied: the caller must find out by logging in


def test_user_without_admin_role_gets_a_permission_message(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    lab.seed_user("viewer", "V1ewer-" + "v" * 10)
    api = admin_api(keycloak_server.url, clock, username="viewer", password="V1ewer-" + "v" * 10)
    with pytest.raises(KeycloakPermissionError) as raised:
        api.find_user("master", ADMIN)
    assert str(raised.value).startswith(
        f"Keycloak at {keycloak_server.url} denied user 'viewer' in realm master the right to look up user 'admin' in "
        "realm master (403)")


def test_logout_user(lab: Any, keycloak_server: Any, clock: FakeClock) -> None:
    api = admin_api(keycloak_server.url, clock)
    user = api.find_user("master", ADMIN)
    api.logout_user("master", user["id"])  # type: ignore[index]
    assert counts(lab)["users.logout"] == 1


# ---------------------------------------------------------------------------------------------
# TLS (the lab's CA and server certificate)
@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    from atlas_lab.core.http_base import serve  # pylint: disable=import-error
    from atlas_lab.core.tls import server_ssl_context, write_tls_files  # pylint: disable=import-error
    from atlas_lab.services import keycloak  # pylint: disable=import-error

    files = write_tls_files(tmp_path_factory.mktemp("keycloak-tls"))
    handle = serve(keycloak.create_app(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, scheme="https"),
                   ssl_context=server_ssl_context(files))
    try:
        yield handle, str(files.ca_file)
    finally:
        handle.stop()


def test_tls_unknown_ca_gives_one_clear_message(tls_server: tuple[Any, str], clock: FakeClock) -> None:
    server = tls_server[0]
    with pytest.raises(KeycloakConnectionError) as raised:
        admin_api(server.url, clock).authenticate()
    assert str(raised.value).startswith(
        f"TLS verification failed for Keycloak at {server.url} while trying to log in as user 'admin' in realm master: "
        "certificate verify failed")
    assert str(raised.value).endswith("Check keycloak_ca_cert (the CA that signed Keycloak's certificate), or set "
                                      "keycloak_validate_certs=false for a test server.")


def test_tls_with_keycloak_ca_cert(tls_server: tuple[Any, str]) -> None:
    server, ca_file = tls_server
    api = keycloak_client_from_params({"keycloak_url": server.url, "keycloak_username": ADMIN,
                                       "keycloak_password": ADMIN_PASSWORD, "keycloak_ca_cert": ca_file})
    assert api.find_user("master", ADMIN) is not None


def test_tls_without_validation(tls_server: tuple[Any, str]) -> None:
    server = tls_server[0]
    api = keycloak_client_from_params({"keycloak_url": server.url, "keycloak_username": ADMIN,
                                       "keycloak_password": ADMIN_PASSWORD, "keycloak_validate_certs": False})
    assert api.find_user("master", ADMIN) is not None


# ---------------------------------------------------------------------------------------------
# Inside a real AnsibleModule: env fallbacks and no_log values
def test_module_reads_keycloak_env_and_hides_password_and_tokens(lab: Any, keycloak_server: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

    monkeypatch.setenv("KEYCLOAK_URL", keycloak_server.url)
    monkeypatch.setenv("KEYCLOAK_USER", ADMIN)
    monkeypatch.setenv("KEYCLOAK_PASSWORD", ADMIN_PASSWORD)
    for name in ("KEYCLOAK_REALM", "KEYCLOAK_CLIENT_ID", "KEYCLOAK_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with patch_module_args({}):
        module = HardeningModule({}, connections=("keycloak",))
    assert (module.params["keycloak_realm"], module.params["keycloak_client_id"]) == ("master", "admin-cli")
    api = keycloak_admin_api(module)
    api.find_user("master", ADMIN)
    assert ADMIN_PASSWORD in module.no_log_values
    assert api.access_token() in module.no_log_values  # tokens land in the module's own set
