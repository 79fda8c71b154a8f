"""Kyverno's variable substitution (pkg/engine/variables/vars.go, regex/regex.go).

``{{ expression }}`` in any string of a rule is replaced by the JMESPath expression's value over the
rule's context. A string that is exactly one variable takes the value's type; inside a longer string a
non-string value is JSON-encoded. Innermost variables are substituted first, so variables nest. A
variable whose value is null is an error ("variable ... not found"), where standard JMESPath would
return null: that is Kyverno's stricter handling of missing paths. ``\\{{`` escapes a variable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from atlas_lab.services.kyverno.jmespath_functions import KyvernoFunctions, KyvernoJMESPathError, search

# (^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\}): one level of braces is allowed inside (multiselect hashes).
VARIABLE = re.compile(r"(^|[^\\])(\{\{((?:\{[^{}]*\}|[^{}])*)\}\})")


class VariableNotFound(KyvernoJMESPathError):
    pass


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"))


def substitute_string(text: str, context: dict[str, Any], functions: KyvernoFunctions) -> Any:
    while True:
        match = VARIABLE.search(text)
        if not match:
            return text.replace("\\{{", "{{")
        expression = match.group(3).strip()
        value = search(expression, context, functions)
        if value is None:
            raise VariableNotFound(f"variable substitution failed for rule: failed to resolve {expression} at "
                                   f"path: variable {match.group(2)} not found")
        if match.group(2) == text.strip() and match.start(2) == text.find("{{"):
            return value
        text = text[:match.start(2)] + _encode(value) + text[match.end(2):]


def substitute(node: Any, context: dict[str, Any], functions: KyvernoFunctions) -> Any:
    """Every string of ``node`` substituted (a copy; ``node`` is not changed)."""
    if isinstance(node, str):
        return substitute_string(node, context, functions)
    if isinstance(node, list):
        return [substitute(item, context, functions) for item in node]
    if isinstance(node, dict):
        return {key: substitute(value, context, functions) for key, value in node.items()}
    return node
