# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the k8s_* connection options (argument spec, env fallbacks as kubernetes.core).

Importing this file costs nothing: the kubernetes library is imported only to connect.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import env_fallback

KUBERNETES_CONNECTION_ARGSPEC: dict[str, dict[str, Any]] = {
    "k8s_kubeconfig": {"type": "path", "aliases": ["kubeconfig"],
                       "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "k8s_context": {"type": "str", "aliases": ["context"], "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "k8s_host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "k8s_api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "k8s_ca_cert": {"type": "path", "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "k8s_validate_certs": {"type": "bool", "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
    "k8s_request_timeout": {"type": "float", "default": 30.0},
}
