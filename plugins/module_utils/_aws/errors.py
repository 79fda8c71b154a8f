# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: AWS error types and the error codes grouped by what the user has to fix."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

# ClientError codes, grouped by what the user has to fix.
AUTH_ERROR_CODES = frozenset((
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException",
    "ExpiredToken", "ExpiredTokenException", "InvalidToken", "AuthFailure", "IncompleteSignature",
    "InvalidSignatureException", "MissingAuthenticationToken", "RequestExpired",
))
PERMISSION_ERROR_CODES = frozenset((
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden",
    "AllAccessDisabled",
))
NOT_FOUND_ERROR_CODES = frozenset((
    "NoSuchBucket", "NoSuchKey", "NotFoundException", "ResourceNotFoundException", "NoSuchEntity", "NotFound",
    "NoSuchBucketPolicy", "ServerSideEncryptionConfigurationNotFoundError", "NoSuchLifecycleConfiguration",
    "ObjectLockConfigurationNotFoundError", "ReplicationConfigurationNotFoundError", "404",
))
THROTTLING_ERROR_CODES = frozenset((
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "SlowDown", "RequestLimitExceeded", "ProvisionedThroughputExceededException",
))


class AWSError(HardeningError):
    """Any AWS failure; the message says what failed, where, and what to check."""


class AWSConfigError(AWSError):
    """Options or local configuration (profile, region, credentials) are missing or wrong."""


class AWSConnectionError(AWSError):
    """The endpoint could not be reached or did not answer (TLS, DNS, refused, timeout)."""


class AWSAuthError(AWSError):
    """No credentials, or AWS rejected them (unknown key, bad signature, expired token)."""


class AWSClientError(AWSError):
    """AWS answered an error; ``code``, ``status`` and ``aws_message`` hold its answer."""

    def __init__(self, message: str, code: str = "", status: int = 0, aws_message: str = "", **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code
        self.status = status
        self.aws_message = aws_message


class AWSPermissionError(AWSClientError):
    """The credentials are valid but IAM (or a resource policy) denies the call."""


class AWSNotFoundError(AWSClientError):
    """The bucket, key or object does not exist (callers often expect this one)."""
