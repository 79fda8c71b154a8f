# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: KV version 2 secrets on a :class:`VaultConnection`: versioned reads, check-and-set
writes and metadata written with every field explicit.

Why not hvac's ``secrets.kv.v2`` helpers: ``update_metadata`` sends ``delete_version_after="0s"``
unless told otherwise (silently disabling a configured expiry), a KV v1 mount answers KV v2 calls
with misleading results (a "data/<path>" key), and a lost CAS write needs a read-back to tell
"mine landed" from "someone else wrote first". This module handles the three.

Retried writes: a write with ``cas`` whose answer was lost (dropped connection, read timeout, 5xx)
is retried only after reading the key back: if the latest version is ``cas + 1`` holding exactly
our data, our write landed and its version is returned; if the key is still at ``cas``, nothing
landed and the write is sent again (CAS guarantees at most one of the attempts is applied); any
other version means someone else wrote: :class:`VaultCasMismatch`. A write without ``cas`` is
never retried: :class:`VaultOutcomeUnknown` says so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ansible_collections.atlas.hardening.plugins.module_utils._vault.connection import VaultConnection, retry_delay
from ansible_collections.atlas.hardening.plugins.module_utils._vault.errors import (
    VaultConnectionError,
    VaultError,
    VaultRequestError,
    VaultResponse,
)

CAS_MISMATCH_TEXT = "check-and-set parameter did not match the current version"
CAS_REQUIRED_TEXT = "check-and-set parameter required"
# Vault's limits on custom_metadata (kv-v2 API docs).
CUSTOM_METADATA_MAX_KEYS = 64


class VaultKVVersionError(VaultError):
    """The mount is not a KV version 2 secrets engine."""


class VaultCasMismatch(VaultError):
    """A check-and-set write lost: the key is not at the expected version (someone else wrote first).

    ``expected_version`` is the ``cas`` we sent; ``current_version`` what the key holds now
    (None when it could not be read, 0 when the key does not exist).
    """

    def __init__(self, message: str, path: str, expected_version: int, current_version: int | None) -> None:
        super().__init__(message, path=path, expected_version=expected_version, current_version=current_version)
        self.path = path
        self.expected_version = expected_version
        self.current_version = current_version


class VaultOutcomeUnknown(VaultConnectionError):
    """A write got no usable answer and could not be verified: it may or may not have been applied."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, request_sent=True, **details)


@dataclass
class KV2Secret:
    """One version of a KV v2 secret. ``data`` is None when that version is deleted or destroyed."""

    path: str
    version: int
    data: dict[str, Any] | None
    created_time: str = ""
    deletion_time: str = ""
    destroyed: bool = False
    custom_metadata: dict[str, str] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.data is None


@dataclass
class KV2Metadata:
    """The key-level metadata of a KV v2 secret (shared by all its versions)."""

    path: str
    current_version: int
    oldest_version: int
    max_versions: int
    cas_required: bool
    delete_version_after: str
    custom_metadata: dict[str, str]
    created_time: str = ""
    updated_time: str = ""
    versions: dict[str, Any] = field(default_factory=dict)


class VaultKV2:
    """KV v2 operations on one mount. The mount type is checked once, before the first operation
    (one request), because a KV v1 mount would silently treat ``data/<path>`` as a key name."""

    def __init__(self, connection: VaultConnection, mount_point: str = "secret") -> None:
        self.connection = connection
        self.mount_point = mount_point.strip("/")
        if not self.mount_point:
            raise VaultError("The KV mount point is empty: give the mount of the KV v2 engine, e.g. 'secret'.")
        self._checked = False

    # ------------------------------------------------------------------------------------------
    def ensure_kv2(self) -> None:
        """Fail with a clear message unless the mount is a KV version 2 engine (cached)."""
        if self._checked:
            return
        info = self.connection.mount_info(self.mount_point)
        mount_path = str(info.get("path") or "").strip("/")
        where = self.connection.where
        if mount_path and mount_path != self.mount_point:
            raise VaultKVVersionError(
                "%s: the secrets engine is mounted at %s/, not at %s/. Set the mount point to %s and put the rest "
                "in the secret path." % (where, mount_path, self.mount_point, mount_path))
        engine = info.get("type")
        version = str((info.get("options") or {}).get("version") or "1")
        if engine not in ("kv", "generic"):
            raise VaultKVVersionError("%s: %s/ is a %s secrets engine, not KV: this needs a KV version 2 mount."
                                      % (where, self.mount_point, engine))
        if version != "2":
            raise VaultKVVersionError(
                "%s: %s/ is a KV version 1 mount; this needs KV version 2. Upgrade it with `vault kv "
                "enable-versioning %s/` (or `bao kv enable-versioning`), or use a KV v2 mount."
                % (where, self.mount_point, self.mount_point))
        self._checked = True

    def _api(self, kind: str, path: str) -> str:
        clean = path.strip("/")
        if not clean:
            raise VaultError("The secret path is empty: give the path below the %s/ mount." % self.mount_point)
        return "%s/%s/%s" % (self.mount_point, kind, quote(clean, safe="/"))

    def _full(self, path: str) -> str:
        return "%s/%s" % (self.mount_point, path.strip("/"))

    # ------------------------------------------------------------------------------------------
    # Data
    def read(self, path: str, version: int | None = None) -> KV2Secret | None:
        """The latest (or given) version of a secret; None when the key has no version at all.

        A deleted or destroyed version comes back with ``data=None`` and its version number, so a
        check-and-set write can still follow.
        """
        self.ensure_kv2()
        action = "read secret %s" % self._full(path)
        params = {"version": int(version)} if version else None
        response = self.connection.send("GET", self._api("data", path), params=params, action=action)
        if response.status == 200 or (response.status == 404 and response.data.get("metadata")):
            return self._secret(path, response)
        if response.status == 404:
            return None
        raise self.connection.http_error(response, action, path=self._full(path))

    @staticmethod
    def _secret(path: str, response: VaultResponse) -> KV2Secret:
        data = response.data
        metadata = data.get("metadata") or {}
        payload = data.get("data")
        return KV2Secret(
            path=path.strip("/"),
            version=int(metadata.get("version") or 0),
            data=dict(payload) if isinstance(payload, dict) else None,
            created_time=metadata.get("created_time") or "",
            deletion_time=metadata.get("deletion_time") or "",
            destroyed=bool(metadata.get("destroyed")),
            custom_metadata=dict(metadata.get("custom_metadata") or {}),
        )

    def write(self, path: str, data: Mapping[str, Any], *, cas: int | None) -> int:
        """Write a new version and return its number.

        ``cas``: the version the key must be at (0: the key must not exist); None writes
        unconditionally (not retried when the answer is lost). Raises :class:`VaultCasMismatch`
        when another writer got there first.
        """
        self.ensure_kv2()
        payload = dict(data)
        body: dict[str, Any] = {"options": {} if cas is None else {"cas": int(cas)}, "data": payload}
        action = "write secret %s%s" % (self._full(path), "" if cas is None else " (check-and-set %d)" % cas)
        api_path = self._api("data", path)
        attempts = self.connection.retries + 1
        last_error: VaultError | None = None
        for attempt in range(attempts):
            time.sleep(retry_delay(attempt))
            try:
                response = self.connection.send("POST", api_path, json=body, action=action)
            except VaultConnectionError as exc:
                if not exc.request_sent:
                    raise
                if cas is None:
                    raise VaultOutcomeUnknown("%s Not retried: without check-and-set a retry could write twice; "
                                              "read the secret to see whether it changed." % exc) from None
                last_error = exc
            else:
                if response.status in (200, 204):
                    return int(response.data.get("version") or 0)
                if _is_cas_mismatch(response) and cas is not None:
                    if attempt and last_error is not None:
                        # An earlier attempt whose answer was lost may be the write that moved the key.
                        landed = self._after_lost_write(path, payload, cas, last_error)
                        if landed is not None:
                            return landed
                    raise self._cas_mismatch(path, cas)
                if _is_cas_required(response):
                    raise VaultRequestError("%s requires check-and-set for %s: pass the current version as cas "
                                            "(0 to create)." % (self.connection.where, self._full(path)),
                                            response.status, response.errors)
                error = self.connection.http_error(response, action, path=self._full(path))
                if cas is None or not (response.status >= 500 or response.status == 429):
                    raise error
                last_error = error
            # The answer was lost or was a 5xx: find out whether the write landed before retrying.
            landed_or_absent = self._after_lost_write(path, payload, cas, last_error)
            if landed_or_absent is not None:
                return landed_or_absent
        raise last_error or VaultOutcomeUnknown("%s: the write to %s was not attempted." % (
            self.connection.where, self._full(path)))

    def _after_lost_write(self, path: str, payload: dict[str, Any], cas: int, error: VaultError) -> int | None:
        """Version of our write if it landed; None if the key is still at ``cas`` (safe to retry)."""
        try:
            current = self.read(path)
        except VaultError as exc:
            raise VaultOutcomeUnknown(
                "%s The check-and-set write to %s may or may not have been applied, and reading it back failed "
                "too: %s" % (error, self._full(path), exc)) from None
        current_version = current.version if current is not None else 0
        if current is not None and current_version == cas + 1 and current.data == payload:
            return current_version
        if current_version == cas:
            return None
        raise VaultCasMismatch(
            "%s: after a lost answer, %s is at version %d, not %d with our data: another writer got there first."
            % (self.connection.where, self._full(path), current_version, cas + 1),
            path=self._full(path), expected_version=cas, current_version=current_version)

    def _cas_mismatch(self, path: str, cas: int) -> VaultCasMismatch:
        try:
            current = self.read(path)
            current_version: int | None = current.version if current is not None else 0
        except VaultError:
            current_version = None
        now = "unknown" if current_version is None else (
            "absent" if current_version == 0 else "at version %d" % current_version)
        expected = "absent (cas=0)" if cas == 0 else "at version %d" % cas
        return VaultCasMismatch(
            "%s: check-and-set write to %s lost: expected the key %s, it is %s. Someone else wrote it first; "
            "read it again before deciding what to write." % (self.connection.where, self._full(path), expected, now),
            path=self._full(path), expected_version=cas, current_version=current_version)

    # ------------------------------------------------------------------------------------------
    # Metadata
    def list_keys(self, path: str) -> list[str]:
        """The keys directly below ``path`` (sub-folders end with ``/``); empty when there is none."""
        self.ensure_kv2()
        action = "list secrets under %s" % self._full(path)
        answer = self.connection.request("LIST", self._api("metadata", path), action=action, missing_ok=True)
        return sorted(str(key) for key in ((answer or {}).get("data") or {}).get("keys") or [])

    def read_metadata(self, path: str) -> KV2Metadata | None:
        """Key-level metadata; None when the key does not exist."""
        self.ensure_kv2()
        action = "read metadata of %s" % self._full(path)
        body = self.connection.request("GET", self._api("metadata", path), action=action, missing_ok=True)
        if body is None:
            return None
        data = body.get("data") or {}
        return KV2Metadata(
            path=path.strip("/"),
            current_version=int(data.get("current_version") or 0),
            oldest_version=int(data.get("oldest_version") or 0),
            max_versions=int(data.get("max_versions") or 0),
            cas_required=bool(data.get("cas_required")),
            delete_version_after=str(data.get("delete_version_after") or "0s"),
            custom_metadata=dict(data.get("custom_metadata") or {}),
            created_time=data.get("created_time") or "",
            updated_time=data.get("updated_time") or "",
            versions=dict(data.get("versions") or {}),
        )

    def write_metadata(self, path: str, *, max_versions: int, cas_required: bool, delete_version_after: str,
                       custom_metadata: Mapping[str, str]) -> None:
        """Write key metadata with EVERY field given: Vault keeps omitted fields but replaces the whole
        ``custom_metadata`` map, and hvac's helper resets ``delete_version_after`` when omitted.

        Values are those of the API: ``max_versions`` 0 = the mount's default,
        ``delete_version_after`` a Go duration ("0s" = never).
        """
        self.ensure_kv2()
        custom = _check_custom_metadata(custom_metadata)
        self.connection.request(
            "POST", self._api("metadata", path),
            json={"max_versions": int(max_versions), "cas_required": bool(cas_required),
                  "delete_version_after": str(delete_version_after), "custom_metadata": custom},
            action="write metadata of %s" % self._full(path))

    def update_custom_metadata(self, path: str, changes: Mapping[str, str | None]) -> bool:
        """Set (value) or remove (None) custom_metadata keys, keeping every other metadata field as it
        is. Reads first and writes only when something changes; returns whether it wrote.

        The key must exist (write data first). Metadata has no check-and-set in Vault: a concurrent
        metadata writer can interleave between the read and the write.
        """
        current = self.read_metadata(path)
        if current is None:
            raise VaultError("%s: %s does not exist; write the secret before its metadata."
                             % (self.connection.where, self._full(path)))
        wanted = dict(current.custom_metadata)
        for key, value in changes.items():
            if value is None:
                wanted.pop(key, None)
            else:
                wanted[key] = value
        if wanted == current.custom_metadata:
            return False
        self.write_metadata(path, max_versions=current.max_versions, cas_required=current.cas_required,
                            delete_version_after=current.delete_version_after, custom_metadata=wanted)
        return True


def _is_cas_mismatch(response: VaultResponse) -> bool:
    return response.status == 400 and any(CAS_MISMATCH_TEXT in error for error in response.errors)


def _is_cas_required(response: VaultResponse) -> bool:
    return response.status == 400 and any(CAS_REQUIRED_TEXT in error for error in response.errors)


def _check_custom_metadata(custom: Mapping[str, Any]) -> dict[str, str]:
    if len(custom) > CUSTOM_METADATA_MAX_KEYS:
        raise VaultError("custom_metadata has %d keys; Vault accepts at most %d."
                         % (len(custom), CUSTOM_METADATA_MAX_KEYS))
    bad = sorted(key for key, value in custom.items() if not isinstance(value, str) or not isinstance(key, str))
    if bad:
        raise VaultError("custom_metadata values must be strings (Vault rejects others): %s." % ", ".join(bad))
    return dict(custom)
