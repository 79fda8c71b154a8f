# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the velero_backup_info module's run (read-only): each catalogued
component's newest restorable backup and achieved RPO, from the cluster or, when the cluster is
gone, from the object store; and the BackupStorageLocations' state."""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.timestamps import utc_now
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.catalogue import (
    parse_catalogue,
    select,
)
from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.rpo_status import component_statuses
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._velero.backups import cluster_backups
from ansible_collections.atlas.hardening.plugins.module_utils._velero.locations import storage_locations
from ansible_collections.atlas.hardening.plugins.module_utils._velero.object_store import VeleroObjectStore


def status_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    components = select(parse_catalogue(params["components"]), params["names"])
    result: dict[str, Any] = {"changed": False, "source": params["source"], "locations": []}
    if params["source"] == "object_store":
        if not params["bucket"]:
            raise HardeningError("source=object_store needs bucket (and prefix, as the BackupStorageLocation's "
                                 "objectStorage names them).")
        from ansible_collections.atlas.hardening.plugins.module_utils._aws.config import aws_connection

        aws = aws_connection(module)
        store = VeleroObjectStore(aws, params["bucket"], params["prefix"] or "")
        records = store.backups()
        result["object_store"] = store.where
        result["requests"] = {"s3": aws.request_count}
    else:
        objects = KubernetesObjects(kubernetes_connection(module))
        namespace = params["velero_namespace"]
        records = cluster_backups(objects, namespace)
        result["locations"] = [location.as_dict() for location in storage_locations(objects, namespace)]
        result["requests"] = objects.connection.requests_since({})
    statuses = component_statuses(components, records, utc_now())
    result["components"] = [status.as_dict() for status in statuses]
    result["breached"] = [status.component.name for status in statuses if status.verdict() in ("breached", "no backup")]
    result["compliant"] = not result["breached"]
    result["unavailable_locations"] = [location["name"] for location in result["locations"]
                                       if location["phase"] != "Available"]
    return result
