# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the disaster-recovery component catalogue (inventory variable
``disaster_recovery_components``), checked as a whole before anything reads or writes, and the
restore order its dependencies give.

Each component names its namespaces, how it is backed up (``velero``: a Velero Schedule of its
namespaces; ``vault_raft_snapshot``: Vault's own snapshots, its namespaces still in Velero for the
manifests; ``database``: the database operator's backups, manifests in Velero), its objectives, what
must be restored first, and how to verify a restore.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.cron_intervals import longest_interval
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.durations import parse_duration

BACKUP_METHODS = ("velero", "vault_raft_snapshot", "database")
DEFAULT_RPO = 3600.0
DEFAULT_RTO = 4 * 3600.0
# Every 30 minutes: the default RPO of 1 h leaves 30 minutes for the backup itself.
DEFAULT_SCHEDULE = "*/30 * * * *"
DEFAULT_TTL = 30 * 86400.0
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_KEYS = {"name", "namespaces", "backup", "schedule", "rpo", "rto", "ttl", "depends_on", "verify", "description",
         "runbook"}
_VERIFY_KEYS = {"objects", "ready", "http"}
_READY_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


class CatalogueError(HardeningError, ValueError):
    """The catalogue is not usable; the message lists every problem found."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"disaster_recovery_components: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class HttpCheck:
    """A GET through the API server's service proxy that must answer 2xx (optionally containing text)."""

    service: str
    port: str
    path: str
    expect: str = ""


@dataclass(frozen=True)
class Verification:
    objects: bool = True  # every namespaced object of the backup is restored
    ready: tuple[tuple[str, str], ...] = ()  # (kind, name); empty: every restored Deployment/StatefulSet/DaemonSet
    http: tuple[HttpCheck, ...] = ()


@dataclass(frozen=True)
class Component:
    name: str
    namespaces: tuple[str, ...]
    backup: str = "velero"
    schedule: str = DEFAULT_SCHEDULE
    rpo: float = DEFAULT_RPO
    rto: float = DEFAULT_RTO
    ttl: float = DEFAULT_TTL
    depends_on: tuple[str, ...] = ()
    verify: Verification = field(default_factory=Verification)
    description: str = ""
    runbook: str = ""

    @property
    def schedule_name(self) -> str:
        """The Velero Schedule (and label ``velero.io/schedule-name`` of its backups)."""
        return f"dr-{self.name}"

    @property
    def interval(self) -> float:
        return longest_interval(self.schedule)


def parse_catalogue(entries: Any) -> list[Component]:
    """Components in catalogue order; a CatalogueError listing every problem otherwise."""
    if not isinstance(entries, list) or not entries:
        raise CatalogueError("must be a non-empty list of components "
                             "(see docs/examples/inventory/group_vars/atlas_control/disaster_recovery.yml)")
    problems: list[str] = []
    components: list[Component] = []
    for index, entry in enumerate(entries):
        where = f"component {index + 1}"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected a mapping with name and namespaces, got {type(entry).__name__}")
            continue
        where = f"component {entry.get('name', index + 1)!s}"
        try:
            components.append(_component(entry, where))
        except ValueError as exc:
            problems.append(str(exc))
    names = [component.name for component in components]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"component {name}: listed more than once")
    for component in components:
        for dependency in component.depends_on:
            if dependency not in names:
                problems.append(f"component {component.name}: depends_on names {dependency!r}, which is not in the "
                                f"catalogue (known: {', '.join(names)})")
    if not problems:
        try:
            restore_order(components)
        except CatalogueError as exc:
            problems.append(exc.reason)
    if problems:
        raise CatalogueError("; ".join(problems))
    return components


def _component(entry: Mapping[str, Any], where: str) -> Component:
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    name = str(entry.get("name", ""))
    if not _NAME.match(name) or len(name) > 40:
        raise ValueError(f"{where}: name must be a DNS label of at most 40 characters (it names the Schedule "
                         f"dr-<name> and the drill namespaces)")
    namespaces = entry.get("namespaces")
    if not isinstance(namespaces, list) or not namespaces or not all(
            isinstance(ns, str) and _NAME.match(ns) for ns in namespaces):
        raise ValueError(f"{where}: namespaces must be a non-empty list of namespace names")
    backup = str(entry.get("backup", "velero"))
    if backup not in BACKUP_METHODS:
        raise ValueError(f"{where}: backup must be one of {', '.join(BACKUP_METHODS)}, not {backup!r}")
    schedule = str(entry.get("schedule", DEFAULT_SCHEDULE))
    try:
        longest_interval(schedule)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    depends_on = entry.get("depends_on") or []
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise ValueError(f"{where}: depends_on must be a list of component names")
    return Component(
        name=name, namespaces=tuple(namespaces), backup=backup, schedule=schedule,
        rpo=parse_duration(entry.get("rpo", DEFAULT_RPO), f"{where}: rpo"),
        rto=parse_duration(entry.get("rto", DEFAULT_RTO), f"{where}: rto"),
        ttl=parse_duration(entry.get("ttl", DEFAULT_TTL), f"{where}: ttl"),
        depends_on=tuple(depends_on), verify=_verification(entry.get("verify") or {}, where),
        description=str(entry.get("description", "")), runbook=str(entry.get("runbook", "")))


def _verification(value: Any, where: str) -> Verification:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: verify must be a mapping with objects, ready and/or http")
    unknown = sorted(set(value) - _VERIFY_KEYS)
    if unknown:
        raise ValueError(f"{where}: verify has unknown key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(_VERIFY_KEYS))})")
    ready: list[tuple[str, str]] = []
    for item in value.get("ready") or []:
        text = str(item)
        kind, _slash, name = text.partition("/")
        if kind not in _READY_KINDS or not name:
            raise ValueError(f"{where}: verify.ready entries are Kind/name with Kind one of {', '.join(_READY_KINDS)}, "
                             f"not {text!r}")
        ready.append((kind, name))
    checks: list[HttpCheck] = []
    for item in value.get("http") or []:
        if not isinstance(item, Mapping) or not item.get("service"):
            raise ValueError(f"{where}: verify.http entries need at least service (and port, path, expect)")
        path = str(item.get("path", "/"))
        checks.append(HttpCheck(str(item["service"]), str(item.get("port", "http")),
                                path if path.startswith("/") else "/" + path, str(item.get("expect", ""))))
    return Verification(objects=bool(value.get("objects", True)), ready=tuple(ready), http=tuple(checks))


def restore_order(components: list[Component]) -> list[Component]:
    """Dependencies first; catalogue order among independent components. Refuses a cycle."""
    by_name = {component.name: component for component in components}
    ordered: list[Component] = []
    state: dict[str, str] = {}

    def visit(component: Component, path: list[str]) -> None:
        if state.get(component.name) == "done":
            return
        if state.get(component.name) == "visiting":
            cycle = path[path.index(component.name):] + [component.name]
            raise CatalogueError(f"depends_on forms a cycle: {' -> '.join(cycle)}")
        state[component.name] = "visiting"
        for dependency in component.depends_on:
            if dependency in by_name:
                visit(by_name[dependency], path + [component.name])
        state[component.name] = "done"
        ordered.append(component)

    for component in components:
        visit(component, [])
    return ordered


def select(components: list[Component], names: list[str] | None) -> list[Component]:
    """The named components (all when ``names`` is empty), refusing an unknown name."""
    if not names:
        return list(components)
    known = {component.name: component for component in components}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise CatalogueError(f"unknown component(s) {', '.join(unknown)}: the catalogue has {', '.join(known)}")
    return [known[name] for name in names]


def chosen_in_restore_order(entries: Any, names: list[str] | None) -> list[Component]:
    """The named components (all when none are), checked, dependencies first."""
    catalogue = parse_catalogue(entries)
    chosen = {component.name for component in select(catalogue, names)}
    return [component for component in restore_order(catalogue) if component.name in chosen]
