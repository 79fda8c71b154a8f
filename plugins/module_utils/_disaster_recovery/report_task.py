# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the disaster_recovery_report module's run: build the report of a status
and/or drill, keep it in the history next to the backups (S3), and render Markdown with the past ones.

The history lives outside Velero's prefix: Velero marks a location Unavailable when its prefix holds
a folder it does not know, so a history inside it is refused before anything is written.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import rfc3339, utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.report import (
    build_report,
    render_markdown,
)
from ansible_collections.atlas.hardening.plugins.module_utils._velero.object_store import VeleroObjectStore


def history_problem(history_bucket: str, history_prefix: str, velero_bucket: str, velero_prefix: str) -> str:
    if not history_bucket or history_bucket != velero_bucket:
        return ""
    root = velero_prefix.strip("/")
    inside = not root or history_prefix.strip("/") == root or history_prefix.strip("/").startswith(root + "/")
    if not inside:
        return ""
    return (f"The history prefix {history_prefix!r} is inside Velero's location s3://{velero_bucket}/{root}: Velero "
            "would mark the location Unavailable (it refuses unknown top-level folders). Give Velero's "
            "BackupStorageLocation a prefix, or set history_bucket / history_prefix elsewhere. Nothing was written.")


def history_location(params: dict[str, Any]) -> tuple[str, str, str, str]:
    """(history bucket, Velero bucket, Velero prefix, a note when no history is kept).

    Unless given, the history goes to the bucket of Velero's default location (read from ``status``),
    beside Velero's prefix; a location without a prefix leaves no room for it there.
    """
    locations = (params["status"] or {}).get("locations") or []
    default = next((location for location in locations if location.get("default")), None) or {}
    velero_bucket = params["velero_bucket"] or str(default.get("bucket") or "")
    velero_prefix = params["velero_prefix"] if params["velero_bucket"] else str(default.get("prefix") or "")
    if params["history_bucket"] or not params["keep_history"]:
        return params["history_bucket"] or "", velero_bucket, velero_prefix, ""
    if not velero_bucket:
        return "", "", "", "no history kept: no backup storage location known (give status or history_bucket)"
    if not velero_prefix:
        return "", velero_bucket, velero_prefix, (
            f"no history kept: Velero's location uses the whole bucket {velero_bucket} (no prefix); set history_bucket")
    return velero_bucket, velero_bucket, velero_prefix, ""


def _given(result: Any) -> Any:
    """A registered result, or None when absent or from a skipped task (a role skipped with ``when``)."""
    return None if not result or result.get("skipped") else result


def report_task(module: HardeningModule) -> dict[str, Any]:
    params = dict(module.params, status=_given(module.params["status"]), drill=_given(module.params["drill"]))
    if params["status"] is None and params["drill"] is None:
        raise HardeningError("Give status (a velero_backup_info result) and/or drill (a velero_drill result).")
    history_bucket, velero_bucket, velero_prefix, note = history_location(params)
    problem = history_problem(history_bucket, params["history_prefix"], velero_bucket, velero_prefix)
    if problem:
        raise HardeningError(problem)
    now = utc_now()
    report = build_report(params["cluster"], rfc3339(now), params["status"], params["drill"])
    result: dict[str, Any] = {"changed": False, "report": report, "history": [], "history_key": None,
                              "history_note": note}
    if history_bucket:
        from ansible_collections.atlas.hardening.plugins.module_utils._aws.config import aws_connection

        store = VeleroObjectStore(aws_connection(module), history_bucket, "")
        prefix = f"{params['history_prefix'].strip('/')}/{params['cluster']}"
        past = store.history_documents(prefix, report["kind"], params["history_size"])
        result["history"] = [{"generated": entry.get("generated"), "passed": entry.get("passed")} for entry in past]
        key = f"{prefix}/{report['kind']}-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
        result["history_key"] = key
        if not module.check_mode:
            store.put_json(key, report)
        result["changed"] = True
        result["markdown"] = render_markdown(report, past)
    else:
        result["markdown"] = render_markdown(report, [])
    return result
