# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: an :class:`AWSConnection` from the ``aws_*`` options, checked before any request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.atlas.hardening.plugins.module_utils._aws.connection import (
    BOTO3_IMPORT_ERROR,
    HAS_BOTO3,
    AWSConnection,
)
from ansible_collections.atlas.hardening.plugins.module_utils._aws.errors import AWSConfigError
from ansible_collections.atlas.hardening.plugins.module_utils._common.files import require_readable_file
from ansible_collections.atlas.hardening.plugins.module_utils._common.urls import require_http_url

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule


def aws_connection(module: HardeningModule) -> AWSConnection:
    """A module's S3 client, its credentials hidden."""
    connection = aws_client_from_params(module.params)
    module.hide(connection.no_log_values)
    return connection


def aws_client_from_params(params: Mapping[str, Any]) -> AWSConnection:
    """Build an :class:`AWSConnection` from module parameters (``aws_*`` options). Sends nothing."""
    if not HAS_BOTO3:
        raise AWSConfigError(missing_required_lib("boto3"), exception=BOTO3_IMPORT_ERROR)
    access_key = params.get("aws_access_key_id")
    secret_key = params.get("aws_secret_access_key")
    if bool(access_key) != bool(secret_key):
        raise AWSConfigError("Give both aws_access_key_id and aws_secret_access_key, or neither (boto3 then looks in "
                             "the environment, the profile and IAM roles).")
    if params.get("aws_session_token") and not access_key:
        raise AWSConfigError("aws_session_token needs aws_access_key_id and aws_secret_access_key.")
    endpoint = params.get("aws_endpoint_url") or None
    if endpoint:
        endpoint = require_http_url(endpoint, "aws_endpoint_url", "", "https://s3.example:9000", AWSConfigError)
    verify: Any = None  # botocore's default, which honours AWS_CA_BUNDLE and the profile's ca_bundle
    if params.get("aws_validate_certs") is False:
        verify = False
    elif params.get("aws_ca_bundle"):
        verify = require_readable_file(params["aws_ca_bundle"], "aws_ca_bundle",
                                       "the PEM file of the CA that signed the endpoint's certificate", AWSConfigError)
    return AWSConnection(region=params.get("aws_region") or None, profile=params.get("aws_profile") or None,
                         endpoint_url=endpoint, access_key_id=access_key or None, secret_access_key=secret_key or None,
                         session_token=params.get("aws_session_token") or None, verify=verify)
