"""Scenario of disaster recovery (roles velero_backups and dr_drill, docs/disaster-recovery.md).

Velero as its Helm chart installs it: namespace ``velero``, the server's ServiceAccount (bound to
cluster-admin, as the chart does), the credentials Secret and the default BackupStorageLocation,
whose bucket is created in moto; and the simulated Velero server
(atlas_lab.scenarios.velero_dr.velero) writing backups to and restoring them from that bucket.
``sample_application`` is the application the drills restore (tests and the demo create it).
"""

from __future__ import annotations

import time
from typing import Any

import boto3
import botocore.exceptions

from atlas_lab.scenarios.base import Scenario, ScenarioContext
from atlas_lab.scenarios.velero_dr.velero import VeleroController
from atlas_lab.services.aws import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from atlas_lab.services.kubernetes.objects import WriteOptions

NAMESPACE = "velero"
BUCKET = "atlas-velero"
LOCATION = "default"
PREFIX = "velero"


def installation(aws_url: str) -> list[dict[str, Any]]:
    """What the Velero chart (11.x, Velero 1.18) leaves that the collection depends on."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "velero-server", "namespace": NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "velero-server"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": "velero-server", "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "velero", "namespace": NAMESPACE},
         "stringData": {"cloud": f"[default]\naws_access_key_id={ACCESS_KEY_ID}\n"
                                 f"aws_secret_access_key={SECRET_ACCESS_KEY}\n"}},
        {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
         "metadata": {"name": LOCATION, "namespace": NAMESPACE},
         "spec": {"provider": "aws", "default": True, "accessMode": "ReadWrite",
                  "objectStorage": {"bucket": BUCKET, "prefix": PREFIX},
                  "credential": {"name": "velero", "key": "cloud"},
                  "config": {"region": REGION, "s3Url": aws_url, "s3ForcePathStyle": "true"}}},
    ]


def sample_application(namespace: str = "shop") -> list[dict[str, Any]]:
    """A small application of the kinds a drill restores: Deployment, Service, ConfigMap, Secret, PVC."""
    labels = {"app.kubernetes.io/name": "storefront"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "storefront", "namespace": namespace},
         "data": {"currency": "EUR", "catalogue": "spring-2026"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "storefront-db", "namespace": namespace},
         "type": "Opaque", "data": {"url": "cG9zdGdyZXM6Ly9zdG9yZWZyb250QGRiL3Nob3A="}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "storefront-media", "namespace": namespace},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "storefront", "namespace": namespace,
                                                                     "labels": labels},
         "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                        "ports": [{"containerPort": 8080}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "storefront", "namespace": namespace},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}},
    ]


def lab_catalogue() -> list[dict[str, Any]]:
    """The lab's disaster-recovery catalogue (what harden.yml --tags dr schedules): the namespaces the lab
    seeds, and the sample application's."""
    return [
        {"name": "keycloak", "namespaces": ["keycloak"], "description": "Keycloak (its database is elsewhere)"},
        {"name": "kube-prometheus-stack", "namespaces": ["monitoring"], "rpo": "4h", "schedule": "0 */2 * * *"},
        {"name": "storefront", "namespaces": ["shop"], "rto": "30m", "depends_on": ["keycloak"]},
    ]


class VeleroScenario(Scenario):
    name = "velero_dr"
    description = "a simulated Velero server backing up to and restoring from a moto S3 bucket"
    seeds = ("Namespace velero, Velero's ServiceAccount and credentials",
             f"BackupStorageLocation velero/{LOCATION} (bucket {BUCKET} in moto)")
    controllers = ("velero (backup storage locations, backup sync, backups, schedules, restores)",)

    def __init__(self, context: ScenarioContext) -> None:
        super().__init__(context)
        self.velero = VeleroController(NAMESPACE, (ACCESS_KEY_ID, SECRET_ACCESS_KEY))

    def _seed(self) -> None:
        kubernetes = self.context.kubernetes
        options = WriteOptions(field_manager="helm", field_validation="Strict")
        for obj in installation(self.context.aws_url):
            resource_type = kubernetes.registry.by_api_version_kind(obj["apiVersion"], obj["kind"])
            kubernetes.objects.create(resource_type, obj["apiVersion"].rpartition("/")[2],
                                      obj["metadata"].get("namespace", ""), obj, options)

    def _create_bucket(self, timeout: float) -> None:
        s3 = boto3.client("s3", endpoint_url=self.context.aws_url, region_name=REGION,
                          aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)
        deadline = time.monotonic() + timeout
        while True:
            try:
                s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
                return
            except s3.exceptions.BucketAlreadyOwnedByYou:
                return
            except botocore.exceptions.EndpointConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def start(self) -> None:
        self._seed()
        self.context.kubernetes.add_controller(self.velero)

    def wait_ready(self, timeout: float) -> None:
        self._create_bucket(timeout)
        self.context.kubernetes.controllers.schedule(0.0, self.velero, lambda: self.velero.sync_locations(
            self.context.kubernetes.controllers.context(self.velero)))

    def reset(self) -> None:
        self._create_bucket(10.0)  # moto was emptied
        self._seed()
        context = self.context.kubernetes.controllers.context(self.velero)
        self.velero.sync_locations(context)  # as after a while of Velero running: the location validated
        self.velero.start(context)

    def inventory_vars(self) -> dict[str, Any]:
        return {"atlas_hardening_velero_bucket": BUCKET, "atlas_hardening_velero_prefix": PREFIX,
                "disaster_recovery_components": lab_catalogue()}


SCENARIO = VeleroScenario
