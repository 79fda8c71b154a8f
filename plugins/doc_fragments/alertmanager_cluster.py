# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options alertmanager_cluster_info and alertmanager_cluster_verify share (CLUSTER_ARGSPEC in
plugins/module_utils/_alertmanager/cluster_task.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
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
"""
