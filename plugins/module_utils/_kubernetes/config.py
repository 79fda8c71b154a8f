# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: where a Kubernetes connection's settings come from.

The ``kubernetes`` library reads kubeconfig files (contexts, client certificates, exec plugins,
token refresh) and the in-cluster service-account configuration exactly as kubectl users expect;
this file picks the source, checks it, and names it in every message.
"""

from __future__ import annotations

import os
from typing import Any

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.atlas.hardening.plugins.module_utils._common.files import require_readable_file
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import (
    HAS_KUBERNETES,
    USER_AGENT,
    ConnectionSource,
    KubernetesConnection,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesConfigError

try:
    import yaml
    from kubernetes.client import Configuration
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import (
        SERVICE_CERT_FILENAME,
        SERVICE_HOST_ENV_NAME,
        SERVICE_PORT_ENV_NAME,
        SERVICE_TOKEN_FILENAME,
        InClusterConfigLoader,
    )
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger
except ImportError:  # pragma: no cover - exercised by the missing-library test
    SERVICE_TOKEN_FILENAME = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    SERVICE_CERT_FILENAME = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    SERVICE_HOST_ENV_NAME = "KUBERNETES_SERVICE_HOST"
    SERVICE_PORT_ENV_NAME = "KUBERNETES_SERVICE_PORT"

DEFAULT_KUBECONFIG = "~/.kube/config"
# The Secret fields of a kubeconfig user entry (and of its auth-provider config).
_KUBECONFIG_SECRET_KEYS = ("token", "password", "client-key-data", "id-token", "refresh-token",
                           "access-token", "client-secret")


def connect(options: dict[str, Any], environ: dict[str, str] | None = None,
            user_agent: str = USER_AGENT) -> KubernetesConnection:
    """Resolve the connection settings, in this order:

    1. ``k8s_host`` without ``k8s_kubeconfig``/``k8s_context``: host, ``k8s_api_key``, ``k8s_ca_cert``;
    2. a kubeconfig: ``k8s_kubeconfig`` (K8S_AUTH_KUBECONFIG), else KUBECONFIG (a ``:``-separated
       list), else ``~/.kube/config`` when it exists; ``k8s_context`` picks the context, and
       ``k8s_host``/``k8s_api_key``/``k8s_ca_cert``/``k8s_validate_certs`` override it;
    3. the in-cluster service account when running in a Pod.
    """
    if not HAS_KUBERNETES:
        raise KubernetesConfigError(missing_required_lib("kubernetes"))
    environ = dict(os.environ) if environ is None else environ
    host = options.get("k8s_host")
    kubeconfig = options.get("k8s_kubeconfig")
    context = options.get("k8s_context")
    configuration = Configuration()
    secret_values: list[str] = []

    if host and not kubeconfig and not context:
        source = ConnectionSource("the k8s_host option (K8S_AUTH_HOST)",
                                  "k8s_api_key (K8S_AUTH_API_KEY)")
    else:
        files, origin = _kubeconfig_files(kubeconfig, environ)
        if files:
            source, secret_values = _load_kubeconfig(configuration, files, origin, context)
        elif context:
            raise KubernetesConfigError(
                f"k8s_context is {context!r} but there is no kubeconfig to find it in: no k8s_kubeconfig "
                f"option, no K8S_AUTH_KUBECONFIG or KUBECONFIG variable, and {DEFAULT_KUBECONFIG} does not exist.")
        elif _in_cluster(environ):
            source = _load_in_cluster(configuration, environ)
        else:
            raise KubernetesConfigError(
                "No Kubernetes connection configured: set k8s_kubeconfig (or K8S_AUTH_KUBECONFIG/KUBECONFIG) "
                f"to a kubeconfig file, or k8s_host and k8s_api_key; {DEFAULT_KUBECONFIG} does not exist and "
                "this is not a Pod with a service account.")

    if host:
        configuration.host = host if "://" in host else "https://" + host
    api_key = options.get("k8s_api_key")
    if api_key:
        configuration.api_key = {"BearerToken": api_key}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        configuration.refresh_api_key_hook = None
        secret_values.append(api_key)
    if options.get("k8s_ca_cert"):
        configuration.ssl_ca_cert = require_readable_file(
            options["k8s_ca_cert"], "k8s_ca_cert", "the PEM file of the CA that signed the API server's certificate",
            KubernetesConfigError)
    if options.get("k8s_validate_certs") is not None:
        configuration.verify_ssl = bool(options["k8s_validate_certs"])
    if not configuration.host or configuration.host == "http://localhost":
        raise KubernetesConfigError(f"{source.description} does not name an API server (no cluster server URL).")
    # The library hands tokens from exec plugins and token files to the configuration only.
    for value in (configuration.api_key or {}).values():
        secret_values.append(_strip_scheme(str(value)))
    timeout = float(options.get("k8s_request_timeout") or 30.0)
    return KubernetesConnection(configuration, source, timeout, secret_values, user_agent)


def _kubeconfig_files(option: str | None, environ: dict[str, str]) -> tuple:
    """Return (existing files, where their names came from); raise when an explicit file is missing."""
    if option:
        origin = "k8s_kubeconfig"
        if environ.get("K8S_AUTH_KUBECONFIG") == option:
            origin = "k8s_kubeconfig (K8S_AUTH_KUBECONFIG)"
        paths = [os.path.expanduser(path) for path in option.split(os.pathsep) if path]
        missing = [path for path in paths if not os.path.isfile(path)]
        if missing:
            raise KubernetesConfigError(
                f"The kubeconfig file {', '.join(missing)} given by {origin} does not exist or is not a file. "
                "Check the path, or unset the option to use KUBECONFIG or ~/.kube/config.")
        return paths, origin
    if environ.get("KUBECONFIG"):
        paths = [os.path.expanduser(path) for path in environ["KUBECONFIG"].split(os.pathsep) if path]
        existing = [path for path in paths if os.path.isfile(path)]
        if not existing:
            raise KubernetesConfigError(
                f"None of the kubeconfig files listed in KUBECONFIG exist ({', '.join(paths)}). "
                "Fix KUBECONFIG or set k8s_kubeconfig.")
        return existing, "KUBECONFIG"
    default = os.path.expanduser(DEFAULT_KUBECONFIG)
    if os.path.isfile(default):
        return [default], "the default location"
    return [], ""


def _load_kubeconfig(configuration: Any, files: list[str], origin: str, context: str | None) -> tuple:
    label = "kubeconfig " + ", ".join(files)
    documents = _read_kubeconfig_files(files, origin)
    contexts = [str(entry["name"]) for document in documents for entry in document.get("contexts") or []
                if isinstance(entry, dict) and entry.get("name")]
    if context and context not in contexts:
        raise KubernetesConfigError(
            f"There is no context {context!r} in {label} (from {origin}); contexts in it: "
            f"{', '.join(contexts) or 'none'}. Check k8s_context (K8S_AUTH_CONTEXT).")
    try:
        merged = KubeConfigMerger(os.pathsep.join(files))
        loader = KubeConfigLoader(config_dict=merged.config, active_context=context, config_base_path=None)
        loader.load_and_set(configuration)
    except ConfigException as exc:
        raise KubernetesConfigError(
            f"Cannot use {label} (from {origin}): {exc}. Check the file's clusters, users and contexts "
            f"(contexts in it: {', '.join(contexts) or 'none'}).") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KubernetesConfigError(
            f"Cannot use {label} (from {origin}): {type(exc).__name__}: {exc}. "
            "Check that it is a valid kubeconfig (clusters, users and contexts).") from None
    current = loader.current_context
    user = (current.get("context") or {}).get("user") or "(none)"
    description = f"{label} (context {current.get('name')!r}, user {user!r})"
    secret_values = [value for document in documents for value in _kubeconfig_secrets(document)]
    return ConnectionSource(description, f"the token or client certificate of user {user!r} in {label}"), secret_values


def _read_kubeconfig_files(files: list[str], origin: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                document = yaml.safe_load(handle)
        except (OSError, UnicodeDecodeError) as exc:
            raise KubernetesConfigError(f"Cannot read kubeconfig {path} (from {origin}): {exc}.") from None
        except yaml.YAMLError as exc:
            raise KubernetesConfigError(
                f"The kubeconfig {path} (from {origin}) is not valid YAML: {str(exc).splitlines()[0]} "
                f"({_yaml_position(exc)}).") from None
        if not isinstance(document, dict):
            raise KubernetesConfigError(f"The kubeconfig {path} (from {origin}) is empty or not a mapping.")
        documents.append(document)
    return documents


def _yaml_position(exc: Any) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "position unknown"


def _kubeconfig_secrets(config: dict[str, Any]) -> list[str]:
    values: list[str] = []
    for entry in config.get("users") or []:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        provider = (user.get("auth-provider") or {}).get("config") or {}
        for source in (user, provider if isinstance(provider, dict) else {}):
            for key in _KUBECONFIG_SECRET_KEYS:
                if isinstance(source.get(key), str):
                    values.append(source[key])
    return values


def _in_cluster(environ: dict[str, str]) -> bool:
    return bool(environ.get(SERVICE_HOST_ENV_NAME) and environ.get(SERVICE_PORT_ENV_NAME)
                and os.path.isfile(SERVICE_TOKEN_FILENAME))


def _load_in_cluster(configuration: Any, environ: dict[str, str]) -> ConnectionSource:
    try:
        InClusterConfigLoader(token_filename=SERVICE_TOKEN_FILENAME, cert_filename=SERVICE_CERT_FILENAME,
                              environ=environ).load_and_set(configuration)
    except ConfigException as exc:
        raise KubernetesConfigError(
            f"Cannot use the in-cluster service account ({SERVICE_TOKEN_FILENAME}): {exc}. Check that the Pod "
            "mounts its service-account token (automountServiceAccountToken).") from None
    return ConnectionSource(f"the Pod's service account ({SERVICE_TOKEN_FILENAME})",
                            f"the service-account token in {SERVICE_TOKEN_FILENAME}")


def _strip_scheme(value: str) -> str:
    scheme, separator, rest = value.partition(" ")
    return rest if separator and rest and scheme.lower() in ("bearer", "basic") else value
