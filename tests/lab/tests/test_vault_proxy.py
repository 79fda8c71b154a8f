"""The fault-injecting proxy in front of a real OpenBao dev server, driven with hvac."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import requests

from atlas_lab.core.admin_client import LabAdminClient
from atlas_lab.core.http_base import ServerHandle, serve
from atlas_lab.core.ports import PortAllocator
from atlas_lab.pytest_plugin import wait_for
from atlas_lab.services import vault_proxy
from atlas_lab.services.openbao import OpenBaoServer

ROOT_TOKEN = "proxy-test-root"


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    server = OpenBaoServer(Path(tmp_path_factory.mktemp("openbao")), "127.0.0.1",
                           PortAllocator("auto").service_port("openbao"), mode="dev", root_token=ROOT_TOKEN)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def proxy_server(openbao: OpenBaoServer) -> Iterator[ServerHandle]:
    handle = serve(vault_proxy.create_app(openbao.url))
    yield handle
    handle.stop()


@pytest.fixture
def proxy(proxy_server: ServerHandle) -> LabAdminClient:
    lab = LabAdminClient(proxy_server.url)
    lab.reset()  # faults, counters and the mount cache
    return lab


@pytest.fixture
def vault(proxy_server: ServerHandle, proxy: LabAdminClient) -> hvac.Client:
    del proxy
    return hvac.Client(url=proxy_server.url, token=ROOT_TOKEN)


@pytest.fixture
def direct(openbao: OpenBaoServer) -> hvac.Client:
    """A client that bypasses the proxy, to check what really happened upstream."""
    return hvac.Client(url=openbao.url, token=ROOT_TOKEN)


def _version(client: hvac.Client, path: str, mount: str = "secret") -> int:
    return client.secrets.kv.v2.read_secret_metadata(path, mount_point=mount)["data"]["current_version"]


def _read(client: hvac.Client, path: str) -> dict[str, Any]:
    return client.secrets.kv.v2.read_secret_version(path, mount_point="secret",
                                                    raise_on_deleted_version=True)["data"]["data"]


@pytest.mark.filterwarnings("ignore:The raise_on_deleted_version parameter:DeprecationWarning")  # inside hvac's patch()
def test_kv2_operations_are_forwarded_and_classified(vault: hvac.Client, direct: hvac.Client,
                                                     proxy: LabAdminClient) -> None:
    kv = vault.secrets.kv.v2
    kv.create_or_update_secret("app/db", {"password": "one"}, mount_point="secret")
    kv.create_or_update_secret("app/db", {"password": "two"}, cas=1, mount_point="secret")
    kv.patch("app/db", {"user": "admin"}, mount_point="secret")  # hvac: a read, then a write
    # a real HTTP PATCH (JSON merge patch), as the Vault CLI sends it
    vault.adapter.request("PATCH", "/v1/secret/data/app/db", json={"data": {"role": "dba"}},
                          headers={"Content-Type": "application/merge-patch+json"})
    assert _read(vault, "app/db") == {"password": "two", "user": "admin", "role": "dba"}
    assert kv.list_secrets("app", mount_point="secret")["data"]["keys"] == ["db"]
    kv.update_metadata("app/db", custom_metadata={"rotated_by": "test"}, mount_point="secret")
    assert vault.secrets.kv.v2.read_secret_metadata("app/db", mount_point="secret")["data"]["custom_metadata"] == \
        {"rotated_by": "test"}
    kv.delete_latest_version_of_secret("app/db", mount_point="secret")
    kv.undelete_secret_versions("app/db", versions=[4], mount_point="secret")
    kv.destroy_secret_versions("app/db", versions=[1], mount_point="secret")
    kv.read_configuration(mount_point="secret")
    kv.delete_metadata_and_all_versions("app/db", mount_point="secret")
    with pytest.raises(hvac.exceptions.InvalidPath):
        direct.secrets.kv.v2.read_secret_metadata("app/db", mount_point="secret")
    assert proxy.counts() == {
        "kv2.write": 3, "kv2.read": 2, "kv2.patch": 1, "kv2.list": 1, "kv2.metadata.write": 1,
        "kv2.metadata.read": 1, "kv2.delete": 1, "kv2.undelete": 1, "kv2.destroy": 1, "kv2.config.read": 1,
        "kv2.metadata.delete": 1,
    }


def test_upstream_answers_come_back_unchanged(vault: hvac.Client, direct: hvac.Client,
                                              proxy_server: ServerHandle, openbao: OpenBaoServer) -> None:
    vault.secrets.kv.v2.create_or_update_secret("same", {"k": "v"}, mount_point="secret")
    with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set parameter did not match"):
        vault.secrets.kv.v2.create_or_update_secret("same", {"k": "w"}, cas=0, mount_point="secret")

    def raw(base: str, path: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        request = urllib.request.Request(base + path, headers={"X-Vault-Token": ROOT_TOKEN})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())

    for path in ("/v1/secret/data/same?version=1", "/v1/secret/metadata/?list=true", "/v1/secret/data/missing",
                 "/v1/sys/mounts/secret/tune"):
        via_proxy, upstream = raw(proxy_server.url, path), raw(openbao.url, path)
        assert via_proxy[0] == upstream[0], path
        assert via_proxy[1]["Content-Type"] == upstream[1]["Content-Type"]
        for answer in (via_proxy[2], upstream[2]):
            answer.pop("request_id", None)
        assert via_proxy[2] == upstream[2], path
    assert _read(direct, "same") == {"k": "v"}


def test_large_bodies_stream_through(vault: hvac.Client) -> None:
    blob = "x" * (3 << 20)  # above the proxy's 1 MiB buffer limit: streamed
    vault.secrets.kv.v2.create_or_update_secret("big", {"blob": blob}, mount_point="secret")
    assert _read(vault, "big")["blob"] == blob


def test_error_fault_on_kv2_write_writes_nothing(vault: hvac.Client, direct: hvac.Client,
                                                 proxy: LabAdminClient) -> None:
    vault.secrets.kv.v2.create_or_update_secret("faulty", {"v": "1"}, mount_point="secret")
    proxy.add_fault("error", kind="kv2.write", status=500, body={"errors": ["injected"]})
    with pytest.raises(hvac.exceptions.InternalServerError):
        vault.secrets.kv.v2.create_or_update_secret("faulty", {"v": "2"}, mount_point="secret")
    assert _version(direct, "faulty") == 1
    # reads are another kind: unaffected
    assert _read(vault, "faulty") == {"v": "1"}


def test_drop_fault_on_kv2_write_applies_it_upstream(vault: hvac.Client, direct: hvac.Client,
                                                     proxy: LabAdminClient) -> None:
    vault.secrets.kv.v2.create_or_update_secret("dropped", {"v": "1"}, mount_point="secret")
    proxy.add_fault("drop", kind="kv2.write")
    with pytest.raises(requests.exceptions.ConnectionError):
        vault.secrets.kv.v2.create_or_update_secret("dropped", {"v": "2"}, cas=1, mount_point="secret")
    assert _version(direct, "dropped") == 2 and _read(direct, "dropped") == {"v": "2"}
    entries = [entry for entry in proxy.requests()["entries"] if entry["kind"] == "kv2.write"]
    assert [entry["status"] for entry in entries] == [200, "dropped"]


def test_delay_fault_times_a_client_out(proxy_server: ServerHandle, proxy: LabAdminClient) -> None:
    proxy.add_fault("delay", kind="sys.read", delay=1.5)
    client = hvac.Client(url=proxy_server.url, token=ROOT_TOKEN, timeout=0.3)
    with pytest.raises(requests.exceptions.Timeout):
        client.sys.read_health_status(method="GET")
    # The proxy still answers once the delay is over (a delay, not a drop), and is counted then: wait
    # for it, or the count lands in a later test's (it did under the load of three xdist workers).
    wait_for(lambda: proxy.counts().get("sys.read") == 1, timeout=10, what="the delayed request to complete")


def test_kv1_mounts_and_cache_invalidation(vault: hvac.Client, proxy: LabAdminClient) -> None:
    vault.sys.enable_secrets_engine("kv", path="legacy", options={"version": "1"})
    try:
        # method="PUT": without it hvac reads first to choose between POST and PUT
        vault.secrets.kv.v1.create_or_update_secret("app", {"a": "1"}, method="PUT", mount_point="legacy")
        assert vault.secrets.kv.v1.read_secret("app", mount_point="legacy")["data"] == {"a": "1"}
        vault.secrets.kv.v1.list_secrets("", mount_point="legacy")
        vault.secrets.kv.v1.delete_secret("app", mount_point="legacy")
        counts = proxy.counts()
        assert {kind: counts[kind] for kind in ("kv1.write", "kv1.read", "kv1.list", "kv1.delete")} == \
            {"kv1.write": 1, "kv1.read": 1, "kv1.list": 1, "kv1.delete": 1}
        # The mount is upgraded through the proxy: the cached KV version is dropped.
        vault.sys.tune_mount_configuration("legacy", options={"version": "2"})
        proxy.reset_requests()
        vault.secrets.kv.v2.create_or_update_secret("app", {"a": "2"}, mount_point="legacy")
        assert proxy.counts() == {"kv2.write": 1}
    finally:
        vault.sys.disable_secrets_engine("legacy")
    assert proxy.call("GET", "mounts")["discovered"] == []


def test_namespace_header_is_forwarded_and_classification_follows_it(proxy_server: ServerHandle,
                                                                     vault: hvac.Client, direct: hvac.Client,
                                                                     proxy: LabAdminClient) -> None:
    vault.adapter.post("/v1/sys/namespaces/team")
    team = hvac.Client(url=proxy_server.url, token=ROOT_TOKEN, namespace="team")
    try:
        # In the namespace, "secret" is a KV v1 mount; in the root namespace it is KV v2.
        team.sys.enable_secrets_engine("kv", path="secret", options={"version": "1"})
        proxy.reset_requests()
        team.secrets.kv.v1.create_or_update_secret("shared", {"ns": "team"}, method="PUT", mount_point="secret")
        vault.secrets.kv.v2.create_or_update_secret("shared", {"ns": "root"}, mount_point="secret")
        assert proxy.counts() == {"kv1.write": 1, "kv2.write": 1}
        direct_team = hvac.Client(url=direct.url, token=ROOT_TOKEN, namespace="team")
        assert direct_team.secrets.kv.v1.read_secret("shared", mount_point="secret")["data"] == {"ns": "team"}
        # A namespace embedded in the path: OpenBao reports the mount as "team/secret/".
        proxy.reset_requests()
        assert vault.adapter.get("/v1/team/secret/shared")["data"] == {"ns": "team"}
        assert proxy.counts() == {"kv1.read": 1}
    finally:
        team.sys.disable_secrets_engine("secret")
        vault.adapter.delete("/v1/sys/namespaces/team")


def test_auth_kinds(vault: hvac.Client, proxy_server: ServerHandle, proxy: LabAdminClient) -> None:
    vault.sys.enable_auth_method("userpass", path="people")
    try:
        vault.auth.userpass.create_or_update_user("ops", "ops-password", mount_point="people")
        user = hvac.Client(url=proxy_server.url)
        user.auth.userpass.login("ops", "ops-password", mount_point="people")
        assert user.is_authenticated()
        counts = proxy.counts()
        assert counts["auth.login"] == 1 and counts["auth.write"] == 1 and counts["auth.read"] == 1
    finally:
        vault.sys.disable_auth_method("people")


def test_without_a_token_the_path_shape_decides(proxy_server: ServerHandle, proxy: LabAdminClient) -> None:
    anonymous = hvac.Client(url=proxy_server.url, token="")
    with pytest.raises(hvac.exceptions.Forbidden):
        anonymous.secrets.kv.v2.read_secret_version("x", mount_point="secret", raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        anonymous.adapter.get("/v1/transit/keys/x")
    assert proxy.counts() == {"kv2.read": 1, "other": 1}
    assert proxy.call("GET", "mounts")["discovered"] == []  # guesses are not cached


def test_unreachable_upstream_is_a_clear_502() -> None:
    port = PortAllocator("auto").service_port("vault_proxy")  # nothing listens there
    handle = serve(vault_proxy.create_app(f"http://127.0.0.1:{port}"))
    try:
        client = hvac.Client(url=handle.url, token=ROOT_TOKEN)
        with pytest.raises(hvac.exceptions.BadGateway, match="unreachable"):
            client.secrets.kv.v2.read_secret_metadata("x", mount_point="secret")
    finally:
        handle.stop()


def test_bad_upstream_url_is_refused() -> None:
    with pytest.raises(ValueError, match="upstream_url must be"):
        vault_proxy.create_app("127.0.0.1:8200")
