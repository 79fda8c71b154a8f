#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: alertmanager_cluster_info
short_description: Check that the replicas of an Alertmanager really form one highly available cluster
version_added: 0.1.0
description:
  - Asks every replica of an Alertmanager for C(GET /api/v2/status) and judges the answers. The
    verdict is V(healthy) only when every expected replica answers, its pod is Ready, its cluster
    status is C(ready) and it sees exactly the expected replicas as peers.
  - With O(name), the replicas are the pods of the StatefulSet C(alertmanager-<name>) that
    prometheus-operator runs for the C(Alertmanager) resource (monitoring.coreos.com/v1); they are
    reached through the API server's pod proxy, so only the Kubernetes API must be reachable.
    The expected count is the resource's C(spec.replicas).
  - With O(urls), the replicas are reached at those URLs.
  - With O(name), it also checks that every C(Prometheus) resource that sends alerts to this
    Alertmanager does so through a Service whose selector covers every replica (endpoint
    discovery), because peers do not replicate alerts. A single URL or VIP loses the alerts of a
    replica that is down.
  - With O(gossip_check), it creates a short silence on one replica, waits until every other
    replica has it, and expires it. This proves the peers replicate state, not only membership.
    It is the only part that writes, and it is skipped in check mode.
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.kubernetes
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details: read-only, except the optional gossip probe, which check mode skips (and says so).
  diff_mode:
    support: none
  platform:
    platforms: posix
  action_group:
    support: full
    membership: [atlas.hardening.kubernetes]
options:
  name:
    description:
      - Name of the C(Alertmanager) resource. Mutually exclusive with O(urls).
    type: str
  namespace:
    description:
      - Namespace of the C(Alertmanager) resource (and, by default, of the C(Prometheus) resources checked).
    type: str
    default: monitoring
  urls:
    description:
      - Base URLs of the replicas, when they are not found through Kubernetes.
    type: list
    elements: str
  expected_replicas:
    description:
      - How many replicas must form the cluster. Defaults to the resource's C(spec.replicas) with
        O(name), and to the number of O(urls).
    type: int
  gossip_check:
    description:
      - Create a probe silence on one replica, wait for it on all others, then expire it.
      - The silence matches no real alert (C(alertname=AtlasHardeningGossipProbe) and a random label)
        and ends by itself after five minutes if it cannot be expired.
    type: bool
    default: false
  gossip_timeout:
    description:
      - Seconds to wait for the probe silence to reach every replica.
    type: float
    default: 10
  check_alert_routing:
    description:
      - With O(name), check that the C(Prometheus) resources send alerts to every replica.
    type: bool
    default: true
  prometheus_namespaces:
    description:
      - Namespaces whose C(Prometheus) resources are checked. Defaults to O(namespace).
    type: list
    elements: str
  wait_timeout:
    description:
      - Ask again every second until the verdict is V(healthy), for at most this many seconds
        (after a scale-up the new peers need a few seconds to join and settle). V(0) asks once.
    type: float
    default: 0
  request_timeout:
    description:
      - Timeout in seconds of each request to a replica given by O(urls).
    type: float
    default: 5
  validate_certs:
    description:
      - Verify the TLS certificates of O(urls).
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle to verify the TLS certificates of O(urls).
    type: path
notes:
  - With O(name), the identity needs C(get) on C(alertmanagers) and C(prometheuses)
    (monitoring.coreos.com), C(statefulsets), C(pods), C(services), and C(get) on C(pods/proxy);
    O(gossip_check) also needs C(create) and C(delete) on C(pods/proxy).
  - The peer list of a replica that was killed still shows it until memberlist declares it dead
    (seconds); the replica itself is reported at once as unreachable.
"""

EXAMPLES = r"""
- name: Verify the Alertmanager cluster of kube-prometheus-stack, with an end-to-end gossip probe
  atlas.hardening.alertmanager_cluster_info:
    name: kube-prometheus-stack-alertmanager
    namespace: monitoring
    gossip_check: true
    wait_timeout: 120
  register: alertmanager

- name: Fail unless it is highly available
  ansible.builtin.assert:
    that: alertmanager.verdict == 'healthy'
    fail_msg: "{{ alertmanager.summary }}"

- name: Verify replicas given by URL
  atlas.hardening.alertmanager_cluster_info:
    urls:
      - http://alertmanager-0.example:9093
      - http://alertmanager-1.example:9093
      - http://alertmanager-2.example:9093
"""

RETURN = r"""
verdict:
  description:
    - V(healthy) every expected replica answers, is ready and sees all expected peers (and alert
      routing and the gossip probe, when checked, are fine).
    - V(degraded) at least one replica answers, but something above is wrong (see RV(failures)).
    - V(not_ha) one replica (cluster status C(disabled)). It works, but it is not highly available.
    - V(down) no replica answers.
  returned: always
  type: str
  sample: healthy
healthy:
  description: Whether RV(verdict) is V(healthy).
  returned: always
  type: bool
summary:
  description: The verdict in one sentence, naming every problem.
  returned: always
  type: str
  sample: "3 replicas ready, each sees all 3 peers"
failures:
  description: One entry per problem, naming the replica (or the C(Prometheus) resource) and the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - replica: alertmanager-main-1
      reason: "unreachable: GET /api/v2/status through the pod proxy answered 503 ServiceUnavailable"
expected_replicas:
  description: The number of replicas the cluster must have.
  returned: always
  type: int
replicas:
  description: What each replica answered.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Pod name, or URL.
      type: str
    reachable:
      description: Whether it answered.
      type: bool
    error:
      description: Why it did not answer.
      type: str
    pod_ready:
      description: The pod's Ready condition (null with O(urls)).
      type: bool
    cluster_status:
      description: C(ready), C(settling) or C(disabled).
      type: str
    peer_name:
      description: The replica's own name in the gossip mesh.
      type: str
    peer_count:
      description: How many peers it sees, itself included.
      type: int
    peers:
      description: The peers it sees (name, address).
      type: list
      elements: dict
    sees:
      description: The replicas it sees, by replica name.
      type: list
      elements: str
    version:
      description: The Alertmanager version.
      type: str
alertmanager:
  description: The C(Alertmanager) resource and what was found for it (with O(name)).
  returned: with O(name)
  type: dict
gossip_check:
  description: The probe (performed, passed, origin, silence_id, propagation_seconds per replica, reason when skipped).
  returned: always
  type: dict
alert_routing:
  description: Each checked C(Prometheus) resource, its alerting endpoints and the replicas each reaches.
  returned: always
  type: dict
waited_seconds:
  description: How long the module waited for a healthy verdict.
  returned: always
  type: float
api_requests:
  description: Requests sent to the Kubernetes API server, per HTTP method (with O(name)).
  returned: with O(name)
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.cluster import (
    Replica, UrlReplicaClient, examine)
from ansible_collections.atlas.hardening.plugins.module_utils._common.errors import HardeningError
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import (
    KUBERNETES_CONNECTION_ARGSPEC, connection_from_module)


def main() -> None:
    argument_spec = dict(
        name=dict(type="str"),
        namespace=dict(type="str", default="monitoring"),
        urls=dict(type="list", elements="str"),
        expected_replicas=dict(type="int"),
        gossip_check=dict(type="bool", default=False),
        gossip_timeout=dict(type="float", default=10.0),
        check_alert_routing=dict(type="bool", default=True),
        prometheus_namespaces=dict(type="list", elements="str"),
        wait_timeout=dict(type="float", default=0.0),
        request_timeout=dict(type="float", default=5.0),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
    )
    argument_spec.update(KUBERNETES_CONNECTION_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("name", "urls")], required_one_of=[("name", "urls")])
    params = module.params
    extra = {}
    try:
        if params["urls"]:
            replicas = [Replica(url, UrlReplicaClient(url, timeout=params["request_timeout"],
                                                      validate_certs=params["validate_certs"],
                                                      ca_path=params["ca_path"])) for url in params["urls"]]
            expected = params["expected_replicas"] or len(replicas)
            result = examine(lambda: (expected, replicas, []), wait_timeout=params["wait_timeout"],
                             gossip=params["gossip_check"], gossip_timeout=params["gossip_timeout"],
                             check_mode=module.check_mode)
        else:
            # Imported here: the URL mode must work without the kubernetes library.
            from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.kubernetes_replicas import (
                check_prometheus_alerting, find_replicas)
            from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import KubernetesObjects

            objects = KubernetesObjects(connection_from_module(module))
            found = {}

            def discover():
                target = find_replicas(objects, params["namespace"], params["name"])
                found["target"] = target
                expected = params["expected_replicas"] or target.expected
                return expected, target.replicas, target.missing

            routing = None
            if params["check_alert_routing"]:
                def routing():
                    return check_prometheus_alerting(objects, found["target"], params["prometheus_namespaces"])
            result = examine(discover, wait_timeout=params["wait_timeout"], gossip=params["gossip_check"],
                             gossip_timeout=params["gossip_timeout"], check_mode=module.check_mode,
                             routing_check=routing)
            extra = dict(alertmanager=found["target"].to_dict(), api_requests=dict(objects.connection.request_counts))
    except HardeningError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    module.exit_json(changed=False, **dict(result, **extra))


if __name__ == "__main__":
    main()
