"""The lab's scenarios: one module (or package) per feature, each defining ``SCENARIO``.

Adding a feature's lab support is adding its scenario here; the supervisor loops over
:func:`registered` and knows no feature by name.
"""

from __future__ import annotations

import importlib
import pkgutil

from atlas_lab.scenarios.base import Scenario, ScenarioContext

__all__ = ["Scenario", "ScenarioContext", "registered"]


def registered() -> list[type[Scenario]]:
    """Every scenario class, in the order of their module names (deterministic start-up)."""
    found: list[type[Scenario]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda item: item.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        scenario = getattr(module, "SCENARIO", None)
        if scenario is None:
            raise ImportError(f"lab scenario module {module.__name__} defines no SCENARIO")
        found.append(scenario)
    return found
