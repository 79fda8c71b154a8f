"""Kyverno's validate rules, evaluated as its admission and reports controllers do.

Emulated: match/exclude on kinds (``Pod``, ``apps/v1/Deployment``, ``Pod/ephemeralcontainers``, ``*``),
namespaces, names and operations, and on ``subjects`` (the requesting User, Group or ServiceAccount,
compared with ``request.userInfo`` as Kyverno's CheckSubjects does); rule and foreach context entries
(``variable`` with value, jmesPath and default; ``apiCall`` and ``globalReference`` through callbacks;
``configMap``); preconditions; ``validate.deny`` and ``validate.foreach`` (first failing element fails
the rule); ``failureAction`` and ``failureActionOverrides`` (and the deprecated spec-level fields);
autogen for the pod controllers (pkg/autogen: the rule's JSON rewritten to the template's paths); the
``images`` variable. Anything else in a rule is an error ("not emulated"), never a pass.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from dataclasses import dataclass
from typing import Any, Callable

from atlas_lab.services.kyverno import conditions
from atlas_lab.services.kyverno.images import ImageError, image_info
from atlas_lab.services.kyverno.jmespath_functions import KyvernoFunctions, KyvernoJMESPathError, search
from atlas_lab.services.kyverno.variables import substitute

POD_CONTROLLERS = ("DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController")
DEFAULT_AUTOGEN = "DaemonSet,Deployment,Job,StatefulSet,ReplicaSet,ReplicationController,CronJob"
AUTOGEN_ANNOTATION = "pod-policies.kyverno.io/autogen-controllers"
RESOURCE_KEYS = {"kinds", "namespaces", "names", "operations"}
VALIDATE_KEYS = {"message", "deny", "foreach", "failureAction", "failureActionOverrides", "allowExistingViolations"}
FOREACH_KEYS = {"list", "context", "preconditions", "deny", "elementScope"}
RULE_KEYS = {"name", "match", "exclude", "context", "preconditions", "validate", "skipBackgroundRequests"}


class NotEmulated(KyvernoJMESPathError):
    pass


@dataclass
class RuleResult:
    policy: str
    rule: str
    status: str  # pass, fail, skip, error
    message: str
    action: str  # Audit or Enforce

    @property
    def blocks(self) -> bool:
        return self.status == "fail" and self.action == "Enforce"


def _nothing(*what: str) -> Any:
    raise KyvernoJMESPathError(f"{' '.join(what)}: not found")


@dataclass
class Callbacks:
    """Where context entries read from (the admission plugin answers from the emulator's store)."""

    api_call: Callable[[str, str], Any] = _nothing
    global_context: Callable[[str], Any] = _nothing
    config_map: Callable[[str, str], Any] = _nothing


# Autogen ----------------------------------------------------------------------------------------

def _is_pod_kind(kind: str) -> bool:
    return kind in ("Pod", "v1/Pod")  # a subresource kind (Pod/ephemeralcontainers) gets no autogen rule


def _rewrite(rule: dict[str, Any], template_path: str, kinds: list[str], name: str) -> dict[str, Any]:
    text = json.dumps(rule)
    for field in ("object", "oldObject"):
        text = text.replace(f"request.{field}.spec", f"request.{field}.{template_path}.spec")
        text = text.replace(f"request.{field}.metadata", f"request.{field}.{template_path}.metadata")
    generated = json.loads(text)
    generated["name"] = name
    for block in ("match", "exclude"):
        for quantifier in ("any", "all"):
            for item in (generated.get(block) or {}).get(quantifier) or []:
                if "resources" in item and "kinds" in item["resources"]:
                    item["resources"]["kinds"] = list(kinds)
    return generated


def rules_with_autogen(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy's rules, then the ``autogen-`` and ``autogen-cronjob-`` rules Kyverno derives from
    the rules that match Pods only."""
    rules = list((policy.get("spec") or {}).get("rules") or [])
    annotation = ((policy.get("metadata") or {}).get("annotations") or {}).get(AUTOGEN_ANNOTATION, DEFAULT_AUTOGEN)
    if annotation == "none":
        return rules
    controllers = [item.strip() for item in annotation.split(",") if item.strip()]
    generated = []
    for rule in rules:
        filters = [item for quantifier in ("any", "all") for item in (rule.get("match") or {}).get(quantifier) or []]
        kinds = [kind for item in filters for kind in (item.get("resources") or {}).get("kinds") or []]
        if not kinds or not all(_is_pod_kind(kind) for kind in kinds):
            continue
        plain = [item for item in controllers if item in POD_CONTROLLERS]
        if plain:
            generated.append(_rewrite(rule, "spec.template", plain, f"autogen-{rule['name']}"))
        if "CronJob" in controllers:
            generated.append(_rewrite(rule, "spec.jobTemplate.spec.template", ["CronJob"], f"autogen-cronjob-{rule['name']}"))
    return rules + generated


# Matching ---------------------------------------------------------------------------------------

def _kind_matches(pattern: str, request: dict[str, Any]) -> bool:
    kind = request["kind"]
    subresource = request.get("subResource") or ""
    if pattern == "*":
        return not subresource
    parts = pattern.split("/")
    if "/" in pattern and parts[-1][:1].islower():  # Kind/subresource
        return parts[-2] == kind["kind"] and parts[-1] == subresource
    if subresource:
        return False
    if len(parts) == 1:
        return parts[0] == kind["kind"]
    if len(parts) == 2:
        return parts[0] == kind["version"] and parts[1] == kind["kind"]
    return parts[0] == kind["group"] and parts[1] == kind["version"] and parts[2] == kind["kind"]


def _resource_filter_matches(resources: dict[str, Any], request: dict[str, Any]) -> bool:
    unknown = set(resources) - RESOURCE_KEYS
    if unknown:
        raise NotEmulated(f"match/exclude resources fields {sorted(unknown)} are not emulated by the lab")
    name = ((request.get("object") or request.get("oldObject") or {}).get("metadata") or {}).get("name", "")
    checks = [
        not resources.get("kinds") or any(_kind_matches(kind, request) for kind in resources["kinds"]),
        not resources.get("namespaces") or any(
            fnmatch.fnmatchcase(request.get("namespace", ""), item) for item in resources["namespaces"]),
        not resources.get("names") or any(fnmatch.fnmatchcase(name, item) for item in resources["names"]),
        not resources.get("operations") or request.get("operation") in resources["operations"],
    ]
    return all(checks)


def _subjects_match(subjects: list[dict[str, Any]], request: dict[str, Any]) -> bool:
    """Kyverno's CheckSubjects: a ServiceAccount is the user system:serviceaccount:<namespace>:<name>;
    a User matches its name (wildcards allowed), a Group any of the user's groups."""
    user = request.get("userInfo") or {}
    username, groups = str(user.get("username") or ""), [str(group) for group in user.get("groups") or []]
    for subject in subjects:
        kind, name = subject.get("kind"), str(subject.get("name") or "")
        if kind == "ServiceAccount" and username == f"system:serviceaccount:{subject.get('namespace', '')}:{name}":
            return True
        if kind == "User" and fnmatch.fnmatchcase(username, name):
            return True
        if kind == "Group" and any(fnmatch.fnmatchcase(group, name) for group in groups):
            return True
    return False


def _filter_matches(item: dict[str, Any], request: dict[str, Any]) -> bool:
    if "subjects" in item and not _subjects_match(item["subjects"] or [], request):
        return False
    return _resource_filter_matches(item.get("resources") or {}, request)


def filters_match(block: dict[str, Any] | None, request: dict[str, Any]) -> bool | None:
    """True/False for a match or exclude block; None when the block is empty."""
    if not block:
        return None
    for item in (block.get("any") or []) + (block.get("all") or []):
        if set(item) - {"resources", "subjects"}:
            raise NotEmulated(f"match/exclude filters {sorted(set(item) - {'resources', 'subjects'})} are not "
                              "emulated by the lab")
    if block.get("any"):
        return any(_filter_matches(item, request) for item in block["any"])
    if block.get("all"):
        return all(_filter_matches(item, request) for item in block["all"])
    raise NotEmulated("match/exclude without any/all is not emulated by the lab")


# Context ----------------------------------------------------------------------------------------

def images_variable(obj: dict[str, Any]) -> dict[str, Any]:
    """Kyverno's ``images``: per container field, per container name, the image's parts."""
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "CronJob":
        spec = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    elif kind in POD_CONTROLLERS:
        spec = (spec.get("template") or {}).get("spec") or {}
    images: dict[str, Any] = {}
    for field in ("initContainers", "containers", "ephemeralContainers"):
        entries = {}
        for container in spec.get(field) or []:
            try:
                entries[container.get("name", "")] = image_info(str(container.get("image", ""))).as_variable()
            except ImageError:
                continue
        if entries:
            images[field] = entries
    return images


class Engine:
    def __init__(self, callbacks: Callbacks | None = None, functions: KyvernoFunctions | None = None) -> None:
        self.callbacks = callbacks or Callbacks()
        self.functions = functions or KyvernoFunctions()

    def _load_context(self, entries: list[dict[str, Any]], context: dict[str, Any]) -> None:
        for entry in entries or []:
            name = entry.get("name")
            if not name:
                raise KyvernoJMESPathError("context entry without a name")
            if "variable" in entry:
                value = self._variable(entry["variable"], context)
            elif "apiCall" in entry:
                value = self._api_call(entry["apiCall"], context)
            elif "globalReference" in entry:
                reference = substitute(entry["globalReference"], context, self.functions)
                data = self.callbacks.global_context(reference["name"])
                value = search(reference["jmesPath"], data, self.functions) if reference.get("jmesPath") else data
            elif "configMap" in entry:
                reference = substitute(entry["configMap"], context, self.functions)
                value = self.callbacks.config_map(reference.get("namespace", ""), reference["name"])
            else:
                raise NotEmulated(f"context entry {name}: only variable, apiCall, globalReference and configMap are emulated")
            context[name] = value

    def _variable(self, spec: dict[str, Any], context: dict[str, Any]) -> Any:
        value = substitute(spec["value"], context, self.functions) if "value" in spec else None
        if spec.get("jmesPath"):
            expression = substitute(spec["jmesPath"], context, self.functions)
            value = search(expression, value if "value" in spec else context, self.functions)
        if value is None:
            if "default" in spec:
                return substitute(spec["default"], context, self.functions)
            raise KyvernoJMESPathError("failed to add variable to context: variable resolved to nil and no default")
        return value

    def _api_call(self, spec: dict[str, Any], context: dict[str, Any]) -> Any:
        if spec.get("service") or spec.get("data"):
            raise NotEmulated("apiCall with service or data is not emulated by the lab")
        try:
            path = substitute(spec["urlPath"], context, self.functions)
            data = self.callbacks.api_call(spec.get("method", "GET"), path)
            value = search(substitute(spec["jmesPath"], context, self.functions), data, self.functions) \
                if spec.get("jmesPath") else data
            if value is None:
                raise KyvernoJMESPathError("apiCall result is nil")
            return value
        except KyvernoJMESPathError:
            if "default" in spec:
                return copy.deepcopy(spec["default"])
            raise

    # Rules --------------------------------------------------------------------------------------

    @staticmethod
    def failure_action(policy: dict[str, Any], rule: dict[str, Any], namespace: str) -> str:
        spec = policy.get("spec") or {}
        validate = rule.get("validate") or {}
        action = validate.get("failureAction") or spec.get("validationFailureAction") or "Audit"
        overrides = validate.get("failureActionOverrides") or spec.get("validationFailureActionOverrides") or []
        for override in overrides:
            if override.get("namespaceSelector"):
                raise NotEmulated("failureActionOverrides namespaceSelector is not emulated by the lab")
            if any(fnmatch.fnmatchcase(namespace, item) for item in override.get("namespaces") or []):
                action = override.get("action", action)
        return action.capitalize()

    def validate(self, policy: dict[str, Any], request: dict[str, Any]) -> list[RuleResult]:
        """The results of every rule of ``policy`` that applies to ``request`` (skips included)."""
        name = (policy.get("metadata") or {}).get("name", "")
        results = []
        for rule in rules_with_autogen(policy):
            action = "Audit"
            try:
                action = self.failure_action(policy, rule, request.get("namespace", ""))
                result = self._rule(name, rule, request, action)
            except KyvernoJMESPathError as exc:
                result = RuleResult(name, rule.get("name", ""), "error", str(exc), action)
            if result is not None:
                results.append(result)
        return results

    def _rule(self, policy: str, rule: dict[str, Any], request: dict[str, Any], action: str) -> RuleResult | None:
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise NotEmulated(f"rule fields {sorted(unknown)} are not emulated by the lab")
        if not filters_match(rule.get("match"), request) or filters_match(rule.get("exclude"), request):
            return None
        validate = rule.get("validate") or {}
        if set(validate) - VALIDATE_KEYS:
            raise NotEmulated(f"validate fields {sorted(set(validate) - VALIDATE_KEYS)} are not emulated by the lab")
        obj = request.get("object") or {}
        context: dict[str, Any] = {"request": request, "images": images_variable(obj)}
        self._load_context(rule.get("context") or [], context)
        if not conditions.evaluate_block(substitute(rule.get("preconditions"), context, self.functions)):
            return RuleResult(policy, rule["name"], "skip", "preconditions not met", action)
        if "foreach" in validate:
            return self._foreach(policy, rule, validate, context, action)
        if "deny" in validate:
            denied = conditions.evaluate_block(substitute((validate["deny"] or {}).get("conditions"), context, self.functions))
            message = substitute(validate.get("message", ""), context, self.functions) if denied else ""
            return RuleResult(policy, rule["name"], "fail" if denied else "pass", message, action)
        raise NotEmulated("only validate.deny and validate.foreach are emulated by the lab")

    def _foreach(self, policy: str, rule: dict[str, Any], validate: dict[str, Any], context: dict[str, Any],
                 action: str) -> RuleResult:
        for foreach in validate["foreach"]:
            if set(foreach) - FOREACH_KEYS or "foreach" in foreach:
                raise NotEmulated(f"foreach fields {sorted(set(foreach) - FOREACH_KEYS)} are not emulated by the lab")
            elements = search(substitute(foreach["list"], context, self.functions), context, self.functions)
            for index, element in enumerate(elements or []):
                scope = dict(context, element=element, elementIndex=index)
                self._load_context(foreach.get("context") or [], scope)
                if not conditions.evaluate_block(substitute(foreach.get("preconditions"), scope, self.functions)):
                    continue
                if conditions.evaluate_block(substitute((foreach.get("deny") or {}).get("conditions"), scope, self.functions)):
                    message = substitute(validate.get("message", ""), scope, self.functions)
                    return RuleResult(policy, rule["name"], "fail", message, action)
        return RuleResult(policy, rule["name"], "pass", "rule passed", action)
