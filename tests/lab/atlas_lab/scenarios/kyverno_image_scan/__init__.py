"""Scenario of the image-scan gate (role kyverno_image_scan, docs/image-scan-gate.md).

Kyverno as its Helm chart installs it (namespace, controllers' ServiceAccounts and aggregated
ClusterRoles) with its validating webhook emulated in the Kubernetes emulator
(atlas_lab.services.kyverno.admission), and a simulated Trivy Operator that writes a
VulnerabilityReport per container of every running workload from the lab's vulnerability fixture.
"""

from __future__ import annotations

from typing import Any

from atlas_lab.scenarios.base import Scenario, ScenarioContext
from atlas_lab.scenarios.kyverno_image_scan import kyverno_install
from atlas_lab.scenarios.kyverno_image_scan.trivy_operator import TrivyOperatorController
from atlas_lab.services.kubernetes.objects import WriteOptions
from atlas_lab.services.kubernetes.rbac import Attributes, service_account_groups
from atlas_lab.services.kyverno.admission import KyvernoAdmission
from atlas_lab.services.kyverno.reports import KyvernoReportsController


class KyvernoImageScanScenario(Scenario):
    name = "kyverno_image_scan"
    description = "Kyverno (admission emulated) and a simulated Trivy Operator writing VulnerabilityReports"
    seeds = ("Namespaces kyverno and trivy-system", "Kyverno's controller ServiceAccounts and aggregated ClusterRoles")
    controllers = ("Kyverno validating webhook (ClusterPolicies, GlobalContextEntries, PolicyExceptions)",
                   "Kyverno reports controller (background scans as PolicyReports)",
                   "trivy-operator (VulnerabilityReports for running workloads)")

    def __init__(self, context: ScenarioContext) -> None:
        super().__init__(context)
        self.trivy = TrivyOperatorController()
        self.admission: KyvernoAdmission | None = None

    def _seed(self) -> None:
        kubernetes = self.context.kubernetes
        options = WriteOptions(field_manager="helm", field_validation="Strict")
        for obj in kyverno_install.objects():
            resource_type = kubernetes.registry.by_api_version_kind(obj["apiVersion"], obj["kind"])
            kubernetes.objects.create(resource_type, obj["apiVersion"].rpartition("/")[2],
                                      obj["metadata"].get("namespace", ""), obj, options)

    def start(self) -> None:
        kubernetes = self.context.kubernetes
        self._seed()
        authorizer = kubernetes.authorizer.rbac
        user = f"system:serviceaccount:{kyverno_install.KYVERNO_NAMESPACE}:{kyverno_install.service_account('admission')}"
        groups = (*service_account_groups(kyverno_install.KYVERNO_NAMESPACE), "system:authenticated")

        def may_watch(group: str, resource: str) -> bool:
            return all(authorizer.authorize(Attributes(user, groups, verb, api_group=group, resource=resource)).allowed
                       for verb in ("list", "watch"))

        self.admission = KyvernoAdmission(kubernetes.objects, kubernetes.requests.record, may_watch=may_watch)
        kubernetes.objects.admission_plugins.append(self.admission)
        kubernetes.add_controller(self.trivy)
        kubernetes.add_controller(KyvernoReportsController(self.admission))

    def reset(self) -> None:
        self._seed()  # the lab's reset empties the emulator: Kyverno's installation comes back

    def stop(self) -> None:
        kubernetes = self.context.kubernetes
        if self.admission is not None and self.admission in kubernetes.objects.admission_plugins:
            kubernetes.objects.admission_plugins.remove(self.admission)

    def inventory_vars(self) -> dict[str, Any]:
        return {}


SCENARIO = KyvernoImageScanScenario
