#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: alertmanager_cluster_info
short_description: Report whether the replicas of an Alertmanager form one highly available cluster
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
  - Read-only. To prove that the peers also replicate state (a silence created on one reaches all),
    use M(atlas.hardening.alertmanager_cluster_verify).
author:
  - ATLAS platform team (@atlas-platform)
extends_documentation_fragment:
  - atlas.hardening.alertmanager_cluster
  - atlas.hardening.kubernetes
  - atlas.hardening.attributes
  - atlas.hardening.attributes.info_module
  - atlas.hardening.attributes.actiongroup_kubernetes
options: {}
notes:
  - With O(name), the identity needs C(get) on C(alertmanagers) and C(prometheuses)
    (monitoring.coreos.com), C(statefulsets), C(pods), C(services), and C(get) on C(pods/proxy);
  - The peer list of a replica that was killed still shows it until memberlist declares it dead
    (seconds); the replica itself is reported at once as unreachable.
seealso:
  - module: atlas.hardening.alertmanager_cluster_verify
"""

EXAMPLES = r"""
- name: Read the state of the Alertmanager cluster of kube-prometheus-stack
  atlas.hardening.alertmanager_cluster_info:
    name: kube-prometheus-stack-alertmanager
    namespace: monitoring
  register: alertmanager

- name: Fail unless it is highly available
  ansible.builtin.assert:
    that: alertmanager.verdict == 'healthy'
    fail_msg: "{{ alertmanager.summary }}"

- name: Read replicas given by URL
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
      routing, when checked, is fine).
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

from typing import Any

from ansible_collections.atlas.hardening.plugins.module_utils._alertmanager.cluster_task import (
    CLUSTER_ARGSPEC,
    CLUSTER_CHOICE,
    cluster_info_task,
)
from ansible_collections.atlas.hardening.plugins.module_utils._common.module_base import HardeningModule

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(CLUSTER_ARGSPEC)


def main() -> None:
    HardeningModule(ARGUMENT_SPEC, connections=("kubernetes",), **CLUSTER_CHOICE).run(cluster_info_task)


if __name__ == "__main__":
    main()
