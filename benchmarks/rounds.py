"""Measures taken in rounds, in a freshly shuffled order every round, for side-by-side runs."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")


def alternate(rounds: int, measures: dict[str, Callable[[], Result]]) -> dict[str, list[Result]]:
    """Run each measure once per round, in a freshly shuffled order every round.

    No measure always runs right after the same other one, and a slow spell of the
    machine falls on every measure alike.
    """
    results: dict[str, list[Result]] = {name: [] for name in measures}
    names = list(measures)
    shuffler = random.Random(0)
    for _ in range(rounds):
        shuffler.shuffle(names)
        for name in names:
            results[name].append(measures[name]())
    return results
