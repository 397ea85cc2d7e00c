"""Option types shared by the commands: click lets NaN and infinity through a FloatRange."""

from __future__ import annotations

import math

import click

# Seeds reach torch.manual_seed, which takes at most a 64-bit value; numpy takes any size.
MAX_SEED = 2**63 - 1
SEED_RANGE = click.IntRange(min=0, max=MAX_SEED)


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses nan and inf ("--lr nan" passes a FloatRange)."""

    name = "finite float range"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number
