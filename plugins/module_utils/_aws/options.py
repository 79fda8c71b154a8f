# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the aws_* connection options (argument spec, env fallbacks as boto3 reads them)."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import env_fallback

AWS_CONNECTION_ARGSPEC: dict[str, dict[str, Any]] = {
    "aws_region": {"type": "str", "fallback": (env_fallback, ["AWS_REGION", "AWS_DEFAULT_REGION"])},
    "aws_profile": {"type": "str", "fallback": (env_fallback, ["AWS_PROFILE"])},
    "aws_endpoint_url": {"type": "str", "fallback": (env_fallback, ["AWS_ENDPOINT_URL"])},
    # Credentials have no fallback here on purpose: boto3 reads AWS_ACCESS_KEY_ID & co. itself, in
    # its documented order relative to aws_profile.
    "aws_access_key_id": {"type": "str", "no_log": False},
    "aws_secret_access_key": {"type": "str", "no_log": True},
    "aws_session_token": {"type": "str", "no_log": True},
    "aws_validate_certs": {"type": "bool", "default": True},
    "aws_ca_bundle": {"type": "path", "fallback": (env_fallback, ["AWS_CA_BUNDLE"])},
}
