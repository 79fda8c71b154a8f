"""Decoding and validation of request objects, answered the way kube-apiserver answers.

Three stages, in the real server's order:

1. **decode** (:func:`decode`): unknown fields are collected and removed (pruned), type mismatches of
   built-in kinds fail like Go's JSON decoder (400 BadRequest "... cannot be handled as a Deployment:
   json: cannot unmarshal string into Go struct field ..."); with ``fieldValidation=Strict`` unknown
   fields fail with "strict decoding error: unknown field ...", with ``Warn`` they become
   ``Warning: 299`` headers, with ``Ignore`` they are dropped silently.
2. **schema validation** (:func:`schema_errors`): the object against its OpenAPI schema with
   ``jsonschema`` (kubernetes-validate definitions for built-in kinds, the CRD's
   ``openAPIV3Schema`` for custom resources); errors become ``field.Error`` values (422 Invalid).
3. **semantic validation** (:mod:`.semantics`): the Go validation rules that a schema cannot
   express (names, selectors matching templates, immutable fields...).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from atlas_lab.services.kubernetes.errors import ApiError, FieldError, bad_request, invalid, not_supported, required
from atlas_lab.services.kubernetes.quantities import canonical_quantity
from atlas_lab.services.kubernetes.schemas import Schema, builtin_definitions

UNKNOWN = "unknown"


@dataclass
class DecodeReport:
    unknown_fields: list[str] = field(default_factory=list)
    type_error: str | None = None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _go_type(schema: Schema) -> str:
    if schema.name:
        package = schema.name.split(".")[-2]
        if package.startswith("v") or package in ("intstr", "resource"):
            return f"{package}.{schema.name.rsplit('.', 1)[-1]}"
        return schema.name.rsplit(".", 1)[-1]
    kind = schema.type
    if kind == "array":
        return "[]" + _go_type(schema.items)
    if kind == "object":
        additional = schema.additional
        return "map[string]" + (_go_type(additional) if additional is not None else "interface {}")
    return schema.go_type_name


def _type_ok(value: Any, schema: Schema) -> bool:
    kind = schema.type
    if value is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "int-or-string":
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    if kind == "quantity":
        return isinstance(value, (int, float, str)) and not isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return True


def _go_path(path: list[str]) -> str:
    return ".".join(p for p in path if not p.startswith("["))


def _strict_path(path: list[str]) -> str:
    text = ""
    for part in path:
        if part.startswith("["):
            text += part
        else:
            text += ("." if text else "") + part
    return text


def decode(obj: dict[str, Any], schema: Schema) -> DecodeReport:
    """Prune unknown fields from ``obj`` in place and report them (and the first type error)."""
    report = DecodeReport()
    _decode_walk(obj, schema, [], "", report)
    return report


def _decode_walk(value: Any, schema: Schema, path: list[str], struct: str, report: DecodeReport) -> None:
    if value is None:
        return
    if not schema.crd and not _type_ok(value, schema):
        if report.type_error is None:
            actual = _json_type(value)
            if actual == "number" and schema.type == "integer":
                actual = f"number {json.dumps(value)}"
            where = f"Go struct field {struct}.{_go_path(path)}" if struct else "Go value"
            report.type_error = f"json: cannot unmarshal {actual} into {where} of type {_go_type(schema)}"
        return
    if not schema.crd and schema.raw.get("format") == "byte" and isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            if report.type_error is None:
                report.type_error = f"illegal base64 data at input byte {_first_bad_base64(value)}"
        return
    kind = schema.type
    if kind == "array" and isinstance(value, list):
        items = schema.items
        for index, item in enumerate(value):
            _decode_walk(item, items, path + [f"[{index}]"], struct, report)
        return
    if isinstance(value, dict) and (kind == "object" or kind is None):
        if kind is None or (schema.preserve_unknown and not schema.has_declared_properties
                            and schema.additional is None):
            return
        struct_name = schema.name.rsplit(".", 1)[-1] if schema.name else struct
        properties = schema.properties
        additional = schema.additional
        for key in list(value):
            child = properties.get(key)
            if child is None:
                child = additional
            if child is None:
                if schema.preserve_unknown:
                    continue
                report.unknown_fields.append(_strict_path(path + [key]))
                del value[key]
                continue
            _decode_walk(value[key], child, path + [key], struct_name, report)


def _first_bad_base64(value: str) -> int:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for index, char in enumerate(value):
        if char not in alphabet and char != "=":
            return index
    return len(value) - (len(value) % 4)


def drop_nulls(value: Any, schema: Schema | None) -> Any:
    """Go drops ``null`` members of built-in objects (zero values with omitempty), and writes every
    ``resource.Quantity`` back in canonical form (``0.5`` -> ``500m``; see :mod:`.quantities`)."""
    if schema is not None and not schema.crd and schema.type == "quantity":
        canonical = canonical_quantity(value)
        return value if canonical is None else canonical
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            child = None
            if schema is not None:
                child = schema.properties.get(key) or schema.additional
            if item is None and (schema is None or not schema.crd):
                continue
            result[key] = drop_nulls(item, child)
        return result
    if isinstance(value, list) and schema is not None:
        items = schema.items
        return [drop_nulls(item, items) for item in value]
    return value


def strict_error_text(unknown_fields: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in unknown_fields)


def warning_headers(messages: list[str]) -> list[str]:
    return ['299 - ' + json.dumps(m) for m in messages]


def cannot_be_handled(kind: str, version: str, detail: str) -> ApiError:
    return bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}')


# ---------------------------------------------------------------------------------------------
# Schema validation with jsonschema

@functools.lru_cache(maxsize=1)
def _builtin_document() -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": builtin_definitions()}


@functools.lru_cache(maxsize=256)
def _builtin_validator(definition: str) -> jsonschema.protocols.Validator:
    document = dict(_builtin_document())
    document["$ref"] = f"#/$defs/{definition}"
    return jsonschema.Draft202012Validator(document)


def crd_json_schema(node: Any) -> Any:
    """Translate a CRD structural schema (OpenAPI 3.0 + x-kubernetes) into JSON Schema 2020-12."""
    if isinstance(node, list):
        return [crd_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: crd_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = crd_json_schema(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [crd_json_schema(v) for v in value]
        elif key in ("description", "example", "externalDocs", "title", "default", "format"):
            continue
        elif key.startswith("x-kubernetes"):
            continue
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            continue
        elif key == "nullable":
            continue
        else:
            out[key] = value
    if node.get("exclusiveMinimum") is True and "minimum" in node:
        out["exclusiveMinimum"] = out.pop("minimum")
    if node.get("exclusiveMaximum") is True and "maximum" in node:
        out["exclusiveMaximum"] = out.pop("maximum")
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        # CRDs may already spell the alternatives out (anyOf integer/string); keep theirs then.
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    return out


def _field_path(error: jsonschema.ValidationError) -> list[Any]:
    return list(error.absolute_path)


def format_path(parts: list[Any]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _type_name(value: Any) -> str:
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
    return "null"


def _errors_to_fields(errors: Iterator[jsonschema.ValidationError], crd: bool) -> list[FieldError]:
    result: list[FieldError] = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        path_parts = _field_path(error)
        where = format_path(path_parts)
        validator = error.validator
        value = error.instance
        if validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            for name in missing or [""]:
                result.append(required(format_path(path_parts + [name])))
        elif validator == "enum":
            supported = [v for v in error.validator_value if v is not None]
            result.append(not_supported(where, value, [str(v) for v in supported]))
        elif validator == "type":
            if not crd:
                continue
            expected = error.validator_value
            if isinstance(expected, list):
                expected = [t for t in expected if t != "null"][0]
            actual = _type_name(value)
            result.append(invalid(where, actual, f'{where} in body must be of type {expected}: "{actual}"'))
        elif validator == "pattern":
            result.append(invalid(where, value, f"{where} in body should match '{error.validator_value}'"))
        elif validator in ("minimum", "exclusiveMinimum"):
            op = "greater than or equal to" if validator == "minimum" else "greater than"
            result.append(invalid(where, value, f"{where} in body should be {op} {error.validator_value}"))
        elif validator in ("maximum", "exclusiveMaximum"):
            op = "less than or equal to" if validator == "maximum" else "less than"
            result.append(invalid(where, value, f"{where} in body should be {op} {error.validator_value}"))
        elif validator == "minLength":
            result.append(invalid(where, value, f"{where} in body should be at least "
                                                f"{error.validator_value} chars long"))
        elif validator == "maxLength":
            result.append(FieldError(where, "Too long", detail=f"may not be more than {error.validator_value} bytes"))
        elif validator == "minItems":
            result.append(invalid(where, len(value), f"{where} in body should have at least "
                                                     f"{error.validator_value} items"))
        elif validator == "maxItems":
            result.append(FieldError(where, "Too many", len(value),
                                     f"must have at most {error.validator_value} items"))
        elif validator == "minProperties":
            result.append(invalid(where, len(value), f"{where} in body should have at least "
                                                     f"{error.validator_value} properties"))
        elif validator == "maxProperties":
            result.append(FieldError(where, "Too many", len(value),
                                     f"must have at most {error.validator_value} items"))
        elif validator == "uniqueItems":
            result.append(FieldError(where, "Duplicate value", value))
        elif validator in ("oneOf", "anyOf"):
            if not crd:
                continue
            result.append(invalid(where, value, f"{where} in body must be of type integer,string: "
                                                f'"{_type_name(value)}"' if _looks_int_or_string(error)
                                  else f"{where} in body must validate {validator}"))
        else:
            result.append(invalid(where, value, error.message))
    return _dedupe(result)


def _looks_int_or_string(error: jsonschema.ValidationError) -> bool:
    options = error.validator_value if isinstance(error.validator_value, list) else []
    return sorted(o.get("type", "") for o in options if isinstance(o, dict)) == ["integer", "string"]


def _dedupe(errors: list[FieldError]) -> list[FieldError]:
    seen, result = set(), []
    for error in errors:
        key = str(error)
        if key not in seen:
            seen.add(key)
            result.append(error)
    return result


def schema_errors(obj: dict[str, Any], schema: Schema, crd_schema: dict[str, Any] | None = None) -> list[FieldError]:
    """``field.Error`` values for ``obj`` against its OpenAPI schema."""
    if schema.crd:
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        validator = _crd_validator(json.dumps(crd_schema or {}, sort_keys=True))
        return _errors_to_fields(validator.iter_errors(body), crd=True)
    validator = _builtin_validator(schema.name)
    target = dict(obj)
    for name in schema.required:
        # Top-level "spec" is required by the schema but the Go validation reports what is missing
        # inside it (spec.selector, spec.template...): validate an empty spec instead.
        if name not in target and name == "spec":
            target[name] = {}
    return _errors_to_fields(validator.iter_errors(target), crd=False)


@functools.lru_cache(maxsize=256)
def _crd_validator(schema_text: str) -> jsonschema.protocols.Validator:
    raw = json.loads(schema_text)
    properties = dict(raw.get("properties") or {})
    for name in ("apiVersion", "kind", "metadata"):
        properties.pop(name, None)
    raw = dict(raw, properties=properties)
    if raw.get("required"):
        raw["required"] = [r for r in raw["required"] if r not in ("apiVersion", "kind", "metadata")]
    translated = crd_json_schema(raw)
    translated["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return jsonschema.Draft202012Validator(translated)
