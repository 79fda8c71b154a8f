# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes connection options (plugins/module_utils/_kubernetes/options.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # Keep in step with KUBERNETES_CONNECTION_ARGSPEC in plugins/module_utils/_kubernetes/options.py
    # (tests/unit/plugins/module_utils/test_kubernetes_connection.py compares them).
    DOCUMENTATION = r"""
options:
  k8s_kubeconfig:
    description:
      - Path of a kubeconfig file; several files can be given separated by V(:), as in E(KUBECONFIG).
      - If not set, the value of the E(K8S_AUTH_KUBECONFIG) environment variable is used, then
        E(KUBECONFIG), then C(~/.kube/config) when it exists.
      - When none of these exist and O(k8s_host) is not set, the module uses the Pod's service account
        (in-cluster configuration) if it runs in a Pod.
      - Secrets found in the file (tokens, passwords, client keys) are masked in the module's output.
    type: path
    aliases: [kubeconfig]
  k8s_context:
    description:
      - Name of the kubeconfig context to use; the file's current-context when not set.
      - If not set, the value of the E(K8S_AUTH_CONTEXT) environment variable is used.
    type: str
    aliases: [context]
  k8s_host:
    description:
      - URL of the API server, for example V(https://api.cluster.example:6443).
      - Without O(k8s_kubeconfig) and O(k8s_context), the connection uses only O(k8s_host),
        O(k8s_api_key) and O(k8s_ca_cert); with them, it overrides the kubeconfig's server.
      - If not set, the value of the E(K8S_AUTH_HOST) environment variable is used.
    type: str
  k8s_api_key:
    description:
      - Bearer token to authenticate with (for example a service-account token); overrides the
        kubeconfig user's credentials.
      - If not set, the value of the E(K8S_AUTH_API_KEY) environment variable is used.
    type: str
  k8s_ca_cert:
    description:
      - PEM file of the CA that signed the API server's certificate; overrides the kubeconfig's
        certificate-authority.
      - If not set, the value of the E(K8S_AUTH_SSL_CA_CERT) environment variable is used.
    type: path
  k8s_validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - When not set, the kubeconfig decides (C(insecure-skip-tls-verify)); certificates are verified
        otherwise. The E(K8S_AUTH_VERIFY_SSL) environment variable sets it too.
      - Only set V(false) for a test cluster.
    type: bool
  k8s_request_timeout:
    description:
      - Seconds to wait for the API server to answer each request (connecting waits at most 10 seconds).
    type: float
    default: 30
notes:
  - O(k8s_api_key) and every credential read from a kubeconfig are never logged.
  - Set these options once for a play with C(module_defaults) and the
    C(group/atlas.hardening.kubernetes) action group.
  - Requests go to the API server directly; no kubectl binary is needed.
requirements:
  - kubernetes >= 29.0.0 (Python library, on the host that runs the module; the collection reads kubeconfig files
    itself and imports the library only for a user entry with an C(auth-provider))
"""
