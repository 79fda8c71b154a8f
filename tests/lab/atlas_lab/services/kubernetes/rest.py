"""REST routing of resource requests: paths, verbs, query options, content negotiation.

``parse_resource_path`` maps ``/api/v1/namespaces/ns/secrets/name`` and
``/apis/<group>/<version>/...`` to a :class:`ResourceRequest`; :class:`ResourceHandler` serves it
with the :class:`~.objects.ObjectService` (JSON, YAML, ``Table`` and ``PartialObjectMetadata``
responses, watches, the ``status``/``scale``/``proxy``/``log`` subresources).
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import yaml

from atlas_lab.core import http_base
from atlas_lab.services.kubernetes import errors as E
from atlas_lab.services.kubernetes import protobuf, tables, tokens
from atlas_lab.services.kubernetes.objects import DeleteOptions, ObjectService, Result, WriteOptions, load_yaml
from atlas_lab.services.kubernetes.patch import json_merge_patch, json_patch, strategic_merge_patch
from atlas_lab.services.kubernetes.proxy import forward, pod_is_ready, resolve_container_port, service_unavailable
from atlas_lab.services.kubernetes.resources import ResourceType
from atlas_lab.services.kubernetes.selectors import (
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector,
)
from atlas_lab.services.kubernetes.watch import watch_stream

if TYPE_CHECKING:
    from atlas_lab.services.kubernetes.proxy import ProxyTargets

Response = http_base.Response


@dataclasses.dataclass
class ResourceRequest:
    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str = ""
    rest: str = ""  # remaining raw path of a proxy request
    verb: str = ""

    @property
    def resource(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural


def parse_resource_path(path: str, raw_path: str, method: str, query: dict[str, list[str]]) -> ResourceRequest | None:
    """Return the resource request of ``path``, or ``None`` when it is not a resource path."""
    segments = [s for s in path.split("/") if s]
    raw_segments = [s for s in raw_path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "api":
        group, version, rest, raw_rest = "", segments[1], segments[2:], raw_segments[2:]
    elif len(segments) >= 3 and segments[0] == "apis":
        group, version, rest, raw_rest = segments[1], segments[2], segments[3:], raw_segments[3:]
    else:
        return None
    if not rest:
        return None
    request = ResourceRequest(group=group, version=version, plural="")
    if rest[0] == "namespaces" and group == "":
        if len(rest) == 1:
            request.plural = "namespaces"
        elif len(rest) == 2:
            request.plural, request.name = "namespaces", rest[1]
        elif len(rest) == 3 and rest[2] in ("status", "finalize"):
            request.plural, request.name, request.subresource = "namespaces", rest[1], rest[2]
        else:
            request.namespace, request.plural = rest[1], rest[2]
            _object_part(request, rest[3:], raw_rest[3:])
    elif rest[0] == "namespaces" and len(rest) >= 3:
        request.namespace, request.plural = rest[1], rest[2]
        _object_part(request, rest[3:], raw_rest[3:])
    else:
        request.plural = rest[0]
        _object_part(request, rest[1:], raw_rest[1:])
    request.verb = _verb(method, request, query)
    return request


def _object_part(request: ResourceRequest, rest: list[str], raw_rest: list[str]) -> None:
    if rest:
        request.name = rest[0]
    if len(rest) > 1:
        request.subresource = rest[1]
    if len(rest) > 2:
        request.rest = "/" + "/".join(raw_rest[2:])


def _flag(query: dict[str, list[str]], name: str) -> bool:
    value = (query.get(name) or [""])[0].lower()
    return value in ("true", "1")


def _verb(method: str, request: ResourceRequest, query: dict[str, list[str]]) -> str:
    if request.subresource == "proxy":
        return {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete", "OPTIONS": "get"}.get(method, method.lower())
    if method in ("GET", "HEAD"):
        if request.name:
            return "get"
        return "watch" if _flag(query, "watch") else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if request.name else "deletecollection"
    return method.lower()


# Content negotiation -------------------------------------------------------------------------

def response_format(accept: str) -> str:
    """The response format the Accept header asks for: json, yaml, table, metadata or none."""
    if not accept:
        return "json"
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        params = dict(p.split("=", 1) for p in pieces[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return "table"
        if params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList") and \
                params.get("g") == "meta.k8s.io":
            return "metadata"
        if params.get("as"):
            continue
        if media in ("application/json", "application/*", "*/*", "application/json;stream=watch"):
            return "json"
        if media in ("application/yaml",):
            return "yaml"
    return "none"


def encode(body: Any, fmt: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if fmt == "yaml":
        response = Response(status=status, body=yaml.safe_dump(body, sort_keys=False).encode(),
                            headers={"Content-Type": "application/yaml"})
        response.headers.update(headers or {})
        return response
    return Response.json(body, status=status, headers=headers)


def error_response(error: E.ApiError) -> Response:
    headers = dict(error.headers)
    return Response.json(error.body(), status=error.code, headers=headers)


def _warnings_header(warnings: list[str]) -> dict[str, str]:
    if not warnings:
        return {}
    return {"Warning": ", ".join('299 - ' + json.dumps(w) for w in warnings)}


# Who sends the request being handled (set by the app once authenticated), for admission's userInfo.
REQUEST_USER: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("request_user", default=None)


def _write_options(query: dict[str, list[str]], user_agent: str) -> WriteOptions:
    dry_run_values = query.get("dryRun") or []
    for value in dry_run_values:
        if value not in ("All", ""):
            raise E.invalid_object("meta.k8s.io", "CreateOptions", "",
                                   [E.not_supported("dryRun", value, ["All"])])
    validation = (query.get("fieldValidation") or ["Warn"])[0] or "Warn"
    if validation not in ("Strict", "Warn", "Ignore"):
        raise E.bad_request(f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{validation}"')
    manager = (query.get("fieldManager") or [""])[0]
    if len(manager) > 128:
        raise E.invalid_object("meta.k8s.io", "CreateOptions", "",
                               [E.too_long("fieldManager", 128)])
    force_values = query.get("force") or []
    return WriteOptions(dry_run="All" in dry_run_values, field_manager=manager, field_validation=validation,
                        user_agent=user_agent, force=bool(force_values) and force_values[0].lower() == "true",
                        user_info=REQUEST_USER.get())


class ResourceHandler:
    """Serves one resource request (verbs, subresources, watches, tables)."""

    def __init__(self, service: ObjectService, proxy_targets: ProxyTargets, closing: threading.Event,
                 version_info: dict[str, str], issuer: tokens.TokenIssuer):
        self.service = service
        self.issuer = issuer
        # (namespace, pod) -> the file its containers write, for Pods the lab runs (controllers/jobs.py).
        self.pod_logs: dict[tuple[str, str], Path] = {}
        self.proxy_targets = proxy_targets
        self.closing = closing
        self.version_info = version_info

    # Entry point -----------------------------------------------------------------------------
    def handle(self, request: http_base.Request, resource: ResourceRequest) -> Response:
        rt = self.service.registry.lookup(resource.group, resource.version, resource.plural)
        if rt is None:
            raise E.path_not_found(request.path)
        if resource.namespace is not None and not rt.namespaced:
            raise E.path_not_found(request.path)
        if resource.subresource:
            return self._subresource(request, rt, resource)
        fmt = response_format(request.headers.get("Accept") or "")
        if fmt == "none":
            raise E.not_acceptable(["application/json", "application/yaml"])
        verb = resource.verb
        if rt.key == ("authentication.k8s.io", "tokenreviews"):
            if verb != "create" or resource.name:
                raise E.method_not_allowed(request.method, request.path)
            review = tokens.token_review(self.issuer, self._body(request, rt), self.service.store.get)
            return encode(review, fmt, 201)
        if verb == "get":
            obj = self.service.get(rt, resource.namespace or "", resource.name or "")
            return self._render_one(rt, resource.version, obj, fmt, request)
        if verb == "list":
            return self._list(request, rt, resource, fmt)
        if verb == "watch":
            return self._watch(request, rt, resource, fmt)
        if verb == "create":
            if resource.name:
                raise E.method_not_allowed(request.method, request.path)
            if rt.namespaced and resource.namespace is None:
                raise E.method_not_allowed(request.method, request.path)
            result = self.service.create(rt, resource.version, resource.namespace or "", self._body(request, rt),
                                         _write_options(request.query, request.headers.get("User-Agent") or ""))
            return self._written(result, fmt, 201)
        if verb == "update":
            result = self.service.update(rt, resource.version, resource.namespace or "", resource.name or "",
                                         self._body(request, rt),
                                         _write_options(request.query, request.headers.get("User-Agent") or ""))
            return self._written(result, fmt, 200)
        if verb == "patch":
            options = _write_options(request.query, request.headers.get("User-Agent") or "")
            result = self.service.patch(rt, resource.version, resource.namespace or "", resource.name or "",
                                        request.content_type, request.body, options)
            return self._written(result, fmt, 201 if result.created else 200)
        if verb == "delete":
            body, _finished = self.service.delete(rt, resource.version, resource.namespace or "",
                                                  resource.name or "", self._delete_options(request))
            return encode(body, fmt)
        if verb == "deletecollection":
            if "deletecollection" not in rt.verbs:
                raise E.method_not_allowed(request.method, request.path)
            deleted = self.service.delete_collection(rt, resource.version, resource.namespace,
                                                     request.param("labelSelector"), request.param("fieldSelector"),
                                                     self._delete_options(request))
            return encode(self._list_body(rt, resource.version, deleted, str(self.service.store.resource_version)),
                          fmt)
        raise E.method_not_allowed(request.method, request.path)

    # Bodies and options ----------------------------------------------------------------------
    @staticmethod
    def _body(request: http_base.Request, rt: ResourceType) -> Any:
        content_type = request.content_type
        if content_type == protobuf.PROTOBUF:
            if rt.is_custom:
                raise E.unsupported_media_type(content_type, ["application/json", "application/yaml"])
            return protobuf.decode_object(request.body, rt.group, rt.kind)
        text = request.body.decode("utf-8", errors="replace")
        try:
            if content_type in ("application/yaml", "application/x-yaml"):
                return load_yaml(text)
            return json.loads(text or "null")
        except (ValueError, yaml.YAMLError) as exc:
            raise E.bad_request(f"{rt.kind} in version \"{rt.preferred_version}\" cannot be handled as a "
                                f"{rt.kind}: {exc}") from exc

    @staticmethod
    def _delete_options(request: http_base.Request) -> DeleteOptions:
        options = DeleteOptions()
        body: dict[str, Any] = {}
        if request.body:
            try:
                body = json.loads(request.body.decode("utf-8")) or {}
            except ValueError as exc:
                raise E.bad_request(f"error decoding DeleteOptions: {exc}") from exc
        dry_run = request.query.get("dryRun") or body.get("dryRun") or []
        options.dry_run = "All" in dry_run
        options.propagation = request.param("propagationPolicy") or body.get("propagationPolicy") or "Background"
        if body.get("orphanDependents") is True or request.param("orphanDependents") == "true":
            options.propagation = "Orphan"
        preconditions = body.get("preconditions") or {}
        options.precondition_uid = preconditions.get("uid")
        options.precondition_rv = preconditions.get("resourceVersion")
        return options

    def _written(self, result: Result, fmt: str, status: int) -> Response:
        return encode(result.object, fmt if fmt in ("json", "yaml") else "json", status,
                      _warnings_header(result.warnings))

    # Reads -----------------------------------------------------------------------------------
    def _render_one(self, rt: ResourceType, version: str, obj: dict[str, Any], fmt: str,
                    request: http_base.Request) -> Response:
        out = self.service.output(rt, obj, version)
        if fmt == "table":
            include = request.param("includeObject") or "Metadata"
            return Response.json(tables.table(rt, [out], out["metadata"].get("resourceVersion", ""), include))
        if fmt == "metadata":
            return Response.json(tables.partial_metadata(out))
        return encode(out, fmt)

    def _list_body(self, rt: ResourceType, version: str, items: list[dict[str, Any]], resource_version: str,
                   continue_token: str = "", remaining: int = 0) -> dict[str, Any]:
        rendered = []
        for item in items:
            out = self.service.output(rt, item, version)
            if not rt.is_custom:
                out.pop("apiVersion", None)
                out.pop("kind", None)
            rendered.append(out)
        metadata: dict[str, Any] = {"resourceVersion": resource_version}
        if continue_token:
            metadata["continue"] = continue_token
            metadata["remainingItemCount"] = remaining
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version(version), "metadata": metadata,
                "items": rendered}

    def _list(self, request: http_base.Request, rt: ResourceType, resource: ResourceRequest, fmt: str) -> Response:
        items, rv = self.service.list(rt, resource.namespace, request.param("labelSelector"),
                                      request.param("fieldSelector"))
        offset = 0
        token = request.param("continue")
        if token:
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(token.encode()).decode())["offset"])
            except (ValueError, KeyError) as exc:
                raise E.bad_request(f"continue key is not valid: {exc}") from exc
        limit = int(request.param("limit") or 0)
        continue_token, remaining = "", 0
        if offset:
            items = items[offset:]
        if limit and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            continue_token = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit,
                                                                  "rv": rv}).encode()).decode()
        if fmt == "table":
            include = request.param("includeObject") or "Metadata"
            rendered = [self.service.output(rt, o, resource.version) for o in items]
            list_meta = {"continue": continue_token, "remainingItemCount": remaining} if continue_token else {}
            return Response.json(tables.table(rt, rendered, str(rv), include, list_meta))
        if fmt == "metadata":
            body = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": str(rv)},
                    "items": [tables.partial_metadata(self.service.output(rt, o, resource.version))
                              for o in items]}
            return Response.json(body)
        return encode(self._list_body(rt, resource.version, items, str(rv), continue_token, remaining), fmt)

    def _watch(self, request: http_base.Request, rt: ResourceType, resource: ResourceRequest, fmt: str) -> Response:
        labels = parse_label_selector(request.param("labelSelector"))
        fields = parse_field_selector(request.param("fieldSelector"), rt.group, rt.plural,
                                      self.service.selectable_fields(rt))
        include = request.param("includeObject") or "Metadata"
        version = resource.version

        def matches(obj: dict[str, Any]) -> bool:
            return labels_match(labels, (obj.get("metadata") or {}).get("labels")) and \
                fields_match(fields, obj, rt.group, rt.plural)

        def render(obj: dict[str, Any]) -> dict[str, Any]:
            out = self.service.output(rt, obj, version)
            if fmt == "table":
                return tables.table(rt, [out], out["metadata"].get("resourceVersion", ""), include)
            if fmt == "metadata":
                return tables.partial_metadata(out)
            return out

        def bookmark(resource_version: int, initial_end: bool) -> dict[str, Any]:
            meta: dict[str, Any] = {"resourceVersion": str(resource_version)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return {"kind": rt.kind, "apiVersion": rt.api_version(version), "metadata": meta}

        def list_objects() -> list[dict[str, Any]]:
            items, _version = self.service.store.list(rt.key, resource.namespace if rt.namespaced else None)
            return items

        timeout = float(request.param("timeoutSeconds") or 0)
        stream = watch_stream(self.service.store, rt.key, resource.namespace if rt.namespaced else None, matches,
                              render, bookmark, request.param("resourceVersion"),
                              _flag(request.query, "sendInitialEvents"), _flag(request.query, "allowWatchBookmarks"),
                              timeout, self.closing, list_objects)
        content_type = "application/json"
        return Response(status=200, headers={"Content-Type": content_type, "Cache-Control": "no-cache, private"},
                        stream=stream)

    # Subresources ----------------------------------------------------------------------------
    def _subresource(self, request: http_base.Request, rt: ResourceType, resource: ResourceRequest) -> Response:
        sub = resource.subresource
        if sub == "proxy" and "proxy" in rt.subresources:
            return self._proxy(request, rt, resource)
        if sub not in rt.subresources:
            raise E.path_not_found(request.path)
        if sub == "token":
            if request.method != "POST":
                raise E.method_not_allowed(request.method, request.path)
            account = self.service.get(rt, resource.namespace or "", resource.name or "")
            if request.content_type == protobuf.PROTOBUF:
                body = protobuf.decode_object(request.body, "authentication.k8s.io", "TokenRequest")
            else:
                body = self._body(request, rt) if request.body else {}
            return Response.json(tokens.token_request(self.issuer, resource.namespace or "", account, body),
                                 status=201)
        if sub == "log":
            pod = self.service.get(rt, resource.namespace or "", resource.name or "")
            log_file = self.pod_logs.get((resource.namespace or "", resource.name or ""))
            if log_file is not None:
                return Response.text(log_file.read_text(encoding="utf-8", errors="replace")
                                     if log_file.is_file() else "")
            return Response.text(str((pod.get("metadata") or {}).get("annotations", {}).get(
                "atlas-lab.io/log", "")))
        if sub == "scale":
            return self._scale(request, rt, resource)
        if sub == "finalize":
            if request.method != "PUT":
                raise E.method_not_allowed(request.method, request.path)
            return self._finalize(request, rt, resource)
        fmt = response_format(request.headers.get("Accept") or "")
        fmt = fmt if fmt in ("json", "yaml") else "json"
        options = _write_options(request.query, request.headers.get("User-Agent") or "")
        if request.method == "GET":
            obj = self.service.get(rt, resource.namespace or "", resource.name or "")
            return encode(self.service.output(rt, obj, resource.version), fmt)
        if request.method == "PUT":
            result = self.service.update(rt, resource.version, resource.namespace or "", resource.name or "",
                                         self._body(request, rt), options, sub)
            return self._written(result, fmt, 200)
        if request.method == "PATCH":
            result = self.service.patch(rt, resource.version, resource.namespace or "", resource.name or "",
                                        request.content_type, request.body, options, sub)
            return self._written(result, fmt, 200)
        raise E.method_not_allowed(request.method, request.path)

    def _finalize(self, request: http_base.Request, rt: ResourceType, resource: ResourceRequest) -> Response:
        body = self._body(request, rt)
        with self.service.store.lock:
            current = self.service.get(rt, "", resource.name or "")
            updated = dict(current)
            finalizers = list(((body or {}).get("spec") or {}).get("finalizers") or [])
            updated["spec"] = dict(current.get("spec") or {}, finalizers=finalizers)
            stored = self.service.store.put(rt.key, updated, current)
            self.service.finalize_namespace(resource.name or "")
        return Response.json(self.service.output(rt, stored, resource.version))

    def _scale_paths(self, rt: ResourceType, version: str) -> tuple[str, str, str]:
        if rt.is_custom:
            scale = ((rt.crd_versions.get(version) or {}).get("subresources") or {}).get("scale") or {}
            return (scale.get("specReplicasPath", ".spec.replicas"), scale.get("statusReplicasPath", ".status.replicas"),
                    scale.get("labelSelectorPath", ""))
        return ".spec.replicas", ".status.replicas", ".spec.selector"

    def _scale_object(self, rt: ResourceType, version: str, obj: dict[str, Any]) -> dict[str, Any]:
        spec_path, status_path, selector_path = self._scale_paths(rt, version)
        spec_replicas = tables.jsonpath(obj, spec_path)
        status_replicas = tables.jsonpath(obj, status_path)
        selector = tables.jsonpath(obj, selector_path) if selector_path else []
        selector_text = ""
        if selector and isinstance(selector[0], dict):
            selector_text = ",".join(f"{k}={v}" for k, v in sorted((selector[0].get("matchLabels") or {}).items()))
        elif selector:
            selector_text = str(selector[0])
        meta = obj["metadata"]
        scale: dict[str, Any] = {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                         "resourceVersion": meta.get("resourceVersion"),
                         "creationTimestamp": meta.get("creationTimestamp")},
            "spec": {"replicas": int(spec_replicas[0]) if spec_replicas else 0},
            "status": {"replicas": int(status_replicas[0]) if status_replicas else 0},
        }
        if selector_text:
            scale["status"]["selector"] = selector_text
        return scale

    def _scale(self, request: http_base.Request, rt: ResourceType, resource: ResourceRequest) -> Response:
        namespace, name = resource.namespace or "", resource.name or ""
        options = _write_options(request.query, request.headers.get("User-Agent") or "")
        with self.service.store.lock:
            obj = self.service.output(rt, self.service.get(rt, namespace, name), resource.version)
            scale = self._scale_object(rt, resource.version, obj)
            if request.method == "GET":
                return Response.json(scale)
            if request.method == "PUT":
                new_scale = self._body(request, rt)
            elif request.method == "PATCH":
                try:
                    patch_doc = json.loads(request.body.decode() or "null")
                except ValueError as exc:
                    raise E.bad_request(f"error decoding patch: {exc}") from exc
                kind = request.content_type
                if kind == "application/json-patch+json":
                    new_scale = json_patch(scale, patch_doc)
                elif kind == "application/strategic-merge-patch+json":
                    new_scale = strategic_merge_patch(scale, patch_doc, None)
                elif kind == "application/merge-patch+json":
                    new_scale = json_merge_patch(scale, patch_doc)
                else:
                    raise E.unsupported_media_type(kind, ["application/json-patch+json",
                                                          "application/merge-patch+json",
                                                          "application/strategic-merge-patch+json"])
            else:
                raise E.method_not_allowed(request.method, request.path)
            replicas = ((new_scale or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise E.invalid_object("autoscaling", "Scale", name,
                                       [E.invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
            requested_rv = ((new_scale or {}).get("metadata") or {}).get("resourceVersion")
            if requested_rv and requested_rv != obj["metadata"].get("resourceVersion"):
                raise E.stale_object(rt.group, rt.plural, name)
            spec_path = self._scale_paths(rt, resource.version)[0]
            updated = json.loads(json.dumps(obj))
            target = updated
            parts = [p for p in spec_path.split(".") if p]
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = replicas
            updated["metadata"].pop("resourceVersion", None)
            result = self.service.update(rt, resource.version, namespace, name, updated, options, "scale")
            return Response.json(self._scale_object(rt, resource.version, result.object))

    # Proxy -----------------------------------------------------------------------------------
    def _proxy(self, request: http_base.Request, rt: ResourceType, resource: ResourceRequest) -> Response:
        namespace = resource.namespace or ""
        name_part = unquote(resource.name or "")
        if rt.kind == "Pod":
            name, _colon, port = name_part.partition(":")
            pod = self.service.get(rt, namespace, name)
            port = resolve_container_port(pod, port)
            target = self.proxy_targets.pod_target(pod, port)
            if not target:
                raise service_unavailable(
                    f"error trying to reach service: no lab backend for pod {namespace}/{name} port {port or '(any)'}"
                    f" (register one with proxy_targets.set_pod or the proxy.atlas-lab.io/<port> annotation)")
        else:
            parts = name_part.split(":")
            if len(parts) == 3:
                name, port = parts[1], parts[2]
            elif len(parts) == 2:
                name, port = parts
            else:
                name, port = parts[0], ""
            service = self.service.get(rt, namespace, name)
            target = self.proxy_targets.service_target(namespace, name, port)
            if not target:
                target = self._service_endpoint(service, port)
        status, headers, body = forward(target, request.method, resource.rest or "/",
                                        _raw_query(request), request.headers, request.body)
        response = Response(status=status, body=body, headers={})
        for header, value in headers:
            response.headers[header] = value
        return response

    def _service_endpoint(self, service: dict[str, Any], port: str) -> str:
        meta = service["metadata"]
        spec = service.get("spec") or {}
        ports = spec.get("ports") or []
        chosen = None
        for entry in ports:
            if not port or entry.get("name") == port or str(entry.get("port")) == port:
                chosen = entry
                break
        if chosen is None:
            raise service_unavailable(f"no endpoints available for service \"{meta['name']}\"")
        target_port = str(chosen.get("targetPort", chosen.get("port")))
        selector = spec.get("selector")
        pods_rt = self.service.registry.get("", "pods")
        if not selector or pods_rt is None:
            raise service_unavailable(f"no endpoints available for service \"{meta['name']}\"")
        requirements = selector_from_label_selector({"matchLabels": selector}) or []
        pods, _version = self.service.store.list(pods_rt.key, meta.get("namespace"))
        for pod in pods:
            if not labels_match(requirements, (pod.get("metadata") or {}).get("labels")) or not pod_is_ready(pod):
                continue
            target = self.proxy_targets.pod_target(pod, resolve_container_port(pod, target_port))
            if target:
                return target
        raise service_unavailable(f"no endpoints available for service \"{meta['name']}\"")


def _raw_query(request: http_base.Request) -> str:
    from urllib.parse import urlencode  # pylint: disable=import-outside-toplevel
    return urlencode([(k, v) for k, values in request.query.items() for v in values])
