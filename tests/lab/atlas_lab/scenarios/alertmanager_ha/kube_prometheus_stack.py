"""What a kube-prometheus-stack release puts in a cluster, as far as Alertmanager HA is concerned.

The objects the chart (prometheus-community/helm-charts, chart 8x) renders with its default values for
a release named ``kube-prometheus-stack`` in ``monitoring``: the ``Alertmanager`` resource with one
replica, the Service in front of it, and the ``Prometheus`` resource that sends alerts to that Service
(which prometheus-operator turns into endpoint discovery of every Alertmanager pod). Also a values
file shaped like a team's own (comments, chart keys), for the role to update.

The lab seeds these at ``up`` so that ``make demo`` has an Alertmanager to harden; tests apply them
through the API with :func:`objects` (the Alertmanager is field-managed by ``helm``, as after
``helm install``, so the role's server-side apply must take the fields over).
"""

from __future__ import annotations

from typing import Any

RELEASE = "kube-prometheus-stack"
NAMESPACE = "monitoring"
HELM_FIELD_MANAGER = "helm"


def alertmanager_name(release: str = RELEASE) -> str:
    return f"{release}-alertmanager"


def _chart_labels(release: str, component: str) -> dict[str, str]:
    return {"app": f"kube-prometheus-stack-{component}", "app.kubernetes.io/managed-by": "Helm",
            "app.kubernetes.io/instance": release, "app.kubernetes.io/part-of": "kube-prometheus-stack",
            "release": release, "heritage": "Helm", "chart": "kube-prometheus-stack-80.0.0"}


def _helm_annotations(release: str, namespace: str) -> dict[str, str]:
    return {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace}


def objects(release: str = RELEASE, namespace: str = NAMESPACE, replicas: int = 1,
            with_prometheus: bool = True) -> list[dict[str, Any]]:
    """The chart's Alertmanager, its Service and the Prometheus that alerts it (plus the Namespace)."""
    name = alertmanager_name(release)
    metadata = {"namespace": namespace, "annotations": _helm_annotations(release, namespace)}
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager",
         "metadata": dict(metadata, name=name, labels=_chart_labels(release, "alertmanager")),
         "spec": {"image": "quay.io/prometheus/alertmanager:v0.28.1", "version": "v0.28.1",
                  "replicas": replicas, "listenLocal": False, "serviceAccountName": name,
                  "automountServiceAccountToken": True,
                  "externalUrl": f"http://{name}.{namespace}:9093", "paused": False,
                  "logFormat": "logfmt", "logLevel": "info", "retention": "120h",
                  "alertmanagerConfigSelector": {}, "alertmanagerConfigNamespaceSelector": {},
                  "routePrefix": "/", "portName": "http-web",
                  "securityContext": {"fsGroup": 2000, "runAsGroup": 2000, "runAsNonRoot": True,
                                      "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": dict(metadata, name=name,
                          labels=dict(_chart_labels(release, "alertmanager"), **{"self-monitor": "true"})),
         "spec": {"type": "ClusterIP",
                  "ports": [{"name": "http-web", "port": 9093, "targetPort": 9093, "protocol": "TCP"},
                            {"name": "reloader-web", "port": 8080, "targetPort": "reloader-web",
                             "appProtocol": "http"}],
                  "selector": {"app.kubernetes.io/name": "alertmanager", "alertmanager": name}}},
    ]
    if with_prometheus:
        prometheus = f"{release}-prometheus"
        items.append({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
            "metadata": dict(metadata, name=prometheus, labels=_chart_labels(release, "prometheus")),
            "spec": {"image": "quay.io/prometheus/prometheus:v3.5.0", "version": "v3.5.0", "replicas": 1,
                     "serviceAccountName": prometheus, "portName": "http-web", "retention": "10d",
                     "externalUrl": f"http://{prometheus}.{namespace}:9090", "routePrefix": "/",
                     "alerting": {"alertmanagers": [{"namespace": namespace, "name": name, "port": "http-web",
                                                     "pathPrefix": "/", "apiVersion": "v2"}]}}})
    return items


def values_file_text(release: str = RELEASE) -> str:
    """A values file as a platform team keeps it in git: comments, quotes, indented lists."""
    return f"""\
# kube-prometheus-stack values for the ATLAS platform (release {release}).
# Applied with: helm upgrade --install {release} prometheus-community/kube-prometheus-stack -f this-file

alertmanager:
  enabled: true
  ## Settings for the Alertmanager StatefulSet (prometheus-operator Alertmanager resource)
  alertmanagerSpec:
    # one replica for now
    replicas: 1
    retention: 120h
    tolerations:
      - key: "dedicated"
        operator: "Equal"
        value: 'monitoring'
        effect: NoSchedule
    podAntiAffinity: ""
    podAntiAffinityTopologyKey: kubernetes.io/hostname
  podDisruptionBudget:
    enabled: false
    minAvailable: 1

prometheus:
  prometheusSpec:
    retention: 10d   # keep ten days
"""


VALUES_FILE = "kube-prometheus-stack.values.yaml"


def install(k8s_app: Any, release: str = RELEASE, namespace: str = NAMESPACE) -> None:
    """Create the release's objects in the emulator as ``helm install`` does (create, manager ``helm``).

    Objects that exist already are left alone.
    """
    # Imported here: this module's data functions must not need the emulator.
    from atlas_lab.services.kubernetes.errors import ApiError  # pylint: disable=import-outside-toplevel
    from atlas_lab.services.kubernetes.objects import WriteOptions  # pylint: disable=import-outside-toplevel

    options = WriteOptions(field_manager=HELM_FIELD_MANAGER, field_validation="Strict", user_agent="Helm/3.19.0")
    for obj in objects(release, namespace):
        resource_type = k8s_app.registry.by_api_version_kind(obj["apiVersion"], obj["kind"])
        version = obj["apiVersion"].rpartition("/")[2]
        scope = obj["metadata"].get("namespace", "") if resource_type.namespaced else ""
        try:
            k8s_app.objects.create(resource_type, version, scope, obj, options)
        except ApiError as exc:
            if exc.code != 409:  # AlreadyExists
                raise


def seed(k8s_app: Any, lab_dir: Any, release: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, Any]:
    """Install the release in the emulator and write its values file; return the inventory
    variables that point the alertmanager_ha role at them."""
    install(k8s_app, release, namespace)
    path = lab_dir / VALUES_FILE
    if not path.exists():
        path.write_text(values_file_text(release), encoding="utf-8")
    return {"alertmanager_ha_name": alertmanager_name(release), "alertmanager_ha_namespace": namespace,
            "alertmanager_ha_helm_values_file": str(path), "alertmanager_ha_helm_release": release}
