"""Resource quantities as kube-apiserver stores them: the canonical form of ``resource.Quantity``.

The API server parses a quantity (a string such as ``500m``, ``1.5Gi``, ``1e3``, or a JSON number)
and writes it back in canonical form (apimachinery's ``CanonicalizeBytes``): the same format family
(binary ``Ki``..``Ei``, decimal ``n``..``E``, or exponent ``eN``) with the largest suffix, or exponent
that is a multiple of 3, for which the mantissa is an integer; a binary value below 1024 or with a
fraction is written in decimal; precision stops at nano units (rounded up). So ``cpu: 0.5`` is stored
as ``500m``, ``1000m`` as ``1``, ``1024Mi`` as ``1Gi``, ``100000`` as ``100k``.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

_PATTERN = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exponent: suffix for suffix, exponent in _DECIMAL.items()}
NANO = Decimal("1e-9")


def _parsed(value: object) -> tuple[Decimal, str] | None:
    """(amount, format family) of a quantity, or ``None`` when ``value`` is not one."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = value.strip() if isinstance(value, str) else repr(value)
    match = _PATTERN.match(text)
    if match is None:
        return None
    number_text, suffix = match.group(1), match.group(2) or ""
    try:
        number = Decimal(number_text)
    except InvalidOperation:
        return None
    if suffix in _BINARY:
        return number * (Decimal(2) ** _BINARY[suffix]), "binary"
    if suffix[:1] in ("e", "E"):
        return number.scaleb(int(suffix[1:])), "exponent"
    return number.scaleb(_DECIMAL[suffix]), "decimal"


def quantity_amount(value: object) -> Decimal | None:
    """The number a quantity stands for (``512Mi`` -> 536870912, ``100m`` -> 0.1)."""
    parsed = _parsed(value)
    return None if parsed is None else parsed[0]


def canonical_quantity(value: object) -> str | None:
    """The canonical text of a quantity, or ``None`` when ``value`` is not one."""
    parsed = _parsed(value)
    if parsed is None:
        return None
    amount, family = parsed
    # Precision stops at nano units: round up (away from zero for negatives, as Quantity does).
    sign = "-" if amount < 0 else ""
    amount = abs(amount).quantize(NANO, rounding=ROUND_CEILING) if amount else Decimal(0)
    if family == "binary" and (amount < 1024 or amount != amount.to_integral_value()):
        family = "decimal"
    if family == "binary":
        integer = int(amount)
        shift = 0
        while shift < 60 and integer % (1 << (shift + 10)) == 0:
            shift += 10
        suffix = {0: ""} | {bits: name for name, bits in _BINARY.items()}
        return f"{sign}{integer >> shift}{suffix[shift]}"
    mantissa, exponent = _integer_mantissa(amount)
    if family == "exponent":
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    while exponent > 18:
        mantissa, exponent = mantissa * 1000, exponent - 3
    return f"{sign}{mantissa}{_DECIMAL_SUFFIX[exponent]}"


def _integer_mantissa(amount: Decimal) -> tuple[int, int]:
    """(mantissa, exponent) with exponent a multiple of 3, as large as keeps the mantissa an integer."""
    if amount == 0:
        return 0, 0
    exponent = -9
    mantissa = int(amount.scaleb(9))
    while mantissa % 1000 == 0:
        mantissa //= 1000
        exponent += 3
    return mantissa, exponent
