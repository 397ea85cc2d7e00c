"""Options and option types shared by the commands (click lets NaN and inf through a FloatRange)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from vae_edge.config import MAX_INPUT_FLIP

# Seeds reach torch.manual_seed, which takes at most a 64-bit value; numpy takes any size.
MAX_SEED = 2**63 - 1
SEED_RANGE = click.IntRange(min=0, max=MAX_SEED)

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the four MNIST IDX files. Default: $VAE_EDGE_DATA, else the user "
    "cache (downloaded on first use).",
)


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses nan and inf ("--lr nan" passes a FloatRange)."""

    name = "finite float range"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


# A per-image flip rate is drawn from U(0, --input-flip) (training and train-classifier).
INPUT_FLIP_RANGE = FiniteFloatRange(min=0, max=MAX_INPUT_FLIP)
