# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ATLAS platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to atlas.hardening: run independent requests with a bound on how many are in flight.

Results come back in the tasks' order whatever the completion order. After the first failure no new
task starts; the ones already in flight finish (their outcome is kept, so the caller can say exactly
what was done). A limit of 1 runs the tasks one after the other in the calling thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Outcome(Generic[R]):
    """What one started task gave: its result, or the exception it raised."""

    def __init__(self, result: R | None = None, error: Exception | None = None) -> None:
        self.result = result
        self.error = error


def run_bounded(tasks: Sequence[T], work: Callable[[T], R], limit: int) -> list[Outcome[R] | None]:
    """``work(task)`` for each task, at most ``limit`` at once; ``None`` for a task never started."""
    outcomes: list[Outcome[R] | None] = [None] * len(tasks)
    if limit <= 1 or len(tasks) <= 1:
        for index, task in enumerate(tasks):
            try:
                outcomes[index] = Outcome(work(task))
            except Exception as exc:  # pylint: disable=broad-except  # handed back to the caller
                outcomes[index] = Outcome(error=exc)
                break
        return outcomes
    with ThreadPoolExecutor(max_workers=min(limit, len(tasks)), thread_name_prefix="atlas-request") as pool:
        pending: dict[Future[Any], int] = {}
        next_index = 0
        failed = False
        while pending or (next_index < len(tasks) and not failed):
            while not failed and next_index < len(tasks) and len(pending) < limit:
                pending[pool.submit(work, tasks[next_index])] = next_index
                next_index += 1
            done, _running = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    outcomes[index] = Outcome(future.result())
                except Exception as exc:  # pylint: disable=broad-except  # handed back to the caller
                    outcomes[index] = Outcome(error=exc)
                    failed = True
    return outcomes


def first_error(outcomes: Sequence[Outcome[Any] | None]) -> Exception | None:
    """The error of the first failed task in the tasks' order."""
    return next((outcome.error for outcome in outcomes if outcome is not None and outcome.error is not None), None)
