# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the objects of the image-scan gate, rendered from its settings.

The ClusterPolicy ``verify-image-scan`` holds two rules over every container of a Pod (and, through
autogen, of the pod controllers): ``deny-fixable-vulnerabilities`` and ``unscanned-images``, and the
same two for the containers ``kubectl debug`` adds (``Pod/ephemeralcontainers``, ``-in-debug-containers``).
Each reads one context, ``reports``: for every VulnerabilityReport its match keys and its fixable
findings of the gated severities. Where it comes from depends on what the cluster's Kyverno serves
(kyverno_capabilities.py): a GlobalContextEntry projection (1.14+; computed once per change of a
report), a GlobalContextEntry of the raw reports projected at admission (1.13), or an apiCall per
admission (older), whose failure becomes a denial in Enforce, never a silent pass.

The JMESPath below reduces image names exactly as image_references.py does, and the messages are
those of admission_verdicts.py: the unit tests evaluate this policy with an independent JMESPath
implementation and compare its verdicts with the Python ones on generated cases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.admission_verdicts import (
    DENIAL_MESSAGE,
    UNSCANNED_MESSAGE,
)
from ansible_collections.atlas.hardening.plugins.module_utils._image_scan.gate_settings import GateSettings

POLICY_NAME = "verify-image-scan"
DENY_RULE = "deny-fixable-vulnerabilities"
UNSCANNED_RULE = "unscanned-images"
EPHEMERAL_SUFFIX = "-in-debug-containers"
RULE_NAMES = tuple(prefix + rule + suffix for rule in (DENY_RULE, UNSCANNED_RULE) for suffix in ("", EPHEMERAL_SUFFIX)
                   for prefix in (("", "autogen-", "autogen-cronjob-") if not suffix else ("",)))
GLOBAL_ENTRY = "trivy-vulnerability-reports"
PROJECTION = "fixable"
REPORTS_PATH = "/apis/aquasecurity.github.io/v1alpha1/vulnerabilityreports"
AUTOGEN_CONTROLLERS = "Deployment,StatefulSet,DaemonSet,Job,CronJob"
MANAGED_LABELS = {"app.kubernetes.io/name": "image-scan-gate", "app.kubernetes.io/managed-by": "atlas.hardening"}
CONTEXT_MODES = ("global_projection", "global_resource", "api_call")
# What an apiCall's failure yields: one entry that matches every image, so the failure is a denial
# that says so (reported only, in Audit) rather than every image looking unscanned.
UNAVAILABLE_ID = "REPORTS-UNAVAILABLE"
UNAVAILABLE = [{"unavailable": True, "keys": [], "cves": [{"id": UNAVAILABLE_ID, "text": (
    "the gate could not read Trivy Operator's VulnerabilityReports, so the image could not be checked")}]}]


def _normalised(key: str) -> str:
    """JMESPath: ``key`` with Docker Hub spelled docker.io and no library/ before a one-segment name."""
    return (r"regex_replace_all('^docker\.io/library/([^/]+)$', regex_replace_all('^index\.docker\.io/', "
            f"{key}, 'docker.io/'), 'docker.io/${{1}}')")


def report_projection(severities: tuple[str, ...]) -> str:
    """JMESPath over an array of VulnerabilityReports: ``[{keys: [...], cves: [{id, text}]}]``."""
    server = "report.registry.server || 'index.docker.io'"
    tag_key = _normalised(f"join('', [{server}, '/', report.artifact.repository, ':', report.artifact.tag])")
    digest_key = _normalised(f"join('', [{server}, '/', report.artifact.repository, '@', report.artifact.digest])")
    gated = json.dumps(list(severities), separators=(",", ":"))
    cves = (f"(report.vulnerabilities || `[]`)[?fixedVersion && contains(`{gated}`, severity)]"
            ".{id: vulnerabilityID, text: join('', [severity, ' ', vulnerabilityID, ' in ', resource, "
            "' (fixed in ', fixedVersion, ')'])}")
    keys = (f"[report.artifact.tag && {tag_key} || '', report.artifact.digest && {digest_key} || '']"
            "[?@ != '']")
    return f"[].{{keys: {keys}, cves: {cves}}}"


def _element_context(with_findings: bool) -> list[dict[str, Any]]:
    """The per-container variables both rules use; Kyverno evaluates them in this order."""
    entries: list[dict[str, Any]] = [
        {"name": "imageKey", "variable": {"jmesPath": _normalised("image_normalize(element.image)")}},
        {"name": "repositoryKey", "variable": {"jmesPath": "regex_replace_all('[:@][^/]*$', imageKey, '')"}},
        {"name": "matching", "variable": {"jmesPath": "reports[?contains(keys, '{{ imageKey }}') || unavailable]",
                                          "default": []}},
    ]
    if with_findings:
        entries += [
            {"name": "exceptedIds", "variable": {"default": [], "jmesPath": (
                "exceptions[?time_before(time_now_utc(), expires) && (images == `[]` || contains(images, "
                "'{{ imageKey }}') || contains(images, '{{ repositoryKey }}')) && (namespaces == `[]` || "
                "contains(namespaces, '{{ request.namespace || '' }}'))].id")}},
            {"name": "fixableTexts", "variable": {"default": [], "jmesPath": (
                "matching[].cves[] | [?!contains(`{{ exceptedIds }}`, id)].text")}},
            # Reports of one image repeat its findings: object keys make them unique, sort orders them.
            {"name": "fixable", "variable": {"default": [], "jmesPath": (
                "sort(keys(object_from_lists(fixableTexts, fixableTexts)))")}},
        ]
    else:
        entries.append({"name": "scannedElsewhere", "variable": {"default": [], "jmesPath": (
            "elsewhere[?starts_with('{{ repositoryKey }}/', join('', [@, '/']))]")}})
    return entries


def _reports_context(mode: str, severities: tuple[str, ...]) -> dict[str, Any]:
    if mode == "global_projection":
        return {"name": "reports", "globalReference": {"name": f"{GLOBAL_ENTRY}.{PROJECTION}", "jmesPath": "@"}}
    if mode == "global_resource":
        return {"name": "reports", "globalReference": {"name": GLOBAL_ENTRY, "jmesPath": report_projection(severities)}}
    return {"name": "reports", "apiCall": {"urlPath": REPORTS_PATH, "method": "GET",
                                           "jmesPath": "items" + report_projection(severities), "default": UNAVAILABLE}}


def _message(template: str, limit: int) -> str:
    return template.format(container="{{ element.name }}", image="{{ element.image }}",
                           count="{{ length(fixable) }}", first=f"{{{{ join(', ', fixable[:{limit}]) }}}}")


@dataclass(frozen=True)
class Rollout:
    """``failure_action`` everywhere, and Enforce in ``enforce_namespaces`` (the first ones to gate)."""

    failure_action: str = "Audit"
    enforce_namespaces: tuple[str, ...] = ()
    failure_policy: str = "auto"  # auto: Fail when anything is enforced, Ignore while only auditing
    timeout_seconds: int = 10

    @property
    def enforcing(self) -> bool:
        return self.failure_action == "Enforce" or bool(self.enforce_namespaces)

    @property
    def webhook_failure_policy(self) -> str:
        if self.failure_policy != "auto":
            return self.failure_policy
        return "Fail" if self.enforcing else "Ignore"


def check_rollout(rollout: Rollout) -> None:
    if rollout.failure_action not in ("Audit", "Enforce"):
        raise HardeningError(f"kyverno_image_scan_failure_action must be Audit or Enforce (got {rollout.failure_action!r}).")
    if rollout.failure_policy not in ("auto", "Fail", "Ignore"):
        raise HardeningError("kyverno_image_scan_failure_policy must be auto, Fail or Ignore "
                             f"(got {rollout.failure_policy!r}).")
    if not 1 <= rollout.timeout_seconds <= 30:
        raise HardeningError("kyverno_image_scan_timeout_seconds must be between 1 and 30 (Kyverno's bounds).")


def _validate(rule_action: str, rollout: Rollout, message: str, foreach: dict[str, Any]) -> dict[str, Any]:
    validate: dict[str, Any] = {"failureAction": rule_action, "message": message, "foreach": [foreach]}
    if rule_action == "Audit" and rollout.enforce_namespaces:
        validate["failureActionOverrides"] = [{"action": "Enforce", "namespaces": list(rollout.enforce_namespaces)}]
    return validate


def cluster_policy(settings: GateSettings, rollout: Rollout, mode: str) -> dict[str, Any]:
    if mode not in CONTEXT_MODES:
        raise HardeningError(f"unknown context mode {mode!r} (one of {', '.join(CONTEXT_MODES)}).")
    check_rollout(rollout)
    exceptions = [{"id": item.vulnerability_id, "expires": item.expires_text, "images": list(item.images),
                   "namespaces": list(item.namespaces)} for item in settings.exceptions]
    exclude = {"any": [{"resources": {"namespaces": list(settings.excluded_namespaces)}}]}
    # Background scans (the PolicyReports that show what Enforce would refuse) have no operation.
    preconditions = {"all": [{"key": "{{ request.operation || 'BACKGROUND' }}", "operator": "AnyIn",
                              "value": ["CREATE", "UPDATE", "BACKGROUND"]}]}
    limit = settings.message_vulnerability_limit
    unscanned_action = rollout.failure_action if settings.unscanned_action == "deny" else "Audit"
    rules = []
    # A Pod (and, through autogen, its controllers); then the containers kubectl debug adds, which reach
    # admission as the pods/ephemeralcontainers subresource and match only as Pod/ephemeralcontainers.
    for suffix, kind, containers in (
            ("", "Pod", "request.object.spec.[initContainers, ephemeralContainers, containers][]"),
            (EPHEMERAL_SUFFIX, "Pod/ephemeralcontainers", "request.object.spec.ephemeralContainers[]")):
        match = {"any": [{"resources": {"kinds": [kind]}}]}
        rules.append({
            "name": DENY_RULE + suffix, "match": match, "exclude": exclude, "preconditions": preconditions,
            "context": [_reports_context(mode, settings.severities),
                        {"name": "exceptions", "variable": {"value": exceptions}}],
            "validate": _validate(rollout.failure_action, rollout, _message(DENIAL_MESSAGE, limit), {
                "list": containers, "context": _element_context(True),
                "deny": {"conditions": {"any": [{"key": "{{ length(fixable) }}", "operator": "GreaterThan", "value": 0}]}}}),
        })
        rules.append({
            "name": UNSCANNED_RULE + suffix, "match": match, "exclude": exclude, "preconditions": preconditions,
            "context": [_reports_context(mode, settings.severities),
                        {"name": "elsewhere", "variable": {"value": list(settings.scanned_elsewhere)}}],
            "validate": _validate(unscanned_action, rollout if settings.unscanned_action == "deny" else Rollout(),
                                  _message(UNSCANNED_MESSAGE, limit), {
                                      "list": containers, "context": _element_context(False),
                                      "deny": {"conditions": {"all": [
                                          {"key": "{{ length(matching) }}", "operator": "Equals", "value": 0},
                                          {"key": "{{ length(scannedElsewhere) }}", "operator": "Equals", "value": 0}]}}}),
        })
    return {
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
        "metadata": {"name": POLICY_NAME, "labels": dict(MANAGED_LABELS), "annotations": {
            "pod-policies.kyverno.io/autogen-controllers": AUTOGEN_CONTROLLERS,
            "policies.kyverno.io/title": "Refuse images with fixable vulnerabilities",
            "policies.kyverno.io/category": "Security",
            "policies.kyverno.io/severity": "high",
            "policies.kyverno.io/subject": "Pod",
            "policies.kyverno.io/description": (
                f"Refuses a Pod whose container image has a {'/'.join(settings.severities)} vulnerability with a "
                "fix in a Trivy Operator VulnerabilityReport, unless an unexpired exception covers it."),
        }},
        "spec": {"background": True, "emitWarning": True,
                 "webhookConfiguration": {"failurePolicy": rollout.webhook_failure_policy,
                                          "timeoutSeconds": rollout.timeout_seconds},
                 "rules": rules},
    }


def global_context_entry(mode: str, severities: tuple[str, ...], api_version: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"kubernetesResource": {"group": "aquasecurity.github.io", "version": "v1alpha1",
                                                   "resource": "vulnerabilityreports"}}
    if mode == "global_projection":
        spec["projections"] = [{"name": PROJECTION, "jmesPath": report_projection(severities)}]
    return {"apiVersion": api_version, "kind": "GlobalContextEntry",
            "metadata": {"name": GLOBAL_ENTRY, "labels": dict(MANAGED_LABELS)}, "spec": spec}


def reader_cluster_role() -> dict[str, Any]:
    """What Kyverno's admission, background and reports controllers aggregate (each keeps its own
    global context): read VulnerabilityReports, nothing else."""
    labels = dict(MANAGED_LABELS)
    for controller in ("admission", "background", "reports"):
        labels[f"rbac.kyverno.io/aggregate-to-{controller}-controller"] = "true"
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "kyverno:atlas-image-scan:vulnerabilityreports", "labels": labels},
            "rules": [{"apiGroups": ["aquasecurity.github.io"], "resources": ["vulnerabilityreports"],
                       "verbs": ["get", "list", "watch"]}]}


def gate_manifests(settings: GateSettings, rollout: Rollout, mode: str, global_entry_api_version: str = "",
                   workload_exceptions: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Everything the role applies, in dependency order (the policy reads the entry and needs the role)."""
    manifests = [reader_cluster_role()]
    if mode != "api_call":
        if not global_entry_api_version:
            raise HardeningError("a GlobalContextEntry mode needs the served kyverno.io version.")
        manifests.append(global_context_entry(mode, settings.severities, global_entry_api_version))
    manifests.append(cluster_policy(settings, rollout, mode))
    manifests.extend(workload_exceptions or [])
    return manifests
