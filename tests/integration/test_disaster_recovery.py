"""Disaster recovery end to end against the lab's simulated Velero (checked in
tests/lab/tests/test_velero_simulation.py) and moto: Schedules that meet the RPO, RPO status from the
cluster and from the bucket alone, drills that verify, time and always clean up (also when killed),
reports and their history, and bad input refused before any write."""

from __future__ import annotations

import datetime
import gzip
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from atlas_lab.core.processes import kill_tree  # pylint: disable=import-error
from atlas_lab.pytest_plugin import VENV_BIN, Lab, wait_for
from atlas_lab.scenarios.velero_dr import BUCKET, PREFIX, sample_application
from atlas_lab.scenarios.velero_dr.layout_fixture import write_backup
from atlas_lab.services.kubernetes import writes

pytestmark = pytest.mark.timeout(600)
REPO = Path(__file__).resolve().parents[2]
DR_PLAYBOOK = REPO / "playbooks" / "disaster-recovery.yml"
HARDEN = REPO / "playbooks" / "harden.yml"
DRILL_LABEL = "atlas.hardening/disaster-recovery-drill"
SHOP = {"name": "storefront", "namespaces": ["shop"], "rto": "30m", "schedule": "*/30 * * * *"}


def kubectl(lab: Lab, *args: str, stdin: str | None = None, check: bool = True) -> Any:
    result = lab.run(["kubectl", *args], input=stdin)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def get(lab: Lab, *args: str) -> Any:
    return json.loads(kubectl(lab, "get", *args, "-o", "json").stdout)


def s3(lab: Lab) -> Any:
    return boto3.client("s3", endpoint_url=lab.vars["AWS_ENDPOINT_URL"], region_name=lab.vars["AWS_REGION"],
                        aws_access_key_id=lab.vars["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=lab.vars["AWS_SECRET_ACCESS_KEY"])


def drill_namespaces(lab: Lab) -> list[str]:
    return [ns["metadata"]["name"] for ns in get(lab, "namespaces", "-l", DRILL_LABEL)["items"]]


def source_state(lab: Lab) -> str:
    """Every object of the source namespace as stored (resourceVersion included): equal means untouched."""
    return json.dumps(get(lab, "deployments,replicasets,pods,services,configmaps,secrets,persistentvolumeclaims,"
                               "serviceaccounts", "-n", "shop"), sort_keys=True)


def dr(lab: Lab, tmp_path: Path, action: str, components: list[dict[str, Any]], *args: str,
       check: bool = False, **variables: Any) -> Any:
    chosen = {} if action == "status" else {"disaster_recovery_action": action}  # status is the default
    return lab.ansible_playbook(DR_PLAYBOOK, *args, check=check, extra_vars={
        **chosen, "disaster_recovery_components": components,
        "disaster_recovery_report_dir": str(tmp_path / "reports"), **variables})


def module(lab: Lab, name: str, **args: Any) -> dict[str, Any]:
    args.setdefault("k8s_kubeconfig", lab.vars["KUBECONFIG"])
    result = lab.ansible(f"atlas.hardening.{name}", args)
    return dict(result.results["localhost"])


@pytest.fixture
def dr_lab(clean_lab: Lab) -> Lab:
    """The lab reset, with the namespace kube-prometheus-stack runs in (the alert rules go there)."""
    kubectl(clean_lab, "create", "namespace", "monitoring")
    return clean_lab


@pytest.fixture
def shop(dr_lab: Lab) -> Lab:
    """The sample application, backed up once by its Schedule (as harden.yml --tags dr installs it)."""
    kubectl(dr_lab, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(sample_application()))
    wait_for(lambda: get(dr_lab, "deployment", "storefront", "-n", "shop").get("status", {}).get("readyReplicas") == 2,
             what="the storefront to be ready")
    installed = dr_lab.ansible_playbook(HARDEN, "--tags", "dr", extra_vars={"disaster_recovery_components": [SHOP]})
    assert installed.rc == 0, installed
    wait_for(lambda: [b for b in get(dr_lab, "backups", "-n", "velero")["items"]
                      if b.get("status", {}).get("phase") == "Completed"], what="the first backup")
    return dr_lab


def test_backups_check_then_apply_then_nothing_to_do(dr_lab: Lab) -> None:
    dr_lab.k8s.reset_requests()
    check = dr_lab.ansible_playbook(HARDEN, "--tags", "dr", check=True, diff=True)
    assert check.rc == 0, check
    assert writes(dr_lab.k8s.counts()) == {}, "--check wrote to the cluster"
    first = dr_lab.ansible_playbook(HARDEN, "--tags", "dr")
    assert first.rc == 0 and first.changed == 1, first
    schedules = {s["metadata"]["name"]: s for s in get(dr_lab, "schedules", "-n", "velero")["items"]}
    assert set(schedules) == {"dr-keycloak", "dr-kube-prometheus-stack", "dr-storefront"}
    assert schedules["dr-kube-prometheus-stack"]["spec"]["schedule"] == "0 */2 * * *"
    assert all(s["spec"]["useOwnerReferencesInBackup"] is False for s in schedules.values())
    rule = get(dr_lab, "prometheusrule", "atlas-hardening-disaster-recovery", "-n", "monitoring")
    alerts = [r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]]
    assert alerts.count("DisasterRecoveryRPOBreached") == 3
    dr_lab.k8s.reset_requests()
    second = dr_lab.ansible_playbook(HARDEN, "--tags", "dr")
    assert second.rc == 0 and second.changed == 0, second
    assert writes(dr_lab.k8s.counts()) == {}, "the second run wrote to the cluster"


def test_a_schedule_that_cannot_meet_its_rpo_is_refused_and_nothing_written(dr_lab: Lab) -> None:
    dr_lab.k8s.reset_requests()
    nightly = {"name": "nextcloud", "namespaces": ["nextcloud"], "schedule": "0 2 * * *"}
    result = dr_lab.ansible_playbook(HARDEN, "--tags", "dr",
                                     extra_vars={"disaster_recovery_components": [SHOP, nightly]})
    assert result.rc != 0
    assert ("component nextcloud: schedule '0 2 * * *' waits up to 1 d 00 h between backups: the worst-case RPO "
            "1 d 00 h exceeds the objective 1 h 00 min; run it more often than every 1 h 00 min (e.g. '*/30 * * * *')."
            " Nothing was changed.") in result.stdout
    assert writes(dr_lab.k8s.counts()) == {}


def test_an_unavailable_location_is_refused(dr_lab: Lab) -> None:
    kubectl(dr_lab, "patch", "backupstoragelocation", "default", "-n", "velero", "--type=merge",
            "-p", '{"spec": {"objectStorage": {"bucket": "no-such-bucket"}}}')
    wait_for(lambda: get(dr_lab, "backupstoragelocation", "default", "-n", "velero").get("status", {})
             .get("phase") == "Unavailable", what="the location to be Unavailable")
    dr_lab.k8s.reset_requests()
    result = dr_lab.ansible_playbook(HARDEN, "--tags", "dr")
    assert result.rc != 0
    assert "BackupStorageLocation velero/default is Unavailable: rpc error" in result.stdout
    assert "Velero cannot write backups to s3://no-such-bucket/velero" in result.stdout
    assert writes(dr_lab.k8s.counts()) == {}


def test_rpo_compliant_and_breached_from_the_cluster_and_from_the_bucket_alone(dr_lab: Lab) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    client = s3(dr_lab)
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "wiki"}}
    write_backup(client, BUCKET, PREFIX, "dr-wiki-fresh", ["wiki"], [("configmaps", config)],
                 now - datetime.timedelta(minutes=20), schedule="dr-wiki")
    write_backup(client, BUCKET, PREFIX, "dr-chat-old", ["chat"], [("configmaps", config)],
                 now - datetime.timedelta(hours=3), schedule="dr-chat")
    write_backup(client, BUCKET, PREFIX, "dr-chat-failed", ["chat"], [], now - datetime.timedelta(minutes=5),
                 phase="Failed", schedule="dr-chat")
    components = [{"name": "wiki", "namespaces": ["wiki"]}, {"name": "chat", "namespaces": ["chat"]}]
    wait_for(lambda: len(get(dr_lab, "backups", "-n", "velero")["items"]) == 3, what="the backup sync")
    from_cluster = module(dr_lab, "velero_backup_info", components=components)
    # The cluster gone (no kubeconfig at all): the bucket read directly.
    from_bucket = module(dr_lab, "velero_backup_info", components=components, source="object_store",
                         bucket=BUCKET, prefix=PREFIX, k8s_kubeconfig="/nonexistent/kubeconfig")
    for result in (from_cluster, from_bucket):
        wiki, chat = result["components"]
        assert (wiki["verdict"], chat["verdict"]) == ("compliant", "breached"), result
        assert 19 * 60 < wiki["achieved_rpo_seconds"] < 25 * 60
        assert chat["achieved_rpo"].startswith("3 h 0")
        assert chat["failed_since_last_success"] == ["dr-chat-failed"]
        assert result["breached"] == ["chat"] and result["compliant"] is False
    assert from_cluster["locations"][0]["phase"] == "Available" and from_bucket["locations"] == []


def test_drill_restores_verifies_times_reports_and_leaves_nothing(shop: Lab, tmp_path: Path) -> None:
    before = source_state(shop)
    result = dr(shop, tmp_path, "drill", [SHOP])
    assert result.rc == 0, result
    assert drill_namespaces(shop) == []
    assert source_state(shop) == before, "the drill touched the source namespace"
    report = json.loads((tmp_path / "reports" / "localhost-drill.json").read_text())
    [row] = report["components"]
    assert row["drill_verdict"] == "passed" and row["rpo_verdict"] == "compliant"
    assert 0 < row["drill_rto_seconds"] < 30 * 60
    assert any(check.startswith("pass objects: 8/8 objects of the backup restored") for check in row["drill_checks"]), row
    assert any(check.startswith("pass ready: 1 workload(s) ready: Deployment drill-shop-") for check in row["drill_checks"])
    markdown = (tmp_path / "reports" / "localhost-drill.md").read_text()
    assert "| storefront | 1 h 00 min |" in markdown and "| passed |" in markdown
    # Recorded in the cluster for the audit report.
    recorded = json.loads(get(shop, "configmap", "atlas-hardening-dr-drills", "-n", "velero")["data"]["storefront.json"])
    assert recorded["verdict"] == "passed" and recorded["rto_seconds"] == row["drill_rto_seconds"]
    events = [e for e in get(shop, "events", "-n", "velero")["items"] if e["reason"] == "DrillPassed"]
    assert events and events[0]["involvedObject"]["kind"] == "Restore"
    # The history next to the backups: a second drill shows both.
    assert dr(shop, tmp_path, "drill", [SHOP]).rc == 0
    keys = [entry["Key"] for entry in s3(shop).list_objects_v2(
        Bucket=BUCKET, Prefix="atlas-hardening/disaster-recovery/localhost/drill-")["Contents"]]
    assert len(keys) == 2
    history = (tmp_path / "reports" / "localhost-drill.md").read_text().split("## History", 1)[1]
    assert history.count("(drill) | RPO") == 2
    assert get(shop, "backupstoragelocation", "default", "-n", "velero")["status"]["phase"] == "Available"


def bucket_json(lab: Lab, key: str) -> Any:
    return json.loads(gzip.decompress(s3(lab).get_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")["Body"].read()))


def test_a_drill_leaves_out_the_cronjobs_and_jobs_its_copy_would_run(shop: Lab, tmp_path: Path) -> None:
    """A drill's copy must not do the component's scheduled work: a CronJob restored into the drill
    namespace would fire against the same external systems. The drill's Restore excludes CronJobs and
    Jobs, Velero restores neither, and the verification does not expect them; a real restore keeps them."""
    kubectl(shop, "create", "cronjob", "nightly-export", "-n", "shop", "--image=busybox:1.36",
            "--schedule=*/5 * * * *", "--", "true")
    backup = "dr-storefront-with-cronjob"
    kubectl(shop, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "velero.io/v1", "kind": "Backup",
        "metadata": {"name": backup, "namespace": "velero", "labels": {"velero.io/schedule-name": "dr-storefront"}},
        "spec": {"includedNamespaces": ["shop"]}}))
    wait_for(lambda: get(shop, "backup", backup, "-n", "velero").get("status", {}).get("phase") == "Completed",
             what="the backup with the CronJob")
    assert bucket_json(shop, f"backups/{backup}/{backup}-resource-list.json.gz")["batch/v1/CronJob"] == [
        "shop/nightly-export"]
    result = dr(shop, tmp_path, "drill", [SHOP], disaster_recovery_drill_backup_name=backup)
    assert result.rc == 0, result
    [restore] = [r for r in get(shop, "restores", "-n", "velero")["items"] if r["spec"]["backupName"] == backup]
    assert restore["spec"]["excludedResources"] == ["cronjobs.batch", "jobs.batch"]
    name = restore["metadata"]["name"]
    restored = bucket_json(shop, f"restores/{name}/restore-{name}-resource-list.json.gz")
    assert restored and not [kind for kind in restored if kind.startswith("batch/")], restored
    [row] = json.loads((tmp_path / "reports" / "localhost-drill.json").read_text())["components"]
    assert row["drill_verdict"] == "passed", row
    assert any(check.startswith("pass objects: 8/8 objects of the backup restored") for check in row["drill_checks"]), row


def test_a_failed_verification_still_cleans_up_and_says_why(shop: Lab, tmp_path: Path) -> None:
    checked = dict(SHOP, verify={"http": [{"service": "storefront", "port": "80", "path": "/healthz"}]})
    result = dr(shop, tmp_path, "drill", [checked], disaster_recovery_drill_timeout=8)
    assert result.rc != 0
    assert "Disaster recovery drill failed for storefront" in result.stdout
    assert drill_namespaces(shop) == []
    [row] = json.loads((tmp_path / "reports" / "localhost-drill.json").read_text())["components"]
    assert row["drill_verdict"] == "failed"
    assert any("FAIL http: GET /healthz on service drill-shop-" in check and "HTTP 503" in check
               for check in row["drill_checks"]), row


def test_a_drill_killed_half_way_leaves_a_namespace_the_next_run_removes(shop: Lab, tmp_path: Path) -> None:
    # A backup whose Deployment never gets ready: the drill waits, and is killed while it waits.
    kubectl(shop, "annotate", "deployment", "storefront", "-n", "shop", "atlas-lab.io/simulate=not-ready")
    backup = {"apiVersion": "velero.io/v1", "kind": "Backup",
              "metadata": {"name": "not-ready", "namespace": "velero",
                           "labels": {"velero.io/schedule-name": "dr-storefront"}},
              "spec": {"includedNamespaces": ["shop"]}}
    kubectl(shop, "create", "-f", "-", stdin=json.dumps(backup))
    wait_for(lambda: get(shop, "backup", "not-ready", "-n", "velero").get("status", {}).get("phase") == "Completed",
             what="the backup")
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(shop.inventory), str(DR_PLAYBOOK), "-e", json.dumps({
        "disaster_recovery_action": "drill", "disaster_recovery_components": [SHOP],
        "disaster_recovery_drill_backup_name": "not-ready", "disaster_recovery_drill_names": ["storefront"],
        "disaster_recovery_report_dir": str(tmp_path / "reports")})]
    process = subprocess.Popen(argv, cwd=REPO, env=shop.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        wait_for(lambda: drill_namespaces(shop) and get(shop, "deployments", "-n", drill_namespaces(shop)[0])["items"],
                 timeout=60, what="the drill to restore into its namespace")
        time.sleep(0.5)
        assert kill_tree(process.pid) == [], "processes of the killed drill still alive"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    [leftover] = drill_namespaces(shop)  # right after the kill: the drill namespace is still there
    assert leftover.startswith("drill-shop-")
    good = {"disaster_recovery_drill_names": ["storefront"], "disaster_recovery_drill_backup_name": next(
        b["metadata"]["name"] for b in get(shop, "backups", "-n", "velero")["items"]
        if b["metadata"]["name"].startswith("dr-storefront-"))}
    check = dr(shop, tmp_path, "drill", [SHOP], check=True, **good)
    assert check.rc == 0 and leftover in check.stdout
    assert drill_namespaces(shop) == [leftover], "--check deleted the leftover"
    again = dr(shop, tmp_path, "drill", [SHOP], **good)
    assert again.rc == 0, again
    assert drill_namespaces(shop) == []
    assert "shop" in [ns["metadata"]["name"] for ns in get(shop, "namespaces")["items"]]


def test_drill_check_mode_shows_the_plan_and_writes_nothing(shop: Lab, tmp_path: Path) -> None:
    shop.k8s.reset_requests()
    result = dr(shop, tmp_path, "drill", [SHOP], check=True)
    assert result.rc == 0, result
    assert writes(shop.k8s.counts()) == {}
    assert '"namespace_mapping": {' in result.stdout and "dr-storefront-" in result.stdout
    assert s3(shop).list_objects_v2(Bucket=BUCKET, Prefix="atlas-hardening/").get("KeyCount") == 0


@pytest.mark.parametrize(("variables", "message"), [
    ({"disaster_recovery_drill_names": ["nextcloud"]}, "unknown component(s) nextcloud: the catalogue has storefront"),
    ({"disaster_recovery_drill_backup_name": "partial"}, "Backup partial is PartiallyFailed: a drill restores a "
                                                         "Completed backup only"),
    ({"disaster_recovery_drill_backup_name": "broken"}, "Backup broken is Failed: a drill restores"),
])
def test_bad_drill_input_is_refused_before_any_write(shop: Lab, tmp_path: Path, variables: dict[str, Any],
                                                     message: str) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    for name, phase in (("partial", "PartiallyFailed"), ("broken", "Failed")):
        write_backup(s3(shop), BUCKET, PREFIX, name, ["shop"], [], now, phase=phase, schedule="dr-storefront")
    wait_for(lambda: {"partial", "broken"} <= {b["metadata"]["name"] for b in get(shop, "backups", "-n", "velero")["items"]},
             what="the backup sync")
    if "disaster_recovery_drill_backup_name" in variables:
        variables["disaster_recovery_drill_names"] = ["storefront"]
    shop.k8s.reset_requests()
    result = dr(shop, tmp_path, "drill", [SHOP], **variables)
    assert result.rc != 0
    assert message in result.stdout, result.stdout[-3000:]
    assert writes(shop.k8s.counts()) == {}


def test_an_unreachable_bucket_is_one_clear_message(dr_lab: Lab, tmp_path: Path) -> None:
    result = dr(dr_lab, tmp_path, "status", [SHOP], disaster_recovery_status_source="object_store",
                disaster_recovery_status_bucket="no-such-bucket", disaster_recovery_status_prefix="velero")
    assert result.rc != 0
    assert "NoSuchBucket" in result.stdout and "no-such-bucket" in result.stdout


def test_restore_on_an_emptied_cluster_brings_the_components_back_in_order(shop: Lab, tmp_path: Path) -> None:
    """The cluster lost its application namespaces and its Backup objects; Velero (reinstalled, same bucket)
    syncs the backups back, and the restore brings the components back in dependency order, verified."""
    catalogue = [dict(SHOP, depends_on=["settings"]), {"name": "settings", "namespaces": ["settings"]}]
    kubectl(shop, "create", "namespace", "settings")
    kubectl(shop, "create", "configmap", "flags", "-n", "settings", "--from-literal=checkout=on")
    kubectl(shop, "create", "-f", "-", stdin=json.dumps({
        "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "dr-settings-1", "namespace": "velero",
                                                                     "labels": {"velero.io/schedule-name": "dr-settings"}},
        "spec": {"includedNamespaces": ["settings"]}}))
    wait_for(lambda: get(shop, "backup", "dr-settings-1", "-n", "velero").get("status", {}).get("phase") == "Completed",
             what="the settings backup")
    for namespace in ("shop", "settings"):
        kubectl(shop, "delete", "namespace", namespace, "--wait=true")
    kubectl(shop, "delete", "backups", "--all", "-n", "velero")
    wait_for(lambda: len(get(shop, "backups", "-n", "velero")["items"]) >= 2, what="the backup sync from the bucket")
    shop.k8s.reset_requests()
    plan = dr(shop, tmp_path, "restore", catalogue, check=True)
    assert plan.rc == 0, plan
    assert writes(shop.k8s.counts()) == {}
    assert '"order": [\n            "settings",\n            "storefront"' in plan.stdout, plan.stdout[-3000:]
    restored = dr(shop, tmp_path, "restore", catalogue)
    assert restored.rc == 0, restored
    assert get(shop, "configmap", "flags", "-n", "settings")["data"] == {"checkout": "on"}
    deployment = get(shop, "deployment", "storefront", "-n", "shop")
    assert deployment["metadata"]["labels"]["velero.io/backup-name"].startswith("dr-storefront-")
    assert {r["spec"]["includedNamespaces"][0] for r in get(shop, "restores", "-n", "velero")["items"]} == {
        "settings", "shop"}
    assert get(shop, "backupstoragelocation", "default", "-n", "velero")["spec"]["accessMode"] == "ReadWrite"
    # Dependencies first: each component is restored and verified before the next starts.
    assert 0 < restored.stdout.index("settings | passed") < restored.stdout.index("storefront | passed"), restored.stdout


DRILL_JOB = "disaster-recovery-drill"
DRILL_JOB_IMAGE = "registry.example/platform/atlas-hardening-ee@sha256:" + "0" * 64


def install_drill_job(lab: Lab, check: bool = False) -> Any:
    """harden.yml --tags dr on a staging inventory, which chooses the monthly restore test."""
    return lab.ansible_playbook(HARDEN, "--tags", "dr", check=check, diff=check, extra_vars={
        "atlas_hardening_items": ["dr", "dr-drill"], "disaster_recovery_components": [SHOP],
        "disaster_recovery_drill_schedule_image": DRILL_JOB_IMAGE,
        "disaster_recovery_drill_schedule_aws_credentials_secret": "drill-s3",
        "disaster_recovery_drill_schedule_aws_endpoint_url": lab.aws_endpoint_url})


def run_drill_job(lab: Lab, name: str) -> tuple[str, str]:
    """Fire the drill CronJob now (the Job its schedule would create); the lab runs it; returns its final
    condition (Complete or Failed) and `kubectl logs job/<name>`."""
    lab.k8s.call("POST", "k8s/cronjobs/run", {"namespace": "velero", "name": DRILL_JOB, "job": name})

    def condition() -> str | None:
        status = get(lab, "job", name, "-n", "velero").get("status", {})
        return next((c["type"] for c in status.get("conditions", [])
                     if c["type"] in ("Complete", "Failed") and c["status"] == "True"), None)

    final = wait_for(condition, timeout=420, what=f"the Job {name} to finish")
    return final, kubectl(lab, "logs", f"job/{name}", "-n", "velero").stdout


def drill_job_command(lab: Lab, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """The CronJob container's command, run on this machine as the job's ServiceAccount: a kubeconfig
    holding only a token of that ServiceAccount (what in-cluster config reads from the projected
    volume), its variables file as a file, the S3 keys as the Secret named by envFrom would give them,
    no inventory (the Pod has none), from the checkout."""
    token = kubectl(lab, "create", "token", DRILL_JOB, "-n", "velero", "--duration=600s").stdout.strip()
    kubeconfig = yaml.safe_load(lab.kubeconfig.read_text())
    kubeconfig["users"][0]["user"] = {"token": token}
    job_kubeconfig = tmp_path / "job-kubeconfig"
    job_kubeconfig.write_text(yaml.safe_dump(kubeconfig))
    job_kubeconfig.chmod(0o600)
    vars_file = tmp_path / "drill-vars.yml"
    vars_file.write_text(get(lab, "configmap", DRILL_JOB, "-n", "velero")["data"]["drill-vars.yml"])
    pod = get(lab, "cronjob", DRILL_JOB, "-n", "velero")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"][0] == "ansible-playbook"
    assert container["command"][1].endswith("/ansible_collections/atlas/hardening/playbooks/disaster_recovery.yml")
    command = [str(VENV_BIN / "ansible-playbook"), str(REPO / "playbooks" / "disaster_recovery.yml")]
    command += [arg.replace("@/etc/atlas-hardening/vars/drill-vars.yml", f"@{vars_file}")
                for arg in container["command"][2:]]
    command += ["-e", json.dumps({"disaster_recovery_report_dir": str(tmp_path / "reports")})]
    env = {name: value for name, value in lab.env.items() if not name.startswith(("AWS_", "K8S_AUTH_"))}
    env.update({item["name"]: item["value"] for item in container["env"] if item["name"] != "HOME"})
    env.update(KUBECONFIG=str(job_kubeconfig), ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               AWS_ACCESS_KEY_ID=lab.vars["AWS_ACCESS_KEY_ID"], AWS_SECRET_ACCESS_KEY=lab.vars["AWS_SECRET_ACCESS_KEY"])
    return command, env


def test_the_monthly_drill_job_installs_idempotently_and_drills_as_its_own_identity(shop: Lab, tmp_path: Path) -> None:
    """The CronJob of role disaster_recovery_drill_schedule: --check writes nothing, a second run changes
    nothing; fired now and run by the lab as a Job (its Pod in the execution environment built from
    `make ee`'s files, as its ServiceAccount under the emulator's RBAC, the S3 keys from the Secret its
    envFrom names), it refuses an unlabelled namespace of its drill's name, then removes the labelled
    leftover of a killed run, drills (Secrets and ConfigMaps checked against Velero's restore resource
    list, which this identity may not read), records the outcome and deletes its namespace."""
    shop.k8s.reset_requests()
    predicted = install_drill_job(shop, check=True)
    assert predicted.rc == 0 and predicted.changed == 1, predicted
    assert writes(shop.k8s.counts()) == {}, "--check wrote to the cluster"
    assert install_drill_job(shop).changed == 1
    shop.k8s.reset_requests()
    again = install_drill_job(shop)
    assert again.rc == 0 and again.changed == 0, again
    assert writes(shop.k8s.counts()) == {}
    assert "disaster-recovery-drill-job | unchanged | CronJob velero/disaster-recovery-drill drills storefront" in again.stdout

    # The S3 keys, where the CronJob's envFrom takes them (an operator creates this Secret).
    kubectl(shop, "create", "secret", "generic", "drill-s3", "-n", "velero",
            f"--from-literal=AWS_ACCESS_KEY_ID={shop.vars['AWS_ACCESS_KEY_ID']}",
            f"--from-literal=AWS_SECRET_ACCESS_KEY={shop.vars['AWS_SECRET_ACCESS_KEY']}")
    # A namespace of the drill's name that is not a drill namespace: refused, nothing written.
    kubectl(shop, "create", "namespace", "drill-shop-monthly")
    shop.k8s.reset_requests()
    condition, logs = run_drill_job(shop, "drill-refused")
    assert condition == "Failed", logs
    assert "Namespace drill-shop-monthly exists and is not a drill namespace" in logs, logs
    assert writes(shop.k8s.counts()) == {}
    kubectl(shop, "delete", "namespace", "drill-shop-monthly", "--wait=true")
    wait_for(lambda: kubectl(shop, "get", "namespace", "drill-shop-monthly", check=False).returncode != 0,
             what="the namespace to be gone")
    # What a killed run leaves: the labelled drill namespace. The job removes it, then drills.
    kubectl(shop, "create", "namespace", "drill-shop-monthly")
    kubectl(shop, "label", "namespace", "drill-shop-monthly", f"{DRILL_LABEL}=storefront")
    before = source_state(shop)
    shop.k8s.reset_requests()
    condition, logs = run_drill_job(shop, "drill-1")
    assert condition == "Complete", logs
    written = writes(shop.k8s.counts())
    assert source_state(shop) == before
    assert drill_namespaces(shop) == []
    # The report the job wrote in its Pod's /tmp (an emptyDir): in the Pod's directory of the lab.
    [report_file] = (shop.dir / "pods" / "velero").glob("drill-1-*/root/tmp/disaster-recovery-reports/*-drill.json")
    report = json.loads(report_file.read_text())
    [row] = report["components"]
    assert row["drill_verdict"] == "passed", row
    [objects_check] = [check for check in row["drill_checks"] if check.startswith("pass objects:")]
    assert objects_check.startswith("pass objects: 8/8 objects of the backup restored")
    assert "ConfigMap, Secret as Velero's restore resource list says (not readable by this identity)" in objects_check
    recorded = json.loads(get(shop, "configmap", "atlas-hardening-dr-drills", "-n", "velero")["data"]["storefront.json"])
    assert recorded["verdict"] == "passed"
    # Two namespace deletes (the leftover, then its own), one create; the Restore, the outcome, the Event.
    assert written == {"delete namespaces": 2, "create namespaces": 1, "create restores": 1, "patch configmaps": 1,
                       "create events": 1}, written


def test_the_monthly_drill_identity_may_delete_its_own_namespaces_and_nothing_else(shop: Lab, tmp_path: Path) -> None:
    """Least privilege, proven: kubectl auth can-i --as (impersonation + SubjectAccessReview) and the
    same request sent with the job's own token give the same answer, for every case of the table.
    Deleting the source namespace, Velero's or kube-system is refused by the API server."""
    assert install_drill_job(shop).rc == 0
    _command, env = drill_job_command(shop, tmp_path)
    account = f"system:serviceaccount:velero:{DRILL_JOB}"
    drill_ns = "drill-shop-monthly"
    kubectl(shop, "create", "configmap", "unrelated", "-n", "velero", "--from-literal=a=b")
    # (kubectl auth can-i arguments, the same request, allowed?)
    table = [
        (["create", "namespaces"], ["create", "namespace", drill_ns], True),
        (["get", f"namespaces/{drill_ns}"], ["get", "namespace", drill_ns], True),
        (["delete", f"namespaces/{drill_ns}"], ["delete", "namespace", drill_ns, "--wait=false"], True),
        (["delete", "namespaces/shop"], ["delete", "namespace", "shop", "--wait=false"], False),
        (["delete", "namespaces/velero"], ["delete", "namespace", "velero", "--wait=false"], False),
        (["delete", "namespaces/kube-system"], ["delete", "namespace", "kube-system", "--wait=false"], False),
        (["list", "namespaces"], ["get", "namespaces"], False),
        (["patch", "namespaces/shop"], ["label", "namespace", "shop", "x=y"], False),
        (["create", "restores.velero.io", "-n", "velero"],
         ["create", "-f", "-", "--dry-run=server"], True),
        (["delete", "backups.velero.io", "-n", "velero"], ["delete", "backups", "-n", "velero", "--all"], False),
        (["patch", "backupstoragelocations.velero.io/default", "-n", "velero"],
         ["patch", "backupstoragelocation", "default", "-n", "velero", "--type=merge", "-p", "{}"], False),
        (["patch", "configmaps/atlas-hardening-dr-drills", "-n", "velero"],
         ["patch", "configmap", "atlas-hardening-dr-drills", "-n", "velero", "--type=merge", "-p", "{}"], True),
        (["patch", "configmaps/unrelated", "-n", "velero"],
         ["patch", "configmap", "unrelated", "-n", "velero", "--type=merge", "-p", "{}"], False),
        (["get", "secrets", "-n", "shop"], ["get", "secrets", "-n", "shop"], False),
        (["get", "configmaps", "-n", "shop"], ["get", "configmaps", "-n", "shop"], False),
        (["create", "pods", "-n", "shop"], ["run", "x", "--image=busybox", "-n", "shop"], False),
        (["create", "rolebindings.rbac.authorization.k8s.io", "-n", "shop"],
         ["create", "rolebinding", "x", "--clusterrole=admin", f"--serviceaccount=velero:{DRILL_JOB}", "-n", "shop"],
         False),
        # The residual right, documented: restored workloads are read cluster-wide (no Secrets among them).
        (["get", "deployments.apps", "-n", "shop"], ["get", "deployments", "-n", "shop"], True),
    ]
    restore = drill_restore({"includedNamespaces": ["shop"], "namespaceMapping": {"shop": drill_ns},
                             "excludedResources": ["cronjobs.batch", "jobs.batch"]})
    admin_env = dict(shop.env, KUBECONFIG=str(shop.kubeconfig))
    for can_i, request, allowed in table:
        answer = shop.run(["kubectl", "auth", "can-i", *can_i, f"--as={account}"], env=admin_env)
        assert answer.stdout.strip() == ("yes" if allowed else "no"), (can_i, answer.stdout, answer.stderr)
        done = shop.run(["kubectl", *request], env=env, input=restore if "-f" in request else None)
        assert ("forbidden: User" in done.stderr) is not allowed, (request, done.stdout, done.stderr)
        assert done.returncode == (0 if allowed else 1), (request, done.stderr)
    assert shop.run(["kubectl", "delete", "namespace", "shop"], env=env).stderr.strip() == (
        f'Error from server (Forbidden): namespaces "shop" is forbidden: User "{account}" cannot delete resource '
        '"namespaces" in API group "" in the namespace "shop"')
    assert get(shop, "namespace", "shop")["status"]["phase"] == "Active"
    # RBAC cannot look inside a Restore; the Kyverno policy the role installs does: only drills pass.
    for spec in ({"includedNamespaces": ["shop"]},  # in place, over the source
                 {"includedNamespaces": ["shop"], "namespaceMapping": {"shop": drill_ns}, "existingResourcePolicy": "update"},
                 {"includedNamespaces": ["shop"], "namespaceMapping": {"shop": "kube-system"}},
                 {"includedNamespaces": ["shop", "velero"], "namespaceMapping": {"shop": drill_ns}},
                 {"namespaceMapping": {"shop": drill_ns}},  # every namespace
                 {"includedNamespaces": ["shop"], "namespaceMapping": {"shop": drill_ns}, "includeClusterResources": True},
                 {"includedNamespaces": ["shop"], "namespaceMapping": {"shop": drill_ns}},  # CronJobs would fire
                 {"includedNamespaces": ["shop"], "namespaceMapping": {"shop": drill_ns},
                  "excludedResources": ["cronjobs.batch"]}):
        refused = shop.run(["kubectl", "create", "-f", "-", "--dry-run=server"], env=env, input=drill_restore(spec))
        assert refused.returncode == 1 and "atlas-hardening-dr-drill-restores" in refused.stderr, (spec, refused.stderr)
        assert "may only restore the catalogued namespaces into their drill namespaces" in " ".join(refused.stderr.split())
    # Velero's own and an administrator's Restores are not the policy's business.
    assert kubectl(shop, "create", "-f", "-", "--dry-run=server", stdin=drill_restore({"includedNamespaces": ["shop"]}))


def drill_restore(spec: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "velero.io/v1", "kind": "Restore",
                           "metadata": {"name": "can-i", "namespace": "velero"}, "spec": {"backupName": "any", **spec}})
