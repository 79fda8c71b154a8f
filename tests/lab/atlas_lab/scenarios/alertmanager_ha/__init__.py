"""Scenario of the Alertmanager HA feature (role alertmanager_ha, docs/alertmanager-ha.md).

Seeds a kube-prometheus-stack release (Alertmanager with one replica, its Service, a Prometheus,
the release's values file) and runs a simulated prometheus-operator with a kubelet that runs the
Alertmanager pods as real peers (the control API stops and restarts them as ``<pod>.<namespace>``).
"""

from __future__ import annotations

from typing import Any

from atlas_lab.core.ports import PortAllocator
from atlas_lab.scenarios.alertmanager_ha.kube_prometheus_stack import VALUES_FILE
from atlas_lab.scenarios.alertmanager_ha.kube_prometheus_stack import seed as seed_kube_prometheus_stack
from atlas_lab.scenarios.alertmanager_ha.prometheus_operator import register_prometheus_operator
from atlas_lab.scenarios.base import Scenario, ScenarioContext
from atlas_lab.services.alertmanager import AlertmanagerCluster


class AlertmanagerHaScenario(Scenario):
    name = "alertmanager_ha"
    description = "kube-prometheus-stack release with one Alertmanager replica, under a simulated prometheus-operator"
    seeds = ("kube-prometheus-stack release in namespace monitoring", VALUES_FILE)
    controllers = ("prometheus-operator (Alertmanager -> StatefulSet, Service, pods)",
                   "kubelet running Alertmanager pods as real peers")

    def __init__(self, context: ScenarioContext) -> None:
        super().__init__(context)
        # The peers that run the pods of Alertmanager resources, apart from the lab's own peers.
        self.pods = AlertmanagerCluster(context.dir / "alertmanager-pods", PortAllocator("auto"), host=context.host,
                                        binary=context.alertmanager_binary, env=context.env,
                                        on_change=context.processes_changed)
        self.operator: Any = None
        self.vars: dict[str, Any] = {}

    def start(self) -> None:
        (self.context.dir / VALUES_FILE).unlink(missing_ok=True)  # a fresh lab gets the release's original values
        self.operator = register_prometheus_operator(self.context.kubernetes, self.pods)
        self.vars = seed_kube_prometheus_stack(self.context.kubernetes, self.context.dir)

    def wait_ready(self, timeout: float) -> None:
        # The seeded release's Alertmanager pods run (real peers) before `up` returns.
        if self.operator is not None and not self.operator.wait_idle(timeout):
            raise RuntimeError(f"the seeded release's Alertmanager pods were not Ready within {timeout:.0f} s")

    def inventory_vars(self) -> dict[str, Any]:
        return dict(self.vars)

    def processes(self) -> list[tuple[Any, str]]:
        return [(peer, f"Alertmanager of pod {peer.name} (simulated prometheus-operator)")
                for peer in self.pods.peers()]

    def peer_group(self, name: str) -> Any:
        return self.pods if name in self.pods else None

    def stop(self) -> None:
        if self.operator is not None:
            self.operator.stop()
        self.pods.stop_all()


SCENARIO = AlertmanagerHaScenario
