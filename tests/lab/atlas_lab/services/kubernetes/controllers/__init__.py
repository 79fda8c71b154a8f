"""Simulated controllers of the Kubernetes API emulator (see :mod:`.base` for the interface)."""

from atlas_lab.services.kubernetes.controllers.base import (
    Controller,
    ControllerContext,
    ControllerEvent,
    ControllerManager,
    set_owner,
)
from atlas_lab.services.kubernetes.controllers.cluster import ServiceAccountController
from atlas_lab.services.kubernetes.controllers.workloads import (
    DeploymentController,
    NamespaceController,
    StatefulSetController,
    pod_ready,
    running_status,
)

__all__ = ["Controller", "ControllerContext", "ControllerEvent", "ControllerManager", "DeploymentController",
           "NamespaceController", "ServiceAccountController", "StatefulSetController", "pod_ready",
           "running_status", "set_owner"]
