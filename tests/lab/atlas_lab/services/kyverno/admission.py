"""Kyverno's validating webhook in the Kubernetes emulator: ClusterPolicies decide writes.

As Kyverno's admission controller does: its default resourceFilters (kube-system, kube-public,
kube-node-lease, its own namespace, ReplicaSets and Events are not sent to it); policies grouped by
``webhookConfiguration.failurePolicy`` into ``validate.kyverno.svc-fail`` and ``-ignore``; a policy
whose GlobalContextEntry is not ready (its resource is not served) is silently not applied;
PolicyExceptions (kyverno.io/v2, in the exception namespace) skip the rules they name; a failure in
Enforce refuses the request with the message kube-apiserver relays from a webhook; with failurePolicy
Fail, a rule processing error refuses it too, even in Audit; Audit failures become warnings when the
policy sets ``emitWarning``. An ``apiCall`` is answered in process and counted in the emulator's
request log (user agent ``kyverno-admission-controller``), so tests see what an admission costs.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable

import yaml

from atlas_lab.services.kubernetes import errors as E
from atlas_lab.services.kubernetes.objects import AdmissionAttributes, ObjectService
from atlas_lab.services.kyverno.engine import Callbacks, Engine, RuleResult, filters_match
from atlas_lab.services.kyverno.jmespath_functions import KyvernoFunctions, KyvernoJMESPathError, search

KYVERNO_NAMESPACE = "kyverno"
FILTERED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", KYVERNO_NAMESPACE)
FILTERED_KINDS = ("Event", "ReplicaSet", "Node", "APIService", "TokenReview", "SubjectAccessReview")
USER_AGENT = "kyverno-admission-controller"
_COLLECTION = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/(?:namespaces/(?P<namespace>[^/]+)/)?"
                         r"(?P<resource>[^/?]+)$|^/api/(?P<core_version>v1)/(?:namespaces/(?P<core_namespace>[^/]+)/)?"
                         r"(?P<core_resource>[^/?]+)$")


class KyvernoAdmission:
    def __init__(self, objects: ObjectService, record_request: Callable[[str, str, str, int, str], None],
                 clock: Callable[[], datetime.datetime] | None = None,
                 exception_namespace: str = KYVERNO_NAMESPACE,
                 may_watch: Callable[[str, str], bool] = lambda group, resource: True) -> None:
        self.objects = objects
        self.record_request = record_request
        self.may_watch = may_watch  # whether Kyverno's ServiceAccount may list and watch a resource
        self.functions = KyvernoFunctions(clock)
        self.exception_namespace = exception_namespace
        self.engine = self.engine_for(USER_AGENT)

    def engine_for(self, user_agent: str) -> Engine:
        """An engine whose apiCalls are counted under ``user_agent`` (each Kyverno controller has its own)."""
        return Engine(Callbacks(api_call=lambda method, path: self._api_call(method, path, user_agent),
                                global_context=self._global_context, config_map=self._config_map), self.functions)

    # Objects Kyverno reads ----------------------------------------------------------------------
    def _list(self, group: str, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        rt = self.objects.registry.get(group, resource)
        if rt is None:
            raise KyvernoJMESPathError(f"the server could not find the requested resource ({resource}.{group})")
        items, _rv = self.objects.list(rt, namespace)
        return [self.objects.output(rt, item) for item in items]

    def _api_call(self, method: str, path: str, user_agent: str = USER_AGENT) -> Any:
        match = _COLLECTION.match(path.split("?")[0])
        status = 200
        try:
            if method != "GET" or match is None:
                raise KyvernoJMESPathError(f"apiCall {method} {path} is not emulated by the lab (collection GETs only)")
            group = match.group("group") or ""
            resource = match.group("resource") or match.group("core_resource")
            namespace = match.group("namespace") or match.group("core_namespace")
            return {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": self._list(group, resource, namespace)}
        except KyvernoJMESPathError:
            status = 404
            raise
        finally:
            self.record_request("GET", path, "list", status, user_agent)

    def _entry(self, name: str) -> dict[str, Any] | None:
        rt = self.objects.registry.get("kyverno.io", "globalcontextentries")
        return self.objects.store.get(rt.key, "", name) if rt is not None else None

    def _entry_ready(self, name: str) -> bool:
        entry = self._entry(name)
        if entry is None:
            return False
        source = (entry.get("spec") or {}).get("kubernetesResource") or {}
        group, resource = source.get("group", ""), source.get("resource", "")
        # Its informer syncs only when the resource is served and Kyverno may list and watch it.
        return bool(source) and self.objects.registry.get(group, resource) is not None and self.may_watch(group, resource)

    def _global_context(self, reference: str) -> Any:
        name, _dot, projection = reference.partition(".")
        entry = self._entry(name)
        if entry is None or not self._entry_ready(name):
            raise KyvernoJMESPathError(f"global context entry {name} not found or not ready")
        source = entry["spec"]["kubernetesResource"]
        data: Any = self._list(source.get("group", ""), source["resource"], source.get("namespace") or None)
        if projection:
            for item in entry["spec"].get("projections") or []:
                if item.get("name") == projection:
                    return search(item["jmesPath"], data, self.functions)
            raise KyvernoJMESPathError(f"global context entry {name} has no projection {projection}")
        return data

    def _config_map(self, namespace: str, name: str) -> Any:
        rt = self.objects.registry.get("", "configmaps")
        assert rt is not None
        found = self.objects.store.get(rt.key, namespace, name)
        if found is None:
            raise KyvernoJMESPathError(f"failed to get configmap {namespace}/{name}: not found")
        return found

    # Admission ----------------------------------------------------------------------------------
    def policies(self) -> list[dict[str, Any]]:
        rt = self.objects.registry.get("kyverno.io", "clusterpolicies")
        if rt is None:
            return []
        ready = []
        for policy in self._list("kyverno.io", "clusterpolicies"):
            spec = policy.get("spec") or {}
            if spec.get("admission") is False:
                continue
            references = [entry["globalReference"]["name"].partition(".")[0] for rule in spec.get("rules") or []
                          for entry in rule.get("context") or [] if "globalReference" in entry]
            if all(self._entry_ready(name) for name in references):
                ready.append(policy)  # a not-ready entry makes the policy not ready: silently not applied
        return ready

    def _exceptions(self) -> list[dict[str, Any]]:
        if self.objects.registry.get("kyverno.io", "policyexceptions") is None:
            return []
        return self._list("kyverno.io", "policyexceptions", self.exception_namespace)

    def _excepted(self, result: RuleResult, request: dict[str, Any], exceptions: list[dict[str, Any]]) -> bool:
        for exception in exceptions:
            spec = exception.get("spec") or {}
            named = any(item.get("policyName") == result.policy and result.rule in (item.get("ruleNames") or [])
                        for item in spec.get("exceptions") or [])
            if named and filters_match(spec.get("match"), request):
                return True
        return False

    @staticmethod
    def _allows_existing(policy: dict[str, Any], rule_name: str) -> bool:
        for rule in (policy.get("spec") or {}).get("rules") or []:
            base = rule_name.replace("autogen-cronjob-", "", 1).replace("autogen-", "", 1)
            if rule.get("name") in (rule_name, base):
                return (rule.get("validate") or {}).get("allowExistingViolations", True) is not False
        return True

    def __call__(self, attributes: AdmissionAttributes) -> list[str]:
        if attributes.namespace in FILTERED_NAMESPACES or attributes.kind in FILTERED_KINDS:
            return []
        policies = self.policies()
        if not policies:
            return []
        request = {"operation": attributes.operation, "namespace": attributes.namespace, "name": attributes.name,
                   "kind": {"group": attributes.group, "version": attributes.version, "kind": attributes.kind},
                   "resource": {"group": attributes.group, "version": attributes.version, "resource": attributes.resource},
                   "subResource": attributes.subresource, "dryRun": attributes.dry_run,
                   "object": attributes.object, "oldObject": attributes.old_object,
                   "userInfo": dict(attributes.user_info or {})}
        exceptions = self._exceptions()
        blocked: dict[str, dict[str, dict[str, str]]] = {}
        warnings: list[str] = []
        for policy in policies:
            spec = policy.get("spec") or {}
            failure_policy = (spec.get("webhookConfiguration") or {}).get("failurePolicy") or spec.get("failurePolicy") or "Fail"
            name = policy["metadata"]["name"]
            existing: dict[str, str] | None = None
            for result in self.engine.validate(policy, request):
                if result.status in ("fail", "error") and self._excepted(result, request, exceptions):
                    continue
                blocks = result.blocks or (result.status == "error" and failure_policy == "Fail")
                if blocks and result.status == "fail" and attributes.old_object is not None:
                    # allowExistingViolations (default true): an update of an object that already
                    # violated the rule is let through, so controllers can keep managing it.
                    if existing is None:
                        existing = {item.rule: item.status for item in self.engine.validate(
                            policy, dict(request, object=attributes.old_object))}
                    if existing.get(result.rule) == "fail" and self._allows_existing(policy, result.rule):
                        blocks = False
                if blocks:
                    blocked.setdefault(failure_policy.lower(), {}).setdefault(name, {})[result.rule] = result.message
                elif result.status == "fail" and spec.get("emitWarning"):
                    warnings.append(f"policy {name}.{result.rule}: {result.message}")
        if blocked:
            webhook = "fail" if "fail" in blocked else "ignore"
            kind_name = f"{attributes.kind}/{attributes.namespace}/{attributes.name}" if attributes.namespace \
                else f"{attributes.kind}//{attributes.name}"
            text = yaml.safe_dump(blocked[webhook], default_flow_style=False, default_style=None, width=80, sort_keys=True)
            raise E.ApiError(400, "", f'admission webhook "validate.kyverno.svc-{webhook}" denied the request: \n\n'
                                      f"resource {kind_name} was blocked due to the following policies \n\n{text}")
        return warnings
