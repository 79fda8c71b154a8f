# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: a kubeconfig's context resolved into client settings, as kubectl does.

Files listed together (KUBECONFIG=a:b) merge the way client-go merges them: the first file that
names a cluster, user or context wins, and the first ``current-context`` wins. Relative paths in an
entry are relative to the file that holds the entry.

Read here, without the ``kubernetes`` library (whose import is most of a module's start-up): the
cluster's server, CA, ``insecure-skip-tls-verify``, ``tls-server-name`` and ``proxy-url``; the
user's ``token``, ``tokenFile``, client certificate and key, ``exec`` plugin and
``username``/``password``. A user with an ``auth-provider`` is left to the library
(``needs_library``), which still implements the legacy OIDC, GCP and Azure providers.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import os
import shutil
import tempfile
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import ClientSettings
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.credentials import (
    BasicAuth,
    BearerToken,
    CommandRunner,
    ExecPlugin,
    Remember,
    TokenFile,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesConfigError


class Entry:
    """One named cluster, user or context, with the directory of the file it came from."""

    def __init__(self, name: str, value: dict[str, Any], base_dir: str) -> None:
        self.name = name
        self.value = value
        self.base_dir = base_dir


class MergedKubeconfig:
    """Several kubeconfig documents merged by client-go's rules."""

    def __init__(self, documents: list[tuple[str, dict[str, Any]]]) -> None:
        self.current_context = ""
        self.entries: dict[str, dict[str, Entry]] = {"clusters": {}, "users": {}, "contexts": {}}
        for path, document in documents:
            base_dir = os.path.dirname(os.path.abspath(path))
            if not self.current_context and isinstance(document.get("current-context"), str):
                self.current_context = document["current-context"]
            for section, field in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
                for item in document.get(section) or []:
                    if not isinstance(item, dict) or not item.get("name"):
                        continue
                    value = item.get(field)
                    self.entries[section].setdefault(
                        str(item["name"]), Entry(str(item["name"]), value if isinstance(value, dict) else {}, base_dir))

    @property
    def context_names(self) -> list[str]:
        return list(self.entries["contexts"])


class ResolvedContext:
    """The context to use, its cluster entry and its user entry (None when the context names no user)."""

    def __init__(self, name: str, cluster: Entry, user: Entry | None) -> None:
        self.name = name
        self.cluster = cluster
        self.user = user

    @property
    def user_name(self) -> str:
        return self.user.name if self.user else "(none)"

    @property
    def needs_library(self) -> bool:
        """True when the user entry uses an auth-provider, which only the ``kubernetes`` library reads."""
        return bool(self.user and self.user.value.get("auth-provider"))


def resolve_context(config: MergedKubeconfig, context: str | None, label: str) -> ResolvedContext:
    """The context named ``context`` (else the current one), with its cluster and user; raise when missing."""
    name = context or config.current_context
    if not name:
        raise KubernetesConfigError(
            f"{label} sets no current-context: set k8s_context (K8S_AUTH_CONTEXT) to one of "
            f"{', '.join(config.context_names) or 'its contexts (it has none)'}.")
    entry = config.entries["contexts"].get(name)
    if entry is None:
        raise KubernetesConfigError(
            f"The current-context {name!r} of {label} is not one of its contexts "
            f"({', '.join(config.context_names) or 'none'}).")
    cluster_name = entry.value.get("cluster")
    cluster = config.entries["clusters"].get(str(cluster_name)) if cluster_name else None
    if cluster is None:
        raise KubernetesConfigError(
            f"Context {name!r} of {label} names cluster {cluster_name!r}, which is not among its clusters "
            f"({', '.join(config.entries['clusters']) or 'none'}).")
    user_name = entry.value.get("user")
    user = config.entries["users"].get(str(user_name)) if user_name else None
    if user_name and user is None:
        raise KubernetesConfigError(
            f"Context {name!r} of {label} names user {user_name!r}, which is not among its users "
            f"({', '.join(config.entries['users']) or 'none'}).")
    return ResolvedContext(name, cluster, user)


def client_settings(resolved: ResolvedContext, label: str, remember: Remember, environ: dict[str, str],
                    run_command: CommandRunner | None = None) -> ClientSettings:
    """The transport settings and credentials of a resolved context (not for ``needs_library`` users)."""
    cluster = resolved.cluster.value
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubernetesConfigError(f"Cluster {resolved.cluster.name!r} of {label} has no server URL.")
    files = _MaterializedFiles(label)
    settings = ClientSettings(server.rstrip("/"))
    settings.verify = not bool(cluster.get("insecure-skip-tls-verify"))
    settings.ca_file = files.path(resolved.cluster, "certificate-authority")
    settings.ca_data = files.pem(resolved.cluster, "certificate-authority-data")
    settings.tls_server_name = cluster.get("tls-server-name") or None
    settings.proxy_url = cluster.get("proxy-url") or None
    user_entry = resolved.user
    if user_entry is None:
        return settings
    user = user_entry.value
    what = f"user {user_entry.name!r} in {label}"
    settings.cert_file = files.file(user_entry, "client-certificate", "client-certificate-data", remember)
    settings.key_file = files.file(user_entry, "client-key", "client-key-data", remember)
    if user.get("token"):
        settings.credentials = BearerToken(str(user["token"]), remember)
    elif user.get("tokenFile"):
        settings.credentials = TokenFile(_relative_to(user_entry, str(user["tokenFile"])),
                                         f"tokenFile of {what}", remember)
    elif isinstance(user.get("exec"), dict):
        plugin = ExecPlugin(user["exec"], user_entry.base_dir, cluster, what, remember, run_command, environ)
        settings.credentials = plugin
        if plugin.credential.client_certificate and plugin.credential.client_key:
            settings.cert_file = files.write("client-certificate", plugin.credential.client_certificate.encode())
            settings.key_file = files.write("client-key", plugin.credential.client_key.encode())
    elif user.get("username") and user.get("password"):
        settings.credentials = BasicAuth(str(user["username"]), str(user["password"]), remember)
    if bool(settings.cert_file) != bool(settings.key_file):
        raise KubernetesConfigError(
            f"{what[0].upper()}{what[1:]} has a client certificate without its key, or a key without its "
            "certificate: give both (client-certificate and client-key, or their -data forms).")
    return settings


def _relative_to(entry: Entry, path: str) -> str:
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.join(entry.base_dir, path)


class _MaterializedFiles:
    """Certificate and key files: named ones checked, inline (``-data``) ones written to a private
    directory, since Python's TLS stack loads client certificates from files only. The directory is
    removed when the process exits."""

    _directory: str | None = None

    def __init__(self, label: str) -> None:
        self.label = label

    def path(self, entry: Entry, field: str) -> str | None:
        value = entry.value.get(field)
        if not value:
            return None
        path = _relative_to(entry, str(value))
        if not os.path.isfile(path):
            raise KubernetesConfigError(
                f"The {field} {path} of {entry.name!r} in {self.label} does not exist or is not a file.")
        return path

    def pem(self, entry: Entry, field: str, remember: Remember | None = None) -> str | None:
        value = entry.value.get(field)
        if not value:
            return None
        try:
            decoded = base64.b64decode(str(value), validate=True).decode("ascii")
        except (binascii.Error, ValueError):
            raise KubernetesConfigError(
                f"The {field} of {entry.name!r} in {self.label} is not base64-encoded PEM.") from None
        if remember is not None:
            remember(decoded)
        return decoded

    def file(self, entry: Entry, field: str, data_field: str, remember: Remember) -> str | None:
        if entry.value.get(data_field):
            secret = field == "client-key"
            pem = self.pem(entry, data_field, remember if secret else None)
            return self.write(field, (pem or "").encode("ascii"))
        return self.path(entry, field)

    def write(self, field: str, content: bytes) -> str:
        if _MaterializedFiles._directory is None:
            _MaterializedFiles._directory = tempfile.mkdtemp(prefix="atlas-kubeconfig-")
            atexit.register(shutil.rmtree, _MaterializedFiles._directory, True)
        descriptor, path = tempfile.mkstemp(prefix=field + "-", suffix=".pem", dir=_MaterializedFiles._directory)
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp creates it 0600
            handle.write(content)
        return path
