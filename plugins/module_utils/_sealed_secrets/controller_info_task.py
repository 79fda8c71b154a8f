# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the sealed_secrets_controller_info module's run (read-only).

Finds every Deployment running the controller image, says which one the options designate (or
what to set to adopt another one, such as the Helm chart's ``sealed-secrets``), and whether it
answers ``/healthz`` and serves its certificate.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects
from ansible_collections.atlas.hardening.plugins.module_utils._sealed_secrets.controller_endpoint import (
    ControllerEndpoint,
    ControllerUnreachable,
    installed_controllers,
)


def controller_info_task(module: HardeningModule) -> dict[str, Any]:
    params = module.params
    namespace, name = params["controller_namespace"], params["controller_name"]
    objects = KubernetesObjects(kubernetes_connection(module))
    found = installed_controllers(objects)
    designated = next((c for c in found if (c.namespace, c.name) == (namespace, name)), None)
    others = [c for c in found if c is not designated]
    result: dict[str, Any] = {"changed": False, "installed": [c.as_dict() for c in found],
                              "present": designated is not None, "other_installations": [c.as_dict() for c in others],
                              "healthy": False, "certificate": None}
    if designated is None and others:
        other = others[0]
        result["adopt_hint"] = (f"A controller already runs as {other.namespace}/{other.name}"
                                f"{' (Helm release ' + other.helm_release + ')' if other.helm_release else ''}: "
                                f"set sealed_secrets_namespace={other.namespace}, sealed_secrets_controller_name="
                                f"{other.name} and sealed_secrets_manage_controller=false to adopt it (its installer "
                                "keeps managing it; the collection backs its keys up and seals with it) instead of "
                                "installing a second controller.")
    if designated is None:
        return result
    endpoint = ControllerEndpoint(objects, namespace, name)
    result["healthy"] = endpoint.wait_healthy(params["wait_timeout"])
    if not result["healthy"]:
        if params["wait_timeout"]:
            raise HardeningError(f"{endpoint.where} did not answer /healthz within {params['wait_timeout']} s: "
                                 f"check its Pods (kubectl -n {namespace} get pods -l name={name}).", **result)
        return result
    try:
        certificate = endpoint.certificate()
    except ControllerUnreachable as exc:
        raise HardeningError(str(exc), **result) from None
    result["certificate"] = {"fingerprint": certificate.fingerprint, "not_before": certificate.not_before,
                             "not_after": certificate.not_after, "pem": certificate.pem}
    return result
