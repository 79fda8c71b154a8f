"""A simulated Velero server (velero 1.18), as the lab runs it: backups to and restores from the moto
bucket that a BackupStorageLocation names, in Velero's layout (``object_store.py``).

What it does, as the real one does (../shared/reference/velero-dr.md):

- **Locations**: every ``sync_period`` seconds (the real default is a minute), each
  BackupStorageLocation is validated (bucket reachable, no foreign top-level folder) and reported
  ``Available`` or ``Unavailable`` with Velero's message; the backups found in an Available location
  that the cluster lacks are created (the backup sync controller), so a new cluster sees the backups
  of the old one, and a Backup deleted with ``kubectl delete`` comes back.
- **Backups** (phase empty or New): ``FailedValidation`` when the location is missing, Unavailable or
  ``ReadOnly``; otherwise ``InProgress``, then every object of the included namespaces (and the
  Namespace objects) except what Velero never backs up, written to the bucket (tarball with
  ``metadata/version`` and both copies of each item, resource list, results, logs,
  ``velero-backup.json``), then ``Completed`` with timestamps, ``expiration`` and ``progress``.
- **Schedules**: a Schedule that never ran (not paused, not ``skipImmediately``) runs at once: a
  Backup ``<schedule>-<UTC yyyymmddhhmmss>`` from its template, labelled ``velero.io/schedule-name``,
  owned by the Schedule when ``useOwnerReferencesInBackup``; ``status.lastBackup``, phase
  ``Enabled``. Later runs are fired by creating a Backup from the schedule, as
  ``velero backup create --from-schedule`` does (the lab keeps no clock-driven cron).
- **Restores**: only from a Backup that is Completed or PartiallyFailed (else ``FailedValidation``);
  the items are read **from the bucket**, restored in Velero's priority order, with
  ``namespaceMapping``, without what Velero strips (uid, resourceVersion, ownerReferences, status,
  a Service's cluster IPs...), labelled ``velero.io/backup-name`` and ``velero.io/restore-name``;
  completed Pods and Jobs and never-restored kinds are skipped; an existing object is a warning
  (``existingResourcePolicy: none``) or updated (``update``); results, resource list and logs go to
  ``restores/<name>/``; phase ``Completed`` or ``PartiallyFailed``.
"""

from __future__ import annotations

import copy
import datetime
import re
from typing import Any

from atlas_lab.scenarios.velero_dr.object_store import BucketStore, StoreUnavailable
from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerContext, ControllerEvent, set_owner
from atlas_lab.services.kubernetes.errors import ApiError

VELERO_API = "velero.io/v1"
NEVER_BACKED_UP = {("", "events"), ("events.k8s.io", "events"), ("velero.io", "backups"), ("velero.io", "restores"),
                   ("", "nodes"), ("authorization.k8s.io", "selfsubjectaccessreviews"),
                   ("authentication.k8s.io", "tokenreviews")}
NEVER_RESTORED = {"nodes", "events", "events.events.k8s.io", "backups.velero.io", "restores.velero.io",
                  "resticrepositories.velero.io", "backuprepositories.velero.io", "csinodes.storage.k8s.io",
                  "volumeattachments.storage.k8s.io"}
# pkg/cmd/server/config/config.go: the default restore priorities; everything else follows, by name.
RESTORE_PRIORITIES = ("customresourcedefinitions", "namespaces", "storageclasses",
                      "volumesnapshotclass.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io",
                      "volumesnapshots.snapshot.storage.k8s.io", "datauploads.velero.io", "persistentvolumes",
                      "persistentvolumeclaims", "serviceaccounts", "roles.rbac.authorization.k8s.io",
                      "rolebindings.rbac.authorization.k8s.io", "secrets", "configmaps", "limitranges", "pods",
                      "replicasets.apps", "clusterclasses.cluster.x-k8s.io", "endpoints", "services")
STRIPPED_METADATA = ("generateName", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
                     "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "managedFields")
PVC_STRIPPED_ANNOTATIONS = ("pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller",
                            "volume.kubernetes.io/selected-node")
RESTORABLE_PHASES = ("Completed", "PartiallyFailed")
GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)")


def timestamp(moment: datetime.datetime | None = None) -> str:
    return (moment or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_duration_seconds(text: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(value) * units[unit] for value, unit in GO_DURATION.findall(text or ""))


def restore_priority(resource: str) -> tuple[int, str]:
    return (RESTORE_PRIORITIES.index(resource) if resource in RESTORE_PRIORITIES else len(RESTORE_PRIORITIES),
            resource)


def _matches(resource: str, included: list[str], excluded: list[str]) -> bool:
    def any_of(patterns: list[str]) -> bool:
        return any(p == "*" or p == resource or p == resource.split(".", 1)[0] for p in patterns)
    return (not included or any_of(included)) and not any_of(excluded)


class VeleroController(Controller):
    name = "velero"
    watches = (("velero.io", "Backup"), ("velero.io", "Restore"), ("velero.io", "Schedule"),
               ("velero.io", "BackupStorageLocation"))

    def __init__(self, namespace: str, credentials: tuple[str, str], sync_period: float = 2.0,
                 backup_duration: float = 0.2) -> None:
        self.namespace = namespace
        self.credentials = credentials
        self.sync_period = sync_period
        self.backup_duration = backup_duration  # seconds a backup stays InProgress (lab-fast)
        self._generation = 0

    # Lifecycle -------------------------------------------------------------------------------
    def start(self, ctx: ControllerContext) -> None:
        self._generation += 1
        generation = self._generation

        def tick() -> None:
            if generation != self._generation:
                return
            self.sync_locations(ctx)
            ctx.after(self.sync_period, tick)
        ctx.after(0.0, tick)

    def reset(self) -> None:
        self._generation += 1  # the manager dropped the queued tick; start() arms a new one

    def store(self, location: dict[str, Any]) -> BucketStore:
        return BucketStore(location, *self.credentials)

    def location(self, ctx: ControllerContext, name: str) -> dict[str, Any] | None:
        if name:
            return ctx.get(VELERO_API, "BackupStorageLocation", name, self.namespace)
        locations = ctx.list(VELERO_API, "BackupStorageLocation", self.namespace)
        return next((item for item in locations if (item.get("spec") or {}).get("default")), None)

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        if event.type == "DELETED" or event.namespace != self.namespace:
            return
        if event.kind == "BackupStorageLocation" and event.type == "ADDED":
            self.sync_location(ctx, event.object)
        elif event.kind == "Backup" and (event.object.get("status") or {}).get("phase", "New") == "New":
            self.start_backup(ctx, event.object)
        elif event.kind == "Restore" and (event.object.get("status") or {}).get("phase", "New") == "New":
            self.run_restore(ctx, event.object)
        elif event.kind == "Schedule" and event.type == "ADDED":
            self.run_schedule(ctx, event.object)

    # Locations and backup sync ---------------------------------------------------------------
    def sync_locations(self, ctx: ControllerContext) -> None:
        for location in ctx.list(VELERO_API, "BackupStorageLocation", self.namespace):
            self.sync_location(ctx, location)

    def sync_location(self, ctx: ControllerContext, location: dict[str, Any]) -> None:
        store = self.store(location)
        try:
            store.validate()
        except StoreUnavailable as exc:
            self._location_status(ctx, location, "Unavailable", str(exc))
            return
        self._location_status(ctx, location, "Available", "")
        known = {item["metadata"]["name"] for item in ctx.list(VELERO_API, "Backup", self.namespace)}
        for name in store.backup_names():
            if name in known:
                continue
            metadata = store.backup_metadata(name)
            if metadata is None or (metadata.get("status") or {}).get("phase") not in (*RESTORABLE_PHASES, "Failed"):
                continue
            synced = {"apiVersion": VELERO_API, "kind": "Backup",
                      "metadata": {"name": name, "namespace": self.namespace,
                                   "labels": {**((metadata.get("metadata") or {}).get("labels") or {}),
                                              "velero.io/storage-location": location["metadata"]["name"]}},
                      "spec": metadata.get("spec") or {}, "status": metadata.get("status") or {}}
            try:
                ctx.create(synced)
            except ApiError as exc:
                if exc.code != 409:
                    raise

    def _location_status(self, ctx: ControllerContext, location: dict[str, Any], phase: str, message: str) -> None:
        status = location.get("status") or {}
        if status.get("phase") == phase and status.get("message", "") == message:
            return
        stamp = timestamp()
        ctx.patch_status(location, {"phase": phase, "message": message or None, "lastValidationTime": stamp,
                                    "lastSyncedTime": stamp if phase == "Available" else status.get("lastSyncedTime")})

    # Backups ---------------------------------------------------------------------------------
    def start_backup(self, ctx: ControllerContext, backup: dict[str, Any]) -> None:
        spec = backup.get("spec") or {}
        location = self.location(ctx, str(spec.get("storageLocation") or ""))
        problems: list[str] = []
        if location is None:
            problems.append(f"an existing backup storage location wasn't specified at backup creation time and "
                            f"the default '{spec.get('storageLocation') or 'default'}' wasn't found")
        elif (location.get("spec") or {}).get("accessMode") == "ReadOnly":
            problems.append(f"backup can't be created because backup storage location "
                            f"{location['metadata']['name']} is currently in read-only mode")
        elif (location.get("status") or {}).get("phase") == "Unavailable":
            problems.append(f"backup can't be created because BackupStorageLocation "
                            f"{location['metadata']['name']} is in Unavailable status.")
        if problems:
            self._update(ctx, backup, {"phase": "FailedValidation", "validationErrors": problems})
            return
        assert location is not None
        started = datetime.datetime.now(datetime.timezone.utc)
        labels = {"velero.io/storage-location": location["metadata"]["name"]}
        backup = self._update(ctx, backup, {"phase": "InProgress", "startTimestamp": timestamp(started),
                                            "version": 1, "formatVersion": "1.1.0"}, labels)
        ctx.after(self.backup_duration, lambda: self.finish_backup(ctx, backup["metadata"]["name"], location, started))

    def finish_backup(self, ctx: ControllerContext, name: str, location: dict[str, Any],
                      started: datetime.datetime) -> None:
        backup = ctx.get(VELERO_API, "Backup", name, self.namespace)
        if backup is None:
            return
        spec = backup.get("spec") or {}
        items = self.collect(ctx, spec)
        ttl = go_duration_seconds(str(spec.get("ttl") or "720h"))
        completed = datetime.datetime.now(datetime.timezone.utc)
        final = copy.deepcopy(backup)
        final["status"] = {**(backup.get("status") or {}), "phase": "Completed",
                           "completionTimestamp": timestamp(completed),
                           "expiration": timestamp(started + datetime.timedelta(seconds=ttl)),
                           "progress": {"totalItems": len(items), "itemsBackedUp": len(items)},
                           "warnings": 0, "errors": 0}
        log = [f'level=info msg="Backed up {len(items)} items" backup={self.namespace}/{name}']
        try:
            self.store(location).write_backup(_stored(final), items, [], [], log)
        except Exception as exc:  # pylint: disable=broad-except
            final["status"].update({"phase": "Failed", "failureReason": f"error uploading backup: {exc}"})
        ctx.update(final)

    def collect(self, ctx: ControllerContext, spec: dict[str, Any]) -> list[tuple[str, str, str, str, str, dict[str, Any]]]:
        """The (group, plural, version, namespace, name, object) tuples a backup of ``spec`` holds."""
        included = [str(n) for n in spec.get("includedNamespaces") or ["*"]]
        excluded = [str(n) for n in spec.get("excludedNamespaces") or []]
        all_namespaces = [ns["metadata"]["name"] for ns in ctx.list("v1", "Namespace")]
        namespaces = [ns for ns in all_namespaces
                      if ("*" in included or ns in included) and ns not in excluded]
        resources_in = [str(r) for r in spec.get("includedResources") or []]
        resources_out = [str(r) for r in spec.get("excludedResources") or []]
        items: list[tuple[str, str, str, str, str, dict[str, Any]]] = []
        registry = ctx.service.registry
        for rt in sorted(registry.all(), key=lambda t: t.group_resource):
            if rt.key in NEVER_BACKED_UP or "list" not in rt.verbs or "create" not in rt.verbs:
                continue
            if not _matches(rt.group_resource, resources_in, resources_out):
                continue
            version = rt.preferred_version
            if not rt.namespaced:
                if rt.key != ("", "namespaces"):
                    continue  # cluster-scoped kinds: only with includeClusterResources, not simulated
                for ns in namespaces:
                    obj = ctx.get("v1", "Namespace", ns)
                    if obj is not None:
                        items.append((rt.group, rt.plural, version, "", ns, obj))
                continue
            for ns in namespaces:
                for obj in ctx.list(rt.api_version(version), rt.kind, ns):
                    items.append((rt.group, rt.plural, version, ns, obj["metadata"]["name"], obj))
        return items

    # Schedules -------------------------------------------------------------------------------
    def run_schedule(self, ctx: ControllerContext, schedule: dict[str, Any]) -> None:
        spec = schedule.get("spec") or {}
        status = schedule.get("status") or {}
        updated = ctx.patch_status(schedule, {"phase": "Enabled", "validationErrors": None})
        if spec.get("paused") or spec.get("skipImmediately") or status.get("lastBackup"):
            return
        self.backup_from_schedule(ctx, updated)

    def backup_from_schedule(self, ctx: ControllerContext, schedule: dict[str, Any]) -> dict[str, Any]:
        """What the schedule controller (and ``velero backup create --from-schedule``) creates."""
        now = datetime.datetime.now(datetime.timezone.utc)
        name = schedule["metadata"]["name"]
        spec = schedule.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        labels = {**((template.pop("metadata", None) or {}).get("labels") or {}), "velero.io/schedule-name": name}
        backup: dict[str, Any] = {"apiVersion": VELERO_API, "kind": "Backup",
                                  "metadata": {"name": f"{name}-{now.strftime('%Y%m%d%H%M%S')}",
                                               "namespace": self.namespace, "labels": labels},
                                  "spec": template}
        if spec.get("useOwnerReferencesInBackup"):
            set_owner(backup, schedule, controller=False)
        created = ctx.create(backup)
        ctx.patch_status(schedule, {"phase": "Enabled", "lastBackup": timestamp(now)})
        return created

    # Restores --------------------------------------------------------------------------------
    def run_restore(self, ctx: ControllerContext, restore: dict[str, Any]) -> None:
        spec = restore.get("spec") or {}
        backup, problem = self._restore_source(ctx, spec)
        if backup is None:
            self._update(ctx, restore, {"phase": "FailedValidation", "validationErrors": [problem]})
            return
        location = self.location(ctx, str((backup.get("spec") or {}).get("storageLocation") or ""))
        if location is None:
            self._update(ctx, restore, {"phase": "FailedValidation",
                                        "validationErrors": ["the backup's storage location was not found"]})
            return
        name = restore["metadata"]["name"]
        restore = self._update(ctx, restore, {"phase": "InProgress", "startTimestamp": timestamp()},
                               {"velero.io/backup-name": backup["metadata"]["name"]})
        store = self.store(location)
        try:
            items = store.backup_items(backup["metadata"]["name"])
        except Exception as exc:  # pylint: disable=broad-except
            self._update(ctx, restore, {"phase": "Failed", "failureReason": f"error downloading backup: {exc}",
                                        "completionTimestamp": timestamp()})
            return
        outcome = RestoreOutcome()
        included = [str(n) for n in spec.get("includedNamespaces") or ["*"]]
        excluded = [str(n) for n in spec.get("excludedNamespaces") or []]
        mapping = {str(k): str(v) for k, v in (spec.get("namespaceMapping") or {}).items()}
        selected = [item for item in items
                    if (not item.namespace or (("*" in included or item.namespace in included)
                                               and item.namespace not in excluded))
                    and (item.resource != "namespaces" or (("*" in included or item.name in included)
                                                           and item.name not in excluded))
                    and _matches(item.resource, [str(r) for r in spec.get("includedResources") or []],
                                 [str(r) for r in spec.get("excludedResources") or []])]
        selected.sort(key=lambda item: (restore_priority(item.resource), item.namespace, item.name))
        policy = str(spec.get("existingResourcePolicy") or "none")
        for item in selected:
            self._restore_item(ctx, item, mapping, policy, backup["metadata"]["name"], name, outcome)
        try:
            store.write_restore(name, outcome.warnings, outcome.errors, outcome.resource_list, outcome.log)
        except Exception as exc:  # pylint: disable=broad-except
            outcome.error("velero", f"error uploading restore results: {exc}")
        phase = "PartiallyFailed" if outcome.error_count else "Completed"
        self._update(ctx, restore, {"phase": phase, "completionTimestamp": timestamp(),
                                    "progress": {"totalItems": len(selected), "itemsRestored": outcome.restored},
                                    "warnings": outcome.warning_count or None, "errors": outcome.error_count or None})

    def _restore_source(self, ctx: ControllerContext, spec: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        backups = ctx.list(VELERO_API, "Backup", self.namespace)
        if spec.get("backupName"):
            backup = next((b for b in backups if b["metadata"]["name"] == spec["backupName"]), None)
            if backup is None:
                return None, f"backup.velero.io \"{spec['backupName']}\" not found"
            phase = (backup.get("status") or {}).get("phase", "")
            if phase not in RESTORABLE_PHASES:
                return None, f"backup is in phase {phase}, only Completed or PartiallyFailed backups can be restored"
            return backup, ""
        if spec.get("scheduleName"):
            candidates = [b for b in backups
                          if ((b["metadata"].get("labels") or {}).get("velero.io/schedule-name") == spec["scheduleName"]
                              and (b.get("status") or {}).get("phase") == "Completed")]
            if not candidates:
                return None, f"No backups found for schedule {spec['scheduleName']}"
            return max(candidates, key=lambda b: (b.get("status") or {}).get("startTimestamp", "")), ""
        return None, "Either a backup or schedule must be specified as a source for the restore, but not both"

    def _restore_item(self, ctx: ControllerContext, item: Any, mapping: dict[str, str], policy: str,
                      backup_name: str, restore_name: str, outcome: RestoreOutcome) -> None:
        obj = copy.deepcopy(item.object)
        kind = str(obj.get("kind", ""))
        if item.resource in NEVER_RESTORED:
            return
        if skipped_as_completed(item.resource, obj):
            outcome.log.append(f"Skipping {item.resource} {item.namespace}/{item.name}: completed")
            return
        target_namespace = mapping.get(item.namespace, item.namespace)
        target_name = mapping.get(item.name, item.name) if item.resource == "namespaces" else item.name
        meta = obj.setdefault("metadata", {})
        for field in STRIPPED_METADATA:
            meta.pop(field, None)
        meta["name"] = target_name
        if target_namespace:
            meta["namespace"] = target_namespace
        meta["labels"] = {**(meta.get("labels") or {}), "velero.io/backup-name": backup_name,
                          "velero.io/restore-name": restore_name}
        obj.pop("status", None)
        adjust_for_restore(item.resource, obj)
        entry = f"{target_namespace}/{target_name}" if target_namespace else target_name
        api_key = f"{obj.get('apiVersion')}/{kind}"
        try:
            if target_namespace and ctx.get("v1", "Namespace", target_namespace) is None:
                ctx.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {
                    "name": target_namespace, "labels": {"velero.io/backup-name": backup_name,
                                                         "velero.io/restore-name": restore_name}}})
            existing = ctx.get(str(obj["apiVersion"]), kind, target_name, target_namespace)
            if existing is None:
                ctx.create(obj)
                outcome.restored += 1
                outcome.listed(api_key, f"{entry}(created)")
            elif policy == "update":
                ctx.apply(obj, field_manager="velero")
                outcome.restored += 1
                outcome.listed(api_key, f"{entry}(updated)")
            else:
                if item.resource != "namespaces":
                    outcome.warning(target_namespace, f"could not restore, {kind} \"{target_name}\" already exists. "
                                    "Warning: the in-cluster version is different than the backed-up version")
                outcome.listed(api_key, f"{entry}(skipped)")
        except (ApiError, LookupError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            outcome.error(target_namespace, f"error restoring {item.resource}/{entry}: {message}")
            outcome.listed(api_key, f"{entry}(failed)")

    def _update(self, ctx: ControllerContext, obj: dict[str, Any], status: dict[str, Any],
                labels: dict[str, str] | None = None) -> dict[str, Any]:
        current = ctx.get(VELERO_API, obj["kind"], obj["metadata"]["name"], self.namespace) or obj
        current = copy.deepcopy(current)
        current["status"] = {**(current.get("status") or {}), **{k: v for k, v in status.items() if v is not None}}
        if labels:
            current["metadata"]["labels"] = {**(current["metadata"].get("labels") or {}), **labels}
        return ctx.update(current)


class RestoreOutcome:
    """Warnings and errors in Velero's result shape, the restore's resource list and log."""

    def __init__(self) -> None:
        self.warnings: dict[str, Any] = {"velero": [], "cluster": [], "namespaces": {}}
        self.errors: dict[str, Any] = {"velero": [], "cluster": [], "namespaces": {}}
        self.resource_list: dict[str, list[str]] = {}
        self.log: list[str] = []
        self.restored = 0

    def _add(self, results: dict[str, Any], namespace: str, message: str) -> None:
        if namespace == "velero":
            results["velero"].append(message)
        elif namespace:
            results["namespaces"].setdefault(namespace, []).append(message)
        else:
            results["cluster"].append(message)

    def warning(self, namespace: str, message: str) -> None:
        self._add(self.warnings, namespace, message)

    def error(self, namespace: str, message: str) -> None:
        self._add(self.errors, namespace, message)

    def listed(self, api_key: str, entry: str) -> None:
        self.resource_list.setdefault(api_key, []).append(entry)

    @staticmethod
    def _count(results: dict[str, Any]) -> int:
        return len(results["velero"]) + len(results["cluster"]) + sum(map(len, results["namespaces"].values()))

    @property
    def warning_count(self) -> int:
        return self._count(self.warnings)

    @property
    def error_count(self) -> int:
        return self._count(self.errors)


def skipped_as_completed(resource: str, obj: dict[str, Any]) -> bool:
    """Velero does not restore completed Pods and Jobs, nor mirror Pods."""
    status = obj.get("status") or {}
    if resource == "pods":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return status.get("phase") in ("Succeeded", "Failed") or "kubernetes.io/config.mirror" in annotations
    if resource == "jobs.batch":
        return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                   for c in status.get("conditions") or [])
    return False


def adjust_for_restore(resource: str, obj: dict[str, Any]) -> None:
    """What Velero's built-in restore item actions change (pkg/restore/actions)."""
    spec = obj.get("spec") or {}
    if resource == "services":
        if spec.get("clusterIP") not in (None, "None"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)  # unless preserveNodePorts
    elif resource == "persistentvolumeclaims":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        for key in PVC_STRIPPED_ANNOTATIONS:
            annotations.pop(key, None)
    elif resource == "pods":
        spec.pop("nodeName", None)
        spec.pop("priority", None)
    elif resource == "serviceaccounts":
        obj.pop("secrets", None)


def _stored(backup: dict[str, Any]) -> dict[str, Any]:
    """The Backup as Velero writes velero-backup.json (no server-side bookkeeping)."""
    stored = copy.deepcopy(backup)
    meta = stored.get("metadata") or {}
    for field in ("managedFields", "resourceVersion", "uid", "generation", "ownerReferences"):
        meta.pop(field, None)
    return stored
