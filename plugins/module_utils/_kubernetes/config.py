# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: where a Kubernetes connection's settings come from.

Kubeconfig files (contexts, client certificates, token files, exec plugins) are read as kubectl
reads them (``kubeconfig.py``), and so is the in-cluster service-account configuration; only a user
entry with an ``auth-provider`` needs the ``kubernetes`` library, imported then and only then. This
file picks the source, checks it, and names it in every message.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.atlas.hardening.plugins.module_utils._common.files import require_readable_file
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import (
    HAS_URLLIB3,
    USER_AGENT,
    ClientSettings,
    ConnectionSource,
    KubernetesConnection,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.credentials import (
    BearerToken,
    CommandRunner,
    LibraryHook,
    TokenFile,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesConfigError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.kubeconfig import (
    MergedKubeconfig,
    ResolvedContext,
    client_settings,
    resolve_context,
)

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None

SERVICE_TOKEN_FILENAME = "/var/run/secrets/kubernetes.io/serviceaccount/token"
SERVICE_CERT_FILENAME = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
SERVICE_HOST_ENV_NAME = "KUBERNETES_SERVICE_HOST"
SERVICE_PORT_ENV_NAME = "KUBERNETES_SERVICE_PORT"

DEFAULT_KUBECONFIG = "~/.kube/config"
# The Secret fields of a kubeconfig user entry (and of its auth-provider config).
_KUBECONFIG_SECRET_KEYS = ("token", "password", "client-key-data", "id-token", "refresh-token",
                           "access-token", "client-secret")


def kubernetes_connection(module: HardeningModule, user_agent: str = USER_AGENT) -> KubernetesConnection:
    """A module's connection: its options, every credential obtained later hidden as it comes, and a
    kubeconfig's exec plugin run as Ansible runs commands (bytes out, nothing expanded)."""

    def run_credential_plugin(argv: list[str], environ: dict[str, str], cwd: str) -> tuple:
        return module.run_command(argv, environ_update=environ, cwd=cwd or None, encoding=None,
                                  expand_user_and_vars=False)

    return connect(module.params, user_agent=user_agent, on_secret=lambda value: module.hide([value]),
                   run_command=run_credential_plugin)


def connect(options: dict[str, Any], environ: dict[str, str] | None = None, user_agent: str = USER_AGENT,
            on_secret: Callable[[str], None] | None = None,
            run_command: CommandRunner | None = None) -> KubernetesConnection:
    """Resolve the connection settings, in this order:

    1. ``k8s_host`` without ``k8s_kubeconfig``/``k8s_context``: host, ``k8s_api_key``, ``k8s_ca_cert``;
    2. a kubeconfig: ``k8s_kubeconfig`` (K8S_AUTH_KUBECONFIG), else KUBECONFIG (a ``:``-separated
       list), else ``~/.kube/config`` when it exists; ``k8s_context`` picks the context, and
       ``k8s_host``/``k8s_api_key``/``k8s_ca_cert``/``k8s_validate_certs`` override it;
    3. the in-cluster service account when running in a Pod.

    Every secret read or obtained (also later: a refreshed exec credential, a rotated token file) is
    added to the connection's ``secret_values`` and passed to ``on_secret``. ``run_command`` runs a
    kubeconfig's exec plugin (a module passes its own, ``module_base.py``).
    """
    if not HAS_URLLIB3:
        raise KubernetesConfigError(missing_required_lib("kubernetes"))
    environ = dict(os.environ) if environ is None else environ
    host = options.get("k8s_host")
    kubeconfig = options.get("k8s_kubeconfig")
    context = options.get("k8s_context")
    secret_values: list[str] = []

    def remember(value: str) -> None:
        if value and value not in secret_values:
            secret_values.append(value)
            if on_secret is not None:
                on_secret(value)

    if host and not kubeconfig and not context:
        source = ConnectionSource("the k8s_host option (K8S_AUTH_HOST)",
                                  "k8s_api_key (K8S_AUTH_API_KEY)")
        settings = ClientSettings("")
    else:
        files, origin = _kubeconfig_files(kubeconfig, environ)
        if files:
            source, settings = _load_kubeconfig(files, origin, context, remember, environ, run_command)
        elif context:
            raise KubernetesConfigError(
                f"k8s_context is {context!r} but there is no kubeconfig to find it in: no k8s_kubeconfig "
                f"option, no K8S_AUTH_KUBECONFIG or KUBECONFIG variable, and {DEFAULT_KUBECONFIG} does not exist.")
        elif _in_cluster(environ):
            source, settings = _load_in_cluster(environ, remember)
        else:
            raise KubernetesConfigError(
                "No Kubernetes connection configured: set k8s_kubeconfig (or K8S_AUTH_KUBECONFIG/KUBECONFIG) "
                f"to a kubeconfig file, or k8s_host and k8s_api_key; {DEFAULT_KUBECONFIG} does not exist and "
                "this is not a Pod with a service account.")

    if host:
        settings.server = (host if "://" in host else "https://" + host).rstrip("/")
    api_key = options.get("k8s_api_key")
    if api_key:
        settings.credentials = BearerToken(api_key, remember)
    if options.get("k8s_ca_cert"):
        settings.ca_file = require_readable_file(
            options["k8s_ca_cert"], "k8s_ca_cert", "the PEM file of the CA that signed the API server's certificate",
            KubernetesConfigError)
        settings.ca_data = None
    if options.get("k8s_validate_certs") is not None:
        settings.verify = bool(options["k8s_validate_certs"])
    if not settings.server or settings.server == "http://localhost":
        raise KubernetesConfigError(f"{source.description} does not name an API server (no cluster server URL).")
    if not settings.proxy_url:
        settings.proxy_url = environment_proxy(settings.server, environ)
    timeout = float(options.get("k8s_request_timeout") or 30.0)
    return KubernetesConnection(settings, source, timeout, secret_values, user_agent)


def environment_proxy(server: str, environ: dict[str, str]) -> str | None:
    """The proxy that HTTPS_PROXY/HTTP_PROXY/ALL_PROXY name for ``server`` unless NO_PROXY exempts it
    (host, domain suffix, host:port, CIDR or ``*``), as kubectl and the official client choose it."""
    def variable(name: str) -> str:
        return environ.get(name.lower()) or environ.get(name.upper()) or ""

    parsed = urlparse(server)
    proxy = variable(f"{parsed.scheme}_proxy") or variable("all_proxy")
    if not proxy or not parsed.hostname:
        return None
    host, netloc = parsed.hostname.lower(), parsed.netloc.lower()
    try:
        address: Any = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for rule in (part.strip().lower() for part in variable("no_proxy").split(",")):
        if not rule:
            continue
        if rule == "*":
            return None
        if address is not None:
            try:
                if address in ipaddress.ip_network(rule, strict=False):
                    return None
            except ValueError:
                pass
        rule = rule.lstrip(".")
        if rule in (host, netloc) or host.endswith("." + rule) or netloc.endswith("." + rule):
            return None
    return proxy


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


def _load_kubeconfig(files: list[str], origin: str, context: str | None, remember: Any,
                     environ: dict[str, str], run_command: CommandRunner | None) -> tuple:
    label = "kubeconfig " + ", ".join(files)
    documents = _read_kubeconfig_files(files, origin)
    merged = MergedKubeconfig(list(zip(files, documents)))
    if context and context not in merged.context_names:
        raise KubernetesConfigError(
            f"There is no context {context!r} in {label} (from {origin}); contexts in it: "
            f"{', '.join(merged.context_names) or 'none'}. Check k8s_context (K8S_AUTH_CONTEXT).")
    for document in documents:
        for value in _kubeconfig_secrets(document):
            remember(value)
    full_label = f"{label} (from {origin})"
    resolved = resolve_context(merged, context, full_label)
    if resolved.needs_library:
        settings = _library_settings(files, resolved, full_label, remember)
    else:
        settings = client_settings(resolved, full_label, remember, environ, run_command)
    description = f"{label} (context {resolved.name!r}, user {resolved.user_name!r})"
    return (ConnectionSource(description, f"the token or client certificate of user {resolved.user_name!r} in {label}"),
            settings)


def _library_settings(files: list[str], resolved: ResolvedContext, label: str, remember: Any) -> ClientSettings:
    """Settings from the ``kubernetes`` library, for the auth-provider entries it alone implements."""
    try:
        # pylint: disable-next=import-outside-toplevel
        from kubernetes.client import Configuration
        from kubernetes.config.config_exception import ConfigException  # pylint: disable=import-outside-toplevel
        from kubernetes.config.kube_config import (  # pylint: disable=import-outside-toplevel
            KubeConfigLoader,
            KubeConfigMerger,
        )
    except ImportError:
        raise KubernetesConfigError(missing_required_lib(
            "kubernetes", reason=f"for the auth-provider of user {resolved.user_name!r}")) from None
    configuration = Configuration()
    try:
        merged = KubeConfigMerger(os.pathsep.join(files))
        loader = KubeConfigLoader(config_dict=merged.config, active_context=resolved.name, config_base_path=None)
        loader.load_and_set(configuration)
    except ConfigException as exc:
        raise KubernetesConfigError(
            f"Cannot use {label}: {exc}. Check the auth-provider of user {resolved.user_name!r}.") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KubernetesConfigError(
            f"Cannot use {label}: {type(exc).__name__}: {exc}. Check the auth-provider of user "
            f"{resolved.user_name!r}.") from None
    settings = ClientSettings(str(configuration.host).rstrip("/"))
    settings.verify = bool(configuration.verify_ssl)
    settings.ca_file = configuration.ssl_ca_cert
    settings.cert_file = configuration.cert_file
    settings.key_file = configuration.key_file
    settings.tls_server_name = getattr(configuration, "tls_server_name", None)
    settings.proxy_url = configuration.proxy
    settings.credentials = LibraryHook(configuration, remember)
    settings.credentials.authorization()  # the provider's token, masked from the start
    return settings


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


def _load_in_cluster(environ: dict[str, str], remember: Any) -> tuple:
    """The Pod's service account, as client-go's InClusterConfig reads it (token re-read once a minute:
    the kubelet rotates projected tokens)."""
    host = environ[SERVICE_HOST_ENV_NAME]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 service address
    settings = ClientSettings(f"https://{host}:{environ[SERVICE_PORT_ENV_NAME]}")
    try:
        settings.credentials = TokenFile(SERVICE_TOKEN_FILENAME, "the Pod's service-account token", remember)
    except KubernetesConfigError as exc:
        raise KubernetesConfigError(
            f"Cannot use the in-cluster service account: {exc} Check that the Pod mounts its service-account "
            "token (automountServiceAccountToken).") from None
    settings.ca_file = SERVICE_CERT_FILENAME if os.path.isfile(SERVICE_CERT_FILENAME) else None
    return (ConnectionSource(f"the Pod's service account ({SERVICE_TOKEN_FILENAME})",
                             f"the service-account token in {SERVICE_TOKEN_FILENAME}"), settings)
