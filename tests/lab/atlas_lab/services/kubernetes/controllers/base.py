"""Simulated controllers: the interface and the manager that runs them.

A controller declares the kinds it watches and reacts to their events::

    class SealedSecretController(Controller):
        name = "sealed-secrets-controller"          # also its field manager
        watches = (("bitnami.com", "SealedSecret"),)

        def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
            if event.type == "DELETED":
                return
            ...
            ctx.apply({"apiVersion": "v1", "kind": "Secret", ...}, owner=event.object)
            ctx.patch_status(event.object, {"conditions": [...]})

    app.controllers.add(SealedSecretController())

Events arrive in commit order on one worker thread (controllers need no locking of their own);
``ctx`` writes go through the same validation, defaulting, managedFields and watch notifications as
API requests, are not counted in the request log, and are attributed to ``controller.name``.
A controller may also schedule work (``ctx.after(seconds, fn)``) to simulate delays. Exceptions
are logged and recorded in ``manager.errors``; they never stop the worker.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import itertools
import logging
import threading
import time
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable

from atlas_lab.services.kubernetes.errors import ApiError
from atlas_lab.services.kubernetes.objects import DeleteOptions, ObjectService, WriteOptions
from atlas_lab.services.kubernetes.store import Event

if TYPE_CHECKING:
    from atlas_lab.services.kubernetes.proxy import ProxyTargets

LOG = logging.getLogger(__name__)
GroupKind = tuple[str, str]


@dataclasses.dataclass
class ControllerEvent:
    """What a controller receives: the committed object (or the deleted one) and its previous state."""

    type: str  # ADDED, MODIFIED, DELETED, or RESYNC (scheduled via ctx.requeue)
    group: str
    kind: str
    object: dict[str, Any]
    old: dict[str, Any] | None = None

    @property
    def namespace(self) -> str:
        return (self.object.get("metadata") or {}).get("namespace") or ""

    @property
    def name(self) -> str:
        return (self.object.get("metadata") or {}).get("name") or ""

    @property
    def api_version(self) -> str:
        return self.object.get("apiVersion", "")


class Controller:
    """Base class of a simulated controller."""

    name = "controller"
    watches: tuple[GroupKind, ...] = ()

    def start(self, ctx: ControllerContext) -> None:
        """Called once when the controller is added (initial listing, if needed)."""

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget internal state (the lab is reset between tests)."""


class ControllerContext:
    """The in-process API a controller uses (no HTTP, not counted, same semantics)."""

    def __init__(self, manager: ControllerManager, controller: Controller):
        self.manager = manager
        self.controller = controller
        self.service: ObjectService = manager.service

    @property
    def proxy_targets(self) -> ProxyTargets:
        return self.manager.proxy_targets

    def _options(self, field_manager: str | None = None, force: bool = False) -> WriteOptions:
        return WriteOptions(field_manager=field_manager or self.controller.name, field_validation="Strict",
                            force=force, user_agent=self.controller.name)

    def _type(self, api_version: str, kind: str) -> Any:
        rt = self.service.registry.by_api_version_kind(api_version, kind)
        if rt is None:
            raise LookupError(f"no resource serves {kind} in {api_version}")
        return rt

    def _version(self, api_version: str) -> str:
        return api_version.rpartition("/")[2]

    # Reads -----------------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        rt = self._type(api_version, kind)
        obj = self.service.store.get(rt.key, namespace if rt.namespaced else "", name)
        return self.service.output(rt, obj, self._version(api_version)) if obj is not None else None

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None, field_selector: str | None = None) -> list[dict[str, Any]]:
        rt = self._type(api_version, kind)
        items, _resource_version = self.service.list(rt, namespace, label_selector, field_selector)
        return [self.service.output(rt, o, self._version(api_version)) for o in items]

    # Writes ----------------------------------------------------------------------------------
    def create(self, obj: dict[str, Any], owner: dict[str, Any] | None = None) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        if owner is not None:
            set_owner(obj, owner)
        rt = self._type(obj["apiVersion"], obj["kind"])
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        return self.service.create(rt, self._version(obj["apiVersion"]), namespace, obj, self._options()).object

    def update(self, obj: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        rt = self._type(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        return self.service.update(rt, self._version(obj["apiVersion"]), meta.get("namespace", ""), meta["name"],
                                   copy.deepcopy(obj), self._options(), subresource).object

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.update(obj, "status")

    def patch_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch ``status`` of ``obj`` (through the status subresource when there is one)."""
        import json  # pylint: disable=import-outside-toplevel
        rt = self._type(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        body = json.dumps({"status": status}).encode()
        return self.service.patch(rt, self._version(obj["apiVersion"]), meta.get("namespace", ""), meta["name"],
                                  "application/merge-patch+json", body, self._options(),
                                  "status" if rt.has_status else "").object

    def apply(self, obj: dict[str, Any], field_manager: str | None = None, force: bool = True,
              owner: dict[str, Any] | None = None, subresource: str = "") -> dict[str, Any]:
        """Server-side apply ``obj`` as this controller (force by default, like most controllers)."""
        import json  # pylint: disable=import-outside-toplevel
        obj = copy.deepcopy(obj)
        if owner is not None:
            set_owner(obj, owner)
        rt = self._type(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        return self.service.apply(rt, self._version(obj["apiVersion"]), meta.get("namespace", ""), meta["name"],
                                  json.dumps(obj).encode(), self._options(field_manager, force), subresource).object

    def delete(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        rt = self._type(api_version, kind)
        try:
            self.service.delete(rt, self._version(api_version), namespace, name, DeleteOptions())
        except ApiError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def record_event(self, obj: dict[str, Any], reason: str, message: str, event_type: str = "Normal") -> None:
        """Create a core/v1 Event about ``obj`` (what ``kubectl describe`` shows)."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        from atlas_lab.services.kubernetes.objects import now  # pylint: disable=import-outside-toplevel
        stamp = now()
        self.create({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'object')}.", "namespace": namespace},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "name": meta.get("name"), "namespace": meta.get("namespace"),
                               "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": event_type,
            "source": {"component": self.controller.name}, "reportingComponent": self.controller.name,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        })

    # Scheduling ------------------------------------------------------------------------------
    def after(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the worker thread after ``delay`` seconds."""
        self.manager.schedule(delay, self.controller, callback)

    def requeue(self, obj: dict[str, Any], delay: float = 0.0) -> None:
        """Reconcile ``obj`` again (event type RESYNC) after ``delay`` seconds."""
        group = obj.get("apiVersion", "").rpartition("/")[0]
        snapshot = copy.deepcopy(obj)

        def resync() -> None:
            current = self.get(obj["apiVersion"], obj["kind"], snapshot["metadata"]["name"],
                               snapshot["metadata"].get("namespace", ""))
            if current is not None:
                self.controller.reconcile(self, ControllerEvent("RESYNC", group, obj["kind"], current))
        self.after(delay, resync)


def set_owner(obj: dict[str, Any], owner: dict[str, Any], controller: bool = True) -> None:
    meta = obj.setdefault("metadata", {})
    owner_meta = owner.get("metadata") or {}
    reference = {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"), "name": owner_meta.get("name"),
                 "uid": owner_meta.get("uid"), "controller": controller, "blockOwnerDeletion": True}
    references = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != reference["uid"]]
    meta["ownerReferences"] = references + [reference]


class ControllerManager:
    """Runs the controllers on one worker thread, fed by the store's commit events."""

    def __init__(self, service: ObjectService, proxy_targets: ProxyTargets):
        self.service = service
        self.proxy_targets = proxy_targets
        self.controllers: list[Controller] = []
        self.errors: list[str] = []
        self._contexts: dict[int, ControllerContext] = {}
        self._condition = threading.Condition()
        self._queue: list[tuple[float, int, Controller, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._busy = False
        self._retries: dict[int, int] = {}
        self._stopped = False
        self._paused = False
        self._thread = threading.Thread(target=self._run, name="lab-k8s-controllers", daemon=True)
        self._thread.start()
        service.store.listeners.append(self._on_event)

    # Registration ----------------------------------------------------------------------------
    def add(self, controller: Controller) -> Controller:
        """Register ``controller``; it starts receiving events of its kinds immediately."""
        self.controllers.append(controller)
        context = ControllerContext(self, controller)
        self._contexts[id(controller)] = context
        self.schedule(0.0, controller, lambda: controller.start(context))
        return controller

    def remove(self, controller: Controller) -> None:
        self.controllers = [c for c in self.controllers if c is not controller]
        self._contexts.pop(id(controller), None)

    def get(self, name: str) -> Controller | None:
        return next((c for c in self.controllers if c.name == name), None)

    def context(self, controller: Controller) -> ControllerContext:
        return self._contexts[id(controller)]

    # Events ----------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        """Store listener (called under the store lock): enqueue, never block."""
        if self._paused:
            return
        rt = self.service.registry.get(*event.key)
        if rt is None:
            kind = event.object.get("kind", "")
            group = event.object.get("apiVersion", "").rpartition("/")[0]
        else:
            kind, group = rt.kind, rt.group
        for controller in list(self.controllers):
            if (group, kind) in controller.watches:
                controller_event = ControllerEvent(event.type, group, kind, copy.deepcopy(event.object),
                                                   copy.deepcopy(event.old) if event.old is not None else None)
                context = self._contexts.get(id(controller))
                if context is None:
                    continue
                self.schedule(0.0, controller, lambda c=controller, x=context, e=controller_event: c.reconcile(x, e))

    def schedule(self, delay: float, controller: Controller, callback: Callable[[], None]) -> None:
        with self._condition:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._counter), controller, callback))
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._condition.wait(timeout)
                if self._stopped:
                    return
                _due, _order, controller, callback = heapq.heappop(self._queue)
                self._busy = True
            try:
                if controller in self.controllers:
                    callback()
            except ApiError as exc:
                if exc.code == 409 and self._retries.get(id(callback), 0) < 5:
                    # Another writer got there first: reconcile again from the fresh state.
                    self._retries[id(callback)] = self._retries.get(id(callback), 0) + 1
                    self.schedule(0.05, controller, callback)
                else:
                    message = f"controller {controller.name}: {exc.code} {exc.message}"
                    LOG.error(message)
                    self.errors.append(message)
            except Exception:  # pylint: disable=broad-except
                message = f"controller {controller.name}: {traceback.format_exc()}"
                LOG.error(message)
                self.errors.append(message)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def wait_idle(self, timeout: float = 10.0, include_delayed: bool = False,
                  controllers: Iterable[Controller] | None = None) -> bool:
        """Wait until no event is queued (and, with ``include_delayed``, no scheduled work either).

        ``controllers`` limits the scheduled work waited for to theirs: some controllers schedule
        work forever (a periodic sync, a renewal timer), so waiting for all of it always times out."""
        deadline = time.monotonic() + timeout
        waited_for = None if controllers is None else {id(controller) for controller in controllers}
        with self._condition:
            while True:
                now = time.monotonic()
                due = [item for item in self._queue
                       if item[0] <= now or (include_delayed and (waited_for is None or id(item[2]) in waited_for))]
                if not due and not self._busy:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))

    def reset(self) -> None:
        with self._condition:
            self._queue.clear()
        for controller in self.controllers:
            controller.reset()
        self.errors.clear()

    def pause(self, paused: bool = True) -> None:
        """Stop feeding events (used while the lab restores its initial state)."""
        self._paused = paused

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        self._thread.join(timeout=5)


def watched_kinds(controllers: Iterable[Controller]) -> set[GroupKind]:
    kinds: set[GroupKind] = set()
    for controller in controllers:
        kinds |= set(controller.watches)
    return kinds
