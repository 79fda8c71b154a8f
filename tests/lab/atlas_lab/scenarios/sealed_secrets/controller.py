"""A simulated Sealed Secrets controller (bitnami sealed-secrets v0.38), run by the lab for every
ready Pod whose container runs the controller's image.

What it does, as the real one does (see ../shared/reference/sealed-secrets.md):

- At start (a new Pod becoming ready; a restart is a new Pod) it loads the key Secrets of its
  namespace labelled ``sealedsecrets.bitnami.com/sealed-secrets-key=active``, plus a legacy Secret
  named exactly the key prefix; if there is none, or the newest is older than the renewal period, it
  creates a new one at once. Keys added later are NOT loaded until the next start.
- It renews every ``--key-renew-period`` (Go duration, lab-fast values welcome; 0 disables) and on
  demand (``POST /lab/renew-key``, the lab's stand-in for SIGUSR1).
- It serves ``/healthz``, ``/v1/cert.pem``, ``/v1/verify`` and ``/v1/rotate`` on its HTTP port,
  reached through the API server's service proxy like kubeseal reaches it.
- It unseals every SealedSecret (all namespaces) into a Secret of the same name: template metadata,
  type and immutable, an owner reference (unless ``sealedsecrets.bitnami.com/skip-set-owner-references``),
  refusing an existing Secret that it does not own unless it is annotated
  ``sealedsecrets.bitnami.com/managed: "true"``; ``status.conditions[Synced]`` and an Event say how it went.

Every read and write is authorised as the Pod's ServiceAccount by the emulator's RBAC (a denied
one is logged as the real controller logs a 403 and leaves things as they are), so the RBAC the
role installs is proven by the controller doing its job.

Flags are read from the container's args and ``SEALED_SECRETS_*`` environment variables:
``--key-prefix``, ``--key-renew-period``, ``--key-size``, ``--key-ttl``, ``--update-status``.
"""

from __future__ import annotations

import datetime
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from atlas_lab.scenarios.sealed_secrets.controller_keys import (
    KEY_LABEL,
    NoKeyCouldDecrypt,
    SealingKey,
    decrypt,
    encrypt,
    generate_key,
    go_duration,
    key_from_secret,
    label_for,
)
from atlas_lab.services.kubernetes.controllers.base import Controller, ControllerContext, ControllerEvent
from atlas_lab.services.kubernetes.objects import now
from atlas_lab.services.kubernetes.proxy import pod_is_ready

IMAGE_REPOSITORY = "sealed-secrets-controller"
SEALED_SECRET_API = "bitnami.com/v1alpha1"
MANAGED_ANNOTATION = "sealedsecrets.bitnami.com/managed"
SKIP_OWNER_ANNOTATION = "sealedsecrets.bitnami.com/skip-set-owner-references"
HTTP_PORT = 8080
FLAG_DEFAULTS = {"key-prefix": "sealed-secrets-key", "key-renew-period": "720h", "key-size": "4096",
                 "key-ttl": "87600h", "update-status": "true"}


def runs_controller(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The controller container of ``pod``, if it runs the Sealed Secrets image."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        repository = str(container.get("image", "")).split("@", 1)[0].rsplit(":", 1)[0]
        if repository.rsplit("/", 1)[-1] == IMAGE_REPOSITORY:
            return container
    return None


def _status_only(event: ControllerEvent) -> bool:
    """A change of status alone (the controller's own report) is not reconciled again."""
    if event.type != "MODIFIED" or event.old is None:
        return False

    def significant(obj: dict[str, Any]) -> Any:
        meta = obj.get("metadata") or {}
        return obj.get("spec"), meta.get("annotations"), meta.get("generation")
    return significant(event.old) == significant(event.object)


def flags(container: dict[str, Any]) -> dict[str, str]:
    values = dict(FLAG_DEFAULTS)
    for entry in container.get("env") or []:
        name = str(entry.get("name", ""))
        if name.startswith("SEALED_SECRETS_") and "value" in entry:
            values[name[len("SEALED_SECRETS_"):].lower().replace("_", "-")] = str(entry["value"])
    arguments = [str(a) for a in (container.get("args") or []) + (container.get("command") or [])[1:]]
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument.startswith("--"):
            name, equals, value = argument[2:].partition("=")
            if not equals and index + 1 < len(arguments) and not arguments[index + 1].startswith("--"):
                value, index = arguments[index + 1], index + 1
            elif not equals:
                value = "true"
            values[name] = value
        index += 1
    return values


# may(user, groups, verb, api_group, resource, namespace, subresource) -> allowed
Authorizer = Callable[[str, tuple[str, ...], str, str, str, str, str], bool]


class Forbidden(Exception):
    pass


@dataclass
class ControllerInstance:
    """One running controller process (one Pod), acting as the Pod's ServiceAccount."""

    namespace: str
    pod: str
    pod_uid: str
    settings: dict[str, str]
    service_account: str = "default"
    keys: list[SealingKey] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: bool = True

    @property
    def newest(self) -> SealingKey:
        with self.lock:
            return max(self.keys, key=lambda key: key.not_before)

    def all_keys(self) -> list[SealingKey]:
        with self.lock:
            return list(self.keys)


class SealedSecretsController(Controller):
    name = "sealed-secrets-controller"
    watches = (("", "Pod"), ("bitnami.com", "SealedSecret"))

    def __init__(self, host: str = "127.0.0.1", authorize: Authorizer | None = None) -> None:
        self.host = host
        self.authorize = authorize
        self.instances: dict[str, ControllerInstance] = {}  # by pod uid
        self.denied: list[str] = []  # what RBAC refused (the real controller logs it)
        self._ctx: ControllerContext | None = None

    def _require(self, instance: ControllerInstance, verb: str, group: str, resource: str, namespace: str = "",
                 subresource: str = "") -> None:
        if self.authorize is None:
            return
        user = f"system:serviceaccount:{instance.namespace}:{instance.service_account}"
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{instance.namespace}", "system:authenticated")
        if not self.authorize(user, groups, verb, group, resource, namespace, subresource):
            what = f"{resource}/{subresource}" if subresource else resource
            message = f'{user} cannot {verb} resource "{what}" in API group "{group}"' + (
                f' in the namespace "{namespace}"' if namespace else " at the cluster scope")
            self.denied.append(message)
            raise Forbidden(message)

    # Lifecycle -----------------------------------------------------------------------------------
    def start(self, ctx: ControllerContext) -> None:
        self._ctx = ctx

    def reset(self) -> None:
        for instance in list(self.instances.values()):
            self._stop(instance)
        self.instances.clear()

    def reconcile(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        self._ctx = ctx
        if event.kind == "Pod":
            self._on_pod(ctx, event)
        elif event.type != "DELETED" and not _status_only(event):
            instance = self.leader()
            if instance is not None:
                self.unseal(ctx, instance, event.namespace, event.name)

    def leader(self) -> ControllerInstance | None:
        running = [instance for instance in self.instances.values() if instance.running]
        return running[0] if running else None

    def _on_pod(self, ctx: ControllerContext, event: ControllerEvent) -> None:
        pod = event.object
        uid = (pod.get("metadata") or {}).get("uid", "")
        container = runs_controller(pod)
        if container is None:
            return
        if event.type == "DELETED" or not pod_is_ready(pod):
            if uid in self.instances:
                self._stop(self.instances.pop(uid))
            return
        if uid not in self.instances:
            try:
                self._start(ctx, pod, container)
            except Forbidden:
                return  # the real controller exits (CrashLoopBackOff); the lab logs it in self.denied

    def _start(self, ctx: ControllerContext, pod: dict[str, Any], container: dict[str, Any]) -> None:
        meta = pod["metadata"]
        instance = ControllerInstance(meta["namespace"], meta["name"], meta["uid"], flags(container),
                                      (pod.get("spec") or {}).get("serviceAccountName") or "default")
        prefix = instance.settings["key-prefix"]
        self._require(instance, "list", "", "secrets", instance.namespace)
        for secret in ctx.list("v1", "Secret", instance.namespace):
            secret_meta = secret.get("metadata") or {}
            if (secret_meta.get("labels") or {}).get(KEY_LABEL) == "active" or secret_meta.get("name") == prefix:
                key = key_from_secret(secret)
                if key is not None:
                    instance.keys.append(key)
        period = go_duration(instance.settings["key-renew-period"])
        age = (datetime.datetime.now(datetime.timezone.utc) - instance.newest.not_before).total_seconds() \
            if instance.keys else None
        if age is None or (period and age >= period):
            self.renew(ctx, instance)
        instance.server = self._serve(instance)
        ctx.proxy_targets.set_pod(instance.namespace, instance.pod, HTTP_PORT,
                                  f"{self.host}:{instance.server.server_address[1]}")
        self.instances[instance.pod_uid] = instance
        if period:
            self._schedule_renewal(ctx, instance, period)
        self._require(instance, "list", "bitnami.com", "sealedsecrets")
        self._require(instance, "watch", "bitnami.com", "sealedsecrets")
        for sealed in ctx.list(SEALED_SECRET_API, "SealedSecret"):
            self.unseal(ctx, instance, sealed["metadata"]["namespace"], sealed["metadata"]["name"])

    def _stop(self, instance: ControllerInstance) -> None:
        instance.running = False
        if self._ctx is not None:
            self._ctx.proxy_targets.remove_pod(instance.namespace, instance.pod)
        if instance.server is not None:
            instance.server.shutdown()
            instance.server.server_close()

    def _schedule_renewal(self, ctx: ControllerContext, instance: ControllerInstance, period: float) -> None:
        def renew_when_due() -> None:
            if instance.running:
                try:
                    self.renew(ctx, instance)
                except Forbidden:
                    pass  # logged in self.denied; the next period tries again
                self._schedule_renewal(ctx, instance, period)
        ctx.after(period, renew_when_due)

    def renew(self, ctx: ControllerContext, instance: ControllerInstance) -> SealingKey:
        """Add a key (never delete one): a kubernetes.io/tls Secret with generateName = the prefix."""
        settings = instance.settings
        self._require(instance, "create", "", "secrets", instance.namespace)
        key = generate_key(int(settings["key-size"]), datetime.timedelta(seconds=go_duration(settings["key-ttl"])))
        created = ctx.create(key.secret(instance.namespace, settings["key-prefix"]))
        key.secret_name = created["metadata"]["name"]
        with instance.lock:
            instance.keys.append(key)
        return key

    # Unsealing -----------------------------------------------------------------------------------
    def unseal(self, ctx: ControllerContext, instance: ControllerInstance, namespace: str, name: str) -> None:
        try:
            self._unseal(ctx, instance, namespace, name)
        except Forbidden:
            return  # logged in self.denied; the real controller retries with back-off

    def _unseal(self, ctx: ControllerContext, instance: ControllerInstance, namespace: str, name: str) -> None:
        self._require(instance, "get", "bitnami.com", "sealedsecrets", namespace)
        sealed = ctx.get(SEALED_SECRET_API, "SealedSecret", name, namespace)
        if sealed is None:
            return
        try:
            secret = self._secret_of(instance, sealed)
        except NoKeyCouldDecrypt as exc:
            self._report(ctx, instance, sealed, False, "ErrUnsealFailed", f"Failed to unseal: {exc}")
            return
        self._require(instance, "get", "", "secrets", namespace)
        existing = ctx.get("v1", "Secret", name, namespace)
        uid = sealed["metadata"].get("uid")
        if existing is not None:
            owned = any(ref.get("uid") == uid for ref in existing["metadata"].get("ownerReferences") or [])
            managed = (existing["metadata"].get("annotations") or {}).get(MANAGED_ANNOTATION) == "true"
            if not owned and not managed:
                self._report(ctx, instance, sealed, False, "ErrUpdateFailed",
                             f'Resource "{name}" already exists and is not managed by SealedSecret')
                return
            existing["metadata"]["labels"] = secret["metadata"].get("labels") or {}
            existing["metadata"]["annotations"] = secret["metadata"].get("annotations") or {}
            existing["metadata"]["ownerReferences"] = secret["metadata"].get("ownerReferences") or []
            existing.update(type=secret["type"], data=secret["data"])
            existing.pop("stringData", None)
            if "immutable" in secret:
                existing["immutable"] = secret["immutable"]
            if existing != ctx.get("v1", "Secret", name, namespace):
                self._require(instance, "update", "", "secrets", namespace)
                ctx.update(existing)
        else:
            self._require(instance, "create", "", "secrets", namespace)
            ctx.create(secret)
        self._report(ctx, instance, sealed, True, "Unsealed", "SealedSecret unsealed successfully")

    def _secret_of(self, instance: ControllerInstance, sealed: dict[str, Any]) -> dict[str, Any]:
        import base64  # pylint: disable=import-outside-toplevel
        keys = instance.all_keys()
        label = label_for(sealed)
        spec = sealed.get("spec") or {}
        data = {key: base64.b64encode(decrypt(keys, label, value)).decode()
                for key, value in (spec.get("encryptedData") or {}).items()}
        template = spec.get("template") or {}
        template_meta = template.get("metadata") or {}
        meta = sealed["metadata"]
        secret: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Secret", "type": template.get("type") or "Opaque",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "data": dict(template.get("data") or {}, **data)}
        for part in ("labels", "annotations"):
            if template_meta.get(part):
                secret["metadata"][part] = dict(template_meta[part])
        if "immutable" in template:
            secret["immutable"] = template["immutable"]
        if (meta.get("annotations") or {}).get(SKIP_OWNER_ANNOTATION) != "true":
            secret["metadata"]["ownerReferences"] = [{
                "apiVersion": SEALED_SECRET_API, "kind": "SealedSecret", "name": meta["name"], "uid": meta["uid"],
                "controller": True}]
        return secret

    def _report(self, ctx: ControllerContext, instance: ControllerInstance, sealed: dict[str, Any], synced: bool,
                reason: str, message: str) -> None:
        self._require(instance, "create", "", "events", sealed["metadata"]["namespace"])
        ctx.record_event(sealed, reason, message, "Normal" if synced else "Warning")
        if instance.settings.get("update-status", "true") != "true":
            return
        stamp = now()
        previous = next((c for c in (sealed.get("status") or {}).get("conditions") or []
                         if c.get("type") == "Synced"), {})
        status_text = "True" if synced else "False"
        condition = {"type": "Synced", "status": status_text, "lastUpdateTime": stamp,
                     "lastTransitionTime": previous.get("lastTransitionTime", stamp)
                     if previous.get("status") == status_text else stamp}
        self._require(instance, "update", "bitnami.com", "sealedsecrets", sealed["metadata"]["namespace"], "status")
        if not synced:
            condition["message"] = message
        ctx.patch_status(sealed, {"conditions": [condition],
                                  "observedGeneration": sealed["metadata"].get("generation", 1)})

    # HTTP ----------------------------------------------------------------------------------------
    def _serve(self, instance: ControllerInstance) -> ThreadingHTTPServer:
        controller = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # one send per response
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/healthz":
                    self._send(200, b"ok\n")
                elif self.path == "/v1/cert.pem":
                    self._send(200, instance.newest.certificate_pem(), "application/x-pem-file")
                else:
                    self._send(404, b"404 page not found\n")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == "/lab/renew-key":
                    if controller._ctx is None:
                        self._send(503, b"not started\n")
                        return
                    try:
                        key = controller.renew(controller._ctx, instance)
                    except Forbidden as exc:
                        self._send(500, f"{exc}\n".encode())
                        return
                    self._send(200, json.dumps({"secret": key.secret_name}).encode(), "application/json")
                    return
                if self.path not in ("/v1/verify", "/v1/rotate"):
                    self._send(404, b"404 page not found\n")
                    return
                try:
                    sealed = json.loads(body)
                    secret = controller._secret_of(instance, dict(sealed, metadata=dict(
                        sealed.get("metadata") or {}, uid=(sealed.get("metadata") or {}).get("uid", ""))))
                except (ValueError, KeyError, TypeError, AttributeError):
                    self._send(400, b"cannot decode the SealedSecret\n")
                    return
                except NoKeyCouldDecrypt as exc:
                    self._send(409, f"{exc}\n".encode())
                    return
                if self.path == "/v1/verify":
                    self._send(200, b"")
                    return
                # Re-sealed with the newest key under the scope of the object's own annotations
                # (since 0.36.0 /v1/rotate never widens it: CVE-2026-22728).
                import base64  # pylint: disable=import-outside-toplevel
                label = label_for(sealed)
                rotated = json.loads(json.dumps(sealed))
                rotated["spec"]["encryptedData"] = {
                    key: encrypt(instance.newest, label, base64.b64decode(value))
                    for key, value in secret["data"].items() if key in (sealed["spec"].get("encryptedData") or {})}
                self._send(200, json.dumps(rotated).encode(), "application/json")

        server = ThreadingHTTPServer((self.host, 0), Handler)
        server.daemon_threads = True
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=server.serve_forever, name=f"sealed-secrets-{instance.pod}", daemon=True).start()
        return server
