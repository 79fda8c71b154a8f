# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: Vault/OpenBao raft snapshots, never held whole in memory.

``GET /v1/sys/storage/raft/snapshot`` streams a gzipped tar of ``meta.json``, ``state.bin`` and
``SHA256SUMS``; :func:`check_snapshot` re-hashes the two files as it reads them and compares with the
sums, so a truncated or corrupted snapshot is refused before it is stored or restored.
``POST /v1/sys/storage/raft/snapshot-force`` restores one into a server whose keys differ (a scratch
server, a new cluster); the server is then sealed and opens with the ORIGINAL unseal keys.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from functools import partial
from typing import IO, Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._vault.connection import VaultConnection

CHUNK = 1024 * 1024
SNAPSHOT_FILES = ("meta.json", "state.bin")


class CorruptSnapshot(HardeningError):
    pass


@dataclass(frozen=True)
class SnapshotFacts:
    size: int
    sha256: str  # of the whole snapshot file, as stored
    index: int
    term: int
    version: str

    def as_dict(self) -> dict[str, Any]:
        return {"size": self.size, "sha256": self.sha256, "raft_index": self.index, "raft_term": self.term,
                "version": self.version}


def take_snapshot(vault: VaultConnection, target: IO[bytes]) -> None:
    """Stream the leader's snapshot into ``target`` (a file opened for binary writing)."""
    response = vault.stream("GET", "sys/storage/raft/snapshot", action="take a raft snapshot")
    try:
        for chunk in response.iter_content(CHUNK):
            target.write(chunk)
    finally:
        response.close()
    target.flush()


def check_snapshot(source: IO[bytes], where: str) -> SnapshotFacts:
    """Check the sums inside the snapshot at ``source`` (seekable); return what it says about itself."""
    source.seek(0)
    whole = hashlib.sha256()
    size = 0
    for chunk in iter(partial(source.read, CHUNK), b""):
        whole.update(chunk)
        size += len(chunk)
    source.seek(0)
    digests: dict[str, str] = {}
    sums = ""
    meta: dict[str, Any] = {}
    try:
        with tarfile.open(fileobj=source, mode="r|*") as archive:
            for member in archive:
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is None:
                    continue
                if member.name == "SHA256SUMS":
                    sums = extracted.read().decode("utf-8", "replace")
                    continue
                digest = hashlib.sha256()
                content = bytearray() if member.name == "meta.json" else None
                for chunk in iter(partial(extracted.read, CHUNK), b""):
                    digest.update(chunk)
                    if content is not None:
                        content += chunk
                digests[member.name] = digest.hexdigest()
                if content is not None:
                    meta = json.loads(bytes(content))
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise CorruptSnapshot(f"The raft snapshot {where} is not a readable snapshot archive ({exc}): it is "
                              "truncated or corrupted; take a new one.") from None
    expected = {}
    for line in sums.splitlines():
        parts = line.split()
        if len(parts) == 2:
            expected[parts[1].lstrip("*")] = parts[0]
    problems = [f"{name}: {'missing' if name not in digests else 'checksum mismatch'}"
                for name in SNAPSHOT_FILES if expected.get(name) is None or digests.get(name) != expected.get(name)]
    if not sums:
        problems.insert(0, "SHA256SUMS missing")
    if problems:
        source.seek(0)
        raise CorruptSnapshot(f"The raft snapshot {where} fails its integrity check ({'; '.join(problems)}): do not "
                              "restore it; take a new one.")
    source.seek(0)
    return SnapshotFacts(size=size, sha256=whole.hexdigest(), index=int(meta.get("Index") or 0),
                         term=int(meta.get("Term") or 0), version=str(meta.get("Version") or ""))


def force_restore(vault: VaultConnection, source: IO[bytes]) -> None:
    """Restore ``source`` into the server of ``vault`` (streamed), whatever its keys."""
    source.seek(0)
    response = vault.stream("POST", "sys/storage/raft/snapshot-force", body=source,
                            action="restore the raft snapshot (snapshot-force)")
    response.close()


def unseal(vault: VaultConnection, keys: list[str]) -> bool:
    """Submit unseal keys until the server opens; whether it did."""
    for key in keys:
        answer = vault.request("PUT", "sys/unseal", json={"key": key}, action="unseal the restored server") or {}
        if not answer.get("sealed", True):
            return True
    return False
