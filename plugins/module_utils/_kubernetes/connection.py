# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to a Kubernetes API server: options, credentials, HTTP transport, error messages.

The ``kubernetes`` library is used for what it does well and what users expect to behave exactly
like kubectl: reading kubeconfig files (contexts, client certificates, exec plugins, token refresh)
and the in-cluster service-account configuration. Requests go through the urllib3 pool that the
library builds from that configuration, but without its generated API classes: the collection
talks to a handful of REST paths, needs the response headers (API warnings), streaming (watch)
and an exact count of requests, and must behave the same across library releases.

Every failure becomes a :class:`KubernetesError` whose message says what failed, against which
URL or file, and what to check.
"""

from __future__ import annotations

import json
import os
import socket
from collections import Counter
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError

try:
    import urllib3
    import yaml
    from kubernetes.client import Configuration
    from kubernetes.client.rest import RESTClientObject
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import (
        SERVICE_CERT_FILENAME,
        SERVICE_HOST_ENV_NAME,
        SERVICE_PORT_ENV_NAME,
        SERVICE_TOKEN_FILENAME,
        InClusterConfigLoader,
    )
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger
except ImportError as import_error:  # pragma: no cover - exercised by the missing-library test
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR: Optional[ImportError] = import_error
    SERVICE_TOKEN_FILENAME = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    SERVICE_CERT_FILENAME = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    SERVICE_HOST_ENV_NAME = "KUBERNETES_SERVICE_HOST"
    SERVICE_PORT_ENV_NAME = "KUBERNETES_SERVICE_PORT"
else:
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None

USER_AGENT = "atlas.hardening"
DEFAULT_KUBECONFIG = "~/.kube/config"
# The Secret fields of a kubeconfig user entry (and of its auth-provider config).
_KUBECONFIG_SECRET_KEYS = ("token", "password", "client-key-data", "id-token", "refresh-token",
                           "access-token", "client-secret")

KUBERNETES_CONNECTION_ARGSPEC: Dict[str, Dict[str, Any]] = {
    "k8s_kubeconfig": {"type": "path", "aliases": ["kubeconfig"],
                       "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "k8s_context": {"type": "str", "aliases": ["context"], "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "k8s_host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "k8s_api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "k8s_ca_cert": {"type": "path", "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "k8s_validate_certs": {"type": "bool", "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
    "k8s_request_timeout": {"type": "float", "default": 30.0},
}


class KubernetesError(HardeningError):
    """Any failure talking to Kubernetes."""


class KubernetesConfigError(KubernetesError):
    """No usable connection settings: missing or invalid kubeconfig, unknown context, ..."""


class KubernetesConnectionError(KubernetesError):
    """The API server could not be reached or the connection broke (DNS, TCP, TLS, timeout)."""


class KubernetesApiError(KubernetesError):
    """The API server answered with an error Status."""

    def __init__(self, message: str, status: int, reason: str = "", api_message: str = "",
                 body: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message, status=status, reason=reason)
        self.status = status
        self.reason = reason
        self.api_message = api_message
        self.body = body or {}


class KubernetesAuthError(KubernetesApiError):
    """401: the credentials were rejected."""


class KubernetesForbiddenError(KubernetesApiError):
    """403: authenticated, but RBAC (or an admission plugin) denies the request."""


class ApiResponse:
    """A decoded answer: HTTP status, JSON body and the API server's warnings."""

    def __init__(self, status: int, data: Any, warnings: List[str]) -> None:
        self.status = status
        self.data = data
        self.warnings = warnings


class ConnectionSource:
    """Where the connection settings came from, in words a user recognises in an error message."""

    def __init__(self, description: str, credentials_hint: str) -> None:
        self.description = description
        self.credentials_hint = credentials_hint


class KubernetesConnection:
    """An authenticated HTTP(S) connection to one API server, counting its requests."""

    def __init__(self, configuration: Any, source: ConnectionSource, timeout: float = 30.0,
                 secret_values: Optional[List[str]] = None, user_agent: str = USER_AGENT) -> None:
        self.configuration = configuration
        self.source = source
        self.server = configuration.host.rstrip("/")
        self.timeout = timeout
        self.secret_values = [value for value in (secret_values or []) if value]
        self.user_agent = user_agent
        self.request_counts: Counter = Counter()
        # The library's own pool keeps TLS, client certificates and proxy handling identical to
        # the official client; one pooled keep-alive connection serves every request of a run.
        self._pool = RESTClientObject(configuration).pool_manager
        if not configuration.verify_ssl:
            # The user turned verification off on purpose; urllib3 would warn on every request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    # -- requests ------------------------------------------------------------------------------
    def request(self, method: str, path: str, query: Optional[Dict[str, Any]] = None, body: Any = None,
                content_type: str = "application/json") -> ApiResponse:
        """Send one request and decode its JSON answer; raise a KubernetesError on any failure."""
        response = self._send(method, path, query, body, content_type, stream=False)
        try:
            raw = response.data
        finally:
            response.release_conn()
        data = _decode_json(raw)
        warnings = _warnings(response.headers)
        if response.status >= 400:
            raise self._api_error(method, path, response.status, data, raw)
        return ApiResponse(response.status, data, warnings)

    def stream(self, path: str, query: Dict[str, Any], timeout: float) -> Iterator[Dict[str, Any]]:
        """GET a streaming endpoint (watch) and yield one decoded JSON document per line."""
        response = self._send("GET", path, query, None, "application/json", stream=True, read_timeout=timeout)
        try:
            if response.status >= 400:
                raw = response.data
                raise self._api_error("GET", path, response.status, _decode_json(raw), raw)
            buffer = b""
            for chunk in response.stream(4096, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line.decode("utf-8"))
            if buffer.strip():
                yield json.loads(buffer.decode("utf-8"))
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError, socket.timeout):
            # The watch ended without the server closing it cleanly; the caller re-watches or times out.
            return
        finally:
            response.release_conn()

    def _send(self, method: str, path: str, query: Optional[Dict[str, Any]], body: Any, content_type: str,
              stream: bool, read_timeout: Optional[float] = None) -> Any:
        url = self.server + path
        if query:
            url += "?" + urlencode({key: _query_value(value) for key, value in query.items() if value is not None})
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        payload = None
        if body is not None:
            headers["Content-Type"] = content_type
            payload = json.dumps(body).encode("utf-8")
        authorization = _authorization(self.configuration)
        if authorization:
            headers["Authorization"] = authorization
        timeout = urllib3.Timeout(connect=min(self.timeout, 10.0), read=read_timeout or self.timeout)
        self.request_counts[method] += 1
        try:
            # Only connection attempts are retried: a request that reached the server is never
            # sent twice behind the caller's back (request counts stay exact).
            return self._pool.request(method, url, body=payload, headers=headers, timeout=timeout,
                                      retries=urllib3.Retry(total=2, connect=2, read=0, status=0, other=0,
                                                            redirect=0, raise_on_status=False),
                                      preload_content=not stream)
        except urllib3.exceptions.MaxRetryError as exc:
            raise self._connection_error(method, path, exc.reason or exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._connection_error(method, path, exc) from None

    # -- error messages ------------------------------------------------------------------------
    def _connection_error(self, method: str, path: str, exc: BaseException) -> KubernetesConnectionError:
        if isinstance(exc, urllib3.exceptions.SSLError) or "SSL" in type(exc).__name__:
            return KubernetesConnectionError(
                f"TLS connection to the Kubernetes API server at {self.server} failed: {_short(exc)}. "
                f"Check the CA certificate used to verify it (k8s_ca_cert, or certificate-authority in "
                f"{self.source.description}) and that the URL is the API server's; "
                "k8s_validate_certs=false turns verification off (never in production).", url=self.server)
        # NewConnectionError subclasses ConnectTimeoutError: a refused connection is no timeout.
        if not isinstance(exc, urllib3.exceptions.NewConnectionError) and isinstance(
                exc, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError, socket.timeout)):
            return KubernetesConnectionError(
                f"The Kubernetes API server at {self.server} did not answer {method} {path} within "
                f"{self.timeout:g} s. Check that the cluster is up and reachable from this host, or raise "
                "k8s_request_timeout.", url=self.server)
        if isinstance(exc, urllib3.exceptions.ProtocolError) and method != "GET":
            return KubernetesConnectionError(
                f"The connection to the Kubernetes API server at {self.server} broke during {method} {path} "
                f"({_short(exc)}): the change may or may not have been made. Run the task again; applying "
                "the same manifests twice is safe.", url=self.server)
        return KubernetesConnectionError(
            f"Cannot reach the Kubernetes API server at {self.server} ({_short(exc)}). Check the server "
            f"address (from {self.source.description}), that the cluster is running, and that this host "
            "can reach it (VPN, firewall, proxy).", url=self.server)

    def _api_error(self, method: str, path: str, status: int, data: Any, raw: bytes) -> KubernetesApiError:
        body = data if isinstance(data, dict) else {}
        reason = str(body.get("reason") or "")
        api_message = str(body.get("message") or raw[:300].decode("utf-8", "replace").strip())
        if status == 401:
            return KubernetesAuthError(
                f"The Kubernetes API server at {self.server} rejected the credentials from "
                f"{self.source.description} (401 Unauthorized). Check {self.source.credentials_hint}: "
                "the token may be wrong or expired.", status, reason or "Unauthorized", api_message, body)
        if status == 403:
            return KubernetesForbiddenError(
                f"The Kubernetes API server at {self.server} refused {method} {path} (403 Forbidden): "
                f"{api_message}. Grant the missing permission to the identity from "
                f"{self.source.description} (Role/ClusterRole and binding), or use other credentials.",
                status, reason or "Forbidden", api_message, body)
        return KubernetesApiError(
            f"{method} {path} failed on {self.server}: {status} {reason or 'error'}: {api_message}",
            status, reason, api_message, body)


# ----------------------------------------------------------------------------------------------
# Resolving the connection settings
def connection_from_module(module: Any, user_agent: str = USER_AGENT) -> KubernetesConnection:
    """Build the connection from the module's ``k8s_*`` options; fail_json on any problem.

    Secrets found in the kubeconfig (tokens, passwords, client keys) are added to the module's
    ``no_log_values`` so that they never appear in its output.
    """
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    try:
        connection = connect(module.params, user_agent=user_agent)
    except KubernetesError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.no_log_values.update(connection.secret_values)
    return connection


def connect(options: Dict[str, Any], environ: Optional[Dict[str, str]] = None,
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
    environ = os.environ if environ is None else environ
    host = options.get("k8s_host")
    kubeconfig = options.get("k8s_kubeconfig")
    context = options.get("k8s_context")
    configuration = Configuration()
    secret_values: List[str] = []

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
        ca_cert = options["k8s_ca_cert"]
        if not os.path.isfile(ca_cert):
            raise KubernetesConfigError(f"k8s_ca_cert {ca_cert} does not exist or is not a file.")
        configuration.ssl_ca_cert = ca_cert
    if options.get("k8s_validate_certs") is not None:
        configuration.verify_ssl = bool(options["k8s_validate_certs"])
    if not configuration.host or configuration.host == "http://localhost":
        raise KubernetesConfigError(f"{source.description} does not name an API server (no cluster server URL).")
    # The library hands tokens from exec plugins and token files to the configuration only.
    for value in (configuration.api_key or {}).values():
        secret_values.append(_strip_scheme(str(value)))
    timeout = float(options.get("k8s_request_timeout") or 30.0)
    return KubernetesConnection(configuration, source, timeout, secret_values, user_agent)


def _kubeconfig_files(option: Optional[str], environ: Dict[str, str]) -> tuple:
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


def _load_kubeconfig(configuration: Any, files: List[str], origin: str, context: Optional[str]) -> tuple:
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


def _read_kubeconfig_files(files: List[str], origin: str) -> List[Dict[str, Any]]:
    documents: List[Dict[str, Any]] = []
    for path in files:
        try:
            with open(path, "r", encoding="utf-8") as handle:
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


def _kubeconfig_secrets(config: Dict[str, Any]) -> List[str]:
    values: List[str] = []
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


def _in_cluster(environ: Dict[str, str]) -> bool:
    return bool(environ.get(SERVICE_HOST_ENV_NAME) and environ.get(SERVICE_PORT_ENV_NAME)
                and os.path.isfile(SERVICE_TOKEN_FILENAME))


def _load_in_cluster(configuration: Any, environ: Dict[str, str]) -> ConnectionSource:
    try:
        InClusterConfigLoader(token_filename=SERVICE_TOKEN_FILENAME, cert_filename=SERVICE_CERT_FILENAME,
                              environ=environ).load_and_set(configuration)
    except ConfigException as exc:
        raise KubernetesConfigError(
            f"Cannot use the in-cluster service account ({SERVICE_TOKEN_FILENAME}): {exc}. Check that the Pod "
            "mounts its service-account token (automountServiceAccountToken).") from None
    return ConnectionSource(f"the Pod's service account ({SERVICE_TOKEN_FILENAME})",
                            f"the service-account token in {SERVICE_TOKEN_FILENAME}")


# ----------------------------------------------------------------------------------------------
def object_path(prefix: str, plural: str, name: Optional[str] = None, namespace: Optional[str] = None) -> str:
    """REST path of a collection or object, e.g. ``/apis/apps/v1/namespaces/ns/deployments/web``."""
    path = prefix
    if namespace:
        path += "/namespaces/" + quote(namespace, safe="")
    path += "/" + plural
    if name:
        path += "/" + quote(name, safe="")
    return path


def _authorization(configuration: Any) -> Optional[str]:
    """The Authorization header value; the library's hook refreshes expiring tokens first."""
    if configuration.refresh_api_key_hook is not None:
        configuration.refresh_api_key_hook(configuration)
    # kubernetes < 35 stores the token under "authorization", later releases under "BearerToken".
    for identifier in ("BearerToken", "authorization"):
        key = (configuration.api_key or {}).get(identifier)
        if key:
            prefix = (configuration.api_key_prefix or {}).get(identifier)
            return f"{prefix} {key}" if prefix else str(key)
    return None


def _strip_scheme(value: str) -> str:
    scheme, separator, rest = value.partition(" ")
    return rest if separator and rest and scheme.lower() in ("bearer", "basic") else value


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return None


def _warnings(headers: Any) -> List[str]:
    """The API server's ``Warning: 299 - "text"`` headers (deprecations, unknown fields in Warn mode)."""
    found: List[str] = []
    values = headers.getlist("Warning") if hasattr(headers, "getlist") else [headers.get("Warning")]
    for value in values:
        if not value:
            continue
        text = value.split(" ", 2)[-1].strip() if value.startswith("299") else value.strip()
        found.append(text.strip('"'))
    return found


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 wraps the interesting part: "<urllib3.connection...>: Failed to establish ... [Errno 111] ..."
    if "Errno" in text:
        text = text[text.index("[Errno"):].rstrip(")'\"")
    return text[:300]
