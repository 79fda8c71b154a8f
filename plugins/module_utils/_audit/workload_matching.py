# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: which workloads are an application's, and which selectors cover them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def workloads_of(application: str, workloads: Iterable[Mapping[str, Any]],
                 kinds: tuple[str, ...] = ("Deployment", "StatefulSet", "DaemonSet")) -> list[Mapping[str, Any]]:
    """The workloads named for ``application``: by a name label (app.kubernetes.io/name, ...) or by
    their own name (``keycloak``, ``argocd-server``)."""
    wanted = application.lower()
    found = []
    for workload in workloads:
        if workload["kind"] not in kinds:
            continue
        name = str(workload["name"]).lower()
        labels = {str(value).lower() for value in (workload.get("labels") or {}).values()}
        if wanted in labels or name == wanted or name.startswith(wanted + "-"):
            found.append(workload)
    return found


def selector_matches(match_labels: Mapping[str, str], match_expressions: Iterable[Mapping[str, Any]],
                     labels: Mapping[str, str]) -> bool:
    """A LabelSelector against labels, as the API server evaluates it (in policy/v1 an empty
    PodDisruptionBudget selector selects every pod of its namespace)."""
    expressions = list(match_expressions)
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    for expression in expressions:
        key, operator, values = str(expression.get("key")), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def ref(workload: Mapping[str, Any]) -> str:
    return f"{workload['kind']} {workload['namespace']}/{workload['name']}"
