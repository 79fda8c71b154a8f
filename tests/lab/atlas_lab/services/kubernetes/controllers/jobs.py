"""The Job controller and a kubelet for the Jobs whose image the lab can run.

When a Job is created (directly, by ``kubectl create -f``, or from a CronJob through the admin API, as
kube-controller-manager does at the schedule), the controller creates its Pod and, when the Pod's image is
one the lab knows how to run (:class:`RunnableImages`: the collection's execution environment, built from
the same files as the image), runs the container's command and args as a host process:

- its volumes are materialised below a per-Pod directory, at the paths the Pod spec names (ConfigMap and
  Secret keys as files, emptyDir, projected service-account tokens with their audience and expiry, the
  ``kube-root-ca.crt`` CA and the downward API's namespace), and every absolute path under a mount is
  mapped into that directory wherever the Pod's configuration names it: command, args, environment, and
  the text of the mounted ConfigMap and Secret files (a variables file naming the mounted token);
- its environment is the container's (``value``, ``valueFrom`` Secret/ConfigMap keys and fields,
  ``envFrom``), nothing of the lab's; the in-cluster API access of a Pod that mounts its token at
  ``/var/run/secrets/kubernetes.io/serviceaccount`` is given as a kubeconfig that reads that same token
  file (the one translation: the kubernetes client's in-cluster paths are constants);
- ``activeDeadlineSeconds`` kills the whole process group (DeadlineExceeded), ``backoffLimit`` retries
  with a new Pod, and the Job's and Pod's status follow what kube-controller-manager and the kubelet
  write (active, succeeded, failed, startTime, completionTime, conditions), with the output served by
  ``kubectl logs``.

A Job whose image the lab cannot run keeps the behaviour of a cluster without nodes: stored, no Pod.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import os
import random
import re
import shutil
import signal
import string
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerContext, ControllerEvent, set_owner
from atlas_lab.services.kubernetes.quantities import quantity_amount

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
KUBE_API_ACCESS = "/var/run/secrets/kubernetes.io/serviceaccount"
SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunnableImage:
    """How the lab runs an image: the directories its PATH starts with, the environment its Containerfile
    sets, and where the image's own directories are on this machine (image path -> host path)."""

    path: list[str]
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


def repository(image: str) -> str:
    """``registry:5000/team/app:1.2@sha256:...`` -> ``registry:5000/team/app`` (any tag or digest of it)."""
    name = image.split("@", 1)[0]
    head, _colon, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


class RunnableImages:
    """Image repository -> how to run it (every tag and digest of it is the same local build); a builder is
    called once, the first time the image is needed (building the execution environment takes a minute)."""

    def __init__(self) -> None:
        self._builders: dict[str, Callable[[], RunnableImage]] = {}
        self._built: dict[str, RunnableImage] = {}
        self._lock = threading.Lock()

    def register(self, image: str, builder: Callable[[], RunnableImage]) -> None:
        self._builders[repository(image)] = builder

    def knows(self, image: str) -> bool:
        return repository(image) in self._builders

    def resolve(self, image: str) -> RunnableImage:
        key = repository(image)
        with self._lock:
            if key not in self._built:
                self._built[key] = self._builders[key]()
            return self._built[key]


class PodSandbox:
    """A Pod's directory: its volumes at the paths the spec names, below ``root``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.root = directory / "root"
        self.log = directory / "log"
        self.mounts: list[tuple[str, Path]] = []

    def host_path(self, path: str) -> str:
        """``path`` as the container sees it -> where it is on this machine (mounts only)."""
        for mount, target in sorted(self.mounts, key=lambda item: -len(item[0])):
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return str(target) + path[len(mount.rstrip("/")):]
        return path

    def map_text(self, text: str) -> str:
        """Every mount path inside ``text`` (``@/etc/vars/x.yml``, ``HOME=/tmp``, a path in a shell
        command) mapped once, where a path starts and up to where it ends."""
        if not self.mounts:
            return text
        targets = {mount.rstrip("/") or "/": str(target) for mount, target in self.mounts}
        longest_first = sorted(targets, key=len, reverse=True)
        pattern = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, longest_first)) + r")(?=/|$|[^\w.-])")
        return pattern.sub(lambda match: targets[match.group(1)], text)


class JobController(Controller):
    """batch/v1 Jobs -> Pods, run by :class:`PodRunner` when their image is runnable."""

    name = "job-controller"
    watches = (("batch", "Job"),)

    def __init__(self, images: RunnableImages, pods_dir: Path, server: str, ca_file: str,
                 issue_token: Callable[[str, str, list[str], int], str]) -> None:
        self.images = images
        self.pods_dir = pods_dir
        self.server = server
        self.ca_file = ca_file
        self.issue_token = issue_token
        self.logs: dict[tuple[str, str], Path] = {}
        self._started: set[str] = set()
        self.running: dict[str, subprocess.Popen[bytes]] = {}  # Pod name -> its process (group leader)

    def reset(self) -> None:
        self.kill_all()
        self._started.clear()

    def kill_all(self) -> None:
        """Kill every running Pod's process group (the lab stops or resets: no process outlives it)."""
        for process in list(self.running.values()):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        job = event.object
        meta, spec = job["metadata"], job.get("spec") or {}
        if event.type == "DELETED" or meta["uid"] in self._started or spec.get("suspend"):
            return
        if (job.get("status") or {}).get("startTime"):
            return  # started before (a restart of the lab does not run it twice)
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        if not containers or not self.images.knows(containers[0].get("image", "")):
            return
        self._started.add(meta["uid"])
        ctx.patch_status(job, {"startTime": _now(), "active": 1})
        self._start_pod(ctx, job, attempt=0)

    def _start_pod(self, ctx: ControllerContext, job: dict[str, Any], attempt: int) -> None:
        meta, spec = job["metadata"], job["spec"]
        template = spec.get("template") or {}
        name = f"{meta['name']}-{''.join(random.choices(SUFFIX_ALPHABET, k=5))}"
        labels = {**((template.get("metadata") or {}).get("labels") or {}),
                  JOB_NAME_LABEL: meta["name"], "job-name": meta["name"],
                  CONTROLLER_UID_LABEL: meta["uid"], "controller-uid": meta["uid"]}
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": meta["namespace"], "labels": labels,
                            "annotations": (template.get("metadata") or {}).get("annotations") or {}},
               "spec": template.get("spec") or {}}
        set_owner(pod, job)
        created = ctx.create(pod)
        directory = self.pods_dir / meta["namespace"] / name
        self.logs[(meta["namespace"], name)] = directory / "log"
        runner = PodRunner(ctx, self, created, job, directory, attempt)
        threading.Thread(target=runner.run, name=f"pod-{name}", daemon=True).start()

    def finished(self, ctx: ControllerContext, job: dict[str, Any], attempt: int, exit_code: int | None,
                 deadline_exceeded: bool) -> None:
        """On the controller's thread: the Job's status after one of its Pods ended."""
        current = ctx.get("batch/v1", "Job", job["metadata"]["name"], job["metadata"]["namespace"])
        if current is None:
            return
        status = dict(current.get("status") or {})
        stamp = _now()
        if exit_code == 0:
            ctx.patch_status(current, {"active": None, "succeeded": 1, "completionTime": stamp, "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastTransitionTime": stamp,
                 "lastProbeTime": stamp},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastTransitionTime": stamp,
                 "lastProbeTime": stamp}]})
            return
        failed = int(status.get("failed") or 0) + 1
        backoff_limit = int((current.get("spec") or {}).get("backoffLimit", 6))
        if not deadline_exceeded and failed <= backoff_limit:
            ctx.patch_status(current, {"failed": failed})
            self._start_pod(ctx, current, attempt + 1)
            return
        reason, message = (("DeadlineExceeded", "Job was active longer than specified deadline") if deadline_exceeded
                           else ("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
        ctx.patch_status(current, {"active": None, "failed": failed, "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": reason, "message": message,
             "lastTransitionTime": stamp, "lastProbeTime": stamp},
            {"type": "Failed", "status": "True", "reason": reason, "message": message,
             "lastTransitionTime": stamp, "lastProbeTime": stamp}]})


class PodRunner:
    """One Pod of a Job, on a thread of its own: materialise, run, report."""

    def __init__(self, ctx: ControllerContext, controller: JobController, pod: dict[str, Any], job: dict[str, Any],
                 directory: Path, attempt: int) -> None:
        self.ctx = ctx
        self.controller = controller
        self.pod = pod
        self.job = job
        self.sandbox = PodSandbox(directory)
        self.attempt = attempt
        self.namespace = pod["metadata"]["namespace"]

    def run(self) -> None:
        exit_code: int | None = None
        deadline_exceeded = False
        container = self.pod["spec"]["containers"][0]
        try:
            self.sandbox.directory.mkdir(parents=True, exist_ok=True)
            image = self.controller.images.resolve(container["image"])
            self.sandbox.mounts.extend((path, Path(host)) for path, host in image.files.items())
            env = self._environment(container, image)
            argv = [self.sandbox.map_text(arg) for arg in (container.get("command") or []) + (container.get("args")
                                                                                              or [])]
            if argv and "/" not in argv[0]:
                found = shutil.which(argv[0], path=env["PATH"])
                argv[0] = found or argv[0]
            self._report_pod("Running", started=_now())
            deadline = self.job["spec"].get("activeDeadlineSeconds")
            remaining = None if deadline is None else max(1.0, float(deadline) - self._elapsed())
            with self.sandbox.log.open("wb") as log:
                process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                           cwd=self.sandbox.host_path(container["workingDir"])
                                           if container.get("workingDir") else str(self.sandbox.directory))
                self.controller.running[self.pod["metadata"]["name"]] = process
                try:
                    exit_code = process.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    deadline_exceeded = True
                    os.killpg(process.pid, signal.SIGKILL)  # the whole tree, as the kubelet kills the cgroup
                    exit_code = process.wait()
                finally:
                    self.controller.running.pop(self.pod["metadata"]["name"], None)
        except Exception as exc:  # noqa: BLE001 - a Pod that cannot start fails, with the reason in its log
            with self.sandbox.log.open("ab") as log:
                log.write(f"atlas-lab kubelet: cannot run the container: {exc}\n".encode())
            exit_code = 128
        finished = _now()
        phase = "Succeeded" if exit_code == 0 else "Failed"
        reason = "Completed" if exit_code == 0 else ("DeadlineExceeded" if deadline_exceeded else "Error")
        self.ctx.after(0, lambda: self._finish(phase, exit_code, reason, finished, deadline_exceeded))

    def _finish(self, phase: str, exit_code: int | None, reason: str, finished: str, deadline_exceeded: bool) -> None:
        self._report_pod(phase, exit_code=exit_code, reason=reason, finished=finished)
        self.controller.finished(self.ctx, self.job, self.attempt, exit_code, deadline_exceeded)

    def _elapsed(self) -> float:
        started = (self.ctx.get("batch/v1", "Job", self.job["metadata"]["name"], self.namespace) or {}).get(
            "status", {}).get("startTime")
        if not started:
            return 0.0
        moment = datetime.datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        return (datetime.datetime.now(datetime.timezone.utc) - moment).total_seconds()

    def _report_pod(self, phase: str, started: str | None = None, exit_code: int | None = None,
                    reason: str = "", finished: str | None = None) -> None:
        container = self.pod["spec"]["containers"][0]
        if phase == "Running":
            state: dict[str, Any] = {"running": {"startedAt": started}}
        else:
            state = {"terminated": {"exitCode": exit_code, "reason": reason, "finishedAt": finished}}
        status = {"phase": phase, "hostIP": "10.0.0.10", "podIP": "10.244.0.200",
                  "containerStatuses": [{"name": container["name"], "image": container["image"],
                                         "imageID": container["image"], "ready": phase == "Running",
                                         "restartCount": 0, "started": phase == "Running", "state": state}]}
        if started:
            status["startTime"] = started
        current = self.ctx.get("v1", "Pod", self.pod["metadata"]["name"], self.namespace)
        if current is not None:
            self.ctx.patch_status(current, status)

    # Volumes and environment -------------------------------------------------------------------
    def _environment(self, container: dict[str, Any], image: RunnableImage) -> dict[str, str]:
        mounted = self._materialise_volumes(container)
        env: dict[str, str] = {"PATH": os.pathsep.join([*image.path, "/usr/local/bin", "/usr/bin", "/bin"]),
                               "LANG": "C.UTF-8", "HOSTNAME": self.pod["metadata"]["name"],
                               **{name: self.sandbox.map_text(value) for name, value in image.env.items()}}
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            env.update({prefix + key: value for key, value in self._keys(source).items()})
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = self.sandbox.map_text(str(item["value"]))
            elif "valueFrom" in item:
                value = self._value_from(item["valueFrom"])
                if value is not None:
                    env[item["name"]] = value
        if KUBE_API_ACCESS in mounted:
            env["KUBECONFIG"] = self._kubeconfig(mounted[KUBE_API_ACCESS])
        return env

    def _materialise_volumes(self, container: dict[str, Any]) -> dict[str, Path]:
        volumes = {volume["name"]: volume for volume in self.pod["spec"].get("volumes") or []}
        mounted: dict[str, Path] = {}
        mounts = container.get("volumeMounts") or []
        for mount in mounts:  # every mount first: file contents are mapped with all of them
            target = self.sandbox.root / mount["mountPath"].lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            self.sandbox.mounts.append((mount["mountPath"], target))
            mounted[mount["mountPath"]] = target
        for mount in mounts:
            volume = volumes[mount["name"]]
            target = mounted[mount["mountPath"]]
            files: dict[str, bytes] = {}
            if "configMap" in volume:
                files = self._projected_keys("ConfigMap", volume["configMap"])
            elif "secret" in volume:
                files = self._projected_keys("Secret", {**volume["secret"], "name": volume["secret"]["secretName"]})
            elif "projected" in volume:
                for source in volume["projected"].get("sources") or []:
                    files.update(self._projected_source(source))
            elif "emptyDir" not in volume:
                raise RuntimeError(f"volume {mount['name']}: only configMap, secret, projected and emptyDir volumes "
                                   "are run by the lab")
            for relative, content in files.items():
                path = target / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self._mapped_content(content))
        return mounted

    def _mapped_content(self, content: bytes) -> bytes:
        """A text file's paths under the mounts mapped too (a variables file naming a mounted token)."""
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            return content
        return self.sandbox.map_text(text).encode("utf-8")

    def _object(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.ctx.get("v1", kind, name, self.namespace)

    def _data(self, kind: str, name: str) -> dict[str, bytes] | None:
        obj = self._object(kind, name)
        if obj is None:
            return None
        if kind == "Secret":
            return {key: base64.b64decode(value) for key, value in (obj.get("data") or {}).items()}
        return {key: str(value).encode() for key, value in (obj.get("data") or {}).items()}

    def _projected_keys(self, kind: str, source: dict[str, Any]) -> dict[str, bytes]:
        data = self._data(kind, source["name"])
        if data is None:
            if source.get("optional"):
                return {}
            raise RuntimeError(f'{kind.lower()} "{source["name"]}" not found')
        items = source.get("items")
        return {item["path"]: data[item["key"]] for item in items} if items else dict(data)

    def _projected_source(self, source: dict[str, Any]) -> dict[str, bytes]:
        if "serviceAccountToken" in source:
            request = source["serviceAccountToken"]
            account = self.pod["spec"].get("serviceAccountName") or "default"
            token = self.controller.issue_token(self.namespace, account, [request["audience"]] if request.get(
                "audience") else [], int(request.get("expirationSeconds") or 3607))
            return {request["path"]: token.encode()}
        if "configMap" in source:
            return self._projected_keys("ConfigMap", source["configMap"])
        if "secret" in source:
            return self._projected_keys("Secret", source["secret"])
        if "downwardAPI" in source:
            fields = {"metadata.namespace": self.namespace, "metadata.name": self.pod["metadata"]["name"]}
            return {item["path"]: fields[item["fieldRef"]["fieldPath"]].encode()
                    for item in source["downwardAPI"].get("items") or []}
        raise RuntimeError(f"projected source {sorted(source)} is not run by the lab")

    def _keys(self, source: dict[str, Any]) -> dict[str, str]:
        kind, reference = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else (
            "Secret", source["secretRef"])
        data = self._data(kind, reference["name"])
        if data is None and not reference.get("optional"):
            raise RuntimeError(f'{kind.lower()} "{reference["name"]}" not found')
        return {key: value.decode() for key, value in (data or {}).items()}

    def _value_from(self, source: dict[str, Any]) -> str | None:
        if "fieldRef" in source:
            return {"metadata.namespace": self.namespace, "metadata.name": self.pod["metadata"]["name"],
                    "spec.serviceAccountName": self.pod["spec"].get("serviceAccountName", "default")}.get(
                source["fieldRef"]["fieldPath"])
        if "resourceFieldRef" in source:
            return self._resource_value(source["resourceFieldRef"])
        kind, reference = (("ConfigMap", source["configMapKeyRef"]) if "configMapKeyRef" in source
                           else ("Secret", source["secretKeyRef"]))
        data = self._data(kind, reference["name"]) or {}
        if reference["key"] not in data:
            if reference.get("optional"):
                return None
            raise RuntimeError(f'couldn\'t find key {reference["key"]} in {kind} {self.namespace}/{reference["name"]}')
        return data[reference["key"]].decode()

    def _resource_value(self, selector: dict[str, Any]) -> str:
        """A container's limit or request in units of the divisor, rounded up, as the kubelet writes it."""
        container = self.pod["spec"]["containers"][0]
        section, _dot, resource = selector["resource"].partition(".")
        quantity = ((container.get("resources") or {}).get(section) or {}).get(resource)
        if quantity is None:
            # The kubelet falls back to the node's allocatable figures, which the lab's node does not have.
            raise RuntimeError(f"resourceFieldRef {selector['resource']}: the lab's node has no allocatable "
                               f"figures; set resources.{selector['resource']} on the container")
        amount, divisor = quantity_amount(quantity), quantity_amount(selector.get("divisor") or "1")
        if amount is None or not divisor:
            raise RuntimeError(f"resourceFieldRef {selector['resource']}: cannot read {quantity!r}")
        return str(math.ceil(amount / divisor))

    def _kubeconfig(self, api_access: Path) -> str:
        """In-cluster access as a kubeconfig reading the Pod's own mounted token and CA files."""
        path = self.sandbox.directory / "in-cluster-kubeconfig"
        ca = api_access / "ca.crt"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "in-cluster",
            "clusters": [{"name": "in-cluster", "cluster": {
                "server": self.controller.server,
                "certificate-authority": str(ca if ca.is_file() else self.controller.ca_file)}}],
            "users": [{"name": "pod", "user": {"tokenFile": str(api_access / "token")}}],
            "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "pod",
                                                            "namespace": self.namespace}}]}))
        return str(path)
