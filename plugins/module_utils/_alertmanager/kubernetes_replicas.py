# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the Kubernetes side of an Alertmanager cluster run by prometheus-operator.

- Find the replicas of an ``Alertmanager`` resource (monitoring.coreos.com/v1): its expected
  replica count, the pods of its StatefulSet ``alertmanager-<name>``, and for each pod a client
  that reaches the web port through the API server's pod proxy (no network path from the Ansible
  host to the pods is needed, only RBAC on ``pods/proxy``).
- Check that every ``Prometheus`` resource that sends alerts to this Alertmanager does so through a
  Service whose selector covers every replica: prometheus-operator then configures endpoint
  discovery, and Prometheus sends each alert to each replica. Alerts are not replicated between
  Alertmanager peers, so a Service that selects one pod, a Service without selector (a VIP) or a
  static URL loses alerts when that one replica is down.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.cluster import AlertmanagerClusterError
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.replicas import (
    Replica,
    ReplicaClient,
    ReplicaRequestError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import KubernetesConnection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import (
    KubernetesApiError,
    KubernetesAuthError,
    KubernetesError,
    KubernetesForbiddenError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects, ObjectRef

MONITORING_API_VERSION = "monitoring.coreos.com/v1"
DEFAULT_WEB_PORT = 9093
DEFAULT_MESH_PORT = 9094


class PodProxyReplicaClient(ReplicaClient):
    """A replica reached through ``/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy``."""

    def __init__(self, connection: KubernetesConnection, namespace: str, pod: str, port: int) -> None:
        self.connection = connection
        self.base = "/api/v1/namespaces/%s/pods/%s:%d/proxy" % (quote(namespace, safe=""), quote(pod, safe=""), port)
        self.description = "the API server's pod proxy (%s/%s port %d)" % (namespace, pod, port)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self.connection.request(method, self.base + path, body=body).data
        except (KubernetesAuthError, KubernetesForbiddenError):
            raise  # credentials or RBAC: the whole run is concerned, not one replica
        except KubernetesApiError as exc:
            raise ReplicaRequestError("%s %s through the pod proxy answered %d %s%s" % (
                method, path, exc.status, exc.reason or "error",
                ": " + exc.api_message if exc.api_message else ""), exc.status) from None
        except KubernetesError as exc:
            raise ReplicaRequestError(str(exc)) from None


class AlertmanagerReplicas:
    """An Alertmanager resource and the replicas found for it."""

    def __init__(self, namespace: str, name: str, resource: dict[str, Any], expected: int,
                 replicas: list[Replica], missing: list[str], pods: list[dict[str, Any]],
                 statefulset_found: bool) -> None:
        self.namespace = namespace
        self.name = name
        self.resource = resource
        self.expected = expected
        self.replicas = replicas
        self.missing = missing
        self.pods = pods
        self.statefulset_found = statefulset_found

    def to_dict(self) -> dict[str, Any]:
        spec = self.resource.get("spec") or {}
        return {"namespace": self.namespace, "name": self.name, "replicas": self.expected,
                "statefulset": "alertmanager-%s" % self.name, "statefulset_found": self.statefulset_found,
                "pods": [pod["metadata"]["name"] for pod in self.pods],
                "cluster_label": spec.get("clusterLabel"), "paused": bool(spec.get("paused"))}


def _ordinal(pod: dict[str, Any]) -> tuple[int, str]:
    name = pod["metadata"]["name"]
    match = re.search(r"-(\d+)$", name)
    return (int(match.group(1)) if match else 1 << 30, name)


def _container_port(pod: dict[str, Any], names: list[str], default: int) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") != "alertmanager":
            continue
        for port in container.get("ports") or []:
            if port.get("name") in names and port.get("containerPort"):
                return int(port["containerPort"])
    return default


def pod_readiness(pod: dict[str, Any]) -> tuple[bool, str]:
    """(Ready condition is True, why not in a few words)."""
    status = pod.get("status") or {}
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False, "being deleted"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return True, ""
            break
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return False, "container %s %s" % (container.get("name"), waiting["reason"])
        if not container.get("ready", True):
            return False, "container %s not ready" % container.get("name")
    return False, "phase %s" % status.get("phase", "unknown")


def _selector_string(match_labels: dict[str, str]) -> str:
    return ",".join("%s=%s" % (key, value) for key, value in sorted(match_labels.items()))


def find_replicas(objects: KubernetesObjects, namespace: str, name: str) -> AlertmanagerReplicas:
    """Read the Alertmanager resource, its StatefulSet and pods (3 requests, plus one discovery)."""
    try:
        resource = objects.get(ObjectRef(MONITORING_API_VERSION, "Alertmanager", name, namespace))
    except KubernetesError as exc:
        if "does not serve apiVersion" in str(exc):
            raise AlertmanagerClusterError(
                "The Kubernetes API server at %s does not serve monitoring.coreos.com/v1: prometheus-operator "
                "(kube-prometheus-stack) and its CRDs are not installed in this cluster." % objects.connection.server) from None
        raise
    if resource is None:
        existing = objects.list(objects.resource(MONITORING_API_VERSION, "Alertmanager"), namespace)[0]
        names = sorted(item["metadata"]["name"] for item in existing)
        raise AlertmanagerClusterError(
            "Alertmanager %s/%s not found. %s Check the resource name and namespace (kube-prometheus-stack names "
            "it <release>-kube-prometheus-stack-alertmanager, or <fullnameOverride>-alertmanager)."
            % (namespace, name, ("Alertmanagers in namespace %s: %s." % (namespace, ", ".join(names))) if names
               else "Namespace %s has no Alertmanager resource." % namespace))
    spec = resource.get("spec") or {}
    expected = spec.get("replicas")
    expected = 1 if expected is None else int(expected)  # prometheus-operator's default

    statefulset_name = "alertmanager-%s" % name
    statefulset = objects.get(ObjectRef("apps/v1", "StatefulSet", statefulset_name, namespace))
    match_labels = (((statefulset or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {
        "app.kubernetes.io/name": "alertmanager", "alertmanager": name}
    pods = objects.list(objects.resource("v1", "Pod"), namespace, label_selector=_selector_string(match_labels))[0]
    pods = sorted((pod for pod in pods if pod["metadata"]["name"].startswith(statefulset_name + "-")), key=_ordinal)

    web_port_names = [spec.get("portName") or "web"]
    replicas = []
    for pod in pods:
        pod_name = pod["metadata"]["name"]
        ready, reason = pod_readiness(pod)
        web_port = _container_port(pod, web_port_names, DEFAULT_WEB_PORT)
        mesh_port = _container_port(pod, ["mesh-tcp", "mesh"], DEFAULT_MESH_PORT)
        pod_ip = (pod.get("status") or {}).get("podIP")
        replicas.append(Replica(pod_name, PodProxyReplicaClient(objects.connection, namespace, pod_name, web_port),
                                pod_ready=ready, pod_reason=reason,
                                mesh_address="%s:%d" % (pod_ip, mesh_port) if pod_ip else None))
    found = set(pod["metadata"]["name"] for pod in pods)
    missing = ["%s-%d" % (statefulset_name, index) for index in range(expected)
               if "%s-%d" % (statefulset_name, index) not in found]
    return AlertmanagerReplicas(namespace, name, resource, expected, replicas, missing, pods, statefulset is not None)


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _selects(selector: dict[str, str], pod: dict[str, Any]) -> bool:
    labels = _labels(pod)
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _service_has_port(service: dict[str, Any], port: Any) -> bool:
    for entry in (service.get("spec") or {}).get("ports") or []:
        if str(port) in (str(entry.get("name")), str(entry.get("port"))):
            return True
    return False


def check_prometheus_alerting(objects: KubernetesObjects, target: AlertmanagerReplicas,
                              namespaces: list[str] | None = None) -> dict[str, Any]:
    """Does every Prometheus that alerts this Alertmanager reach all of its replicas?

    Returns ``prometheuses`` (per resource: its endpoints and what each reaches), ``failures``
    (``replica`` is ``prometheus <ns>/<name>``) and ``notes``.
    """
    namespaces = namespaces or [target.namespace]
    resource = objects.resource(MONITORING_API_VERSION, "Prometheus")
    prometheuses: list[dict[str, Any]] = []
    for namespace in namespaces:
        items = objects.list(resource, namespace)[0]
        prometheuses.extend(items)
    pods = target.pods
    services: dict[tuple[str, str], dict[str, Any] | None] = {}
    failures: list[dict[str, str]] = []
    notes: list[str] = []
    report: list[dict[str, Any]] = []
    reaching = 0

    for prometheus in sorted(prometheuses, key=lambda item: (item["metadata"].get("namespace", ""),
                                                             item["metadata"]["name"])):
        meta = prometheus["metadata"]
        label = "prometheus %s/%s" % (meta.get("namespace"), meta["name"])
        spec = prometheus.get("spec") or {}
        endpoints = ((spec.get("alerting") or {}).get("alertmanagers")) or []
        entry: dict[str, Any] = {"namespace": meta.get("namespace"), "name": meta["name"], "endpoints": [],
                                 "additional_alertmanager_configs": bool(spec.get("additionalAlertManagerConfigs"))}
        report.append(entry)
        for index, endpoint in enumerate(endpoints):
            service_namespace = endpoint.get("namespace") or meta.get("namespace")
            service_name = endpoint.get("name")
            key = (service_namespace, service_name)
            if key not in services:
                services[key] = objects.get(ObjectRef("v1", "Service", service_name, service_namespace))
            service = services[key]
            where = "spec.alerting.alertmanagers[%d] (Service %s/%s, port %s)" % (
                index, service_namespace, service_name, endpoint.get("port"))
            result = {"service": "%s/%s" % key, "port": endpoint.get("port"), "selects": [], "ok": False, "reason": ""}
            entry["endpoints"].append(result)
            if service is None:
                result["reason"] = "the Service does not exist"
                failures.append({"replica": label, "reason": "%s: the Service does not exist, alerts sent there go "
                                 "nowhere" % where})
                continue
            service_spec = service.get("spec") or {}
            selector = service_spec.get("selector") or {}
            if service_spec.get("type") == "ExternalName" or not selector:
                # A fixed address (VIP, external name, hand-made Endpoints): one target, whatever is behind it.
                result["reason"] = "no selector: Prometheus cannot discover the replicas behind it"
                failures.append({"replica": label, "reason": "%s has no pod selector: Prometheus sends alerts to "
                                 "one address instead of every replica" % where})
                continue
            selected = [pod["metadata"]["name"] for pod in pods
                        if service_namespace == target.namespace and _selects(selector, pod)]
            result["selects"] = selected
            if not selected:
                result["reason"] = "selects none of this Alertmanager's pods (another Alertmanager?)"
                continue
            if not _service_has_port(service, endpoint.get("port")):
                result["reason"] = "port %s is not a port of the Service" % endpoint.get("port")
                failures.append({"replica": label, "reason": "%s: port %s is not a port of the Service, so no "
                                 "endpoint is discovered" % (where, endpoint.get("port"))})
                continue
            not_selected = [pod["metadata"]["name"] for pod in pods if pod["metadata"]["name"] not in selected]
            if not_selected:
                result["reason"] = "selects %d of %d pods" % (len(selected), len(pods))
                failures.append({"replica": label, "reason": "%s selects only %s (%d of %d replicas): alerts do not "
                                 "reach %s" % (where, ", ".join(selected), len(selected), len(pods),
                                               ", ".join(not_selected))})
                continue
            result.update(ok=True, reason="endpoint discovery reaches all %d replicas" % len(pods))
            reaching += 1
        if entry["additional_alertmanager_configs"]:
            notes.append("%s also sends alerts through additionalAlertManagerConfigs (a Secret; not checked: make "
                         "sure it lists every replica, not one URL)" % label)

    if not reaching and not any(f["replica"].startswith("prometheus ") for f in failures):
        where = ", ".join(namespaces)
        if prometheuses:
            failures.append({"replica": "prometheus", "reason": "no Prometheus in namespace(s) %s sends alerts to "
                             "Alertmanager %s/%s through a Service (spec.alerting.alertmanagers)"
                             % (where, target.namespace, target.name)})
        else:
            notes.append("no Prometheus resource in namespace(s) %s: alert routing not checked" % where)
    return {"checked": bool(prometheuses), "prometheuses": report, "failures": failures, "notes": notes}
