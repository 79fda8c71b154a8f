"""API errors as the real kube-apiserver reports them: a ``Status`` body with reason, code and details.

Messages follow ``k8s.io/apimachinery/pkg/api/errors`` (``NewNotFound``, ``NewConflict``,
``NewInvalid``...) and ``k8s.io/apimachinery/pkg/util/validation/field`` so that kubectl and the
Python client print what they would print against a real cluster.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                status: str = "Failure") -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": status,
                            "message": message, "reason": reason, "code": code}
    if not reason:
        del body["reason"]
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """An error answered as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.details)


def qualified_resource(group: str, resource: str) -> str:
    """``deployments.apps`` or ``secrets`` (GroupResource.String())."""
    return f"{resource}.{group}" if group else resource


def qualified_kind(group: str, kind: str) -> str:
    """``Deployment.apps`` or ``Secret`` (GroupKind.String())."""
    return f"{kind}.{group}" if group else kind


def _details(group: str, resource: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return details


def not_found(group: str, resource: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified_resource(group, resource)} "{name}" not found',
                    _details(group, resource, name))


def already_exists(group: str, resource: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified_resource(group, resource)} "{name}" already exists',
                    _details(group, resource, name))


def conflict(group: str, resource: str, name: str, why: str) -> ApiError:
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {qualified_resource(group, resource)} "{name}": {why}',
                    _details(group, resource, name))


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


def stale_object(group: str, resource: str, name: str) -> ApiError:
    return conflict(group, resource, name, STALE_OBJECT)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(group: str, resource: str, name: str, why: str) -> ApiError:
    target = qualified_resource(group, resource)
    if name:
        target += f' "{name}"'
    return ApiError(403, "Forbidden", f"{target} is forbidden: {why}", _details(group, resource, name))


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                    {"causes": [{"reason": "UnexpectedServerResponse", "message": f"{method} {path}"}]})


def not_acceptable(accepted: list[str]) -> ApiError:
    return ApiError(406, "NotAcceptable",
                    "the server was unable to respond with a content type that the client supports")


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{', '.join(accepted)}")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def internal(message: str) -> ApiError:
    """A non-Status error inside the server: code 500, reason ``""`` (StatusReasonUnknown)."""
    return ApiError(500, "", message)


def path_not_found(path: str) -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}
                    if path else None)


# ------------------------------------------------------------------------------------------------
# field.Error (k8s.io/apimachinery/pkg/util/validation/field)

CAUSE_TYPES = {
    "Required value": "FieldValueRequired",
    "Invalid value": "FieldValueInvalid",
    "Unsupported value": "FieldValueNotSupported",
    "Duplicate value": "FieldValueDuplicate",
    "Forbidden": "FieldValueForbidden",
    "Too long": "FieldValueTooLong",
    "Too many": "FieldValueTooMany",
    "Not found": "FieldValueNotFound",
    "Internal error": "InternalError",
    "Type invalid": "FieldValueTypeInvalid",
}

_OMIT = object()


class RawValue(str):
    """A bad value that is already rendered the Go way (``map[string]string{...}``)."""


def go_value(value: Any) -> str:
    """Render a bad value like Go's ``%#v``-ish printing in field errors (strings quoted)."""
    if isinstance(value, RawValue):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(k)}:{go_value(v)}" for k, v in value.items())
        return f"map[string]interface {{}}{{{items}}}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_value(v) for v in value) + "}"
    return json.dumps(str(value))


@dataclasses.dataclass
class FieldError:
    """One validation error on a field path such as ``spec.template.spec.containers[0].image``."""

    field: str
    type: str  # "Required value", "Invalid value", "Unsupported value", ...
    value: Any = _OMIT
    detail: str = ""
    supported: list[str] = dataclasses.field(default_factory=list)

    def body(self) -> str:
        if self.type == "Unsupported value":
            text = f"Unsupported value: {go_value(self.value)}"
            if self.supported:
                text += ": supported values: " + ", ".join(json.dumps(s) for s in self.supported)
            if self.detail:
                text += f": {self.detail}"
            return text
        if self.type in ("Required value", "Forbidden", "Too long", "Internal error") or self.value is _OMIT:
            text = self.type
        else:
            text = f"{self.type}: {go_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, Any]:
        return {"reason": CAUSE_TYPES.get(self.type, "FieldValueInvalid"), "message": self.body(),
                "field": self.field}


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, "Required value", detail=detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(path, "Invalid value", value, detail)


def forbidden_field(path: str, detail: str) -> FieldError:
    return FieldError(path, "Forbidden", detail=detail)


def not_supported(path: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError(path, "Unsupported value", value, supported=list(supported))


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, "Duplicate value", value)


def too_long(path: str, max_length: int) -> FieldError:
    return FieldError(path, "Too long", detail=f"may not be more than {max_length} bytes")


def invalid_object(group: str, kind: str, name: str, errors: list[FieldError]) -> ApiError:
    """``NewInvalid``: 422 with one cause per field error."""
    head = f'{qualified_kind(group, kind)} "{name}" is invalid'
    if len(errors) == 1:
        message = f"{head}: {errors[0]}"
    elif errors:
        message = f"{head}: [{', '.join(str(e) for e in errors)}]"
    else:
        message = head
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": [e.cause() for e in errors]}
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", message, details)
