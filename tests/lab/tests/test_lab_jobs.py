"""The lab's Job controller and kubelet (controllers/jobs.py), with a shell "image" run from /bin: what a
Pod's command sees (its volumes at the paths it names, its environment and nothing of the lab's), the
deadline that kills the whole process tree, retries, status as kube-controller-manager writes it, and
`kubectl logs`. The collection's own jobs in the execution environment: test_keycloak_rotation_schedule.py."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atlas_lab.services.kubernetes import tokens
from atlas_lab.services.kubernetes.controllers.jobs import JobController, RunnableImage, RunnableImages

SHELL_IMAGE = "lab.test/shell:1"


@pytest.fixture
def jobs(k8s: Any, tmp_path: Path) -> Iterator[Any]:
    app = k8s.app
    images = RunnableImages()
    images.register(SHELL_IMAGE, lambda: RunnableImage(path=["/usr/bin", "/bin"]))

    def issue_token(namespace: str, account: str, audiences: list[str], expiration: int) -> str:
        found = app.objects.get(app.registry.get("", "serviceaccounts"), namespace, account)
        request = {"spec": {"audiences": audiences, "expirationSeconds": max(expiration, 600)}}
        return str(tokens.token_request(app.token_issuer, namespace, found, request)["status"]["token"])

    controller = JobController(images, tmp_path / "pods", k8s.server.url, str(k8s.server.ca_file), issue_token)
    controller.logs = app.handler.pod_logs
    app.add_controller(controller)
    namespace = "jobs-" + uuid.uuid4().hex[:6]
    k8s.kubectl("create", "namespace", namespace)
    k8s.kubectl("create", "serviceaccount", "runner", "-n", namespace)
    k8s.namespace = namespace
    try:
        yield k8s
    finally:
        app.controllers.remove(controller)


def job(name: str, namespace: str, command: str, image: str = SHELL_IMAGE, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": image, "command": ["sh", "-c", command]}
    container.update(spec.pop("container", {}))
    volumes = spec.pop("volumes", [])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace},
            "spec": {"backoffLimit": 0, **spec, "template": {"spec": {
                "serviceAccountName": "runner", "restartPolicy": "Never", "containers": [container],
                "volumes": volumes}}}}


def finished(k8s: Any, name: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = json.loads(k8s.kubectl("get", "job", name, "-n", k8s.namespace, "-o", "json").stdout)
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True"
               for c in current.get("status", {}).get("conditions", [])):
            return current
        time.sleep(0.2)
    raise AssertionError(f"Job {name} did not finish in {timeout} s")


def test_a_job_runs_with_its_volumes_and_environment_only_and_logs_its_output(jobs: Any) -> None:
    ns = jobs.namespace
    jobs.kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=app.yml=token: /var/run/secrets/x/token")
    jobs.kubectl("create", "secret", "generic", "db", "-n", ns, "--from-literal=password=s3cret")
    body = job("hello", ns, 'cat /etc/app/app.yml; echo; test -s /var/run/secrets/x/token && echo token-ok; '
               'echo "pw=$PASSWORD ns=$NS home=$HOME"; test -z "$VAULT_TOKEN$KUBECONFIG" && echo clean-env; '
               'echo written > /tmp/out', container={
                   "env": [{"name": "HOME", "value": "/tmp"},
                           {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                           {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                   "volumeMounts": [{"name": "settings", "mountPath": "/etc/app"},
                                    {"name": "vault-token", "mountPath": "/var/run/secrets/x"},
                                    {"name": "tmp", "mountPath": "/tmp"}]},
               volumes=[{"name": "settings", "configMap": {"name": "settings"}},
                        {"name": "vault-token", "projected": {"sources": [{"serviceAccountToken": {
                            "path": "token", "audience": "vault", "expirationSeconds": 600}}]}},
                        {"name": "tmp", "emptyDir": {}}])
    jobs.kubectl("create", "-f", "-", stdin=json.dumps(body))
    done = finished(jobs, "hello")
    status = done["status"]
    assert status["succeeded"] == 1 and status["startTime"] and status["completionTime"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert done["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": done["metadata"]["uid"]}}
    pods = json.loads(jobs.kubectl("get", "pods", "-n", ns, "-l", "job-name=hello", "-o", "json").stdout)["items"]
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]
    assert pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert [(r["kind"], r["name"]) for r in pods[0]["metadata"]["ownerReferences"]] == [("Job", "hello")]
    logs = jobs.kubectl("logs", "job/hello", "-n", ns).stdout
    sandbox = Path(jobs.app.handler.pod_logs[(ns, pods[0]["metadata"]["name"])]).parent / "root"
    # The variables file names the mounted token by its Pod path, mapped like the command's paths.
    assert f"token: {sandbox}/var/run/secrets/x/token" in logs, logs
    assert "token-ok" in logs and f"pw=s3cret ns={ns} home={sandbox}/tmp" in logs and "clean-env" in logs, logs
    assert (sandbox / "tmp" / "out").read_text() == "written\n"
    # The projected token: the ServiceAccount's, for Vault's audience only.
    token = (sandbox / "var/run/secrets/x/token").read_text()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] == ["vault"] and claims["sub"] == f"system:serviceaccount:{ns}:runner"


def test_the_deadline_kills_the_whole_process_tree(jobs: Any) -> None:
    body = job("slow", jobs.namespace, "sleep 300 & echo $! > /tmp/child; wait", activeDeadlineSeconds=2,
               container={"volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
               volumes=[{"name": "tmp", "emptyDir": {}}])
    jobs.kubectl("create", "-f", "-", stdin=json.dumps(body))
    done = finished(jobs, "slow")
    failed = next(c for c in done["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "DeadlineExceeded"
    pod = json.loads(jobs.kubectl("get", "pods", "-n", jobs.namespace, "-l", "job-name=slow", "-o", "json").stdout)
    name = pod["items"][0]["metadata"]["name"]
    child = int((Path(jobs.app.handler.pod_logs[(jobs.namespace, name)]).parent / "root/tmp/child").read_text())
    time.sleep(0.2)
    # The background sleep went with its shell (the process group was killed): gone, or a zombie left to
    # this machine's init to reap.
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_failing_pod_is_retried_up_to_the_backoff_limit(jobs: Any) -> None:
    jobs.kubectl("create", "-f", "-", stdin=json.dumps(job("flaky", jobs.namespace, "echo no; exit 3",
                                                           backoffLimit=1)))
    done = finished(jobs, "flaky")
    assert done["status"]["failed"] == 2
    assert next(c for c in done["status"]["conditions"] if c["type"] == "Failed")["reason"] == "BackoffLimitExceeded"
    pods = json.loads(jobs.kubectl("get", "pods", "-n", jobs.namespace, "-l", "job-name=flaky", "-o", "json").stdout)
    assert [p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] for p in pods["items"]] == [3, 3]


def test_a_job_whose_image_the_lab_cannot_run_is_only_stored(jobs: Any) -> None:
    jobs.kubectl("create", "-f", "-", stdin=json.dumps(job("elsewhere", jobs.namespace, "true", image="busybox:1.36")))
    jobs.wait_idle()
    current = json.loads(jobs.kubectl("get", "job", "elsewhere", "-n", jobs.namespace, "-o", "json").stdout)
    assert "startTime" not in current.get("status", {})
    assert json.loads(jobs.kubectl("get", "pods", "-n", jobs.namespace, "-o", "json").stdout)["items"] == []


def test_a_cronjob_fires_on_request_as_kube_controller_manager_does(jobs: Any) -> None:
    template = job("x", jobs.namespace, "echo fired")["spec"]
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": jobs.namespace},
               "spec": {"schedule": "17 3 * * *", "jobTemplate": {"spec": template}}}
    jobs.kubectl("create", "-f", "-", stdin=json.dumps(cronjob))
    created = jobs.app.run_cronjob(jobs.namespace, "nightly")
    assert created["metadata"]["name"].startswith("nightly-")
    assert created["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    finished(jobs, created["metadata"]["name"])
    assert "fired" in jobs.kubectl("logs", f"job/{created['metadata']['name']}", "-n", jobs.namespace).stdout
    status = json.loads(jobs.kubectl("get", "cronjob", "nightly", "-n", jobs.namespace, "-o", "json").stdout)["status"]
    assert status["lastScheduleTime"]


def test_kubectl_create_job_from_a_cronjob_decodes_the_whole_pod_template(jobs: Any) -> None:
    """`kubectl create job --from=cronjob/X` POSTs the Job as protobuf: what the emulator decodes is what kubectl
    itself writes as JSON for the same command, field for field (a wrong field number would put a value under
    another name or be refused), and the Job runs."""
    ns = jobs.namespace
    jobs.kubectl("create", "configmap", "settings", "-n", ns, "--from-literal=mode=drill")
    jobs.kubectl("create", "secret", "generic", "s3", "-n", ns, "--from-literal=key=AKIAEXAMPLE")
    template = job("x", ns, 'echo "mode=$mode ns=$NS limit=$LIMIT"; cat /etc/app/mode', activeDeadlineSeconds=600,
                   ttlSecondsAfterFinished=3600, container={
                       "env": [{"name": "HOME", "value": "/tmp"},
                               {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                               {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "key"}}},
                               {"name": "LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                                    "divisor": "1Mi"}}}],
                       "envFrom": [{"configMapRef": {"name": "settings"}}, {"prefix": "S3_", "secretRef": {
                           "name": "s3", "optional": True}}],
                       "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                       "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                           "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                                           "seccompProfile": {"type": "RuntimeDefault"}},
                       "volumeMounts": [{"name": "settings", "mountPath": "/etc/app", "readOnly": True},
                                        {"name": "tmp", "mountPath": "/tmp"},
                                        {"name": "token", "mountPath": "/var/run/secrets/vault", "readOnly": True}]},
                   volumes=[{"name": "settings", "configMap": {"name": "settings", "defaultMode": 0o440,
                                                               "items": [{"key": "mode", "path": "mode"}]}},
                            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                            {"name": "token", "projected": {"defaultMode": 0o400, "sources": [
                                {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600,
                                                         "path": "token"}},
                                {"configMap": {"name": "kube-root-ca.crt",
                                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                                    "fieldPath": "metadata.namespace"}}]}}]}}])["spec"]
    template["template"]["spec"].update({
        "automountServiceAccountToken": False, "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "jobs", "effect": "NoSchedule"}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                            "seccompProfile": {"type": "RuntimeDefault"}}})
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "rich", "namespace": ns},
               "spec": {"schedule": "17 3 * * *", "timeZone": "Etc/UTC",
                        "jobTemplate": {"metadata": {"labels": {"app": "drill"}}, "spec": template}}}
    jobs.kubectl("create", "-f", "-", stdin=json.dumps(cronjob))
    expected = json.loads(jobs.kubectl("create", "job", "manual", "--from=cronjob/rich", "-n", ns,
                                       "--dry-run=client", "-o", "json").stdout)

    created = jobs.kubectl("create", "job", "manual", "--from=cronjob/rich", "-n", ns, "-v=8")
    assert created.stdout.strip() == "job.batch/manual created"
    assert "Content-Type: application/vnd.kubernetes.protobuf" in created.stderr

    stored = json.loads(jobs.kubectl("get", "job", "manual", "-n", ns, "-o", "json").stdout)
    assert stored["spec"]["template"]["spec"] == expected["spec"]["template"]["spec"]
    for field in ("annotations", "ownerReferences"):
        assert stored["metadata"][field] == expected["metadata"][field]
    assert expected["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    assert stored["metadata"]["labels"]["app"] == "drill"
    for field in ("activeDeadlineSeconds", "ttlSecondsAfterFinished", "backoffLimit"):
        assert stored["spec"][field] == expected["spec"][field]
    finished(jobs, "manual")
    logs = jobs.kubectl("logs", "job/manual", "-n", ns).stdout
    assert f"mode=drill ns={ns} limit=512" in logs and logs.rstrip().endswith("drill")
