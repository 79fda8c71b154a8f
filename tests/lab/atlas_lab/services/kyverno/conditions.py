"""Kyverno's condition operators (pkg/engine/variables/operator), for preconditions and deny.

Keys and values are substituted first; string comparisons accept the ``*`` and ``?`` wildcards in
the value; numbers compare as numbers whatever their JSON type.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from atlas_lab.services.kyverno.jmespath_functions import KyvernoJMESPathError


class UnsupportedOperator(KyvernoJMESPathError):
    pass


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _wildcard(pattern: str, value: str) -> bool:
    if any(mark in pattern for mark in "*?"):
        return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))
    return pattern == value


def _equals(key: Any, value: Any) -> bool:
    if isinstance(key, str) and isinstance(value, str):
        return _wildcard(value, key)
    left, right = _number(key), _number(value)
    if left is not None and right is not None and not (isinstance(key, str) and isinstance(value, str)):
        return left == right
    return bool(key == value)


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [value]
    return None


def _in(key: Any, value: Any, quantifier: Any, negate: bool) -> bool:
    keys = _as_list(key)
    values = value if isinstance(value, list) else None
    if keys is None or values is None:
        return False  # Kyverno: a value that is not an array (or a key of another type) makes it false
    results = [any(_equals(item, candidate) for candidate in values) != negate for item in keys]
    return bool(quantifier(results)) if keys else False


def _compare(key: Any, value: Any, check: Any) -> bool:
    left, right = _number(key), _number(value)
    if left is None or right is None:
        return False
    return bool(check(left, right))


OPERATORS = {
    "Equals": _equals,
    "NotEquals": lambda key, value: not _equals(key, value),
    "AnyIn": lambda key, value: _in(key, value, any, False),
    "AllIn": lambda key, value: _in(key, value, all, False),
    "AnyNotIn": lambda key, value: _in(key, value, any, True),
    "AllNotIn": lambda key, value: _in(key, value, all, True),
    "GreaterThan": lambda key, value: _compare(key, value, lambda a, b: a > b),
    "GreaterThanOrEquals": lambda key, value: _compare(key, value, lambda a, b: a >= b),
    "LessThan": lambda key, value: _compare(key, value, lambda a, b: a < b),
    "LessThanOrEquals": lambda key, value: _compare(key, value, lambda a, b: a <= b),
}


def evaluate(condition: dict[str, Any]) -> bool:
    operator = condition.get("operator")
    if operator not in OPERATORS:
        raise UnsupportedOperator(f"condition operator {operator!r} is not emulated by the lab (emulated: "
                                  f"{', '.join(OPERATORS)})")
    return bool(OPERATORS[operator](condition.get("key"), condition.get("value")))


def evaluate_block(block: Any) -> bool:
    """``{all: [...], any: [...]}`` (both must hold when both are given) or a plain list (all)."""
    if block is None:
        return True
    if isinstance(block, list):
        return all(evaluate(item) for item in block)
    all_items, any_items = block.get("all") or [], block.get("any") or []
    return all(evaluate(item) for item in all_items) and (not any_items or any(evaluate(item) for item in any_items))
