"""The atlas.hardening lab: real and emulated services on loopback for tests and ``make demo``.

``python -m atlas_lab up|down|status`` (:mod:`atlas_lab.cli`) runs a detached supervisor
(:mod:`atlas_lab.supervisor`) that owns every service; tests get it through the ``lab`` fixture
(:mod:`atlas_lab.pytest_plugin`). See docs/lab.md.
"""
