"""The schedule parser kube-apiserver validates CronJobs with: robfig/cron v3's ``ParseStandard``.

Five fields (minute, hour, day of month, month, day of week) or a descriptor (``@daily``,
``@every 1h``...); each field is a comma-separated list of ``*``, ``?``, ``N`` or ``N-M``, with an
optional ``/step``; month and weekday names are case-insensitive. Errors carry robfig's wording,
which the API server returns as the field error's detail
(pkg/apis/batch/validation: ``field.Invalid(fldPath, schedule, err.Error())``).
"""

from __future__ import annotations

import re

# (minimum, maximum, names) per field, as in robfig/cron v3 spec.go.
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_DAYS = {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


class CronError(ValueError):
    """robfig/cron's error text."""


def parse_standard(schedule: str) -> None:
    """Raise :class:`CronError` as ``cron.ParseStandard`` would; return when the schedule parses."""
    text = schedule
    if text.startswith(("TZ=", "CRON_TZ=")):
        head, _space, text = text.partition(" ")
        zone = head.split("=", 1)[1]
        if not zone:
            raise CronError(f"provided bad location {zone}: unknown time zone {zone}")
        text = text.strip()
    if text.startswith("@"):
        if text in DESCRIPTORS:
            return
        if text.startswith("@every "):
            duration = text[len("@every "):]
            if not _GO_DURATION.match(duration):
                raise CronError(f"failed to parse duration {text}: time: invalid duration {duration!r}".replace(
                    "'", '"'))
            return
        raise CronError(f"unrecognized descriptor: {text}")
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for field, (minimum, maximum, names) in zip(fields, FIELDS):
        for expression in field.split(","):
            _parse_range(expression, minimum, maximum, names)


def _parse_range(expression: str, minimum: int, maximum: int, names: dict[str, int]) -> None:
    range_and_step = expression.split("/")
    low_and_high = range_and_step[0].split("-")
    single_digit = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = minimum, maximum
    else:
        start = _parse_int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_int_or_name(low_and_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expression}")
    if len(range_and_step) == 2:
        step = _mustparse_int(range_and_step[1])
        if single_digit:  # "N/step" means "N-max/step"
            end = maximum
    elif len(range_and_step) > 2:
        raise CronError(f"too many slashes: {expression}")
    else:
        step = 1
    if start < minimum:
        raise CronError(f"beginning of range ({start}) below minimum ({minimum}): {expression}")
    if end > maximum:
        raise CronError(f"end of range ({end}) above maximum ({maximum}): {expression}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expression}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expression}")


def _parse_int_or_name(text: str, names: dict[str, int]) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    return _mustparse_int(text)


def _mustparse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    number = int(text)
    if number < 0:
        raise CronError(f"negative number ({number}) not allowed: {text}")
    return number
