# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: apply (or delete) a set of manifests in one call, with as few API requests as possible.

For ``state=present`` a run:

1. resolves each kind (built-in table, CRDs of the set, else one discovery GET per group version);
2. reads the live objects: one GET for a lone object, one LIST per (resource, namespace) when the
   set has several objects there; objects in a Namespace, or of a CRD, that the set creates and
   that does not exist yet are known to be absent and are not read;
3. applies in two levels, Namespaces and CRDs first (CRDs are waited for until Established), then
   the rest:
   - a live object whose values and field ownership already match: nothing;
   - every other object of the level is validated before the level's first write (validate_first):
     against the OpenAPI v3 schema the API server publishes (``schema``, the default: fetched once
     per group version and cached on disk by its hash, so it costs no request per object), or by a
     dry-run apply (``dry_run``: also semantic validation, admission and RBAC, one more request per
     new object). When any object would be refused, the level writes nothing and the error lists
     every refused object. (Objects in a Namespace or of a CRD the set creates are validated once
     that level is written.) A level with a single object to write is not validated first: its
     write is its validation;
   - then each object: one server-side apply. A live object that the manifest certainly changes
     (a new map key, an integer or boolean set to another value) is written directly; one that may
     already match is dry-run first, and not written when the dry run's result equals it.
4. optionally waits until the objects are ready (see kubernetes_wait).

Check mode sends dry-run requests only (``dryRun=All``): the API server validates and defaults the
objects exactly as it would, and nothing is stored. ``state=absent`` deletes, in reverse order,
the objects that exist (dry-run deletes in check mode).

Every apply uses ``fieldValidation=Strict`` by default: a field the API does not know is an error
instead of being dropped silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ansible_collections.atlas.hardening.plugins.module_utils._common.bounded_concurrency import (
    first_error,
    run_bounded,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.change_detection import (
    certainly_changes,
    dry_run_changes,
    is_up_to_date,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.connection import KubernetesConnection
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.diff import object_diff, secret_values
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.discovery import ApiResource
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.errors import (
    KubernetesApiError,
    KubernetesAuthError,
    KubernetesError,
    KubernetesForbiddenError,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.manifests import (
    CRD,
    ManifestError,
    apply_rank,
    check_identity,
    normalise,
)
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.objects import (
    DEFAULT_FIELD_MANAGER,
    KubernetesObjects,
    ObjectRef,
)

# Waiting and schema validation are imported where they are used: a run that neither waits nor validates
# (a re-run with nothing to change) does not compile them (AnsiballZ's zipimport keeps no bytecode).
if TYPE_CHECKING:
    from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.published_schemas import (
        PublishedSchemas,
    )
    from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import WaitCondition

CREATED, UPDATED, UNCHANGED, DELETED = "created", "updated", "unchanged", "deleted"
FIELD_VALIDATION_CHOICES = ("Strict", "Warn", "Ignore")
VALIDATE_FIRST_CHOICES = ("schema", "dry_run", "none")
# Requests in flight at once: enough to hide a remote API server's latency, few enough not to be a burst
# that API Priority and Fairness would queue (its default per-user share is a few concurrent requests).
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16
# Reads and applies of an update_only object when a controller keeps updating it.
UPDATE_ONLY_ATTEMPTS = 3


class ApplyOptions:
    """How to apply a set; the defaults are the safe ones."""

    def __init__(self, state: str = "present", field_manager: str = DEFAULT_FIELD_MANAGER,
                 force_conflicts: bool = False, field_validation: str = "Strict", check_mode: bool = False,
                 diff: bool = False, wait: bool = False, wait_timeout: float = 120.0,
                 wait_condition: dict[str, Any] | None = None, update_only: tuple[str, ...] = (),
                 create_only: tuple[str, ...] = (), prune: dict[str, Any] | None = None,
                 validate_first: str = "schema", schema_cache_directory: str | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if state not in ("present", "absent"):
            raise KubernetesError(f"state must be present or absent, not {state!r}.")
        if field_validation not in FIELD_VALIDATION_CHOICES:
            raise KubernetesError(f"field_validation must be one of {', '.join(FIELD_VALIDATION_CHOICES)}.")
        self.state = state
        self.field_manager = field_manager or DEFAULT_FIELD_MANAGER
        self.force_conflicts = force_conflicts
        self.field_validation = field_validation
        self.check_mode = check_mode
        self.diff = diff
        self.wait = wait
        self.wait_timeout = float(wait_timeout)
        self.wait_condition = wait_condition
        # Kinds whose objects are only ever updated: a missing one is an error, never created.
        self.update_only = frozenset(update_only)
        # Kinds whose objects are created when missing and left as they are when they exist.
        self.create_only = frozenset(create_only)
        # {"selector": label selector, "kinds": [(apiVersion, kind)...]}: objects of these kinds that carry
        # the labels but are not in the set are deleted (what the set owned before and no longer renders).
        self.prune = prune
        # How every object of a level that would change is validated before any of them is written.
        if validate_first not in VALIDATE_FIRST_CHOICES:
            raise KubernetesError(f"validate_first must be one of {', '.join(VALIDATE_FIRST_CHOICES)}.")
        self.validate_first = validate_first
        self.schema_cache_directory = schema_cache_directory
        # Requests in flight at once within a level (reads, dry runs, writes); 1 sends them one by one.
        if not 1 <= int(concurrency) <= MAX_CONCURRENCY:
            raise KubernetesError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, not {concurrency}.")
        self.concurrency = int(concurrency)
        if prune is not None and (not prune.get("selector") or not prune.get("kinds")):
            raise KubernetesError("prune needs a selector (the labels that mark the objects this set owns) and "
                                  "the kinds to prune.")
        both = self.update_only & self.create_only
        if both:
            raise KubernetesError(f"{', '.join(sorted(both))} cannot be both update_only and create_only.")


class ObjectResult:
    """What happened to one object."""

    def __init__(self, ref: ObjectRef, action: str, warnings: list[str] | None = None) -> None:
        self.ref = ref
        self.action = action
        self.warnings = list(warnings or [])

    @property
    def changed(self) -> bool:
        return self.action != UNCHANGED

    def as_dict(self) -> dict[str, Any]:
        result = self.ref.as_dict()
        result.update(action=self.action, warnings=self.warnings)
        return result


class ApplyReport:
    """Results of one call: per-object results, diffs, and the Secret values to mask."""

    def __init__(self) -> None:
        self.results: list[ObjectResult] = []
        self.diffs: list[dict[str, Any]] = []
        self.secret_values: set[str] = set()
        self.api_requests: dict[str, int] = {}

    @property
    def changed(self) -> bool:
        return any(result.changed for result in self.results)

    def result_dicts(self) -> list[dict[str, Any]]:
        return [result.as_dict() for result in self.results]

    def module_result(self, diff: bool) -> dict[str, Any]:
        result: dict[str, Any] = {"changed": self.changed, "results": self.result_dicts(),
                                  "api_requests": dict(self.api_requests)}
        if diff:
            result["diff"] = self.diffs
        return result


class _Planned:
    """One manifest on its way: normalised body, identity, resource, live state, outcome."""

    def __init__(self, manifest: dict[str, Any], resource: ApiResource, warnings: list[str]) -> None:
        self.manifest = manifest
        self.ref = ObjectRef.of(manifest)
        self.resource = resource
        self.warnings = warnings
        self.rank = apply_rank(self.ref.api_version, self.ref.kind)
        self.live: dict[str, Any] | None = None
        self.read = False
        self.absent_because = ""  # set when the object cannot exist yet (its namespace/CRD is new)
        self.after: dict[str, Any] | None = None
        self.preview: Any = None  # the dry-run answer of the validation, reused by the write


def apply_manifests(connection_or_objects: Any, manifests: list[dict[str, Any]],
                    options: ApplyOptions | None = None, default_namespace: str | None = None) -> ApplyReport:
    """Apply (or delete) ``manifests``; see the module docstring. Raises KubernetesError or
    ManifestError whose ``details`` hold the results of what was already done."""
    objects = connection_or_objects
    if isinstance(connection_or_objects, KubernetesConnection):
        objects = KubernetesObjects(connection_or_objects)
    return ManifestApplier(objects, options or ApplyOptions()).run(manifests, default_namespace)


class ManifestApplier:
    def __init__(self, objects: KubernetesObjects, options: ApplyOptions) -> None:
        self.objects = objects
        self.options = options
        self.report = ApplyReport()
        self._schemas: PublishedSchemas | None = None
        self._counts_before = dict(objects.connection.request_counts)

    @property
    def schemas(self) -> PublishedSchemas:
        if self._schemas is None:
            from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.published_schemas import (
                PublishedSchemas,
            )

            self._schemas = PublishedSchemas(self.objects.connection, self.options.schema_cache_directory)
        return self._schemas

    def run(self, manifests: list[dict[str, Any]], default_namespace: str | None) -> ApplyReport:
        try:
            planned = self._plan(manifests, default_namespace)
            self._read_live(planned)
            if self.options.state == "present":
                self._refuse_missing_update_only(planned)
                self._apply_all(planned)
                if self.options.prune is not None:
                    self._prune(planned)
                if self.options.wait and not self.options.check_mode:
                    self._wait_ready(planned)
            else:
                self._delete_all(planned)
        except (KubernetesError, ManifestError) as exc:
            exc.details.setdefault("results", self.report.result_dicts())
            written = self._written_so_far()
            if written:
                exc.args = (f"{str(exc).rstrip()} {written}",)
            raise
        finally:
            self._count_requests()
        return self.report

    # -- planning ------------------------------------------------------------------------------
    def _plan(self, manifests: list[dict[str, Any]], default_namespace: str | None) -> list[_Planned]:
        for index, manifest in enumerate(manifests):
            check_identity(manifest, index)
        for manifest in manifests:
            if (manifest["apiVersion"], manifest["kind"]) == CRD:
                self.objects.resolver.register_crd(manifest)
        planned: list[_Planned] = []
        seen: dict[tuple[str, str, str, str], int] = {}
        for index, manifest in enumerate(manifests):
            resource = self.objects.resource(manifest["apiVersion"], manifest["kind"])
            body, warnings = normalise(manifest, resource.namespaced, default_namespace)
            item = _Planned(body, resource, warnings)
            if item.ref.key() in seen:
                raise ManifestError(f"{item.ref} appears twice in the set (manifests #{seen[item.ref.key()] + 1} "
                                    f"and #{index + 1}); merge them into one.")
            seen[item.ref.key()] = index
            planned.append(item)
        planned.sort(key=lambda item: item.rank)  # stable: the given order within each rank
        return planned

    # -- reading -------------------------------------------------------------------------------
    def _read_live(self, planned: list[_Planned]) -> None:
        self._read([item for item in planned if item.rank < 2])
        new_namespaces = {item.ref.name for item in planned if item.rank == 0 and item.live is None}
        new_kinds = {}
        for item in planned:
            if item.rank == 1 and item.live is None:
                spec = item.manifest.get("spec") or {}
                new_kinds[(spec.get("group"), (spec.get("names") or {}).get("kind"))] = item.ref.name
        rest = []
        for item in planned:
            if item.rank < 2:
                continue
            group = item.ref.api_version.split("/")[0] if "/" in item.ref.api_version else ""
            if (group, item.ref.kind) in new_kinds:
                item.absent_because = f"its CustomResourceDefinition {new_kinds[(group, item.ref.kind)]} is new"
            elif item.ref.namespace in new_namespaces:
                item.absent_because = f"its namespace {item.ref.namespace} is new"
            if item.absent_because:
                item.read = True
            else:
                rest.append(item)
        self._read(rest)

    def _read(self, planned: list[_Planned]) -> None:
        groups: dict[tuple[str, str, str], list[_Planned]] = {}
        for item in planned:
            groups.setdefault((item.resource.api_version, item.resource.plural, item.ref.namespace or ""),
                              []).append(item)

        def read(members: list[_Planned]) -> None:
            try:
                if len(members) == 1:
                    members[0].live = self.objects.get(members[0].ref)
                else:
                    self._read_by_list(members)
            except KubernetesApiError as exc:
                raise self._object_error("Reading", members[0], exc) from None
            for item in members:
                item.read = True

        error = first_error(run_bounded(list(groups.values()), read, self.options.concurrency))
        if error is not None:
            raise error

    def _read_by_list(self, members: list[_Planned]) -> None:
        try:
            items = self.objects.list(members[0].resource, members[0].ref.namespace)[0]
        except KubernetesForbiddenError:
            # RBAC may allow get on named objects but not list: read them one by one.
            for item in members:
                item.live = self.objects.get(item.ref)
            return
        by_name = {(obj.get("metadata") or {}).get("name"): obj for obj in items}
        for item in members:
            item.live = by_name.get(item.ref.name)

    # -- applying ------------------------------------------------------------------------------
    def _is_update_only(self, item: _Planned) -> bool:
        return item.ref.kind in self.options.update_only

    def _refuse_missing_update_only(self, planned: list[_Planned]) -> None:
        missing = [str(item.ref) for item in planned if self._is_update_only(item) and item.live is None]
        if missing:
            raise ManifestError(f"{', '.join(missing)} does not exist, and {', '.join(sorted(self.options.update_only))} "
                                "objects are only updated here, never created (update_only): check the name and "
                                "namespace. Nothing was written.")

    def _apply_all(self, planned: list[_Planned]) -> None:
        for level in ([item for item in planned if item.rank < 2], [item for item in planned if item.rank == 2]):
            self._validate_level([item for item in level if not self._settled(item)])
            outcomes = run_bounded(level, self._apply_one, self.options.concurrency)
            crds_written = []
            for item, outcome in zip(level, outcomes):
                if outcome is not None and outcome.result is not None:
                    self._record(item, outcome.result)  # in the manifests' order, whatever the completion order
                    if item.rank == 1 and outcome.result.changed and not self.options.check_mode:
                        crds_written.append(item)
            error = first_error(outcomes)
            if error is not None:
                raise error
            if crds_written:
                self._wait_established(crds_written)
                if self._schemas is not None:
                    self._schemas.forget_index()  # the new kinds' schemas are published now

    def _settled(self, item: _Planned) -> bool:
        """Nothing to send: the live object holds the applied values (or is create-only and exists)."""
        return item.live is not None and (item.ref.kind in self.options.create_only
                                          or is_up_to_date(item.manifest, item.live, self.options.field_manager))

    def _validate_level(self, pending: list[_Planned]) -> None:
        """Validate each object of the level that would change; refuse the level, before its first write,
        when the API server would refuse any of them (every refusal in one message)."""
        mode = self.options.validate_first
        if mode == "none" or self.options.check_mode or len(pending) < 2:
            return
        refusals = self._schema_refusals(pending) if mode == "schema" else self._dry_run_refusals(pending)
        if refusals:
            count = f"{len(refusals)} of the {len(pending)} objects to write"
            raise KubernetesError(f"{count} would be refused, so none of them was written: "
                                  + " ".join(str(error).rstrip() for error in refusals),
                                  status=refusals[0].details.get("status"),
                                  refused=[error.details.get("object") for error in refusals])

    def _schema_refusals(self, pending: list[_Planned]) -> list[KubernetesError]:
        from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.schema_validation import (
            schema_problems,
        )

        refusals = []
        for item in pending:
            found = self.schemas.schema(item.ref.api_version, item.ref.kind)
            if found is None:
                continue  # nothing published for this kind: the API server validates it on write
            problems = schema_problems(item.manifest, found[0], found[1],
                                       strict=self.options.field_validation == "Strict", creating=item.live is None)
            if problems:
                refusals.append(KubernetesError(
                    f"{item.ref} does not match the schema the API server publishes for {item.ref.api_version} "
                    f"{item.ref.kind}: {'; '.join(problems)}.", status=422, object=item.ref.as_dict()))
        return refusals

    def _dry_run_refusals(self, pending: list[_Planned]) -> list[KubernetesError]:
        def dry_run(item: _Planned) -> KubernetesError | None:
            try:
                item.preview = self.objects.apply(self._request_body(item), dry_run=True, **self._apply_kwargs())
            except KubernetesApiError as exc:
                if self._is_update_only(item) and exc.status == 409:
                    return None  # changed or deleted meanwhile: the write's own read-and-retry decides
                return self._object_error("Validating", item, exc)
            return None

        outcomes = run_bounded(pending, dry_run, self.options.concurrency)
        error = first_error(outcomes)
        if error is not None:
            raise error
        return [outcome.result for outcome in outcomes if outcome is not None and outcome.result is not None]

    def _apply_kwargs(self) -> dict[str, Any]:
        return {"field_manager": self.options.field_manager, "force": self.options.force_conflicts,
                "field_validation": self.options.field_validation}

    def _apply_one(self, item: _Planned) -> ObjectResult:
        options = self.options
        warnings = list(item.warnings)
        action = UNCHANGED
        if self._settled(item):
            item.after = item.live
        elif item.absent_because and options.check_mode:
            # The dry run would fail: the namespace or CRD it needs exists only after the real run.
            action = CREATED
            item.after = item.manifest
            warnings.append(f"{item.ref}: not validated by the API server in check mode, {item.absent_because}.")
        else:
            action = self._apply_with_retries(item, warnings)
        return ObjectResult(item.ref, action, warnings)

    def _apply_with_retries(self, item: _Planned, warnings: list[str]) -> str:
        """One apply; an update_only object carries the resourceVersion read, so that the API server
        refuses to re-create it if it was deleted meanwhile ("resourceVersion should not be set on
        objects to be created"), and a newer version (a controller's status update) is read again."""
        attempt = 1
        while True:
            deleted = False
            try:
                return self._apply_request(item, warnings)
            except KubernetesApiError as exc:
                if not self._is_update_only(item):
                    raise self._object_error("Applying", item, exc) from None
                deleted = "should not be set on objects to be created" in exc.api_message
                stale = exc.status == 409 and "has been modified" in exc.api_message
                if not deleted and not (stale and attempt < UPDATE_ONLY_ATTEMPTS):
                    raise self._object_error("Applying", item, exc) from None
            item.live = None if deleted else self.objects.get(item.ref)
            if item.live is None:
                raise ManifestError(f"{item.ref} was deleted while it was being updated, and update_only objects "
                                    "are never re-created: nothing was written to it.")
            if is_up_to_date(item.manifest, item.live, self.options.field_manager):
                item.after = item.live
                return UNCHANGED
            attempt += 1

    def _request_body(self, item: _Planned) -> dict[str, Any]:
        if not self._is_update_only(item) or item.live is None:
            return item.manifest
        body = dict(item.manifest)
        body["metadata"] = dict(body.get("metadata") or {},
                                resourceVersion=(item.live.get("metadata") or {}).get("resourceVersion"))
        return body

    def _apply_request(self, item: _Planned, warnings: list[str]) -> str:
        options = self.options
        apply_kwargs = self._apply_kwargs()
        if item.live is None:
            response = self.objects.apply(self._request_body(item), dry_run=options.check_mode, **apply_kwargs)
            warnings.extend(response.warnings)
            item.after = response.data
            return CREATED if response.status == 201 or options.check_mode or item.live is None else UPDATED
        preview, item.preview = item.preview, None
        if preview is None and (options.check_mode or not certainly_changes(item.manifest, item.live)):
            preview = self.objects.apply(self._request_body(item), dry_run=True, **apply_kwargs)
        if preview is not None and not dry_run_changes(item.live, preview.data or {}, item.manifest):
            item.after = item.live
            return UNCHANGED
        if options.check_mode:
            warnings.extend(preview.warnings if preview is not None else [])
            item.after = preview.data if preview is not None else None
            return UPDATED
        response = self.objects.apply(self._request_body(item), dry_run=False, **apply_kwargs)
        warnings.extend(response.warnings)
        item.after = response.data
        before_version = (item.live.get("metadata") or {}).get("resourceVersion")
        after_version = ((response.data or {}).get("metadata") or {}).get("resourceVersion")
        return UNCHANGED if before_version and before_version == after_version else UPDATED

    def _wait_established(self, crds: list[_Planned]) -> None:
        from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import (
            ConditionStatus,
            WaitTarget,
            wait_for,
        )

        targets = [WaitTarget(item.ref, item.resource, ConditionStatus("Established"), item.after)
                   for item in crds]
        wait_for(self.objects, targets, self.options.wait_timeout)

    def _wait_ready(self, planned: list[_Planned]) -> None:
        from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import (
            WaitTarget,
            condition_from_spec,
            readiness_condition,
            wait_for,
        )

        spec = self.options.wait_condition or {}
        custom: WaitCondition | None = None
        if spec.get("type") or spec.get("field"):
            custom = condition_from_spec(spec)
        targets = []
        for item in planned:
            condition = readiness_condition(item.ref.api_version, item.ref.kind)
            if custom is not None and spec.get("kind") in (None, "", item.ref.kind):
                condition = custom
            targets.append(WaitTarget(item.ref, item.resource, condition, item.after))
        wait_for(self.objects, targets, self.options.wait_timeout)

    # -- deleting ------------------------------------------------------------------------------
    def _delete_all(self, planned: list[_Planned]) -> None:
        deleted: list[_Planned] = []
        for item in reversed(planned):
            action = UNCHANGED
            warnings = list(item.warnings)
            if item.live is not None:
                try:
                    response = self.objects.delete(item.ref, dry_run=self.options.check_mode)
                except KubernetesApiError as exc:
                    raise self._object_error("Deleting", item, exc) from None
                if response is not None:
                    action = DELETED
                    warnings.extend(response.warnings)
                    deleted.append(item)
            result = ObjectResult(item.ref, action, warnings)
            self._record(item, result)
        if self.options.wait and not self.options.check_mode and deleted:
            from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.wait import (
                Absent,
                WaitTarget,
                wait_for,
            )

            targets = [WaitTarget(item.ref, item.resource, Absent(), item.live) for item in deleted]
            wait_for(self.objects, targets, self.options.wait_timeout)

    def _prune(self, planned: list[_Planned]) -> None:
        """Delete what carries this set's labels but is no longer in it (a grant for a Secret copy that was
        removed from the variables, say). Ownership is recorded on the objects themselves (labels), so
        any controller node prunes the same objects."""
        wanted = {item.ref.key() for item in planned}
        selector = str(self.options.prune["selector"])  # type: ignore[index]
        for api_version, kind in self.options.prune["kinds"]:  # type: ignore[index]
            resource = self.objects.resource(api_version, kind)
            try:
                items = self.objects.list(resource, None, label_selector=selector)[0]
            except KubernetesApiError as exc:
                raise KubernetesError(f"Listing the {kind} objects labelled {selector} to prune failed: "
                                      f"{exc.api_message or exc}") from None
            for live in sorted(items, key=lambda obj: (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])):
                ref = ObjectRef.of(dict(live, apiVersion=api_version, kind=kind))
                if ref.key() in wanted:
                    continue
                item = _Planned({"apiVersion": api_version, "kind": kind, "metadata": dict(live["metadata"])},
                                resource, [])
                item.live = live
                try:
                    response = self.objects.delete(ref, dry_run=self.options.check_mode)
                except KubernetesApiError as exc:
                    raise self._object_error("Deleting", item, exc) from None
                if response is not None:
                    self._record(item, ObjectResult(ref, DELETED, [f"{ref}: pruned, it is no longer in the set"]))

    def _written_so_far(self) -> str:
        """Exactly what a failed call changed before failing, for its message ("" when nothing)."""
        written = [f"{result.ref} ({result.action})" for result in self.report.results if result.changed]
        if self.options.check_mode or not written:
            return ""
        return f"Written before the failure: {', '.join(written)}; run the task again once the failure is fixed."

    # -- bookkeeping ---------------------------------------------------------------------------
    def _record(self, item: _Planned, result: ObjectResult) -> None:
        self.report.results.append(result)
        for obj in (item.manifest, item.live, item.after):
            self.report.secret_values.update(secret_values(obj))
        if self.options.diff and result.changed:
            after = None if result.action == DELETED else item.after
            self.report.diffs.append(object_diff(str(item.ref), item.live, after))

    def _count_requests(self) -> None:
        self.report.api_requests = self.objects.connection.requests_since(self._counts_before)

    def _object_error(self, doing: str, item: _Planned, exc: KubernetesApiError) -> KubernetesError:
        ref = item.ref
        if isinstance(exc, (KubernetesAuthError, KubernetesForbiddenError)):
            return exc  # already says what failed and what to check; not about this object
        if exc.status == 409 and doing == "Applying":
            message = (f"{doing} {ref} conflicts with another field manager: {exc.api_message}. Those fields "
                       f"belong to another manager; leave them out of the manifest, or set force_conflicts: true "
                       f"to make {self.options.field_manager!r} take them over.")
        elif exc.status in (400, 422) or (exc.status == 500 and "typed patch object" in exc.api_message):
            # A field outside the schema fails server-side apply with a 500 (kubernetes#122480).
            message = (f"The Kubernetes API server rejected {ref}: {exc.api_message}. Fix the manifest"
                       + (" (field validation is Strict: unknown or misspelled fields are errors)."
                          if self.options.field_validation == "Strict" else "."))
        elif exc.status == 404 and ref.namespace and "namespace" in exc.api_message.lower():
            message = (f"{doing} {ref} failed: namespace {ref.namespace!r} does not exist. Add the Namespace to "
                       "the same set of manifests (it is applied first) or create it beforehand.")
        elif exc.status == 404:
            message = (f"{doing} {ref} failed: the API server at {self.objects.connection.server} does not serve "
                       f"{ref.api_version} {ref.kind} ({exc.api_message}). Check apiVersion and kind, or install "
                       "its CustomResourceDefinition.")
        else:
            message = f"{doing} {ref}: {exc}"
        error = KubernetesError(message, status=exc.status, object=ref.as_dict())
        return error
