# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS connection options (plugins/module_utils/_aws/options.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # Keep in step with AWS_CONNECTION_ARGSPEC in plugins/module_utils/_aws/options.py
    # (tests/unit/plugins/module_utils/test_aws_connection.py compares them).
    DOCUMENTATION = r"""
options:
  aws_region:
    description:
      - AWS region, for example V(eu-west-1).
      - If not set, the value of the E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variable is
        used, else the profile's region.
    type: str
  aws_profile:
    description:
      - Named profile of the shared AWS config and credentials files.
      - If not set, the value of the E(AWS_PROFILE) environment variable is used.
    type: str
  aws_endpoint_url:
    description:
      - Endpoint to send every request to instead of AWS's, for an S3-compatible store or an
        emulator, for example V(https://minio.example:9000).
      - If not set, the value of the E(AWS_ENDPOINT_URL) environment variable is used.
    type: str
  aws_access_key_id:
    description:
      - Access key ID. Give it together with O(aws_secret_access_key).
      - When neither is set, boto3's standard credential chain applies, in its own order
        (E(AWS_ACCESS_KEY_ID)/E(AWS_SECRET_ACCESS_KEY)/E(AWS_SESSION_TOKEN), the profile, web identity
        such as IRSA, container and instance roles).
    type: str
  aws_secret_access_key:
    description:
      - Secret access key of O(aws_access_key_id).
    type: str
  aws_session_token:
    description:
      - Session token, for temporary credentials.
    type: str
  aws_validate_certs:
    description:
      - Whether to verify the endpoint's TLS certificate. Only set V(false) for a test endpoint.
    type: bool
    default: true
  aws_ca_bundle:
    description:
      - PEM file of the CA that signed the endpoint's certificate.
      - If not set, the value of the E(AWS_CA_BUNDLE) environment variable is used.
    type: path
notes:
  - Retries follow botocore's configuration (E(AWS_RETRY_MODE), E(AWS_MAX_ATTEMPTS), the profile).
  - O(aws_secret_access_key) and O(aws_session_token) are never logged.
  - Set these options once for a play with C(module_defaults) and the
    C(group/atlas.hardening.aws) action group.
requirements:
  - boto3 >= 1.34.0 (Python library, on the host that runs the module)
"""
