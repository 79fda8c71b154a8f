"""The object lifecycle shared by the REST handlers and the simulated controllers.

create / update / patch / server-side apply / delete go through the same steps as in
kube-apiserver: decode (pruning, strict field validation), defaulting, validation (schema + Go
rules), managedFields, optimistic concurrency on ``resourceVersion``, ``generation``, status
subresource semantics, finalizers and deletion, namespace lifecycle, owner-reference garbage
collection and ``dryRun``. Controllers call the same methods, so their writes are validated and
watched like any client's.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import random
import uuid
from typing import Any, Callable

import yaml

from atlas_lab.services.kubernetes import errors as E
from atlas_lab.services.kubernetes import managedfields
from atlas_lab.services.kubernetes.defaults import apply_builtin_defaults, apply_schema_defaults
from atlas_lab.services.kubernetes.patch import json_merge_patch, json_patch, strategic_merge_patch
from atlas_lab.services.kubernetes.resources import ResourceRegistry, ResourceType
from atlas_lab.services.kubernetes.schemas import Schema
from atlas_lab.services.kubernetes.selectors import (
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from atlas_lab.services.kubernetes.semantics import validate_metadata, validate_semantics
from atlas_lab.services.kubernetes.store import ObjectStore, clone
from atlas_lab.services.kubernetes.validation import (
    cannot_be_handled,
    decode,
    drop_nulls,
    schema_errors,
    strict_error_text,
)

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
CUSTOM_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
                      "application/apply-patch+yaml"]
BUILTIN_PATCH_TYPES = CUSTOM_PATCH_TYPES[:2] + ["application/strategic-merge-patch+json",
                                                "application/apply-patch+yaml"]
FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class _YAMLLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """YAML like sigs.k8s.io/yaml: no timestamp conversion (dates stay strings)."""


_YAMLLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: bytes | str) -> Any:
    return yaml.load(text, Loader=_YAMLLoader)  # nosec B506 - a SafeLoader subclass


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class WriteOptions:
    """Options common to writes (``CreateOptions``/``UpdateOptions``/``PatchOptions``)."""

    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"
    user_agent: str = ""
    force: bool = False
    # The requesting user as admission sees it (authentication/v1 UserInfo: username, groups).
    user_info: dict[str, Any] | None = None

    @property
    def manager(self) -> str:
        if self.field_manager:
            return self.field_manager
        return (self.user_agent or "unknown").split("/")[0]


@dataclasses.dataclass
class Result:
    object: dict[str, Any]
    warnings: list[str] = dataclasses.field(default_factory=list)
    created: bool = False


@dataclasses.dataclass
class AdmissionAttributes:
    """What a validating admission plugin sees (admission.Attributes): the object after defaulting and
    schema validation, at the version the client sent it."""

    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    operation: str  # CREATE or UPDATE
    namespace: str
    name: str
    object: dict[str, Any]
    old_object: dict[str, Any] | None
    dry_run: bool
    user_info: dict[str, Any] | None = None


# A plugin returns warnings, or raises an ApiError to refuse the request.
AdmissionPlugin = Callable[[AdmissionAttributes], list[str]]


@dataclasses.dataclass
class DeleteOptions:
    dry_run: bool = False
    propagation: str = "Background"
    precondition_uid: str | None = None
    precondition_rv: str | None = None


# kube-apiserver's default --service-cluster-ip-range (the addresses the lab assigns are in it).
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def _requested_cluster_ip(rt: ResourceType, obj: dict[str, Any]) -> str:
    """The clusterIP a new Service asks for ("" when the API server is to choose it)."""
    if rt.key != ("", "services"):
        return ""
    spec = obj.get("spec") or {}
    ips = spec.get("clusterIPs") or []
    return str(spec.get("clusterIP") or (ips[0] if ips else "") or "")


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def _generation_view(obj: dict[str, Any], has_status: bool) -> str:
    view = {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
    if has_status:
        view.pop("status", None)
    return json.dumps(view, sort_keys=True)


class ObjectService:
    """The API's write and read semantics over an :class:`ObjectStore`."""

    def __init__(self, registry: ResourceRegistry, store: ObjectStore):
        self.registry = registry
        self.store = store
        # Called inside the store lock before commit, to finish system-managed objects
        # (CRD status); and after commit (CRD registration).
        self.prepare_hooks: list[Callable[[ResourceType, dict[str, Any], dict[str, Any] | None], None]] = []
        self.commit_hooks: list[Callable[[ResourceType, str, dict[str, Any]], None]] = []
        # Validating admission, after defaulting and schema validation, before storage (dry runs too:
        # the webhooks the lab emulates declare sideEffects None).
        self.admission_plugins: list[AdmissionPlugin] = []
        self.service_ips: dict[str, str] = {}

    # Helpers ---------------------------------------------------------------------------------
    def schema(self, rt: ResourceType, version: str | None = None) -> Schema:
        schema = rt.schema(version or rt.storage_version)
        if schema is None:
            raise E.internal(f"no schema for {rt.group_resource}")
        return schema

    def output(self, rt: ResourceType, obj: dict[str, Any], version: str | None = None) -> dict[str, Any]:
        """The object as served in ``version`` (apiVersion/kind set)."""
        out = dict(obj)
        out["apiVersion"] = rt.api_version(version)
        out["kind"] = rt.kind
        ordered = {"apiVersion": out.pop("apiVersion"), "kind": out.pop("kind")}
        ordered.update(out)
        return ordered

    def _check_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get(("", "namespaces"), "", namespace)
        if ns is None:
            raise E.not_found("", "namespaces", namespace)
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise E.ApiError(403, "Forbidden",
                             f'{rt.group_resource} "{name}" is forbidden: unable to create new content in '
                             f"namespace {namespace} because it is being terminated",
                             {"name": name, "kind": rt.plural,
                              "causes": [{"reason": "NamespaceTerminating",
                                          "message": f"namespace {namespace} is being terminated",
                                          "field": "metadata.namespace"}]})

    def _decode(self, rt: ResourceType, version: str, obj: dict[str, Any], validation: str,
                patch_text: str | None = None) -> list[str]:
        """Prune unknown fields, enforce field validation; return warnings."""
        report = decode(obj, self.schema(rt, version))
        if report.type_error:
            if patch_text is not None:
                raise E.invalid_object("", "", "", [E.invalid("patch", patch_text, report.type_error)])
            raise cannot_be_handled(rt.kind, version, report.type_error)
        if not report.unknown_fields:
            return []
        if validation == "Strict":
            if patch_text is not None:
                raise E.invalid_object("", "", "", [E.invalid("patch", patch_text,
                                                              strict_error_text(report.unknown_fields))])
            raise cannot_be_handled(rt.kind, version, strict_error_text(report.unknown_fields))
        if validation == "Warn":
            return [f'unknown field "{f}"' for f in report.unknown_fields]
        return []

    def _validate(self, rt: ResourceType, version: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        meta = _meta(obj)
        errors = validate_metadata(meta, rt.group, rt.plural)
        schema = self.schema(rt, version)
        crd_raw = rt.crd_versions.get(version, {}).get("schema", {}).get("openAPIV3Schema") if rt.is_custom else None
        errors += schema_errors(obj, schema, crd_raw)
        errors += validate_semantics(obj, old, rt.group, rt.kind)
        if old is not None:
            old_meta = old.get("metadata") or {}
            if old_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
                if added:
                    errors.append(E.forbidden_field("metadata.finalizers",
                                                    f"no new finalizers can be added if the object is being "
                                                    f"deleted, found new finalizers {json.dumps(sorted(added))}"))
        if errors:
            raise E.invalid_object(rt.group, rt.kind, meta.get("name") or "", errors)

    def _defaults(self, rt: ResourceType, version: str, obj: dict[str, Any]) -> None:
        if rt.is_custom:
            apply_schema_defaults(obj, self.schema(rt, version))
        else:
            apply_builtin_defaults(obj, rt.group, rt.kind)

    def _normalize(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.is_custom:
            return obj
        return drop_nulls(obj, self.schema(rt))

    @staticmethod
    def _check_body(rt: ResourceType, version: str, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise E.bad_request(f"{rt.kind} in version \"{version}\" cannot be handled as a {rt.kind}: "
                                f"json: cannot unmarshal {type(obj).__name__} into Go value of type "
                                f"struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
                                f"Kind string \"json:\\\"kind,omitempty\\\"\" }}")
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise E.bad_request(f"the object provided is unrecognized (must be of type {rt.kind}): "
                                f"couldn't get version/kind; json parse error")
        if api_version and api_version not in [rt.api_version(v) for v in rt.versions]:
            raise E.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                f"API version ({rt.api_version(version)})")
        return obj

    def _place(self, rt: ResourceType, obj: dict[str, Any], namespace: str) -> None:
        meta = _meta(obj)
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise E.bad_request("the namespace of the provided object does not match the namespace sent on "
                                    "the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _managed(self, rt: ResourceType, version: str, old: dict[str, Any] | None, new: dict[str, Any],
                 options: WriteOptions, subresource: str) -> None:
        entries = managedfields.track_update(old, new, self.schema(rt, version), options.manager,
                                             rt.api_version(version), subresource, rt.has_status)
        encoded = managedfields.encode_managed_fields(entries)
        meta = _meta(new)
        if encoded:
            meta["managedFields"] = encoded
        else:
            meta.pop("managedFields", None)

    # Reads -----------------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise E.not_found(rt.group, rt.plural, name)
        return obj

    def list(self, rt: ResourceType, namespace: str | None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict[str, Any]], int]:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, rt.group, rt.plural, self.selectable_fields(rt))
        items, rv = self.store.list(rt.key, namespace if rt.namespaced else None)
        items = [o for o in items if labels_match(labels, (o.get("metadata") or {}).get("labels"))
                 and fields_match(fields, o, rt.group, rt.plural)]
        return items, rv

    @staticmethod
    def selectable_fields(rt: ResourceType) -> list[str]:
        fields: list[str] = []
        for version in rt.crd_versions.values():
            fields += [f.get("jsonPath", "").lstrip(".") for f in version.get("selectableFields") or []]
        return fields

    # Create ----------------------------------------------------------------------------------
    def create(self, rt: ResourceType, version: str, namespace: str, body: Any, options: WriteOptions,
               subresource: str = "") -> Result:
        obj = clone(self._check_body(rt, version, body))
        warnings = self._decode(rt, version, obj, options.field_validation)
        obj = self._normalize(rt, obj)
        self._place(rt, obj, namespace)
        meta = _meta(obj)
        with self.store.lock:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(random.choice(NAME_ALPHABET) for _char in range(5))
            self._check_namespace(rt, namespace, meta.get("name") or "")
            self._init_system_metadata(rt, obj)
            self._initial_status(rt, obj)
            requested_ip = _requested_cluster_ip(rt, obj)
            self._defaults(rt, version, obj)
            self._validate(rt, version, obj, None)
            warnings += self._admit(rt, version, "CREATE", obj, None, options, subresource)
            self._allocate_cluster_ip(rt, obj, requested_ip)
            name = meta.get("name") or ""
            if self.store.get(rt.key, meta.get("namespace") or "", name) is not None:
                raise E.already_exists(rt.group, rt.plural, name)
            self._managed(rt, version, None, obj, options, "")
            self._prepare(rt, obj, None)
            if options.dry_run:
                return Result(self.output(rt, obj, version), warnings, created=True)
            stored = self.store.put(rt.key, self._to_storage(rt, obj))
            self._after(rt, "ADDED", stored)
        return Result(self.output(rt, stored, version), warnings, created=True)

    def _allocate_cluster_ip(self, rt: ResourceType, obj: dict[str, Any], requested: str) -> None:
        """kube-apiserver's ClusterIP allocator: a requested address must be in the service range and
        free (422 otherwise, in its words); an assigned one skips addresses in use."""
        spec = obj.get("spec") or {}
        if rt.key != ("", "services") or spec.get("clusterIP") in (None, "", "None"):
            return
        services, _version = self.store.list(rt.key)
        in_use = {str((service.get("spec") or {}).get("clusterIP")) for service in services}
        address = str(spec["clusterIP"])
        if requested:
            problem = ""
            try:
                valid = ipaddress.ip_address(address) in SERVICE_CIDR
            except ValueError:
                valid = True  # the field validation reports a malformed address
            if not valid:
                problem = (f"the provided IP ({address}) is not in the valid range. The range of valid IPs is "
                           f"{SERVICE_CIDR}")
            elif address in in_use:
                problem = "provided IP is already allocated"
            if problem:
                raise E.invalid_object("", "Service", _meta(obj).get("name") or "", [E.invalid(
                    "spec.clusterIPs", E.RawValue(f'[]string{{"{address}"}}'),
                    f"failed to allocate IP {address}: {problem}")])
            return
        candidate = ipaddress.ip_address(address)
        while str(candidate) in in_use:
            candidate = SERVICE_CIDR[(int(candidate) - int(SERVICE_CIDR.network_address) + 1)
                                     % (SERVICE_CIDR.num_addresses - 2) + 1]
        spec["clusterIP"] = str(candidate)
        spec["clusterIPs"] = [str(candidate)]

    def _init_system_metadata(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = _meta(obj)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        for name in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(name, None)
        if rt.tracks_generation or rt.is_custom:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if (rt.group, rt.kind) == ("batch", "Job"):
            _generate_job_selector(obj)

    @staticmethod
    def _initial_status(rt: ResourceType, obj: dict[str, Any]) -> None:
        """PrepareForCreate: the status of a new object is the server's, not the client's."""
        if not rt.has_status:
            return
        obj.pop("status", None)
        if (rt.group, rt.kind) == ("", "Namespace"):
            obj["status"] = {"phase": "Active"}
        elif (rt.group, rt.kind) == ("", "Pod"):
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def _to_storage(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        stored = dict(obj)
        stored["apiVersion"] = rt.api_version(rt.storage_version)
        stored["kind"] = rt.kind
        return stored

    def _admit(self, rt: ResourceType, version: str, operation: str, obj: dict[str, Any],
               old: dict[str, Any] | None, options: WriteOptions, subresource: str = "") -> list[str]:
        if not self.admission_plugins or subresource not in ("", "ephemeralcontainers"):
            return []
        meta = _meta(obj)
        attributes = AdmissionAttributes(rt.group, version, rt.kind, rt.plural, subresource, operation,
                                         meta.get("namespace") or "", meta.get("name") or "",
                                         self.output(rt, obj, version),
                                         self.output(rt, old, version) if old is not None else None, options.dry_run,
                                         options.user_info)
        warnings: list[str] = []
        for plugin in self.admission_plugins:
            warnings.extend(plugin(attributes))
        return warnings

    def _prepare(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for hook in self.prepare_hooks:
            hook(rt, obj, old)

    def _after(self, rt: ResourceType, event: str, obj: dict[str, Any]) -> None:
        for hook in self.commit_hooks:
            hook(rt, event, obj)

    # Update ----------------------------------------------------------------------------------
    def update(self, rt: ResourceType, version: str, namespace: str, name: str, body: Any,
               options: WriteOptions, subresource: str = "") -> Result:
        obj = clone(self._check_body(rt, version, body))
        warnings = self._decode(rt, version, obj, options.field_validation)
        obj = self._normalize(rt, obj)
        self._place(rt, obj, namespace)
        meta = _meta(obj)
        if meta.get("name") and meta["name"] != name:
            raise E.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                f"({name})")
        meta["name"] = name
        with self.store.lock:
            current = self.get(rt, namespace, name)
            return self._write(rt, version, current, obj, options, subresource, warnings)

    def _check_preconditions(self, rt: ResourceType, current: dict[str, Any], obj: dict[str, Any]) -> None:
        meta, cur = _meta(obj), current["metadata"]
        name = cur["name"]
        requested_rv = meta.get("resourceVersion")
        if requested_rv and requested_rv != cur.get("resourceVersion"):
            raise E.stale_object(rt.group, rt.plural, name)
        requested_uid = meta.get("uid")
        if requested_uid and requested_uid != cur.get("uid"):
            raise E.conflict(rt.group, rt.plural, name,
                             f"Precondition failed: UID in precondition: {requested_uid}, UID in object meta: "
                             f"{cur.get('uid')}")

    def _write(self, rt: ResourceType, version: str, current: dict[str, Any], obj: dict[str, Any],
               options: WriteOptions, subresource: str, warnings: list[str],
               managed: list[dict[str, Any]] | None = None) -> Result:
        """Common tail of update/patch/apply on an existing object."""
        self._check_preconditions(rt, current, obj)
        new = self._merge_system(rt, current, obj, subresource)
        self._defaults(rt, version, new)
        self._validate(rt, version, new, current)
        warnings = warnings + self._admit(rt, version, "UPDATE", new, current, options, subresource)
        if managed is None:
            self._managed(rt, version, current, new, options, subresource)
        else:
            if managed:
                new["metadata"]["managedFields"] = managed
            else:
                new["metadata"].pop("managedFields", None)
        cur_meta = current["metadata"]
        if "generation" in cur_meta:
            if _generation_view(new, rt.has_status) != _generation_view(current, rt.has_status):
                new["metadata"]["generation"] = int(cur_meta.get("generation") or 0) + 1
            else:
                new["metadata"]["generation"] = cur_meta["generation"]
        self._prepare(rt, new, current)
        new = self._to_storage(rt, new)
        new["metadata"]["resourceVersion"] = cur_meta.get("resourceVersion")
        if json.dumps(new, sort_keys=True) == json.dumps(self._to_storage(rt, current), sort_keys=True):
            return Result(self.output(rt, current, version), warnings)
        if options.dry_run:
            return Result(self.output(rt, new, version), warnings)
        finalizing = bool(new["metadata"].get("deletionTimestamp")) and not new["metadata"].get("finalizers")
        if finalizing:
            stored = self.store.put(rt.key, new, current)
            removed = self._remove(rt, stored)
            return Result(self.output(rt, removed, version), warnings)
        stored = self.store.put(rt.key, new, current)
        self._after(rt, "MODIFIED", stored)
        return Result(self.output(rt, stored, version), warnings)

    def _merge_system(self, rt: ResourceType, current: dict[str, Any], obj: dict[str, Any],
                      subresource: str) -> dict[str, Any]:
        """Apply the request to the current object the way the registry strategies do."""
        cur_meta = current["metadata"]
        if subresource == "status":
            new = clone(current)
            if "status" in obj:
                new["status"] = clone(obj["status"])
            else:
                new.pop("status", None)
            requested = (obj.get("metadata") or {}).get("managedFields")
            if requested is not None:
                new["metadata"]["managedFields"] = requested
            return new
        if subresource == "ephemeralcontainers":
            # Only spec.ephemeralContainers changes through this subresource (kubectl debug).
            new = clone(current)
            new.setdefault("spec", {})["ephemeralContainers"] = clone((obj.get("spec") or {}).get("ephemeralContainers") or [])
            return new
        new = clone(obj)
        meta = _meta(new)
        for name in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if name in cur_meta:
                meta[name] = cur_meta[name]
            else:
                meta.pop(name, None)
        meta["name"] = cur_meta["name"]
        if rt.namespaced:
            meta["namespace"] = cur_meta.get("namespace")
        if rt.has_status:
            if "status" in current:
                new["status"] = clone(current["status"])
            else:
                new.pop("status", None)
        if (rt.group, rt.kind) == ("", "Namespace"):
            new["spec"] = clone(current.get("spec", {}))
        if (rt.group, rt.kind) == ("", "Pod"):
            # PodStrategy.PrepareForUpdate: ephemeral containers change only through their subresource.
            ephemeral = (current.get("spec") or {}).get("ephemeralContainers")
            new.setdefault("spec", {}).pop("ephemeralContainers", None)
            if ephemeral is not None:
                new["spec"]["ephemeralContainers"] = clone(ephemeral)
        return new

    # Patch -----------------------------------------------------------------------------------
    def patch(self, rt: ResourceType, version: str, namespace: str, name: str, content_type: str, body: bytes,
              options: WriteOptions, subresource: str = "") -> Result:
        patch_type = PATCH_TYPES.get(content_type)
        accepted = CUSTOM_PATCH_TYPES if rt.is_custom else BUILTIN_PATCH_TYPES
        if patch_type is None or content_type not in accepted:
            raise E.unsupported_media_type(content_type, accepted)
        if patch_type == "apply":
            return self.apply(rt, version, namespace, name, body, options, subresource)
        if options.force:
            raise E.invalid_object("meta.k8s.io", "PatchOptions", "",
                                   [E.forbidden_field("force", "may not be specified for non-apply patch")])
        try:
            patch_doc = json.loads(body.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise E.bad_request(f"error decoding patch: {exc}") from exc
        with self.store.lock:
            current = self.get(rt, namespace, name)
            base = self.output(rt, current, version)
            if patch_type == "merge":
                if not isinstance(patch_doc, dict):
                    raise E.bad_request("Unexpected kind: not an object")
                patched = json_merge_patch(base, patch_doc)
            elif patch_type == "json":
                patched = json_patch(base, patch_doc)
            else:
                if not isinstance(patch_doc, dict):
                    raise E.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
                patched = strategic_merge_patch(base, patch_doc, self.schema(rt, version))
            if not isinstance(patched, dict):
                raise E.bad_request("the patched object is not a JSON object")
            patched_text = json.dumps(patched, separators=(",", ":"))
            warnings = self._decode(rt, version, patched, options.field_validation, patch_text=patched_text)
            patched = self._normalize(rt, patched)
            meta = _meta(patched)
            if meta.get("name") != name:
                raise E.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                                    f"({name})")
            # A resourceVersion left unchanged by the patch is not a precondition.
            if meta.get("resourceVersion") == current["metadata"].get("resourceVersion"):
                meta.pop("resourceVersion", None)
            self._place(rt, patched, namespace)
            return self._write(rt, version, current, patched, options, subresource, warnings)

    # Server-side apply -----------------------------------------------------------------------
    def apply(self, rt: ResourceType, version: str, namespace: str, name: str, body: bytes,
              options: WriteOptions, subresource: str = "") -> Result:
        if not options.field_manager:
            raise E.invalid_object("meta.k8s.io", "PatchOptions", "",
                                   [E.required("fieldManager", "is required for apply patch")])
        try:
            config = load_yaml(body.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise E.bad_request(f"error decoding YAML: {exc}") from exc
        if not isinstance(config, dict):
            raise E.bad_request("error decoding YAML: the apply configuration must be an object")
        expected = rt.api_version(version)
        if config.get("apiVersion") != expected:
            raise E.bad_request(f"Incorrect version specified in apply patch. Specified patch version: "
                                f"{config.get('apiVersion') or ''}, expected: {expected}")
        if config.get("kind") != rt.kind:
            raise E.bad_request(f"Incorrect kind specified in apply patch. Specified patch kind: "
                                f"{config.get('kind') or ''}, expected: {rt.kind}")
        meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
        if meta.get("managedFields") is not None:
            raise E.bad_request("metadata.managedFields must be nil")
        if meta.get("name") and meta["name"] != name:
            raise E.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise E.bad_request("the namespace of the provided object does not match the namespace sent on the "
                                "request")
        schema = self.schema(rt, version)
        # GroupVersionKind.String(): "apps/v1, Kind=Deployment", "/v1, Kind=Service" for the core group.
        gvknn = f"{namespace if rt.namespaced else ''}/{name}; {rt.group}/{version}, Kind={rt.kind}"
        type_report = decode(clone(config), schema)
        if type_report.type_error and not rt.is_custom:
            raise E.internal(f"failed to create typed patch object ({gvknn}): {type_report.type_error}")
        with self.store.lock:
            current = self.store.get(rt.key, namespace if rt.namespaced else "", name)
            if current is None and subresource:
                raise E.not_found(rt.group, rt.plural, name)
            live = self.output(rt, current, version) if current is not None else None
            try:
                merged, entries = managedfields.apply(live, config, schema, options.field_manager, expected,
                                                      options.force, subresource, rt.has_status)
            except managedfields.SchemaError as exc:
                raise E.internal(f"failed to create typed patch object ({gvknn}): {exc.text()}") from exc
            merged = self._normalize(rt, merged)
            encoded = managedfields.encode_managed_fields(entries)
            merged.setdefault("metadata", {})["name"] = name
            self._place(rt, merged, namespace)
            if current is None:
                if meta.get("resourceVersion"):
                    # An apply that becomes a create keeps the resourceVersion it carries; etcd3's store
                    # refuses it, and the API server answers that error as is (500, StatusReasonUnknown).
                    raise E.internal("resourceVersion should not be set on objects to be created")
                return self._create_applied(rt, version, namespace, merged, encoded, options)
            requested_rv = meta.get("resourceVersion")
            merged_meta = _meta(merged)
            if requested_rv:
                merged_meta["resourceVersion"] = requested_rv
            else:
                merged_meta.pop("resourceVersion", None)
            return self._write(rt, version, current, merged, options, subresource, [], managed=encoded)

    def _create_applied(self, rt: ResourceType, version: str, namespace: str, obj: dict[str, Any],
                        managed: list[dict[str, Any]], options: WriteOptions) -> Result:
        meta = _meta(obj)
        self._check_namespace(rt, namespace, meta.get("name") or "")
        if meta.get("uid"):
            raise E.conflict(rt.group, rt.plural, meta["name"],
                             f"uid mismatch: the provided object specified uid {meta['uid']}, and no existing "
                             f"object was found")
        if meta.get("resourceVersion"):
            raise E.not_found(rt.group, rt.plural, meta["name"])
        self._init_system_metadata(rt, obj)
        self._initial_status(rt, obj)
        requested_ip = _requested_cluster_ip(rt, obj)
        self._defaults(rt, version, obj)
        self._validate(rt, version, obj, None)
        warnings = self._admit(rt, version, "CREATE", obj, None, options)
        self._allocate_cluster_ip(rt, obj, requested_ip)
        if managed:
            meta["managedFields"] = managed
        self._prepare(rt, obj, None)
        if options.dry_run:
            return Result(self.output(rt, obj, version), warnings, created=True)
        stored = self.store.put(rt.key, self._to_storage(rt, obj))
        self._after(rt, "ADDED", stored)
        return Result(self.output(rt, stored, version), warnings, created=True)

    # Delete ----------------------------------------------------------------------------------
    def delete(self, rt: ResourceType, version: str, namespace: str, name: str,
               options: DeleteOptions) -> tuple[dict[str, Any], bool]:
        """Delete; return (response body, finished) where ``finished`` means the object is gone."""
        with self.store.lock:
            current = self.get(rt, namespace, name)
            meta = current["metadata"]
            if options.precondition_uid and options.precondition_uid != meta.get("uid"):
                raise E.conflict(rt.group, rt.plural, name,
                                 f"Precondition failed: UID in precondition: {options.precondition_uid}, UID in "
                                 f"object meta: {meta.get('uid')}")
            if options.precondition_rv and options.precondition_rv != meta.get("resourceVersion"):
                raise E.conflict(rt.group, rt.plural, name,
                                 f"Precondition failed: ResourceVersion in precondition: {options.precondition_rv}, "
                                 f"ResourceVersion in object meta: {meta.get('resourceVersion')}")
            finalizers = list(meta.get("finalizers") or [])
            if (rt.group, rt.kind) == ("", "Namespace"):
                finalizers += (current.get("spec") or {}).get("finalizers") or []
            if finalizers:
                if meta.get("deletionTimestamp"):
                    return self.output(rt, current, version), False
                updated = clone(current)
                updated["metadata"]["deletionTimestamp"] = now()
                updated["metadata"]["deletionGracePeriodSeconds"] = 0
                if (rt.group, rt.kind) == ("", "Namespace"):
                    updated.setdefault("status", {})["phase"] = "Terminating"
                if options.dry_run:
                    return self.output(rt, updated, version), False
                stored = self.store.put(rt.key, updated, current)
                self._after(rt, "MODIFIED", stored)
                return self.output(rt, stored, version), False
            if options.dry_run:
                return self._deleted_body(rt, current, version), True
            removed = self._remove(rt, current, orphan=options.propagation == "Orphan")
            return self._deleted_body(rt, removed, version), True

    def _deleted_body(self, rt: ResourceType, obj: dict[str, Any], version: str) -> dict[str, Any]:
        # Custom resources and pods answer with the object; other built-in kinds with a Status.
        if rt.is_custom or rt.kind == "Pod":
            return self.output(rt, obj, version)
        details: dict[str, Any] = {"name": obj["metadata"]["name"], "kind": rt.plural,
                                   "uid": obj["metadata"].get("uid")}
        if rt.group:
            details["group"] = rt.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _remove(self, rt: ResourceType, obj: dict[str, Any], orphan: bool = False) -> dict[str, Any]:
        meta = obj["metadata"]
        removed = self.store.remove(rt.key, meta.get("namespace") or "", meta["name"]) or obj
        self._after(rt, "DELETED", removed)
        if not orphan:
            self._collect_dependents(meta.get("uid"))
        return removed

    def _collect_dependents(self, owner_uid: str | None) -> None:
        """Background garbage collection: delete objects whose only owner was deleted."""
        if not owner_uid:
            return
        for rt in self.registry.all():
            items, _version = self.store.list(rt.key)
            for item in items:
                refs = (item.get("metadata") or {}).get("ownerReferences") or []
                if any(ref.get("uid") == owner_uid for ref in refs):
                    remaining = [r for r in refs if r.get("uid") != owner_uid
                                 and self._owner_exists(r.get("uid"))]
                    if remaining:
                        continue
                    try:
                        self.delete(rt, rt.storage_version, item["metadata"].get("namespace") or "",
                                    item["metadata"]["name"], DeleteOptions())
                    except E.ApiError:
                        continue

    def _owner_exists(self, uid: str | None) -> bool:
        for rt in self.registry.all():
            items, _version = self.store.list(rt.key)
            if any((i.get("metadata") or {}).get("uid") == uid for i in items):
                return True
        return False

    def delete_collection(self, rt: ResourceType, version: str, namespace: str | None, label_selector: str | None,
                          field_selector: str | None, options: DeleteOptions) -> list[dict[str, Any]]:
        items, _version = self.list(rt, namespace, label_selector, field_selector)
        deleted = []
        for item in items:
            meta = item["metadata"]
            try:
                body, _finished = self.delete(rt, version, meta.get("namespace") or "", meta["name"], options)
            except E.ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(self.output(rt, item, version) if body.get("kind") == "Status" else body)
        return deleted

    # Namespace finalization (the namespace controller) ---------------------------------------
    def finalize_namespace(self, name: str) -> None:
        """Delete every object of a terminating namespace, then the namespace itself."""
        with self.store.lock:
            ns = self.store.get(("", "namespaces"), "", name)
            if ns is None or not ns["metadata"].get("deletionTimestamp"):
                return
            for rt in self.registry.all():
                if not rt.namespaced:
                    continue
                items, _version = self.store.list(rt.key, name)
                for item in items:
                    item_meta = item["metadata"]
                    if item_meta.get("finalizers"):
                        # Objects with finalizers wait for their controller: force them out, the lab
                        # has no controller for arbitrary finalizers.
                        item_meta["finalizers"] = []
                    self.store.remove(rt.key, name, item_meta["name"])
                    self._after(rt, "DELETED", item)
            ns_rt = self.registry.get("", "namespaces")
            current = self.store.get(("", "namespaces"), "", name)
            if current is not None and ns_rt is not None:
                if current["metadata"].get("finalizers"):
                    return
                self._remove(ns_rt, current)


def _generate_job_selector(job: dict[str, Any]) -> None:
    """kube-apiserver's Job PrepareForCreate: unless ``manualSelector``, the selector is the Job's uid and
    the Pod template carries the uid and name labels (what `kubectl logs job/NAME` finds its Pods by)."""
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") or spec.get("selector"):
        return
    meta = _meta(job)
    labels = {"batch.kubernetes.io/controller-uid": meta["uid"], "batch.kubernetes.io/job-name": meta.get("name", ""),
              "controller-uid": meta["uid"], "job-name": meta.get("name", "")}
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": meta["uid"]}}
    template = spec.get("template")
    if isinstance(template, dict):
        template_meta = template.setdefault("metadata", {})
        if isinstance(template_meta, dict):
            template_meta["labels"] = {**(template_meta.get("labels") or {}), **labels}
