"""AWS connection layer against a real moto server (in-process ``ThreadedMotoServer`` on a free port)."""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ansible_collections.atlas.hardening.plugins.doc_fragments.aws import ModuleDocFragment
from ansible_collections.atlas.hardening.plugins.module_utils._aws import connection as aws_connection
from ansible_collections.atlas.hardening.plugins.module_utils._aws.config import aws_client_from_params
from ansible_collections.atlas.hardening.plugins.module_utils._aws.config import aws_connection as module_aws_connection
from ansible_collections.atlas.hardening.plugins.module_utils._aws.errors import (
    AWSAuthError,
    AWSConfigError,
    AWSConnectionError,
    AWSNotFoundError,
    AWSPermissionError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._aws.options import AWS_CONNECTION_ARGSPEC
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

REGION = "eu-west-1"
# moto accepts any credentials until authentication is switched on (see moto_auth).
KEY_ID = "AKIAUNITTEST00000001"
SECRET = "unit-secret-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def clean_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials, profile or config from the machine running the tests."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    # No instance-metadata lookups (they would wait for a timeout on a machine outside AWS).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def params(moto_url: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "aws_region": REGION, "aws_profile": None, "aws_endpoint_url": moto_url, "aws_access_key_id": KEY_ID,
        "aws_secret_access_key": SECRET, "aws_session_token": None, "aws_validate_certs": True, "aws_ca_bundle": None,
    }
    values.update(overrides)
    return values


def bucket_name() -> str:
    return "unit-" + uuid.uuid4().hex[:12]


# ---------------------------------------------------------------------------------------------
# Options
def test_doc_fragment_documents_exactly_the_argspec() -> None:
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert sorted(documented) == sorted(AWS_CONNECTION_ARGSPEC)
    for name, option in AWS_CONNECTION_ARGSPEC.items():
        assert name.startswith("aws_")
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
        for variable in option.get("fallback", (None, []))[1]:
            assert f"E({variable})" in " ".join(documented[name]["description"]), (name, variable)
    assert {name for name, option in AWS_CONNECTION_ARGSPEC.items() if option.get("no_log")} == {
        "aws_secret_access_key", "aws_session_token"}


@pytest.mark.parametrize("overrides, message", [
    ({"aws_secret_access_key": None}, "Give both aws_access_key_id and aws_secret_access_key, or neither"),
    ({"aws_access_key_id": None, "aws_secret_access_key": None, "aws_session_token": "t"},
     "aws_session_token needs aws_access_key_id and aws_secret_access_key."),
    ({"aws_endpoint_url": "s3.example:9000"}, "aws_endpoint_url 's3.example:9000' is not an http(s) URL"),
    ({"aws_ca_bundle": "/nonexistent/ca.pem"}, "aws_ca_bundle /nonexistent/ca.pem does not exist"),
    ({"aws_access_key_id": None, "aws_secret_access_key": None, "aws_profile": "nope"},
     "AWS profile 'nope' is not defined in the shared config or credentials files"),
])
def test_configuration_errors_say_what_to_set(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(AWSConfigError) as raised:
        aws_client_from_params(params("http://127.0.0.1:1", **overrides))
    assert message in str(raised.value)


def test_missing_boto3_uses_missing_required_lib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_connection, "HAS_BOTO3", False)
    with pytest.raises(HardeningError) as raised:
        aws_client_from_params(params("http://127.0.0.1:1"))
    assert "Failed to import the required Python library (boto3)" in str(raised.value)


# ---------------------------------------------------------------------------------------------
# S3 and KMS through the layer
def test_s3_calls_and_request_count(moto_url: str) -> None:
    connection = aws_client_from_params(params(moto_url))
    assert connection.request_count == 0
    bucket = bucket_name()
    connection.call("s3", "create_bucket", Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    connection.call("s3", "put_bucket_versioning", Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert connection.call("s3", "get_bucket_versioning", Bucket=bucket)["Status"] == "Enabled"
    assert connection.request_count == 3
    assert SECRET in connection.no_log_values


def test_kms_calls(moto_url: str) -> None:
    connection = aws_client_from_params(params(moto_url))
    key_id = connection.call("kms", "create_key", Description="unit")["KeyMetadata"]["KeyId"]
    connection.call("kms", "enable_key_rotation", KeyId=key_id)
    assert connection.call("kms", "get_key_rotation_status", KeyId=key_id)["KeyRotationEnabled"] is True
    blob = connection.call("kms", "encrypt", KeyId=key_id, Plaintext=b"hello")["CiphertextBlob"]
    assert connection.call("kms", "decrypt", CiphertextBlob=blob)["Plaintext"] == b"hello"


def test_standard_chain_reads_the_environment(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    connection = aws_client_from_params(params(moto_url, aws_access_key_id=None, aws_secret_access_key=None))
    assert connection.credential_source() == "env"
    assert connection.call("s3", "list_buckets")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_profile_from_the_shared_files(moto_url: str, tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(f"[atlas]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")
    (tmp_path / "config").write_text(f"[profile atlas]\nregion = {REGION}\n")
    connection = aws_client_from_params(params(moto_url, aws_access_key_id=None, aws_secret_access_key=None,
                                               aws_region=None, aws_profile="atlas"))
    assert connection.region == REGION
    assert connection.credential_source() == "shared-credentials-file"
    assert connection.call("s3", "list_buckets")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_missing_bucket_is_a_not_found_error(moto_url: str) -> None:
    connection = aws_client_from_params(params(moto_url))
    bucket = bucket_name()
    with pytest.raises(AWSNotFoundError) as raised:
        connection.call("s3", "get_bucket_versioning", Bucket=bucket)
    assert raised.value.code == "NoSuchBucket"
    assert str(raised.value) == (f"AWS s3 at {moto_url}: nothing to s3 get_bucket_versioning on bucket {bucket} "
                                 "(NoSuchBucket: The specified bucket does not exist).")


def test_no_credentials_gives_one_clear_message(moto_url: str) -> None:
    connection = aws_client_from_params(params(moto_url, aws_access_key_id=None, aws_secret_access_key=None))
    with pytest.raises(AWSAuthError) as raised:
        connection.call("s3", "list_buckets")
    assert str(raised.value).startswith("No AWS credentials found to s3 list_buckets: set aws_access_key_id and "
                                        "aws_secret_access_key, or aws_profile / AWS_PROFILE")


def test_no_region_gives_one_clear_message() -> None:
    connection = aws_client_from_params(params(None, aws_region=None))
    with pytest.raises(AWSConfigError) as raised:
        connection.call("kms", "list_keys")
    assert "No AWS region to create the kms client: set aws_region, or AWS_REGION / AWS_DEFAULT_REGION." in str(
        raised.value)


def test_unreachable_endpoint_gives_one_clear_message() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    connection = aws_client_from_params(params(url))
    with pytest.raises(AWSConnectionError) as raised:
        connection.call("s3", "list_buckets")
    assert str(raised.value) == (
        f'Cannot reach AWS s3 at {url} while trying to s3 list_buckets: Could not connect to the endpoint URL: "{url}/". '
        "Check aws_endpoint_url / AWS_ENDPOINT_URL, aws_region and the network.")


def test_botocore_errors_inside_errors_context(moto_url: str) -> None:
    connection = aws_client_from_params(params(moto_url))
    with pytest.raises(AWSNotFoundError):
        with connection.errors("read the state object", "s3"):
            connection.client("s3").get_object(Bucket=bucket_name(), Key="state.json")


# ---------------------------------------------------------------------------------------------
# Authentication switched on in moto: unknown keys and IAM denials
@pytest.fixture
def moto_auth(moto_url: str) -> Iterator[dict[str, str]]:
    iam = boto3.client("iam", endpoint_url=moto_url, region_name=REGION, aws_access_key_id=KEY_ID,
                       aws_secret_access_key=SECRET)
    user = "unit-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]

    def set_auth(count: str) -> None:
        request = urllib.request.Request(moto_url + "/moto-api/reset-auth", data=count.encode(), method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())

    set_auth("0")  # every request from now on is authenticated and authorised against moto's IAM
    try:
        yield {"key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        set_auth("inf")


def test_unknown_access_key_gives_one_clear_message(moto_url: str, moto_auth: dict[str, str]) -> None:
    # S3: moto answers KMS (a JSON protocol) auth errors in XML, which botocore cannot parse; S3 is XML.
    connection = aws_client_from_params(params(moto_url, aws_access_key_id="AKIAUNKNOWN000000000"))
    with pytest.raises(AWSAuthError) as raised:
        connection.call("s3", "list_buckets")
    message = str(raised.value)
    assert message.startswith(f"AWS s3 at {moto_url} rejected the credentials (InvalidAccessKeyId: ")
    assert message.endswith("while trying to s3 list_buckets: check aws_access_key_id / aws_secret_access_key / "
                            "aws_session_token or the profile (credentials came from: explicit).")
    assert SECRET not in message


def test_wrong_secret_gives_one_clear_message(moto_url: str, moto_auth: dict[str, str]) -> None:
    connection = aws_client_from_params(params(moto_url, aws_access_key_id=moto_auth["key_id"],
                                               aws_secret_access_key="wrong-" + uuid.uuid4().hex))
    with pytest.raises(AWSAuthError) as raised:
        connection.call("s3", "list_buckets")
    assert "rejected the credentials (SignatureDoesNotMatch: " in str(raised.value)


def test_identity_without_policy_gets_a_permission_message(moto_url: str, moto_auth: dict[str, str]) -> None:
    connection = aws_client_from_params(params(moto_url, aws_access_key_id=moto_auth["key_id"],
                                               aws_secret_access_key=moto_auth["secret"]))
    with pytest.raises(AWSPermissionError) as raised:
        connection.call("s3", "list_buckets")
    assert raised.value.code == "AccessDenied"
    assert str(raised.value).startswith(f"AWS s3 at {moto_url} denied permission to s3 list_buckets (AccessDenied: ")
    assert moto_auth["secret"] not in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Inside a real AnsibleModule: env fallbacks
def test_module_reads_aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with patch_module_args({}):
        module = HardeningModule({}, connections=("aws",))
    assert (module.params["aws_region"], module.params["aws_endpoint_url"]) == (REGION, moto_url)
    connection = module_aws_connection(module)
    assert connection.credential_source() == "env"
    assert connection.call("s3", "list_buckets")["ResponseMetadata"]["HTTPStatusCode"] == 200
