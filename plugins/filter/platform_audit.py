# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the platform_audit role: one cluster's audit from what the role read, and the summary of
several clusters (logic in module_utils/_audit/)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.atlas.hardening.plugins.module_utils._audit.audit_report import (
    audit_inputs,
    cluster_audit,
    clusters_summary,
)
from ansible_collections.atlas.hardening.plugins.module_utils._audit.audit_rows import AuditSettings
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import utc_now


def _plain(value: Any) -> Any:
    """Templated values as plain Python data (Ansible's str subclasses become str, dates text)."""
    return json.loads(json.dumps(value, default=str))


def _audit(results: Mapping[str, Any], cluster: str, settings: Mapping[str, Any],
           minimum_score: float | None = None, fail_on_high_missing: bool = False) -> dict[str, Any]:
    try:
        parsed = AuditSettings.from_options(_plain(dict(settings)))
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError(str(exc)) from None
    return cluster_audit(str(cluster), audit_inputs(_plain(dict(results)), utc_now()), parsed,
                         None if minimum_score in (None, "") else float(minimum_score), bool(fail_on_high_missing))


def _summary(audits: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return clusters_summary(_plain(list(audits)))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"platform_audit": _audit, "platform_audit_clusters_summary": _summary}
