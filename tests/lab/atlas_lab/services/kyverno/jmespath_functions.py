"""Kyverno's JMESPath functions (pkg/engine/jmespath/functions.go, time.go, image.go) on the PyPI
``jmespath`` package, for the functions the collection's policies use.

Each follows Kyverno's documented signature and behaviour; an argument of the wrong type is an error,
as in Kyverno. The clock is injectable so tests can pin ``time_now_utc``.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any, Callable

import jmespath
from jmespath import functions

from atlas_lab.services.kyverno.images import ImageError, image_info


class KyvernoJMESPathError(ValueError):
    pass


def go_expand(template: str, match: re.Match[str]) -> str:
    """Go's regexp.Expand: ``$1``, ``${1}``, ``$name``, ``${name}``; ``$$`` is a dollar; a name is the
    longest run of letters, digits and underscores (so ``$1x`` is the group named ``1x``, empty)."""
    out, index = [], 0
    while index < len(template):
        char = template[index]
        if char != "$" or index + 1 >= len(template):
            out.append(char)
            index += 1
            continue
        nxt = template[index + 1]
        if nxt == "$":
            out.append("$")
            index += 2
            continue
        if nxt == "{":
            end = template.find("}", index + 2)
            name = template[index + 2:end] if end != -1 else ""
            if end == -1 or not re.fullmatch(r"\w+", name):
                out.append(char)
                index += 1
                continue
            index = end + 1
        else:
            found = re.match(r"\w+", template[index + 1:])
            if not found:
                out.append(char)
                index += 1
                continue
            name = found.group(0)
            index += 1 + len(name)
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group: Go expands it to nothing
            value = ""
        out.append(value or "")
    return "".join(out)


def _go_regex(pattern: str) -> re.Pattern[str]:
    """RE2 and Python agree on the syntax policies use (classes, anchors, groups, (?:...))."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise KyvernoJMESPathError(f"invalid regex: {pattern}: {exc}") from None


def _rfc3339(value: str, function: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise KyvernoJMESPathError(f'JMESPath function "{function}": parsing time "{value}" as RFC3339 failed') from None
    if moment.tzinfo is None:
        raise KyvernoJMESPathError(f'JMESPath function "{function}": time "{value}" has no time zone')
    return moment


class KyvernoFunctions(functions.Functions):
    def __init__(self, clock: Callable[[], datetime.datetime] | None = None) -> None:
        super().__init__()
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))

    @functions.signature({"types": ["string"]}, {"types": ["string", "number"]}, {"types": ["string", "number"]})
    def _func_regex_replace_all(self, regex: str, src: Any, replace: Any) -> str:
        pattern = _go_regex(regex)
        return pattern.sub(lambda match: go_expand(str(replace), match), _as_text(src))

    @functions.signature({"types": ["string"]}, {"types": ["string", "number"]})
    def _func_regex_match(self, regex: str, src: Any) -> bool:
        return _go_regex(regex).search(_as_text(src)) is not None

    @functions.signature({"types": ["string"]})
    def _func_image_normalize(self, image: str) -> str:
        try:
            return str(image_info(image))
        except ImageError as exc:
            raise KyvernoJMESPathError(f'JMESPath function "image_normalize": {exc}') from None

    @functions.signature({"types": ["array"]}, {"types": ["array"]})
    def _func_object_from_lists(self, keys: list[Any], values: list[Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for position, key in enumerate(keys):
            if not isinstance(key, str):
                raise KyvernoJMESPathError('JMESPath function "object_from_lists": keys must be strings')
            result[key] = values[position] if position < len(values) else None
        return result

    @functions.signature()
    def _func_time_now_utc(self) -> str:
        return self.clock().astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_time_before(self, first: str, second: str) -> bool:
        return _rfc3339(first, "time_before") < _rfc3339(second, "time_before")

    @functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_time_after(self, first: str, second: str) -> bool:
        return _rfc3339(first, "time_after") > _rfc3339(second, "time_after")

    @functions.signature({"types": ["string"]})
    def _func_parse_json(self, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise KyvernoJMESPathError(f'JMESPath function "parse_json": {exc}') from None

    @functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_split(self, text: str, separator: str) -> list[str]:
        return text.split(separator)

    @functions.signature({"types": ["string"]})
    def _func_to_upper(self, text: str) -> str:
        return text.upper()

    @functions.signature({"types": ["string"]})
    def _func_to_lower(self, text: str) -> str:
        return text.lower()


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def search(expression: str, data: Any, kyverno_functions: KyvernoFunctions) -> Any:
    try:
        return jmespath.search(expression, data, options=jmespath.Options(custom_functions=kyverno_functions))
    except KyvernoJMESPathError:
        raise
    except jmespath.exceptions.JMESPathError as exc:
        raise KyvernoJMESPathError(f"JMESPath query failed: {expression}: {exc}") from None
