# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: what alertmanager_cluster_info and alertmanager_cluster_verify do.

Both examine the same replicas with the same options; only the verifying module may run the
gossip probe, which writes (a short silence).
"""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.cluster import (
    AlertmanagerClusterError,
    examine,
)
from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.replicas import Replica, UrlReplicaClient
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule
from ansible_collections.atlas.hardening.plugins.module_utils._common.option_checks import check_range
from ansible_collections.atlas.hardening.plugins.module_utils._common.urls import is_http_url
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.config import kubernetes_connection

# The options both modules share (documented by the atlas.hardening.alertmanager_cluster fragment).
CLUSTER_ARGSPEC: dict[str, dict[str, Any]] = dict(
    name=dict(type="str"),
    namespace=dict(type="str", default="monitoring"),
    urls=dict(type="list", elements="str"),
    expected_replicas=dict(type="int"),
    check_alert_routing=dict(type="bool", default=True),
    prometheus_namespaces=dict(type="list", elements="str"),
    wait_timeout=dict(type="float", default=0.0),
    request_timeout=dict(type="float", default=5.0),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
)
CLUSTER_CHOICE: dict[str, Any] = dict(mutually_exclusive=[("name", "urls")], required_one_of=[("name", "urls")])


def cluster_info_task(module: HardeningModule) -> dict[str, Any]:
    """Read-only: every replica's status and the verdict."""
    return _examine(module, gossip=False, gossip_timeout=0.0)


def cluster_verify_task(module: HardeningModule) -> dict[str, Any]:
    """The verdict, proven by a silence that must reach every replica (skipped in check mode)."""
    return _examine(module, gossip=module.params["gossip_check"], gossip_timeout=module.params["gossip_timeout"])


def _examine(module: HardeningModule, gossip: bool, gossip_timeout: float) -> dict[str, Any]:
    params = module.params
    check_range(params["wait_timeout"], "wait_timeout", 0, 3600)
    check_range(params["request_timeout"], "request_timeout", 0.1, 300)
    check_range(params["expected_replicas"], "expected_replicas", 1)
    if gossip:
        check_range(gossip_timeout, "gossip_timeout", 0.1, 600)
    if params["urls"]:
        bad = [url for url in params["urls"] if not is_http_url(url)]
        if bad:
            raise AlertmanagerClusterError("urls must be http(s) URLs of the replicas (e.g. http://alertmanager-0:9093);"
                                           " not: {}.".format(", ".join(repr(url) for url in bad)))
        replicas = [Replica(url, UrlReplicaClient(url, timeout=params["request_timeout"],
                                                  validate_certs=params["validate_certs"], ca_path=params["ca_path"]))
                    for url in params["urls"]]
        expected = params["expected_replicas"] or len(replicas)
        result = examine(lambda: (expected, replicas, []), wait_timeout=params["wait_timeout"], gossip=gossip,
                         gossip_timeout=gossip_timeout, check_mode=module.check_mode)
        return dict(result, changed=False)
    # Imported here: the URL mode must work without the kubernetes library.
    from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.kubernetes_replicas import (  # pylint: disable=import-outside-toplevel
        check_prometheus_alerting,
        find_replicas,
    )
    from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import (  # pylint: disable=import-outside-toplevel
        KubernetesObjects,
    )

    objects = KubernetesObjects(kubernetes_connection(module))
    found: dict[str, Any] = {}

    def discover() -> tuple[int, list[Replica], list[str]]:
        target = find_replicas(objects, params["namespace"], params["name"])
        found["target"] = target
        return params["expected_replicas"] or target.expected, target.replicas, target.missing

    routing: Callable[[], dict[str, Any]] | None = None
    if params["check_alert_routing"]:
        def routing() -> dict[str, Any]:
            return check_prometheus_alerting(objects, found["target"], params["prometheus_namespaces"])
    result = examine(discover, wait_timeout=params["wait_timeout"], gossip=gossip, gossip_timeout=gossip_timeout,
                     check_mode=module.check_mode, routing_check=routing)
    return dict(result, changed=False, alertmanager=found["target"].to_dict(),
                api_requests=dict(objects.connection.request_counts))
