# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the maturity score (docs/audit.md, "The score").

10 points, minus what is not done. A row costs its priority's weight, in twelfths of a point, times
what is missing of it: high (and every row of the audit's "done" table) 6/12, medium 3/12, low 1/12;
a done row costs nothing, a partial one half its weight, a missing or unknown one (including "not
observable from the cluster") all of it. Applied to the audit of 2026-02-10 (the done table done,
the nine backlog rows missing) it gives the audit's own 7.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

WEIGHTS = {"foundation": 6, "high": 6, "medium": 3, "low": 1}  # twelfths of a point
CREDIT = {"done": Fraction(1), "partial": Fraction(1, 2), "missing": Fraction(0), "unknown": Fraction(0)}
ORIGINAL_SCORE = 7.5  # the audit of 2026-02-10


def penalty(row: Mapping[str, Any]) -> Fraction:
    """What a row costs, in points."""
    return Fraction(WEIGHTS[row["priority"]], 12) * (1 - CREDIT[row["status"]])


def maturity_score(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The score of the rows (one decimal, half up) and where the points went."""
    rows = list(rows)
    lost = sum((penalty(row) for row in rows), Fraction(0))
    unobservable = sum((penalty(row) for row in rows if row.get("not_observable")), Fraction(0))
    return {
        "score": _one_decimal(10 - lost),
        "maximum": 10,
        "original": ORIGINAL_SCORE,
        "lost": _one_decimal(lost),
        "lost_to_not_observable": _one_decimal(unobservable),
        "by_status": {status: sum(1 for row in rows if row["status"] == status) for status in CREDIT},
    }


def _one_decimal(value: Fraction) -> float:
    return float((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP))
