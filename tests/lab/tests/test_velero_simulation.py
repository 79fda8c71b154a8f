"""The simulated Velero against Velero's documented behaviour, checked independently: its Backup metadata
is accepted by the Backup CRD generated from upstream's types (cloudcoil) under strict field validation, its
tarball follows the documented layout, and it restores a backup written by hand into the bucket (not by
itself) with Velero's semantics: namespace mapping, stripped fields, labels, skips, warnings."""

from __future__ import annotations

import datetime
import gzip
import io
import json
import tarfile
from typing import Any

import boto3
import pytest
import yaml

from atlas_lab.pytest_plugin import Lab, wait_for
from atlas_lab.scenarios.velero_dr import BUCKET, PREFIX, sample_application
from atlas_lab.scenarios.velero_dr.layout_fixture import write_backup

pytestmark = pytest.mark.timeout(300)


def s3(lab: Lab) -> Any:
    return boto3.client("s3", endpoint_url=lab.vars["AWS_ENDPOINT_URL"], region_name=lab.vars["AWS_REGION"],
                        aws_access_key_id=lab.vars["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=lab.vars["AWS_SECRET_ACCESS_KEY"])


def kubectl(lab: Lab, *args: str, stdin: str | None = None) -> Any:
    result = lab.run(["kubectl", *args], input=stdin)
    assert result.returncode == 0, result.stderr
    return result


def get(lab: Lab, *args: str) -> Any:
    return json.loads(kubectl(lab, "get", *args, "-o", "json").stdout)


def create(lab: Lab, *objects: dict[str, Any]) -> None:
    kubectl(lab, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(list(objects)))


def phase(lab: Lab, kind: str, name: str) -> str:
    result = lab.run(["kubectl", "get", kind, name, "-n", "velero", "-o", "jsonpath={.status.phase}"])
    return result.stdout if result.returncode == 0 else ""


def wait_phase(lab: Lab, kind: str, name: str, phases: tuple[str, ...] = ("Completed",)) -> str:
    return str(wait_for(lambda: phase(lab, kind, name) if phase(lab, kind, name) in phases else "",
                        what=f"{kind} {name} to reach {phases}"))


def backup_object(name: str, namespaces: list[str]) -> dict[str, Any]:
    return {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": name, "namespace": "velero"},
            "spec": {"includedNamespaces": namespaces, "ttl": "24h0m0s"}}


def restore_object(name: str, backup: str, mapping: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": name, "namespace": "velero"},
            "spec": {"backupName": backup, "namespaceMapping": mapping, **spec}}


def test_the_location_is_available_and_a_backup_follows_velero_layout(clean_lab: Lab) -> None:
    wait_for(lambda: phase(clean_lab, "backupstoragelocation", "default") == "Available", what="the location")
    create(clean_lab, *sample_application())
    create(clean_lab, backup_object("shop-1", ["shop"]))
    wait_phase(clean_lab, "backup", "shop-1")
    client = s3(clean_lab)
    base = f"{PREFIX}/backups/shop-1"
    keys = {entry["Key"] for entry in client.list_objects_v2(Bucket=BUCKET, Prefix=base)["Contents"]}
    assert {f"{base}/velero-backup.json", f"{base}/shop-1.tar.gz", f"{base}/shop-1-resource-list.json.gz",
            f"{base}/shop-1-results.gz", f"{base}/shop-1-logs.gz"} <= keys
    tarball = tarfile.open(fileobj=io.BytesIO(client.get_object(Bucket=BUCKET, Key=f"{base}/shop-1.tar.gz")["Body"]
                                              .read()), mode="r:gz")
    names = set(tarball.getnames())
    version = tarball.extractfile("metadata/version")
    assert version is not None and version.read() == b"1.1.0"
    for path in ("resources/deployments.apps/namespaces/shop/storefront.json",
                 "resources/deployments.apps/v1-preferredversion/namespaces/shop/storefront.json",
                 "resources/configmaps/namespaces/shop/storefront.json",
                 "resources/namespaces/cluster/shop.json"):
        assert path in names, sorted(names)
    resource_list = json.loads(gzip.decompress(client.get_object(
        Bucket=BUCKET, Key=f"{base}/shop-1-resource-list.json.gz")["Body"].read()))
    assert "shop/storefront" in resource_list["apps/v1/Deployment"]
    assert resource_list["v1/Namespace"] == ["shop"]
    # The metadata Velero would sync back is a valid Backup for the upstream schema (strict validation).
    metadata = json.loads(client.get_object(Bucket=BUCKET, Key=f"{base}/velero-backup.json")["Body"].read())
    assert metadata["status"]["phase"] == "Completed" and metadata["status"]["progress"]["itemsBackedUp"] > 5
    metadata["metadata"] = {"name": "shop-1-copy", "namespace": "velero"}
    kubectl(clean_lab, "create", "--dry-run=server", "--validate=strict", "-f", "-", stdin=json.dumps(metadata))


def test_a_backup_written_into_the_bucket_by_hand_is_synced_and_restored_from_the_bucket(clean_lab: Lab) -> None:
    client = s3(clean_lab)
    completed = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=3)
    items = [
        ("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "wiki", "uid": "u-1"}}),
        ("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"title": "Atlas"},
                        "metadata": {"name": "settings", "namespace": "wiki", "uid": "u-2", "resourceVersion": "42",
                                     "creationTimestamp": "2026-01-01T00:00:00Z",
                                     "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x",
                                                          "uid": "u-9"}]}}),
        ("services", {"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "wiki", "namespace": "wiki"},
                      "spec": {"clusterIP": "10.96.7.7", "clusterIPs": ["10.96.7.7"], "ports": [{"port": 80}]}}),
        ("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "migrate-1", "namespace": "wiki"},
                  "spec": {"containers": [{"name": "m", "image": "busybox"}]}, "status": {"phase": "Succeeded"}}),
        ("events", {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "wiki"},
                    "involvedObject": {"kind": "Pod", "name": "migrate-1"}}),
    ]
    write_backup(client, BUCKET, PREFIX, "wiki-by-hand", ["wiki"], items, completed)
    wait_for(lambda: phase(clean_lab, "backup", "wiki-by-hand") == "Completed", what="the backup sync")
    kubectl(clean_lab, "create", "namespace", "wiki-copy")
    create(clean_lab, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "wiki-copy"},
                       "data": {"title": "already here"}})
    create(clean_lab, restore_object("wiki-r1", "wiki-by-hand", {"wiki": "wiki-copy"}))
    wait_phase(clean_lab, "restore", "wiki-r1")
    restore = get(clean_lab, "restore", "wiki-r1", "-n", "velero")
    assert restore["status"]["warnings"] == 1  # the existing ConfigMap: skipped, not overwritten
    assert get(clean_lab, "configmap", "settings", "-n", "wiki-copy")["data"] == {"title": "already here"}
    service = get(clean_lab, "service", "wiki", "-n", "wiki-copy")
    assert service["spec"]["clusterIP"] != "10.96.7.7"
    assert service["metadata"]["labels"] == {"velero.io/backup-name": "wiki-by-hand", "velero.io/restore-name": "wiki-r1"}
    assert get(clean_lab, "pods", "-n", "wiki-copy")["items"] == []  # a completed Pod is not restored
    results = json.loads(gzip.decompress(s3(clean_lab).get_object(
        Bucket=BUCKET, Key=f"{PREFIX}/restores/wiki-r1/restore-wiki-r1-results.gz")["Body"].read()))
    assert results["warnings"]["namespaces"]["wiki-copy"][0].startswith('could not restore, ConfigMap "settings"')
    # Into a fresh namespace: the ConfigMap comes back without what Velero strips.
    create(clean_lab, restore_object("wiki-r2", "wiki-by-hand", {"wiki": "wiki-two"}))
    wait_phase(clean_lab, "restore", "wiki-r2")
    restored = get(clean_lab, "configmap", "settings", "-n", "wiki-two")
    assert restored["data"] == {"title": "Atlas"}
    assert restored["metadata"]["uid"] != "u-2" and "ownerReferences" not in restored["metadata"]
    assert restored["metadata"]["creationTimestamp"] != "2026-01-01T00:00:00Z"


def test_a_deleted_backup_comes_back_from_the_bucket(clean_lab: Lab) -> None:
    create(clean_lab, backup_object("again", ["default"]))
    wait_phase(clean_lab, "backup", "again")
    kubectl(clean_lab, "delete", "backup", "again", "-n", "velero")
    wait_for(lambda: phase(clean_lab, "backup", "again") == "Completed", what="the backup sync to recreate it")


def test_read_only_location_failed_backups_and_foreign_folders(clean_lab: Lab) -> None:
    kubectl(clean_lab, "patch", "backupstoragelocation", "default", "-n", "velero", "--type=merge",
            "-p", '{"spec": {"accessMode": "ReadOnly"}}')
    create(clean_lab, backup_object("refused", ["default"]))
    assert wait_phase(clean_lab, "backup", "refused", ("FailedValidation",)) == "FailedValidation"
    validation = get(clean_lab, "backup", "refused", "-n", "velero")["status"]["validationErrors"]
    assert "read-only mode" in validation[0]
    create(clean_lab, restore_object("from-failed", "refused", {"default": "x"}))
    assert wait_phase(clean_lab, "restore", "from-failed", ("FailedValidation",)) == "FailedValidation"
    s3(clean_lab).put_object(Bucket=BUCKET, Key=f"{PREFIX}/reports/x.json", Body=b"{}")
    wait_for(lambda: phase(clean_lab, "backupstoragelocation", "default") == "Unavailable",
             what="the location to become Unavailable")
    message = get(clean_lab, "backupstoragelocation", "default", "-n", "velero")["status"]["message"]
    assert message == "Backup store contains invalid top-level directories: ['reports']"


def test_a_schedule_runs_once_at_creation_unless_told_not_to(clean_lab: Lab) -> None:
    create(clean_lab, {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "hourly", "namespace": "velero"},
                       "spec": {"schedule": "0 * * * *", "useOwnerReferencesInBackup": True,
                                "template": {"includedNamespaces": ["default"]}}},
           {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "quiet", "namespace": "velero"},
            "spec": {"schedule": "0 * * * *", "skipImmediately": True, "template": {"includedNamespaces": ["default"]}}})
    backups = wait_for(lambda: get(clean_lab, "backups", "-n", "velero", "-l", "velero.io/schedule-name=hourly")["items"],
                       what="the first backup of the schedule")
    assert backups[0]["metadata"]["name"].startswith("hourly-")
    assert backups[0]["metadata"]["ownerReferences"][0]["name"] == "hourly"
    assert get(clean_lab, "schedule", "hourly", "-n", "velero")["status"]["phase"] == "Enabled"
    assert get(clean_lab, "backups", "-n", "velero", "-l", "velero.io/schedule-name=quiet")["items"] == []
