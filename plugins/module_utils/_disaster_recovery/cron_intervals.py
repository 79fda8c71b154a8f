# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: the longest wait between two runs of a Velero Schedule's cron
expression (robfig/cron's standard five fields, descriptors and ``@every``), which bounds the
achievable RPO: a change made just after a backup starts waits for the next backup to complete."""

from __future__ import annotations

import datetime

from ansible_collections.atlas.hardening.plugins.module_utils._disaster_recovery.durations import parse_duration
from ansible_collections.atlas.hardening.plugins.module_utils._kubernetes.scheduled_playbook import cron_problem

_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES: tuple[dict[str, int], ...] = ({}, {}, {}, {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)},
    {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))})
# Enough to see every pattern of a five-field schedule but the leap-day ones (and those are refused
# anyway: a yearly backup cannot meet any RPO worth writing down).
_HORIZON_DAYS = 800


def _expand(field: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    """The values a field matches, and whether it is restricted (not ``*``/``?``)."""
    values: set[int] = set()
    restricted = False
    for item in field.split(","):
        span, _slash, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if span in ("*", "?"):
            start, end = low, high
        else:
            restricted = True
            bounds = [names.get(bound.lower(), int(bound) if bound.isdigit() else low) for bound in span.split("-")]
            start, end = bounds[0], bounds[-1] if len(bounds) > 1 or step_text else bounds[0]
            if step_text and len(bounds) == 1:
                end = high
        values.update(range(start, end + 1, step))
    return values, restricted


def longest_interval(schedule: str) -> float:
    """Seconds of the longest wait between two consecutive runs of ``schedule``.

    Raises ValueError for an expression the API server (or Velero) would refuse.
    """
    text = schedule.strip()
    if text.startswith("@every "):
        return parse_duration(text[len("@every "):], "schedule @every")
    problem = cron_problem(text)
    if problem:
        raise ValueError(f"schedule {schedule!r}: {problem}")
    fields = _DESCRIPTORS.get(text, text).split()
    expanded = [_expand(field, low, high, names) for field, (low, high), names in zip(fields, _RANGES, _NAMES)]
    minutes, hours, months = expanded[0][0], expanded[1][0], expanded[3][0]
    (days, days_restricted), (weekdays, weekdays_restricted) = expanded[2], expanded[4]
    weekdays = {day % 7 for day in weekdays}
    times = sorted(hour * 60 + minute for hour in hours for minute in minutes)
    start = datetime.date(2027, 1, 1)
    previous: float | None = None
    longest = 0.0
    for offset in range(_HORIZON_DAYS):
        day = start + datetime.timedelta(days=offset)
        day_matches, weekday_matches = day.day in days, (day.isoweekday() % 7) in weekdays
        # robfig/cron, like Vixie cron: when both day fields are restricted, either one matching is enough.
        matches = (day_matches or weekday_matches) if days_restricted and weekdays_restricted else (
            day_matches and weekday_matches)
        if day.month not in months or not matches:
            continue
        for minute_of_day in times:
            moment = offset * 86400.0 + minute_of_day * 60.0
            if previous is not None:
                longest = max(longest, moment - previous)
            previous = moment
    if previous is None or longest == 0.0:
        raise ValueError(f"schedule {schedule!r} runs at most once in {_HORIZON_DAYS} days")
    return longest
