"""What the command modules share: options, option types and the command wrapper.

Every command module imports its shared pieces from here, never from another command
module, so each stays importable alone (click lets NaN and inf through a FloatRange, hence
`FiniteFloatRange`).
"""

from __future__ import annotations

import functools
import importlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from vae_edge.atomic import temporary_sibling
from vae_edge.config import MAX_THREADS
from vae_edge.errors import InputError, VaeEdgeError, first_line, install_hint
from vae_edge.training.options import MAX_INPUT_FLIP, MAX_SEED

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


TRAIN_EXTRA_HINT = f"this command needs PyTorch, {install_hint('train')}"


def import_training_module(name: str) -> ModuleType:
    """Import a torch-backed module of vae_edge, or fail with the install hint."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in {"torch", "onnx", "onnxscript", "matplotlib"}:
            raise click.ClickException(f"{TRAIN_EXTRA_HINT} ({error.name} is missing)") from None
        raise


MODEL_DIR_OPTION = click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Model folder written by `vae-edge export`, or the name of a bundled model. "
    "Default: the bundled `default` model.",
)


def model_command(function: Callable[..., None] | None = None, *, open_all: bool = False) -> Any:
    """A command with `--model`/`--threads`, whose user errors end as one-line messages.

    The wrapped function receives the loaded `model` instead of the two options. Its
    graphs' sessions open when the command first uses them, so a command pays only for
    the graphs it runs; with `open_all` (`@model_command(open_all=True)`) every graph is
    opened and checked before the command runs.
    """
    if function is None:
        return functools.partial(model_command, open_all=open_all)

    @MODEL_DIR_OPTION
    @click.option(
        "--threads",
        type=click.IntRange(min=1, max=MAX_THREADS),
        default=None,
        help="onnxruntime threads per graph. Default 1: fastest for a few images per call; "
        f"more pay off for large batches. At most {MAX_THREADS}.",
    )
    @functools.wraps(function)
    def wrapper(model_dir: Path | None, threads: int | None, **kwargs: Any) -> None:
        from vae_edge import runtime

        try:
            model = runtime.load(model_dir, threads=threads, lazy=not open_all)
            function(model=model, **kwargs)
        except VaeEdgeError as error:
            raise click.ClickException(first_line(error)) from None

    return click.command(wrapper)


def output_path(path: Path, suffixes: tuple[str, ...] | None = None) -> Path:
    """Check that `path` can be written: its folder exists and is writable, suffix known."""
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"-o {path}: expected a file ending in {' or '.join(suffixes)}")
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"-o {path}: {folder} {problem}")
    probe = temporary_sibling(path)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as error:
        raise InputError(f"-o {path}: folder {folder} is not writable ({error.strerror})") from None
    return path
