"""Scenario of the collection's scheduled jobs (the rotation, the key backup, the restore test): the lab
runs their Jobs (controllers/jobs.py).

The image the roles put in their CronJobs in the lab (``LAB_EE_IMAGE``, the lab inventory's
``keycloak_rotation_schedule_image``; any tag or digest of its repository) resolves to the execution
environment built from the files `make ee` writes (atlas_lab.core.execution_environment): a missing
dependency or a wrong path in the image definition fails the Job here as it would in the cluster. It
is built the first time a Job needs it (about a minute) into ``.build/lab-images/<digest of the
checkout>``, shared by every lab of that checkout. A Job starts when it is created: `kubectl create
-f`, or the admin call ``POST k8s/cronjobs/run {"namespace", "name"}``, which creates the Job of a
CronJob's schedule as kube-controller-manager does when it fires.
"""

from __future__ import annotations

from typing import Any

import yaml

from atlas_lab.core.execution_environment import IMAGE_COLLECTIONS, cached_environment
from atlas_lab.scenarios.base import Scenario
from atlas_lab.services.kubernetes import tokens
from atlas_lab.services.kubernetes.controllers.jobs import JobController, RunnableImage, RunnableImages

LAB_EE_IMAGE = "registry.example/platform/atlas-hardening-ee:0.1.0"


class ScheduledJobsScenario(Scenario):
    name = "scheduled_jobs"
    description = "Jobs of the execution environment's image run as host processes (kubelet simulation)"
    controllers = ("job-controller (runs Jobs of the execution environment image)",)

    def start(self) -> None:
        kubernetes = self.context.kubernetes
        kubeconfig = yaml.safe_load((self.context.dir / "kubeconfig").read_text(encoding="utf-8"))
        server = kubeconfig["clusters"][0]["cluster"]["server"]
        images = RunnableImages()
        images.register(LAB_EE_IMAGE, self._build_execution_environment)

        def issue_token(namespace: str, account: str, audiences: list[str], expiration: int) -> str:
            service_accounts = kubernetes.registry.get("", "serviceaccounts")
            found = kubernetes.objects.get(service_accounts, namespace, account)
            request = {"spec": {"audiences": audiences, "expirationSeconds": max(expiration, 600)}}
            return str(tokens.token_request(kubernetes.token_issuer, namespace, found, request)["status"]["token"])

        self.controller = JobController(images, self.context.dir / "pods", server,
                                        str(self.context.dir / "tls" / "ca.crt"), issue_token)
        self.controller.logs = kubernetes.handler.pod_logs
        kubernetes.add_controller(self.controller)

    def _build_execution_environment(self) -> RunnableImage:
        environment = cached_environment()
        return RunnableImage(path=[str(environment.bin)], env={"ANSIBLE_COLLECTIONS_PATH": IMAGE_COLLECTIONS},
                             files={IMAGE_COLLECTIONS: str(environment.collections)})

    def stop(self) -> None:
        controller = getattr(self, "controller", None)
        if controller is not None:
            controller.kill_all()

    def inventory_vars(self) -> dict[str, Any]:
        return {"keycloak_rotation_schedule_image": LAB_EE_IMAGE}


SCENARIO = ScheduledJobsScenario
