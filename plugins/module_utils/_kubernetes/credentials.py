# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the credentials sent to a Kubernetes API server, refreshed as kubectl does.

Each kind answers ``authorization()`` (the ``Authorization`` header value, or None) before every
request, and hands every secret it learns to ``remember`` so that it is masked in every output:

- a bearer token given as such (kubeconfig ``token``, ``k8s_api_key``);
- a token file (kubeconfig ``tokenFile``, the Pod's service-account token), re-read once a minute
  like client-go, because the kubelet rotates projected tokens;
- basic auth (kubeconfig ``username``/``password``);
- an exec credential plugin (``aws eks get-token``, ``kubelogin``, ``gke-gcloud-auth-plugin``), run
  (through the module's ``run_command``) once and again shortly before its credential expires;
- the ``kubernetes`` library's refresh hook, for kubeconfig entries the collection does not read
  itself (``auth-provider``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesConfigError

Remember = Callable[[str], None]
# Runs a command: (argv, environment, working directory) -> (exit status, stdout, stderr). In a module
# it is AnsibleModule.run_command (module_base.py), so that no module_utils spawns processes itself.
CommandRunner = Callable[[list, dict, str], tuple]
# client-go re-reads token files after a minute (CachedFileTokenSource); so do we.
TOKEN_FILE_REREAD_SECONDS = 60.0
# An exec credential is renewed this long before it expires, so that no request carries one that
# expires in flight.
EXEC_EXPIRY_MARGIN_SECONDS = 10.0
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


class BearerToken:
    """A token known up front."""

    def __init__(self, token: str, remember: Remember) -> None:
        remember(token)
        self._header = "Bearer " + token

    def authorization(self) -> str:
        return self._header


class BasicAuth:
    """kubeconfig ``username``/``password`` (servers that still accept it)."""

    def __init__(self, username: str, password: str, remember: Remember) -> None:
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        remember(password)
        remember(encoded)
        self._header = "Basic " + encoded

    def authorization(self) -> str:
        return self._header


class TokenFile:
    """A file holding a bearer token, read now (so that a missing file fails before any request) and again
    after a minute."""

    def __init__(self, path: str, what: str, remember: Remember,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.what = what
        self._remember = remember
        self._clock = clock
        self._token = ""
        self._read_at = 0.0
        self._read()

    def authorization(self) -> str:
        if self._clock() - self._read_at >= TOKEN_FILE_REREAD_SECONDS:
            self._read()
        return "Bearer " + self._token

    def _read(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                token = handle.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise KubernetesConfigError(
                f"Cannot read the token file {self.path} ({self.what}): {getattr(exc, 'strerror', None) or exc}.") from None
        if not token:
            raise KubernetesConfigError(f"The token file {self.path} ({self.what}) is empty.")
        self._remember(token)
        self._token = token
        self._read_at = self._clock()


class ExecCredential:
    """What an exec plugin returned: a token or a client certificate, and when it expires."""

    def __init__(self, token: str | None, client_certificate: str | None, client_key: str | None,
                 expires_at: float | None) -> None:
        self.token = token
        self.client_certificate = client_certificate
        self.client_key = client_key
        self.expires_at = expires_at


class ExecPlugin:
    """A kubeconfig ``users[].user.exec`` entry: runs the command as kubectl does (client-go's exec
    authenticator) and parses the ExecCredential it prints."""

    def __init__(self, spec: dict[str, Any], base_dir: str, cluster: dict[str, Any], what: str,
                 remember: Remember, run_command: CommandRunner | None, environ: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.what = what
        self.api_version = str(spec.get("apiVersion") or "")
        if self.api_version not in EXEC_API_VERSIONS:
            raise KubernetesConfigError(
                f"The exec plugin of {what} has apiVersion {self.api_version or '(none)'!r}; kubectl and this "
                f"collection support {' and '.join(EXEC_API_VERSIONS)}.")
        command = spec.get("command")
        if not isinstance(command, str) or not command:
            raise KubernetesConfigError(f"The exec plugin of {what} has no command.")
        if spec.get("interactiveMode") == "Always":
            raise KubernetesConfigError(
                f"The exec plugin of {what} has interactiveMode Always: it needs a terminal, and Ansible "
                "modules run without one. Log in first (the plugin caches its credential) or use "
                "interactiveMode IfAvailable.")
        # client-go resolves a command with a path separator against the kubeconfig's directory.
        self.argv = [os.path.normpath(os.path.join(base_dir, command)) if os.sep in command and not os.path.isabs(command)
                     else command] + [str(arg) for arg in spec.get("args") or []]
        self.environment = dict(os.environ if environ is None else environ)
        for variable in spec.get("env") or []:
            if isinstance(variable, dict) and variable.get("name"):
                self.environment[str(variable["name"])] = str(variable.get("value", ""))
        exec_info: dict[str, Any] = {"apiVersion": self.api_version, "kind": "ExecCredential",
                                     "spec": {"interactive": False}}
        if spec.get("provideClusterInfo"):
            exec_info["spec"]["cluster"] = _cluster_info(cluster)
        self.environment["KUBERNETES_EXEC_INFO"] = json.dumps(exec_info)
        self.base_dir = base_dir
        if run_command is None:
            raise KubernetesConfigError(f"The exec plugin of {what} can only run inside an Ansible module.")
        self._run_command = run_command
        self._remember = remember
        self._clock = clock
        self.credential = self._run()

    def authorization(self) -> str | None:
        expires_at = self.credential.expires_at
        if expires_at is not None and self._clock() >= expires_at - EXEC_EXPIRY_MARGIN_SECONDS:
            self.credential = self._run()
        return "Bearer " + self.credential.token if self.credential.token else None

    def _run(self) -> ExecCredential:
        program = self.argv[0]
        found = program if os.sep in program else shutil.which(program, path=self.environment.get("PATH", ""))
        if not found or not os.access(found, os.X_OK) or os.path.isdir(found):
            raise KubernetesConfigError(
                f"The exec plugin of {self.what} runs {program!r}, which is not installed or not on PATH "
                f"(PATH={self.environment.get('PATH', '')}).")
        status, stdout, stderr = self._run_command([found, *self.argv[1:]], self.environment, self.base_dir)
        if status != 0:
            raise KubernetesConfigError(
                f"The exec plugin of {self.what} ({program}) failed with exit status {status}{_last_line(stderr)}.")
        return self._parse(stdout)

    def _parse(self, output: bytes | str) -> ExecCredential:
        problem = f"The exec plugin of {self.what} ({self.argv[0]}) did not print an ExecCredential"
        try:
            document = json.loads(output.decode("utf-8") if isinstance(output, bytes) else output)
        except ValueError:
            raise KubernetesConfigError(problem + ": its output is not JSON.") from None
        if not isinstance(document, dict) or document.get("kind") != "ExecCredential":
            raise KubernetesConfigError(problem + ": the document's kind is not ExecCredential.")
        if document.get("apiVersion") != self.api_version:
            raise KubernetesConfigError(
                f"{problem} of the apiVersion the kubeconfig asks for ({self.api_version}): it printed "
                f"{document.get('apiVersion')!r}.")
        status = document.get("status")
        status = status if isinstance(status, dict) else {}
        token = status.get("token") if isinstance(status.get("token"), str) else None
        certificate, key = status.get("clientCertificateData"), status.get("clientKeyData")
        for value in (token, key):
            if value:
                self._remember(value)
        if not token and not (isinstance(certificate, str) and certificate and isinstance(key, str) and key):
            raise KubernetesConfigError(
                problem + " with a credential: status has neither token nor both clientCertificateData and "
                "clientKeyData.")
        return ExecCredential(token or None, None if token else certificate, None if token else key,
                              _expiry(status.get("expirationTimestamp"), problem))


class LibraryHook:
    """The ``kubernetes`` library's configuration, for the kubeconfig entries it reads (auth-provider)."""

    def __init__(self, configuration: Any, remember: Remember) -> None:
        self.configuration = configuration
        self._remember = remember

    def authorization(self) -> str | None:
        configuration = self.configuration
        if configuration.refresh_api_key_hook is not None:
            configuration.refresh_api_key_hook(configuration)
        # kubernetes < 35 stores the token under "authorization", later releases under "BearerToken".
        for identifier in ("BearerToken", "authorization"):
            key = (configuration.api_key or {}).get(identifier)
            if key:
                prefix = (configuration.api_key_prefix or {}).get(identifier)
                header = f"{prefix} {key}" if prefix else str(key)
                self._remember(_without_scheme(header))
                return header
        return None


def _cluster_info(cluster: dict[str, Any]) -> dict[str, Any]:
    """The ``spec.cluster`` of KUBERNETES_EXEC_INFO (provideClusterInfo), in the API's field names."""
    info: dict[str, Any] = {"server": cluster.get("server")}
    for source, target in (("certificate-authority-data", "certificate-authority-data"),
                           ("tls-server-name", "tls-server-name"), ("proxy-url", "proxy-url"),
                           ("insecure-skip-tls-verify", "insecure-skip-tls-verify")):
        if cluster.get(source) is not None:
            info[target] = cluster[source]
    for extension in cluster.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == "client.authentication.k8s.io/exec":
            info["config"] = extension.get("extension")
    return info


def _expiry(value: Any, problem: str) -> float | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise KubernetesConfigError(f"{problem} with a valid expirationTimestamp (RFC 3339): {value!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _last_line(stderr: bytes | str) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f": {lines[-1][:300]}" if lines else ""


def _without_scheme(header: str) -> str:
    scheme, separator, rest = header.partition(" ")
    return rest if separator and rest and scheme.lower() in ("bearer", "basic") else header
