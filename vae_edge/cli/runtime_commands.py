"""Commands that run on a core install: onnxruntime, numpy and pillow, never torch.

numpy, onnxruntime and pillow are imported when a command runs, not when the command
line is built, so `vae-edge --help` and `vae-edge train` never load them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vae_edge import __version__
from vae_edge.atomic import atomic_path, write_text_atomic
from vae_edge.cli.options import (
    DATA_DIR_OPTION,
    MODEL_DIR_OPTION,
    SEED_RANGE,
    FiniteFloatRange,
    model_command,
    output_path,
)
from vae_edge.config import SPLITS
from vae_edge.errors import InputError, VaeEdgeError, first_line
from vae_edge.grid import MAX_GRID_PIXELS, default_columns, grid_shape
from vae_edge.runtime.manifest import N_CLASSES

if TYPE_CHECKING:
    import numpy as np

    from vae_edge.runtime.model import VAEModel

ENCODE_SUFFIXES = (".npy", ".json")
PNG_SUFFIXES = (".png",)


def read_images(paths: tuple[Path, ...], invert: bool) -> np.ndarray:
    """Preprocess image files into a batch [N, 196]."""
    import numpy as np

    from vae_edge import runtime

    return np.stack([runtime.preprocess(path, invert=invert) for path in paths])


def output_option(default: str, help_text: str) -> Callable[[Callable[..., None]], Any]:
    """`-o/--output FILE` with a default file name in the current folder."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path(default),
        show_default=True,
        help=help_text,
    )


# Existence is left to `preprocess`, whose error names the file in one line.
IMAGES_ARGUMENT = click.argument(
    "images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
INVERT_OPTION = click.option(
    "--invert", is_flag=True, help="Inputs are dark digits on a light background."
)
SCALE_OPTION = click.option(
    "--scale",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help=f"Each pixel drawn this many times as large. The PNG may hold at most "
    f"{MAX_GRID_PIXELS:,} pixels.",
)


@model_command
@click.option(
    "-n",
    "n_samples",
    type=int,
    default=64,
    show_default=True,
    help=f"Number of digits to generate; the PNG may hold at most {MAX_GRID_PIXELS:,} pixels.",
)
@output_option("grid.png", "PNG file to write.")
@click.option(
    "--seed",
    type=SEED_RANGE,
    default=None,
    help="Seed for z ~ N(0, I). Default: a random one, printed so the grid can be redone.",
)
@click.option(
    "--nrow",
    type=click.IntRange(min=1),
    default=None,
    help="Digits per row. Default: a square grid.",
)
@click.option(
    "--digit",
    type=click.IntRange(0, N_CLASSES - 1),
    default=None,
    help="Only this digit: codes from the model's conditional generator (conditional.onnx), "
    "or in an older folder, prior samples its classifier confidently gives to this digit.",
)
@SCALE_OPTION
def generate(
    model: VAEModel,
    n_samples: int,
    output: Path,
    seed: int | None,
    nrow: int | None,
    digit: int | None,
    scale: int,
) -> None:
    """Write a PNG grid of newly generated digits."""
    from vae_edge import runtime

    if n_samples <= 0:
        raise InputError(f"-n must be a positive number of digits, got {n_samples}")
    # Refused before any digit is generated: the grid's size follows from the options.
    grid_shape(n_samples, model.image_side, nrow or default_columns(n_samples), scale=scale)
    output_path(output, PNG_SUFFIXES)
    seed = int.from_bytes(os.urandom(4), "big") >> 1 if seed is None else seed  # 31 bits
    digits = model.generate(n_samples, seed=seed, digit=digit)
    runtime.save_grid(digits, output, nrow=nrow, scale=scale)
    which = "" if digit is None else f" (all {digit}s)"
    click.echo(f"wrote {n_samples} digits{which} to {output} (seed {seed})")


@model_command
@IMAGES_ARGUMENT
@INVERT_OPTION
def classify(model: VAEModel, images: tuple[Path, ...], invert: bool) -> None:
    """Print each image's digit and the classifier's confidence in it."""
    digits, probabilities = model.classify(read_images(images, invert))
    for path, digit, row in zip(images, digits, probabilities, strict=True):
        click.echo(f"{path}: {digit} (confidence {row[digit]:.3f})")


@model_command
@IMAGES_ARGUMENT
@output_option("reconstruction.png", "PNG file to write.")
@INVERT_OPTION
@SCALE_OPTION
def reconstruct(
    model: VAEModel, images: tuple[Path, ...], output: Path, invert: bool, scale: int
) -> None:
    """Write the inputs (top row) above their reconstructions (bottom row) as a PNG."""
    import numpy as np

    from vae_edge import runtime

    output_path(output, PNG_SUFFIXES)
    inputs = read_images(images, invert)
    side = model.image_side
    pair = np.concatenate([inputs.reshape(-1, side, side), model.reconstruct(inputs)])
    runtime.save_grid(pair, output, nrow=len(images), scale=scale)
    noun = "image" if len(images) == 1 else "images"
    click.echo(f"wrote {len(images)} {noun} and their reconstructions to {output}")


@model_command
@IMAGES_ARGUMENT
@output_option("latents.npy", "File to write: .npy (mu [N, latent]) or .json (mu, logvar).")
@INVERT_OPTION
def encode(model: VAEModel, images: tuple[Path, ...], output: Path, invert: bool) -> None:
    """Write each image's latent mean: mu [N, latent] as .npy, or mu and logvar as .json."""
    import numpy as np

    output_path(output, ENCODE_SUFFIXES)
    mu, logvar = model.encode(read_images(images, invert))
    if output.suffix.lower() == ".npy":
        with atomic_path(output) as tmp_path, open(tmp_path, "wb") as stream:
            np.save(stream, mu)
    else:
        records = [
            {"file": str(path), "mu": m.tolist(), "logvar": v.tolist()}
            for path, m, v in zip(images, mu, logvar, strict=True)
        ]
        write_text_atomic(output, json.dumps(records, indent=2) + "\n")
    click.echo(f"wrote {len(images)} latent codes ({model.latent_dim} numbers each) to {output}")


@model_command
@click.argument("first", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("second", type=click.Path(dir_okay=False, path_type=Path))
@output_option("interpolation.png", "PNG file to write.")
@click.option(
    "--steps",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Images in the strip, both ends included.",
)
@INVERT_OPTION
@SCALE_OPTION
def interpolate(
    model: VAEModel,
    first: Path,
    second: Path,
    output: Path,
    steps: int,
    invert: bool,
    scale: int,
) -> None:
    """Write a strip of digits decoded along the line between two images' latent means."""
    import numpy as np

    from vae_edge import runtime

    grid_shape(steps, model.image_side, steps, scale=scale)
    output_path(output, PNG_SUFFIXES)
    mu, _ = model.encode(read_images((first, second), invert))
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    strip = model.decode((1 - weights) * mu[0] + weights * mu[1])
    runtime.save_grid(strip, output, nrow=steps, scale=scale)
    click.echo(f"wrote a {steps}-step interpolation to {output}")


@model_command(open_all=True)
def info(model: VAEModel) -> None:
    """Check every graph, then describe the model: shape, files, training, validation."""
    manifest = model.manifest.to_dict()
    config = model.config
    layers = " - ".join(map(str, (config.input_dim, *config.hidden_sizes, config.latent_dim)))
    decoder_layers = " - ".join(map(str, config.decoder_sizes))
    lines = [
        f"model        {model.model_dir}",
        f"variant      {manifest['variant']} (opset {manifest['opset']}, "
        f"IR version {manifest['ir_version'] or 'not recorded'}, exported by "
        f"vae-edge {manifest['package_version']}, read by vae-edge {__version__})",
        f"layers       encoder {layers}, decoder {decoder_layers} ({config.activation})",
        f"latent size  {config.latent_dim}",
        f"hidden sizes {', '.join(map(str, config.hidden_sizes))}; decoder "
        f"{', '.join(map(str, config.decoder_hidden_sizes))}",
        f"image        {config.image_side}x{config.image_side}, "
        + ", ".join(f"{k} {v}" for k, v in manifest["preprocessing"].items()),
    ]
    for part in ("encoder", "decoder", "classifier", "conditional"):
        if part not in manifest:
            continue
        entry = manifest[part]
        size = len((model.model_dir / entry["file"]).read_bytes())  # a folder or a zip
        lines.append(
            f"{part:<12} {entry['file']} {size:,} bytes, sha256 {entry['sha256'][:16]}, "
            f"{', '.join(entry['inputs'])} -> {', '.join(entry['outputs'])}"
        )
    for section in ("training", "validation"):
        for key, value in manifest[section].items():
            lines.append(f"{section:<12} {key}: {json.dumps(value)}")
    click.echo("\n".join(lines))


@model_command
@click.option(
    "--split",
    type=click.Choice([split for split in SPLITS if split != "train"]),
    default="test",
    show_default=True,
    help="10,000 test images or the first 1,000 (validation).",
)
@click.option(
    "--k",
    "k_samples",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Importance samples per image (1 gives the ELBO).",
)
@click.option("--seed", type=SEED_RANGE, default=0, show_default=True, help="Seed for the samples.")
@DATA_DIR_OPTION
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the numbers to this JSON file.",
)
def evaluate(
    model: VAEModel,
    split: str,
    k_samples: int,
    seed: int,
    data_dir: Path | None,
    json_path: Path | None,
) -> None:
    """Score the model on MNIST: negative ELBO, its two terms, and the NLL bound (nats/image).

    With a classifier in the model folder, also its accuracy on clean images and with
    5, 10 and 20 % of the pixels flipped.
    """
    from vae_edge.mnist import load_labeled_split, load_split
    from vae_edge.runtime.evaluate import classification_accuracy
    from vae_edge.runtime.evaluate import evaluate as evaluate_model
    from vae_edge.training.download import resolve_data_dir

    if json_path is not None:
        output_path(json_path, (".json",))
    folder = resolve_data_dir(data_dir)
    if model.has_classifier:  # labels too, checked to match the images before the long run
        images, labels = load_labeled_split(folder, split)
    else:
        images = load_split(folder, split)
    with click.progressbar(
        length=len(images), label=f"{split} K={k_samples}", file=sys.stderr
    ) as bar:
        scores = evaluate_model(model, images, k=k_samples, seed=seed, progress=bar.update)
    click.echo(
        f"{scores.n_images} {split} images, K={scores.k}, seed {scores.seed} (nats/image)\n"
        f"  negative ELBO   {scores.negative_elbo:8.3f}\n"
        f"  reconstruction  {scores.reconstruction:8.3f}\n"
        f"  KL              {scores.kl:8.3f}\n"
        f"  NLL bound (IW)  {scores.nll_bound:8.3f}"
    )
    record: dict[str, Any] = {"model": str(model.model_dir), "split": split, **scores.to_dict()}
    if model.has_classifier:
        accuracy = classification_accuracy(model, images, labels, seed=seed)
        click.echo(
            "  accuracy        "
            + "  ".join(f"{rate:.0%} flipped {value:.2%}" for rate, value in accuracy.items())
        )
        record["accuracy"] = {f"{rate:g}": value for rate, value in accuracy.items()}
    if json_path is not None:
        write_text_atomic(json_path, json.dumps(record, indent=2) + "\n")


@click.command()
@MODEL_DIR_OPTION
@click.option(
    "--seconds",
    type=FiniteFloatRange(min=0.05, max=60),
    default=1.0,
    show_default=True,
    help="Timing per measurement, 0.05 to 60 seconds.",
)
def bench(model_dir: Path | None, seconds: float) -> None:
    """Time the runtime on this machine: load, decode and encode at batch 1, 64, 1024."""
    from vae_edge.runtime.bench import machine_info, markdown_table, run_bench

    try:
        rows = run_bench(model_dir, seconds=seconds)
    except VaeEdgeError as error:
        raise click.ClickException(first_line(error)) from None
    click.echo(", ".join(f"{key} {value}" for key, value in machine_info().items()))
    click.echo(markdown_table(rows))


COMMANDS: list[click.Command] = [
    generate,
    reconstruct,
    encode,
    classify,
    interpolate,
    info,
    evaluate,
    bench,
]
