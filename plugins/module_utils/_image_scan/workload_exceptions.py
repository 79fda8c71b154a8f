# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: whole-workload exceptions to the gate, as Kyverno PolicyExceptions.

A PolicyException has no expiry of its own (kyverno.io/v2): the expiry lives in the inventory, an
expired entry is not rendered, and the role prunes what it no longer renders (by label), so an
exception ends at the first run after its date. The exception covers the workload and its Pods
(``<name>`` and ``<name>-*``), every rule of the policy including the autogen ones.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import (
    check_entry_keys,
    expiry_and_reason,
)
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.policy_manifests import (
    MANAGED_LABELS,
    POLICY_NAME,
    RULE_NAMES,
)

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
EXCEPTION_LABEL = "atlas.hardening/image-scan-exception"


@dataclass(frozen=True)
class WorkloadException:
    namespace: str
    kind: str
    name: str
    expires: datetime.datetime
    reason: str

    @property
    def object_name(self) -> str:
        return f"image-scan-{self.kind.lower()}-{self.name}"[:253]

    def covers(self, namespace: str, kind: str, name: str) -> bool:
        return (namespace, kind, name) == (self.namespace, self.kind, self.name)

    def as_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "kind": self.kind, "name": self.name, "reason": self.reason,
                "expires": self.expires.strftime("%Y-%m-%dT%H:%M:%SZ")}


def parse_workload_exceptions(entries: list[Any], now: datetime.datetime, max_days: int
                              ) -> tuple[list[WorkloadException], list[WorkloadException]]:
    """(active, expired) from ``kyverno_image_scan_workload_exceptions``."""
    active: list[WorkloadException] = []
    expired: list[WorkloadException] = []
    for index, entry in enumerate(entries or []):
        where = f"kyverno_image_scan_workload_exceptions[{index}]"
        entry = check_entry_keys(entry, where, ("namespace", "kind", "name", "expires", "reason"))
        kind = str(entry.get("kind") or "")
        if kind not in WORKLOAD_KINDS:
            raise HardeningError(f"{where}: kind {kind!r} is not one of {', '.join(WORKLOAD_KINDS)}.")
        namespace, name = str(entry.get("namespace") or ""), str(entry.get("name") or "")
        if not _DNS_LABEL.match(namespace) or not name:
            raise HardeningError(f"{where}: namespace and name are required (got {namespace!r}, {name!r}).")
        expires, reason = expiry_and_reason(entry, f"{where} ({namespace}/{kind}/{name})", now, max_days)
        item = WorkloadException(namespace, kind, name, expires, reason)
        (expired if now >= expires else active).append(item)
    return active, expired


def policy_exception(item: WorkloadException, api_version: str, exception_namespace: str) -> dict[str, Any]:
    rules = list(RULE_NAMES)
    kinds = ["Pod"] if item.kind == "Pod" else [item.kind, "Pod"]
    return {
        "apiVersion": api_version, "kind": "PolicyException",
        "metadata": {"name": item.object_name, "namespace": exception_namespace,
                     "labels": dict(MANAGED_LABELS, **{EXCEPTION_LABEL: "true"}),
                     "annotations": {"atlas.hardening/expires": item.expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                     "atlas.hardening/reason": item.reason}},
        "spec": {"exceptions": [{"policyName": POLICY_NAME, "ruleNames": rules}],
                 "match": {"any": [{"resources": {"kinds": kinds, "namespaces": [item.namespace],
                                                  "names": [item.name, f"{item.name}-*"]}}]}},
    }
