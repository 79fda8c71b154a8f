# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: connection to AWS (or an S3/KMS-compatible endpoint) through boto3: options,
clients, readable errors.

Credentials follow boto3's standard chain unless given explicitly: environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared config/credentials files and profile, web
identity (IRSA / EKS Pod Identity), container and instance roles. Retries are botocore's own
(AWS_RETRY_MODE / AWS_MAX_ATTEMPTS / ~/.aws/config): AWS APIs are designed to be retried.

Every failure is raised as an :class:`AWSError` (a ``HardeningError``) saying what failed, against
which endpoint, and what to check.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any, Literal

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.atlas.hardening.plugins.module_utils._aws.errors import (
    AUTH_ERROR_CODES,
    NOT_FOUND_ERROR_CODES,
    PERMISSION_ERROR_CODES,
    THROTTLING_ERROR_CODES,
    AWSAuthError,
    AWSClientError,
    AWSConfigError,
    AWSConnectionError,
    AWSError,
    AWSNotFoundError,
    AWSPermissionError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

try:
    import boto3
    import botocore.config
    import botocore.exceptions
except ImportError:
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None

USER_AGENT_EXTRA = "atlas.hardening"


class AWSConnection:
    """A boto3 session and its clients, with readable errors and a request counter.

    ``call("s3", "get_bucket_versioning", Bucket=...)`` runs one operation; ``client("s3")`` gives
    the botocore client for anything else, to be used inside ``with connection.errors("do X"):``.
    """

    def __init__(self, *, region: str | None = None, profile: str | None = None,
                 endpoint_url: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, session_token: str | None = None,
                 verify: Any = None) -> None:
        if not HAS_BOTO3:
            raise AWSConfigError(missing_required_lib("boto3"), exception=BOTO3_IMPORT_ERROR)
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self.verify = verify
        self.profile = profile
        self.request_count = 0
        self.no_log_values: set[str] = {value for value in (secret_access_key, session_token) if value}
        try:
            self.session = boto3.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                                         aws_session_token=session_token, region_name=region, profile_name=profile)
        except botocore.exceptions.ProfileNotFound:
            raise AWSConfigError("AWS profile %r is not defined in the shared config or credentials files "
                                 "(~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE / "
                                 "AWS_SHARED_CREDENTIALS_FILE): check aws_profile / AWS_PROFILE." % profile) from None
        self.region = self.session.region_name
        self._clients: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        """The botocore client for ``service`` (created once)."""
        if service not in self._clients:
            config = botocore.config.Config(user_agent_extra=USER_AGENT_EXTRA)
            action = "create the %s client" % service
            try:
                with self.errors(action, service):
                    client = self.session.client(service, endpoint_url=self.endpoint_url, verify=self.verify,
                                                 config=config)
            except ValueError as exc:  # botocore: "Invalid endpoint: ..."
                raise AWSConfigError("aws_endpoint_url %r is not usable to %s (%s): use e.g. https://s3.example:9000."
                                     % (self.endpoint_url, action, exc)) from None
            client.meta.events.register("before-send", self._count)
            self._clients[service] = client
        return self._clients[service]

    def _count(self, **_: Any) -> None:
        self.request_count += 1

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """Run one API operation (``operation`` in snake_case) and return its response."""
        client = self.client(service)
        method = getattr(client, operation, None)
        if method is None:
            raise AWSConfigError("The %s client has no operation %r." % (service, operation))
        action = _describe(service, operation, params)
        with self.errors(action, service):
            return method(**params)

    def errors(self, action: str, service: str = "") -> _BotoErrors:
        """Context manager mapping boto3/botocore exceptions raised inside it to an :class:`AWSError`."""
        return _BotoErrors(self, action, service)

    # ------------------------------------------------------------------------------------------
    def where(self, service: str = "") -> str:
        name = "AWS %s" % service if service else "AWS"
        if self.endpoint_url:
            return "%s at %s" % (name, self.endpoint_url)
        return "%s in %s" % (name, self.region or "no region")

    def credential_source(self) -> str:
        """Where boto3 found the credentials (env, shared-credentials-file, iam-role...), never their value."""
        try:
            credentials = self.session.get_credentials()
        except botocore.exceptions.BotoCoreError:
            return "unknown"
        if credentials is None:
            return "none found"
        return str(getattr(credentials, "method", "") or "unknown")

    def translate(self, exc: BaseException, action: str, service: str = "") -> AWSError:
        """One readable :class:`AWSError` for a boto3/botocore exception."""
        where = self.where(service)
        if isinstance(exc, botocore.exceptions.ClientError):
            return self._client_error(exc, action, where)
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            return AWSAuthError(
                "No AWS credentials found to %s: set aws_access_key_id and aws_secret_access_key, or aws_profile / "
                "AWS_PROFILE, or the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables, or run with an "
                "IAM role (IRSA, instance profile)." % action)
        if isinstance(exc, botocore.exceptions.PartialCredentialsError):
            return AWSAuthError("Incomplete AWS credentials to %s (%s): give both aws_access_key_id and "
                                "aws_secret_access_key." % (action, exc))
        if isinstance(exc, botocore.exceptions.NoRegionError):
            return AWSConfigError("No AWS region to %s: set aws_region, or AWS_REGION / AWS_DEFAULT_REGION." % action)
        if isinstance(exc, botocore.exceptions.SSLError):
            return AWSConnectionError(
                "TLS verification failed for %s while trying to %s: %s. Check aws_ca_bundle / AWS_CA_BUNDLE, or set "
                "aws_validate_certs=false for a test endpoint." % (where, action, _first_line(exc)))
        if isinstance(exc, (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError)):
            return AWSConnectionError("%s did not answer in time while trying to %s (%s): check aws_endpoint_url / "
                                      "AWS_ENDPOINT_URL, aws_region and the network." % (where, action, exc))
        if isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError)):
            return AWSConnectionError("Cannot reach %s while trying to %s: %s. Check aws_endpoint_url / "
                                      "AWS_ENDPOINT_URL, aws_region and the network." % (where, action, exc))
        if isinstance(exc, botocore.exceptions.ParamValidationError):
            return AWSConfigError("Invalid parameters to %s: %s" % (action, _first_line(exc)))
        return AWSError("%s failed to %s: %s" % (where, action, exc))

    def _client_error(self, exc: Any, action: str, where: str) -> AWSError:
        error = exc.response.get("Error") or {}
        code = str(error.get("Code") or "")
        aws_message = str(error.get("Message") or "")
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        reason = "%s: %s" % (code, aws_message) if aws_message else code or "HTTP %d" % status
        if code in AUTH_ERROR_CODES:
            return AWSAuthError(
                "%s rejected the credentials (%s) while trying to %s: check aws_access_key_id / aws_secret_access_key "
                "/ aws_session_token or the profile (credentials came from: %s)."
                % (where, reason, action, self.credential_source()))
        if code in PERMISSION_ERROR_CODES or status == 403:
            return AWSPermissionError(
                "%s denied permission to %s (%s): the identity's IAM policy, or the bucket/key policy, does not "
                "allow it." % (where, action, reason), code, status, aws_message)
        if code in NOT_FOUND_ERROR_CODES or status == 404:
            return AWSNotFoundError("%s: nothing to %s (%s)." % (where, action, reason), code, status, aws_message)
        if code in THROTTLING_ERROR_CODES:
            return AWSClientError("%s is throttling requests (%s) while trying to %s: retry later, or raise "
                                  "AWS_MAX_ATTEMPTS." % (where, reason, action), code, status, aws_message)
        return AWSClientError("%s refused to %s (%s)." % (where, action, reason), code, status, aws_message)


class _BotoErrors:
    def __init__(self, connection: AWSConnection, action: str, service: str) -> None:
        self.connection = connection
        self.action = action
        self.service = service

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, HardeningError):
            return False
        if isinstance(exc, (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
            raise self.connection.translate(exc, self.action, self.service) from None
        return False


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _describe(service: str, operation: str, params: Mapping[str, Any]) -> str:
    """``s3 put_bucket_versioning on bucket x``: the operation and the resource names it acts on."""
    targets = []
    for key in ("Bucket", "Key", "KeyId", "AliasName", "SecretId", "Name"):
        value = params.get(key)
        if isinstance(value, str) and value:
            targets.append("%s %s" % (key[0].lower() + key[1:], value))
    return "%s %s%s" % (service, operation, " on " + ", ".join(targets) if targets else "")
