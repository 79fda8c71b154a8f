"""Simulated controllers of the Kubernetes API emulator (see :mod:`.base` for the interface)."""

from .base import Controller, ControllerContext, ControllerEvent, ControllerManager, set_owner
from .cluster import ServiceAccountController
from .workloads import (DeploymentController, NamespaceController, StatefulSetController, pod_ready,
                        running_status)

__all__ = ["Controller", "ControllerContext", "ControllerEvent", "ControllerManager", "DeploymentController",
           "NamespaceController", "ServiceAccountController", "StatefulSetController", "pod_ready",
           "running_status", "set_owner"]
