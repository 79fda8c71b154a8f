"""Integration suites: the lab package on sys.path and its pytest plugin (fixtures ``lab``, ``clean_lab``).

Paths come from this file's location, never from the current directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

LAB_PACKAGE_PARENT = Path(__file__).resolve().parents[1] / "lab"
if str(LAB_PACKAGE_PARENT) not in sys.path:
    sys.path.insert(0, str(LAB_PACKAGE_PARENT))

pytest_plugins = ["atlas_lab.pytest_plugin"]
