# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the OpenAPI v3 schemas an API server publishes, fetched once and cached.

``GET /openapi/v3`` lists one document per group version with the hash of its content
(``/openapi/v3/apis/apps/v1?hash=<SHA-512>``). A document is fetched once per hash and kept in
``$XDG_CACHE_HOME/atlas-hardening/openapi-v3/<hash>.json`` (``~/.cache`` by default); a cached file is
used only when its SHA-512 still equals the hash, so a later run against the same server costs one
request (the list), and a server upgrade or a changed CRD changes the hash. Without a usable cache
directory (a read-only home), documents are simply fetched again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import KubernetesConnection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import KubernetesApiError

CACHE_SUBDIRECTORY = os.path.join("atlas-hardening", "openapi-v3")


def default_cache_directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, CACHE_SUBDIRECTORY)


def _document_key(api_version: str) -> str:
    return f"apis/{api_version}" if "/" in api_version else f"api/{api_version}"


class PublishedSchemas:
    """The schema of each kind, from the API server's OpenAPI v3 documents (fetched lazily)."""

    def __init__(self, connection: KubernetesConnection, cache_directory: str | None = None) -> None:
        self.connection = connection
        self.cache_directory = cache_directory if cache_directory is not None else default_cache_directory()
        self._paths: dict[str, str] | None = None
        self._documents: dict[str, dict[str, Any] | None] = {}

    def forget_index(self) -> None:
        """Read the list of documents again (CRDs were created: new group versions, new hashes)."""
        self._paths = None
        self._documents.clear()

    def schema(self, api_version: str, kind: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(the kind's schema, every component schema of its document), or None when the server does not
        publish one (no OpenAPI v3, or a group version it does not serve yet)."""
        document = self._document(api_version)
        if document is None:
            return None
        group, _slash, version = api_version.rpartition("/")
        components = (document.get("components") or {}).get("schemas") or {}
        for schema in components.values():
            for gvk in schema.get("x-kubernetes-group-version-kind") or []:
                if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (group, version, kind):
                    return schema, components
        return None

    def _index(self) -> dict[str, str]:
        if self._paths is None:
            try:
                listing = self.connection.request("GET", "/openapi/v3").data or {}
            except KubernetesApiError as exc:
                if exc.status not in (403, 404):
                    raise
                listing = {}  # a server without OpenAPI v3 (or hiding it): nothing to validate against
            self._paths = {key: str(value.get("serverRelativeURL") or "")
                           for key, value in (listing.get("paths") or {}).items()}
        return self._paths

    def _document(self, api_version: str) -> dict[str, Any] | None:
        key = _document_key(api_version)
        if key not in self._documents:
            url = self._index().get(key)
            self._documents[key] = self._load(url) if url else None
        return self._documents[key]

    def _load(self, server_relative_url: str) -> dict[str, Any]:
        split = urlsplit(server_relative_url)
        query = dict(parse_qsl(split.query))
        expected = query.get("hash", "")
        cached = self._read_cache(expected)
        if cached is not None:
            return json.loads(cached.decode("utf-8"))
        raw = self.connection.request_bytes(split.path, query)
        if expected and hashlib.sha512(raw).hexdigest().upper() == expected.upper():
            self._write_cache(expected, raw)
        return json.loads(raw.decode("utf-8"))

    def _cache_file(self, content_hash: str) -> str | None:
        if not self.cache_directory or not content_hash.isalnum():
            return None
        return os.path.join(self.cache_directory, f"{content_hash.upper()}.json")

    def _read_cache(self, content_hash: str) -> bytes | None:
        path = self._cache_file(content_hash)
        if path is None:
            return None
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        return data if hashlib.sha512(data).hexdigest().upper() == content_hash.upper() else None

    def _write_cache(self, content_hash: str, data: bytes) -> None:
        path = self._cache_file(content_hash)
        if path is None:
            return
        temporary = ""
        try:
            os.makedirs(self.cache_directory, mode=0o700, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.cache_directory, prefix=".openapi-")
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except OSError:
            # A cache is an optimisation: a read-only home only costs the fetch next time.
            if temporary and os.path.exists(temporary):
                os.unlink(temporary)
