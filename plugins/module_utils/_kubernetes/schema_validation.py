# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: check a manifest against the schema its API server publishes.

What the API server's decoder refuses before anything else: a field the schema does not declare
(with strict field validation), a value of the wrong JSON type, a required field missing; for custom
resources also ``enum``, bounds and lengths, which the API server validates from the CRD's schema.
Semantic validation (a selector that does not match its template, a cron schedule) and admission are
the server's alone: a dry run, or the write itself, finds those.

Leniency where the API server is lenient: ``null`` means unset; a Quantity may be a string or a
number; int-or-string fields take either; ``x-kubernetes-preserve-unknown-fields`` accepts anything
below it. Messages name fields and types, never values (a value may be a secret).
"""

from __future__ import annotations

from typing import Any

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# Groups whose kinds are compiled into kube-apiserver (their schemas carry no enum or bounds to enforce).
BUILTIN_GROUPS = frozenset((
    "", "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io", "apps",
    "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io", "policy", "rbac.authorization.k8s.io",
    "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io", "storagemigration.k8s.io",
))
MAX_PROBLEMS = 10


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class _Checker:
    def __init__(self, components: dict[str, Any], custom: bool, strict: bool, creating: bool) -> None:
        self.components = components
        self.custom = custom
        self.strict = strict
        # An apply to an existing object is merged with it: only a new object must hold every required field.
        self.creating = creating
        self.problems: list[str] = []

    def _resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The schema behind ``$ref`` (or a single ``allOf`` of one), merged with its siblings, and
        the referenced component's name."""
        name = ""
        for _depth in range(8):
            reference = schema.get("$ref")
            if not reference and len(schema.get("allOf") or []) == 1 and "$ref" in schema["allOf"][0]:
                reference = schema["allOf"][0]["$ref"]
            if not reference:
                break
            name = str(reference).rsplit("/", 1)[-1]
            target = self.components.get(name) or {}
            siblings = {key: value for key, value in schema.items() if key not in ("$ref", "allOf")}
            schema = dict(target, **siblings)
        return schema, name

    def _add(self, path: str, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{path or '(the object)'} {text}")

    def check(self, value: Any, schema: dict[str, Any], path: str) -> None:
        if value is None:
            return
        schema, name = self._resolve(schema)
        if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
            return
        if name == QUANTITY or schema.get("x-kubernetes-int-or-string") or schema.get("format") == "int-or-string":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                self._add(path, f"must be a string or a number, not {_article(_json_type(value))}")
            return
        expected = schema.get("type")
        if expected and not _type_matches(value, expected):
            self._add(path, f"must be {_article(expected)}, not {_article(_json_type(value))}")
            return
        if isinstance(value, dict):
            self._object(value, schema, path)
        elif isinstance(value, list):
            self._array(value, schema, path)
        elif self.custom:
            self._bounds(value, schema, path)

    def _object(self, value: dict[str, Any], schema: dict[str, Any], path: str) -> None:
        properties = schema.get("properties") or {}
        for required in schema.get("required") or [] if self.creating else []:
            if value.get(required) is None:
                self._add(_join(path, required), "is required")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                self.check(item, properties[key], _join(path, key))
            elif isinstance(extra, dict):
                self.check(item, extra, _join(path, key))
            elif properties and self.strict and not schema.get("x-kubernetes-preserve-unknown-fields") \
                    and not (schema.get("x-kubernetes-embedded-resource") and key in ("apiVersion", "kind", "metadata")):
                self._add(_join(path, key), "is not a field the API server knows here")
        if self.custom:
            count = len(value)
            if "maxProperties" in schema and count > schema["maxProperties"]:
                self._add(path, f"may have at most {schema['maxProperties']} entries")
            if "minProperties" in schema and count < schema["minProperties"]:
                self._add(path, f"needs at least {schema['minProperties']} entries")

    def _array(self, value: list[Any], schema: dict[str, Any], path: str) -> None:
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                self.check(item, items, f"{path}[{index}]")
        if self.custom:
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                self._add(path, f"may have at most {schema['maxItems']} items")
            if "minItems" in schema and len(value) < schema["minItems"]:
                self._add(path, f"needs at least {schema['minItems']} items")

    def _bounds(self, value: Any, schema: dict[str, Any], path: str) -> None:
        if "enum" in schema and value not in schema["enum"]:
            self._add(path, "must be one of " + ", ".join(str(choice) for choice in schema["enum"]))
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                self._add(path, f"may be at most {schema['maxLength']} characters long")
            if "minLength" in schema and len(value) < schema["minLength"]:
                self._add(path, f"must be at least {schema['minLength']} characters long")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if "maximum" in schema and value > schema["maximum"]:
                self._add(path, f"must be at most {schema['maximum']}")
            if "minimum" in schema and value < schema["minimum"]:
                self._add(path, f"must be at least {schema['minimum']}")


def _type_matches(value: Any, expected: str) -> bool:
    actual = _json_type(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer" and actual == "number":
        return float(value).is_integer()
    return actual == expected


def _article(type_name: str) -> str:
    return f"an {type_name}" if type_name[:1] in "aeiou" else f"a {type_name}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def schema_problems(manifest: dict[str, Any], schema: dict[str, Any], components: dict[str, Any],
                    strict: bool = True, creating: bool = True) -> list[str]:
    """What the API server would refuse in ``manifest`` on decoding (empty when nothing). ``creating``:
    the object does not exist yet (required fields are checked only then: an apply to a live object is
    merged with it)."""
    group = str(manifest.get("apiVersion") or "").rpartition("/")[0]
    checker = _Checker(components, custom=group not in BUILTIN_GROUPS, strict=strict, creating=creating)
    checker.check(manifest, schema, "")
    return checker.problems
