# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the alertmanager_ha role's line in the hardening summary.

Status: ``degraded`` when the verification did not reach the expected verdict (real runs only),
``would change`` / ``hardened`` when something changed (check mode / real run), else ``unchanged``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean


def _changed(result: Mapping[str, Any] | None) -> bool:
    return bool(result and result.get("changed"))


def alertmanager_ha_report(plan: Mapping[str, Any], settings: Mapping[str, Any], *, before: Mapping[str, Any],
                           applied: Mapping[str, Any], pdb_removed: Mapping[str, Any] | None = None,
                           values: Mapping[str, Any] | None = None,
                           verification: Mapping[str, Any] | None = None,
                           check_mode: bool = False) -> dict[str, Any]:
    verified = boolean(settings.get("verify", False), strict=False)
    changed = _changed(applied) or _changed(pdb_removed) or _changed(values)
    if verified and not check_mode and (verification or {}).get("verdict") != plan["expected_verdict"]:
        status = "degraded"
    elif changed:
        status = "would change" if check_mode else "hardened"
    else:
        status = "unchanged"
    namespace, name = settings["namespace"], settings["name"]
    details = [
        "before: {} ({})".format(before.get("verdict"), before.get("summary")),
        f"Alertmanager {namespace}/{name}: {plan['replicas']} replicas ({settings['environment']}), anti-affinity "
        f"{settings['anti_affinity']} on {settings['anti_affinity_topology_key']}, clusterLabel "
        f"{settings.get('cluster_label') or 'unset'}",
    ]
    if plan["pdb_wanted"]:
        details.append("PodDisruptionBudget {}: minAvailable {}".format(settings["pdb_name"], plan["min_available"]))
    elif boolean(settings.get("pdb_enabled", False), strict=False):
        details.append("no PodDisruptionBudget (one replica cannot keep a quorum)")
    else:
        details.append("PodDisruptionBudget not managed (alertmanager_ha_pdb_enabled=false)")
    values_file = settings.get("helm_values_file") or ""
    if values_file:
        count = len((values or {}).get("changes") or [])
        details.append(f"Helm values {values_file}: {count} key(s) {'would change' if check_mode else 'updated'}")
    else:
        details.append("Helm values NOT updated (no alertmanager_ha_helm_values_file): the next helm upgrade "
                       "reverts this")
    if verified:
        verification = verification or {}
        probe = verification.get("gossip_check") or {}
        gossip = ""
        if probe.get("passed"):
            gossip = "; gossip probe: silence reached every replica in {:.2f} s".format(max(
                (probe.get("propagation_seconds") or {0: 0.0}).values()))
        elif probe.get("reason"):
            gossip = "; gossip probe: {}".format(probe["reason"])
        details.append("verification: {}: "
                       "{}{}".format(verification.get("verdict"), verification.get("summary"), gossip))
    else:
        details.append("verification skipped (alertmanager_ha_verify=false)")
    return {"item": "alertmanager", "status": status, "details": details}
