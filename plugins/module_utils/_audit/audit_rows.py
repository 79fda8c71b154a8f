# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: every row of the production-readiness audit, judged from evidence.

Each judge gets the facts read from one cluster (:class:`AuditInputs`) and returns a status (done,
partial, missing, unknown), the evidence that decided it (objects and values, never a secret), and what
to run to fix it. A row the cluster cannot show (how deployments are made, the documentation's
language) is ``unknown`` and marked not observable: it is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._audit.workload_matching import (
    ref,
    selector_matches,
    workloads_of,
)
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import parse_rfc3339
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.policy_manifests import (
    DENY_RULE,
    UNSCANNED_RULE,
)

STATUSES = ("done", "partial", "missing", "unknown")
SMTP_VARIABLE = re.compile(r"SMTP|MAIL", re.IGNORECASE)
SLO_RECORD = re.compile(r"(^|[:_])(slo|sli)([:_]|$)", re.IGNORECASE)
SLO_ALERT = re.compile(r"slo|errorbudget", re.IGNORECASE)
ROLLOUTS_CRD = "rollouts.argoproj.io"
APPLICATION_SETS_CRD = "applicationsets.argoproj.io"
DAY = 86400


@dataclass
class AuditSettings:
    """What the audit looks for (the role's variables, validated by its argument specs)."""

    pdb_components: Sequence[str] = ("postgresql", "redis", "keycloak", "argocd", "kyverno", "vault", "envoy")
    hpa_applications: Sequence[str] = ("mattermost", "nextcloud", "flipt", "ecrin")
    probe_applications: Sequence[str] = ("mattermost", "nextcloud", "gitea", "vault")
    smtp_applications: Sequence[str] = ("mattermost", "nextcloud", "gitea")
    logging_components: Sequence[str] = ("loki", "alloy")
    dashboard_topics: Sequence[str] = ("overview", "loki", "keycloak", "postgresql")
    default_dashboard_prefixes: Sequence[str] = ("kube-prometheus-stack-",)
    rotation_max_age_days: int = 90
    rotation_cronjob: Mapping[str, str] = field(default_factory=lambda: {"namespace": "keycloak",
                                                                         "name": "keycloak-admin-rotation"})
    drill_cronjob: Mapping[str, str] = field(default_factory=lambda: {"namespace": "velero",
                                                                      "name": "disaster-recovery-drill"})
    drill_max_age_days: int = 35

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> AuditSettings:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"Unknown audit settings: {', '.join(unknown)} (known: {', '.join(sorted(known))}).")
        return cls(**options)


@dataclass
class AuditInputs:
    """What the role read from one cluster: the platform_audit_info result and the other info modules'
    results (a failed or skipped task's result is kept as such: its row says why it is unknown)."""

    evidence: Mapping[str, Any]
    now: datetime
    image_scan: Mapping[str, Any] | None = None
    backups: Mapping[str, Any] | None = None
    alertmanager: Mapping[str, Any] | None = None
    sealed_secrets_controller: Mapping[str, Any] | None = None
    sealed_secrets_keys: Mapping[str, Any] | None = None
    rotation: Mapping[str, Any] | None = None
    dr_catalogue: Sequence[Mapping[str, Any]] | None = None  # None: not given (the backups' result decides)

    def listed(self, name: str) -> list[Any] | None:
        return self.evidence.get(name)

    def crds(self) -> set[str]:
        return set(self.evidence.get("custom_resource_definitions") or [])


@dataclass
class Row:
    id: str
    title: str
    section: str  # "done" (the audit's table of done items) or "backlog"
    priority: str  # foundation (the done table), high, medium, low
    fix: str
    status: str = "unknown"
    evidence: list[str] = field(default_factory=list)
    not_observable: bool = False
    audit_number: int | None = None
    in_original_audit: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "section": self.section, "priority": self.priority,
                "status": self.status, "evidence": self.evidence, "fix": self.fix,
                "not_observable": self.not_observable, "audit_number": self.audit_number,
                "in_original_audit": self.in_original_audit}


Judge = Callable[[Row, AuditInputs, AuditSettings], None]


def _from_counts(row: Row, good: int, checked: int, unknown: int = 0) -> None:
    """done when every checked item is good, partial when some are, missing when none is; unknown when
    nothing could be checked."""
    if checked == 0:
        row.status = "unknown"
    elif good == checked and unknown == 0:
        row.status = "done"
    elif good:
        row.status = "partial"
    else:
        row.status = "missing"


def _failed(result: Mapping[str, Any] | None) -> str | None:
    """Why an info task gave nothing usable, or None when it did."""
    if result is None:
        return "not read"
    if result.get("skipped"):
        return "not read (" + str(result.get("skip_reason") or "task skipped") + ")"
    if result.get("failed"):
        return str(result.get("msg") or "the task failed").strip()
    return None


def _age_days(now: datetime, when: str | None) -> float | None:
    moment = parse_rfc3339(when) if when else None
    if moment is None:
        return None
    return (now - moment).total_seconds() / DAY


# ---- the audit's table of done items ------------------------------------------------------------


def vault_auto_unseal(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    seal = inputs.evidence.get("vault_seal")
    if not seal:
        row.evidence.append("Vault not asked: no Vault URL for this cluster (atlas_hardening_vault_url)")
        return
    if seal.get("error"):
        row.evidence.append(f"Vault seal status unreadable: {seal['error']}")
        return
    kind = seal.get("type") or "unknown"
    row.evidence.append(f"Vault {seal.get('url', '')} sys/seal-status: type {kind}, sealed {seal.get('sealed')}, "
                        f"version {seal.get('version', '?')}")
    row.status = "missing" if kind == "shamir" else "done"
    if kind == "shamir":
        row.evidence.append("Shamir seal: every restart needs unseal keys typed in by people")


PodKinds = tuple[str, ...]
CONTROLLERS: PodKinds = ("Deployment", "StatefulSet")
ALL_WORKLOADS: PodKinds = ("Deployment", "StatefulSet", "DaemonSet")


def _per_application(row: Row, inputs: AuditInputs, applications: Sequence[str], kinds: PodKinds,
                     judge_one: Callable[[str, list[Mapping[str, Any]]], bool]) -> None:
    """A row over a list of applications: each one's workloads judged by ``judge_one`` (which adds its
    evidence and says whether the application is good); an application without workloads is unknown."""
    workloads = inputs.listed("workloads") or []
    good = checked = 0
    for application in applications:
        found = workloads_of(application, workloads, kinds)
        if not found:
            row.evidence.append(f"{application}: no {' or '.join(kinds) if kinds != ALL_WORKLOADS else 'workload'} "
                                "found")
            continue
        checked += 1
        good += judge_one(application, found)
    _from_counts(row, good, checked, len(applications) - checked)


def pod_disruption_budgets(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    budgets = inputs.listed("pod_disruption_budgets")
    if budgets is None:
        row.evidence.append("policy/v1 PodDisruptionBudget is not served")
        return

    def covered(component: str, found: list[Mapping[str, Any]]) -> bool:
        uncovered = []
        for workload in found:
            budget = next((b for b in budgets if b["namespace"] == workload["namespace"] and selector_matches(
                b["match_labels"], b["match_expressions"], workload["pod_labels"])), None)
            if budget is None:
                uncovered.append(ref(workload))
                continue
            limit = (f"minAvailable {budget['min_available']}" if budget["min_available"] is not None
                     else f"maxUnavailable {budget['max_unavailable']}")
            row.evidence.append(f"{component}: {ref(workload)} covered by PodDisruptionBudget "
                                f"{budget['namespace']}/{budget['name']} ({limit})")
        if uncovered:
            row.evidence.append(f"{component}: no PodDisruptionBudget selects {', '.join(uncovered)}")
        return not uncovered

    _per_application(row, inputs, settings.pdb_components, CONTROLLERS, covered)


def centralized_logging(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    workloads = inputs.listed("workloads") or []
    good = 0
    for component in settings.logging_components:
        found = workloads_of(component, workloads)
        if not found:
            row.evidence.append(f"{component}: no workload found")
            continue
        ready = [w for w in found if w["ready"] >= max(1, w["desired"])]
        row.evidence.extend(f"{component}: {ref(w)} {w['ready']}/{w['desired']} ready" for w in found)
        good += bool(ready)
    _from_counts(row, good, len(settings.logging_components))
    if row.status == "unknown":
        row.status = "missing"


def horizontal_pod_autoscalers(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    autoscalers = inputs.listed("horizontal_pod_autoscalers")
    if autoscalers is None:
        row.evidence.append("autoscaling/v2 HorizontalPodAutoscaler is not served")
        return

    def scaled(application: str, found: list[Mapping[str, Any]]) -> bool:
        pairs = [(w, h) for w in found for h in autoscalers
                 if (h["namespace"], h["target_kind"], h["target_name"]) == (w["namespace"], w["kind"], w["name"])]
        row.evidence.extend(f"{application}: {ref(w)} scaled by HorizontalPodAutoscaler {h['namespace']}/{h['name']} "
                            f"({h['min_replicas']}-{h['max_replicas']} replicas)" for w, h in pairs)
        if not pairs:
            row.evidence.append(f"{application}: no HorizontalPodAutoscaler targets {', '.join(map(ref, found))}")
        return bool(pairs)

    _per_application(row, inputs, settings.hpa_applications, CONTROLLERS, scaled)


def smtp_relay(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    def configured(application: str, found: list[Mapping[str, Any]]) -> bool:
        names = sorted({f"{ref(w)} {name}" for w in found for c in w["containers"]
                        for name in c["env_names"] + c["env_from"] if SMTP_VARIABLE.search(name)})
        row.evidence.append(f"{application}: SMTP settings in " + ", ".join(names[:3]) if names
                            else f"{application}: no SMTP or mail variable in {', '.join(map(ref, found))}")
        return bool(names)

    _per_application(row, inputs, settings.smtp_applications, CONTROLLERS, configured)
    row.evidence.append("keycloak: its SMTP server is a realm setting in Keycloak's database, not observable "
                        "from the cluster")


def health_probes(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    def probed(application: str, found: list[Mapping[str, Any]]) -> bool:
        lacking = [f"{ref(w)} container {c['name']} has no "
                   + " and no ".join(p for p, has in (("readinessProbe", c["readiness_probe"]),
                                                      ("livenessProbe", c["liveness_probe"])) if not has)
                   for w in found for c in w["containers"] if not (c["readiness_probe"] and c["liveness_probe"])]
        row.evidence.extend(f"{application}: {text}" for text in lacking)
        if not lacking:
            row.evidence.append(f"{application}: readiness and liveness probes on every container of "
                                + ", ".join(map(ref, found)))
        return not lacking

    _per_application(row, inputs, settings.probe_applications, ALL_WORKLOADS, probed)


def progressive_delivery(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    if ROLLOUTS_CRD not in inputs.crds():
        row.status = "missing"
        row.evidence.append(f"CustomResourceDefinition {ROLLOUTS_CRD} absent: Argo Rollouts is not installed")
        return
    controllers = workloads_of("argo-rollouts", inputs.listed("workloads") or [], ("Deployment",))
    ready = [w for w in controllers if w["ready"] >= 1]
    row.evidence.append(f"CustomResourceDefinition {ROLLOUTS_CRD} present")
    row.evidence.extend(f"controller {ref(w)} {w['ready']}/{w['desired']} ready" for w in controllers)
    row.status = "done" if ready else "partial"
    if not ready:
        row.evidence.append("no ready argo-rollouts controller Deployment")


# ---- the backlog ---------------------------------------------------------------------------------


def not_observable(what: str) -> Judge:
    def judge(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
        row.not_observable = True
        row.evidence.append(f"not observable from the cluster: {what}")
        if row.id == "cicd-gitops" and APPLICATION_SETS_CRD in inputs.crds():
            row.evidence.append(f"for information: CustomResourceDefinition {APPLICATION_SETS_CRD} is present")
    return judge


def image_scan_gate(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    policy = inputs.evidence.get("image_scan_policy")
    if policy is None:
        row.status = "missing"
        row.evidence.append("Kyverno is not installed (kyverno.io/v1 ClusterPolicy is not served)")
        return
    if not policy.get("exists"):
        row.status = "missing"
        row.evidence.append("ClusterPolicy verify-image-scan absent")
        return
    rule_actions = policy.get("rule_actions") or {}
    # The rules that refuse vulnerable images decide; the rule for images without a report warns by design.
    deny_actions = {action for name, action in rule_actions.items() if DENY_RULE in name}
    overrides = [f"{o['action']} in {', '.join(o['namespaces'])}" for o in policy.get("overrides") or []]
    row.evidence.append(f"ClusterPolicy verify-image-scan: {len(rule_actions)} rules, vulnerable images "
                        f"{'/'.join(sorted(deny_actions)) or 'not checked'}, images without a report "
                        + "/".join(sorted({a for n, a in rule_actions.items() if UNSCANNED_RULE in n}) or ["-"])
                        + (f", overrides: {'; '.join(overrides)}" if overrides else "")
                        + (f", Ready {policy['ready']}" if policy.get("ready") else ""))
    enforced = deny_actions == {"Enforce"}
    if not enforced:
        row.evidence.append("Audit mode: vulnerable images are reported, not refused"
                            + (" (except in the namespaces above)" if overrides else ""))
    why = _failed(inputs.image_scan)
    refused: list[Any] = []
    if why:
        row.evidence.append(f"impact not read: {why}")
    else:
        image_scan = inputs.image_scan or {}
        refused = list(image_scan.get("refused") or [])
        names = [f"{w['namespace']}/{w['kind']}/{w['name']}" for w in refused]
        row.evidence.append(f"running workloads the policy refuses: {len(refused)}"
                            + (f" ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})" if names else ""))
        unscanned = image_scan.get("unscanned_images") or []
        if unscanned:
            row.evidence.append(f"images without a VulnerabilityReport yet: {len(unscanned)}")
    row.status = "done" if enforced and not refused and not why else "partial"


def disaster_recovery(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    if "backups.velero.io" not in inputs.crds():
        row.status = "missing"
        row.evidence.append("Velero is not installed (CustomResourceDefinition backups.velero.io absent)")
        return
    if inputs.dr_catalogue is not None and not inputs.dr_catalogue:
        row.status = "missing"
        row.evidence.append("no component catalogue (disaster_recovery_components): no RPO or RTO is defined")
        return
    why = _failed(inputs.backups)
    if why:
        row.evidence.append(f"backups not read: {why}")
        return
    components = (inputs.backups or {}).get("components") or []
    if not components:
        row.status = "missing"
        row.evidence.append("no component catalogue (disaster_recovery_components): no objective is defined")
        return
    drills = inputs.evidence.get("drill_results") or {}
    good = 0
    for component in components:
        name = component["component"]
        rpo_ok = component.get("verdict") in ("compliant", "not measured")
        text = (f"{name}: RPO objective {component.get('rpo_objective')}, achieved {component.get('achieved_rpo')} "
                f"({component.get('verdict')}")
        last = component.get("last_successful_backup") or {}
        text += f", last backup {last['name']})" if last.get("name") else ")"
        drill = drills.get(name)
        drill_ok = False
        if not drill:
            text += "; no drill recorded"
        else:
            age = _age_days(inputs.now, drill.get("finished"))
            drill_ok = (drill.get("verdict") == "passed" and age is not None and age <= settings.drill_max_age_days
                        and (drill.get("rto_seconds") or 0) <= (drill.get("rto_objective_seconds") or 0))
            text += (f"; last drill {drill.get('finished')} {drill.get('verdict')}, RTO "
                     f"{_minutes(drill.get('rto_seconds'))} (objective {_minutes(drill.get('rto_objective_seconds'))})")
            if age is not None and age > settings.drill_max_age_days:
                text += f", {int(age)} days ago (more than {settings.drill_max_age_days})"
        row.evidence.append(text)
        good += rpo_ok and drill_ok
    _from_counts(row, good, len(components))


def _minutes(seconds: Any) -> str:
    if seconds is None:
        return "?"
    return f"{int(seconds) // 60} min" if int(seconds) < 7200 else f"{int(seconds) / 3600:.1f} h"


def _cronjob(inputs: AuditInputs, where: Mapping[str, str]) -> Mapping[str, Any] | None:
    return next((c for c in inputs.listed("cronjobs") or []
                 if (c["namespace"], c["name"]) == (where["namespace"], where["name"])), None)


def _last_job(inputs: AuditInputs, where: Mapping[str, str]) -> Mapping[str, Any] | None:
    jobs = [j for j in inputs.listed("jobs") or []
            if j["namespace"] == where["namespace"] and j["cronjob"] == where["name"]]
    return max(jobs, key=lambda j: j.get("started") or "", default=None)


def _describe_schedule(row: Row, inputs: AuditInputs, where: Mapping[str, str], max_age_days: int) -> str:
    """Adds the CronJob's evidence; returns absent, not run (none yet), failing (suspended, last Job failed
    or too old) or succeeding."""
    cronjob = _cronjob(inputs, where)
    name = f"CronJob {where['namespace']}/{where['name']}"
    if cronjob is None:
        row.evidence.append(f"{name} absent")
        return "absent"
    row.evidence.append(f"{name}: schedule {cronjob['schedule']!r}" + (", suspended" if cronjob["suspend"] else ""))
    job = _last_job(inputs, where)
    if job is None:
        row.evidence.append(f"{name}: no Job has run yet")
        return "failing" if cronjob["suspend"] else "not run"
    age = _age_days(inputs.now, job.get("finished") or job.get("started"))
    row.evidence.append(f"last Job {job['name']}: {job['outcome']}, started {job.get('started')}")
    if job["outcome"] == "failed" or cronjob["suspend"] or (age is not None and age > max_age_days):
        return "failing"
    return "succeeding" if job["outcome"] == "succeeded" else "not run"


def restore_tests(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    # Restore tests are done only once one has passed: an installed CronJob proves nothing yet.
    schedule = _describe_schedule(row, inputs, settings.drill_cronjob, settings.drill_max_age_days)
    row.status = {"absent": "missing", "succeeding": "done"}.get(schedule, "partial")


def keycloak_admin_rotation(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    schedule = _describe_schedule(row, inputs, settings.rotation_cronjob, 2)
    why = _failed(inputs.rotation)
    if why:
        row.evidence.append(f"rotation state not read: {why}")
        row.status = "missing" if schedule == "absent" else "unknown"
        return
    rotation = inputs.rotation or {}
    last = rotation.get("last_rotated")
    age = _age_days(inputs.now, last)
    if last is None:
        row.evidence.append("never rotated by this collection (no rotated_at in the Vault metadata)")
        row.status = "missing" if schedule == "absent" else "partial"
        return
    fresh = age is not None and age <= settings.rotation_max_age_days
    row.evidence.append(f"last rotated {last} ({int(age or 0)} days ago, limit {settings.rotation_max_age_days}); "
                        f"next due {rotation.get('next_due')}")
    copies = list(rotation.get("copies_updated") or [])
    pending = rotation.get("action") in ("would_resume", "would_complete")
    if copies:
        row.evidence.append(f"Secret copies out of sync with Vault: {', '.join(copies)}")
    else:
        row.evidence.append("Secret copies in sync with Vault")
    if pending:
        row.evidence.append(f"a rotation is pending: {rotation.get('due_reason')}")
    row.evidence.append("drift (a password changed in Keycloak by hand) is proven by the rotation job's daily login, "
                        "not by the audit, which does not log in")
    # A CronJob installed today has not run yet: the rotation itself is what is judged then.
    row.status = ("done" if fresh and not copies and not pending and schedule in ("succeeding", "not run")
                  else "partial")


def alertmanager_ha(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    why = _failed(inputs.alertmanager)
    if why:
        row.evidence.append(f"Alertmanager not read: {why}")
        return
    alertmanager = inputs.alertmanager or {}
    expected = alertmanager.get("expected_replicas") or 0
    row.evidence.append(f"verdict {alertmanager.get('verdict')}: {alertmanager.get('summary')}")
    row.evidence.extend(f"{f.get('replica') or f.get('prometheus') or ''}: {f.get('reason')}"
                        for f in alertmanager.get("failures") or [])
    if alertmanager.get("healthy") and expected >= 2:
        row.status = "done"
    elif expected < 2:
        row.status = "missing"
    else:
        row.status = "partial"


def sealed_secrets(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    controller_why = _failed(inputs.sealed_secrets_controller)
    if controller_why:
        row.evidence.append(f"controller not read: {controller_why}")
        return
    controller = inputs.sealed_secrets_controller or {}
    if not controller.get("present"):
        row.status = "missing"
        hint = f"; {controller['adopt_hint']}" if controller.get("adopt_hint") else ""
        row.evidence.append("no Sealed Secrets controller" + hint)
        return
    healthy = bool(controller.get("healthy"))
    installed = controller.get("installed") or [{}]
    row.evidence.append(f"controller {installed[0].get('namespace')}/{installed[0].get('name')}: "
                        + ("answers /healthz" if healthy else "does not answer /healthz"))
    keys = inputs.sealed_secrets_keys or {}
    missing = list(keys.get("missing_in_vault") or [])
    if keys.get("failed") and not missing:
        row.evidence.append(f"key backup not checked: {_failed(keys)}")
        row.status = "partial"
        return
    cluster_keys = list(keys.get("cluster_keys") or [])
    if missing:
        row.evidence.append(f"keys not backed up in Vault: {', '.join(missing)}")
    else:
        row.evidence.append(f"every key backed up in Vault ({len(cluster_keys)}: {', '.join(cluster_keys)})")
    row.status = "done" if healthy and not missing and cluster_keys else "partial"


def grafana_dashboards(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    dashboards = inputs.listed("dashboards") or []
    custom = [d for d in dashboards if not any(d["name"].startswith(p) for p in settings.default_dashboard_prefixes)]
    good = 0
    for topic in settings.dashboard_topics:
        found = [d for d in custom if topic.lower() in (d["name"] + " " + " ".join(d["files"])).lower()]
        if found:
            good += 1
            row.evidence.append(f"{topic}: ConfigMap " + ", ".join(f"{d['namespace']}/{d['name']}" for d in found))
        else:
            row.evidence.append(f"{topic}: no dashboard ConfigMap (label grafana_dashboard)")
    row.evidence.append(f"{len(dashboards) - len(custom)} default kube-prometheus-stack dashboards not counted")
    _from_counts(row, good, len(settings.dashboard_topics))


def slo_sli(row: Row, inputs: AuditInputs, settings: AuditSettings) -> None:
    rules = inputs.listed("prometheus_rules")
    if rules is None:
        row.evidence.append("monitoring.coreos.com/v1 PrometheusRule is not served")
        return
    records = [(r, name) for r in rules for name in r["records"] if SLO_RECORD.search(name)]
    alerts = [(r, name) for r in rules for name in r["alerts"] if SLO_ALERT.search(name)]
    for label, found in (("recording rules", records), ("alerts", alerts)):
        if found:
            row.evidence.append(f"SLO {label}: " + ", ".join(f"{name} ({r['namespace']}/{r['name']})"
                                                             for r, name in found[:4])
                                + (f" and {len(found) - 4} more" if len(found) > 4 else ""))
        else:
            row.evidence.append(f"no SLO {label} in {len(rules)} PrometheusRules")
    row.status = "done" if records and alerts else "partial" if records or alerts else "missing"


# ---- the catalogue, in the audit's order ---------------------------------------------------------

ROW_CATALOGUE: tuple[tuple[dict[str, Any], Judge], ...] = (
    (dict(id="vault-auto-unseal", title="Vault auto-unseal (AWS KMS / GCP / Azure)", audit_number=1,
          fix="Vault's seal stanza (awskms, gcpckms, azurekeyvault): not automated by this collection"),
     vault_auto_unseal),
    (dict(id="pod-disruption-budgets", audit_number=2,
          title="PodDisruptionBudgets (PostgreSQL, Redis, Keycloak, ArgoCD, Kyverno, Vault, Envoy)",
          fix="a PodDisruptionBudget per component in its chart's values: not automated by this collection"),
     pod_disruption_budgets),
    (dict(id="centralized-logging", title="Centralized logging (Loki + Alloy)", audit_number=3,
          fix="the Loki and Alloy charts: not automated by this collection"), centralized_logging),
    (dict(id="horizontal-pod-autoscalers", audit_number=4,
          title="HorizontalPodAutoscaler (Mattermost, Nextcloud, Flipt, ECRIN)",
          fix="an HPA per application in its chart's values: not automated by this collection"),
     horizontal_pod_autoscalers),
    (dict(id="smtp-relay", title="SMTP relay (Keycloak, Mattermost, Nextcloud, Gitea)", audit_number=5,
          fix="the applications' mail settings: not automated by this collection"), smtp_relay),
    (dict(id="health-probes", title="Health probes (Mattermost, Nextcloud, Gitea, Vault)", audit_number=9,
          fix="readiness and liveness probes in the charts' values: not automated by this collection"),
     health_probes),
    (dict(id="progressive-delivery", title="Progressive delivery (Argo Rollouts)", audit_number=10,
          fix="the Argo Rollouts chart: not automated by this collection"), progressive_delivery),
    (dict(id="cicd-gitops", title="Automated CI/CD of deployments (Argo CD ApplicationSets)", priority="high",
          fix="outside this collection: Git repositories per application, Argo CD ApplicationSets"),
     not_observable("how deployments are made (manual ansible-playbook or GitOps) is not recorded in the "
                    "cluster")),
    (dict(id="image-scan-gate", title="Trivy gating: refuse vulnerable images (Kyverno verify-image-scan)",
          priority="high", fix="ansible-playbook playbooks/harden.yml --tags image-scan "
                               "(then kyverno_image_scan_failure_action: Enforce)"), image_scan_gate),
    (dict(id="disaster-recovery", title="Disaster recovery: RTO < 4 h, RPO < 1 h, runbooks, drills",
          priority="high", fix="ansible-playbook playbooks/harden.yml --tags dr; "
                               "ansible-playbook playbooks/disaster-recovery.yml -e disaster_recovery_action=drill"),
     disaster_recovery),
    (dict(id="restore-tests", title="Automated backup restore tests (monthly CronJob)", priority="medium",
          fix="ansible-playbook playbooks/harden.yml --tags dr with atlas_hardening_items including dr-drill"),
     restore_tests),
    (dict(id="keycloak-admin-rotation", title="Keycloak admin password rotation (90 days, Kubernetes and Vault)",
          priority="medium", fix="ansible-playbook playbooks/harden.yml --tags rotation; "
                                 "ansible-playbook playbooks/rotate-secrets.yml"), keycloak_admin_rotation),
    (dict(id="alertmanager-ha", title="Alertmanager HA (3 replicas)", priority="medium",
          fix="ansible-playbook playbooks/harden.yml --tags alertmanager"), alertmanager_ha),
    (dict(id="sealed-secrets", title="Sealed Secrets: controller up, every key backed up", priority="medium",
          in_original_audit=False, fix="ansible-playbook playbooks/harden.yml --tags sealed-secrets; "
                                       "ansible-playbook playbooks/backup-sealed-secrets-keys.yml"),
     sealed_secrets),
    (dict(id="grafana-dashboards", title="Custom Grafana dashboards (overview, Loki, Keycloak, PostgreSQL)",
          priority="low", fix="dashboard ConfigMaps labelled grafana_dashboard: not automated by this collection"),
     grafana_dashboards),
    (dict(id="slo-sli", title="SLO/SLI: recording rules and alerts", priority="low",
          fix="PrometheusRules with SLI recording rules and SLO alerts: not automated by this collection"),
     slo_sli),
    (dict(id="english-documentation", title="Documentation in English", priority="low",
          fix="outside this collection: translate the VitePress pages"),
     not_observable("the platform's documentation is not in the cluster")),
)


def audit_rows(inputs: AuditInputs, settings: AuditSettings) -> list[Row]:
    rows = []
    for attributes, judge in ROW_CATALOGUE:
        section = "done" if attributes.get("audit_number") else "backlog"
        row = Row(section=section, **{"priority": "foundation", **attributes})
        judge(row, inputs, settings)
        rows.append(row)
    return rows
