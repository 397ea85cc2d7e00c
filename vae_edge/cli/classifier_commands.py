"""`vae-edge train-classifier`: M2 on a model folder's latent codes (PyTorch), from few labels."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import click

from vae_edge.cli.options import (
    DATA_DIR_OPTION,
    INPUT_FLIP_RANGE,
    SEED_RANGE,
    import_training_module,
)
from vae_edge.errors import InputError, VaeEdgeError, first_line
from vae_edge.models import bundled_model_names
from vae_edge.runtime.manifest import CLASSIFIER_NAME, CONDITIONAL_NAME, N_CLASSES
from vae_edge.training.options import M2Options


class FolderBusy(VaeEdgeError):
    """Another train-classifier is writing the same model folder."""


def writable_model_dir(model_dir: Path) -> Path:
    """`model_dir` if it is a folder outside the installed package, else `InputError`.

    The models bundled with vae-edge are package data: a command that rewrote them would
    change every later run of every user of the install, so their names and folders are
    refused; copy one and train the copy.
    """
    import vae_edge.models

    bundled_root = Path(vae_edge.models.__file__).resolve().parent
    if not model_dir.is_dir():
        if str(model_dir) in bundled_model_names():
            raise InputError(
                f"--model {model_dir}: a bundled model, which train-classifier never "
                "changes; copy its folder and pass the copy"
            )
        raise InputError(f"--model {model_dir}: model folder not found")
    if bundled_root in model_dir.resolve().parents:
        raise InputError(
            f"--model {model_dir}: a model folder inside the installed vae-edge package, "
            "which train-classifier never changes; copy it and pass the copy"
        )
    return model_dir


@contextlib.contextmanager
def locked_folder(model_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder `model_dir` itself (flock) while in the block.

    The lock is on the folder, not on a file inside it: the folder is replaced by a
    rebuilt copy at the end, and a lock file would travel into the model. A second
    train-classifier on the same folder fails at once with `FolderBusy`.
    """
    import fcntl  # POSIX only, like the training commands' process handling

    descriptor = os.open(model_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(
                f"--model {model_dir}: another vae-edge train-classifier is writing this "
                "folder; wait for it to finish"
            ) from None
        yield
    finally:
        os.close(descriptor)


@click.command("train-classifier")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Model folder written by `vae-edge export`; its classifier.onnx, conditional.onnx "
    "and manifest.json are replaced together. Bundled models are never changed: copy one.",
)
@click.option(
    "--labels",
    type=click.IntRange(min=N_CLASSES),
    default=None,
    help="Labelled training images, drawn evenly over the digits with a fixed seed; the "
    "other training images are used without their labels. Default: all of them.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=M2Options.epochs,
    show_default=True,
    help="Training epochs (each draws as many unlabelled codes as there are images).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=2),
    default=M2Options.batch_size,
    show_default=True,
    help="Unlabelled codes per step, with half as many labelled ones.",
)
@click.option(
    "--input-flip",
    type=INPUT_FLIP_RANGE,
    default=None,
    help="Also train on codes of noisy copies whose pixels flip at a rate drawn from "
    "U(0, this) per copy (0: clean images only). Default: the model's own --input-flip "
    "from training, the noise its encoder was trained to see through.",
)
@click.option("--seed", type=SEED_RANGE, default=0, show_default=True, help="Seed.")
@DATA_DIR_OPTION
def train_classifier(
    model_dir: Path,
    labels: int | None,
    epochs: int,
    batch_size: int,
    input_flip: float | None,
    seed: int,
    data_dir: Path | None,
) -> None:
    """Train M2 (Kingma et al. 2014) on the model's latent means and add it to the folder.

    M2 learns the digit of a code from the labelled images and the shape of every
    digit's codes from all of them. Candidate sizes train side by side; the one with the
    best validation accuracy, averaged over clean images and 5, 10 and 20 % flipped
    pixels, is exported as classifier.onnx (code -> digit probabilities, for `classify`)
    and conditional.onnx (digit and style -> code, for `generate --digit`).
    """
    m2 = import_training_module("vae_edge.training.m2")
    graph = import_training_module("vae_edge.export.classifier_graph")
    import numpy as np

    from vae_edge import runtime
    from vae_edge.mnist import load_labeled_split
    from vae_edge.training.download import resolve_data_dir

    try:
        model_dir = writable_model_dir(model_dir)
        with locked_folder(model_dir):
            model = runtime.load(model_dir, threads=2)  # large batches: two threads pay
            if input_flip is None:
                input_flip = model.manifest.training.get("options", {}).get("input_flip", 0.0)
            options = M2Options(
                epochs=epochs, batch_size=batch_size, input_flip=input_flip, seed=seed
            )
            folder = resolve_data_dir(data_dir)
            train_images, train_labels = load_labeled_split(folder, "train")
            validation = load_labeled_split(folder, "validation")
            count = len(train_labels) if labels is None else labels
            if count > len(train_labels):
                raise InputError(
                    f"--labels {labels}: more than the {len(train_labels)} training images"
                )
            labelled = m2.balanced_labels(train_labels, count, seed)

            def encode(images: np.ndarray) -> np.ndarray:
                return model.encode(images)[0]

            click.echo(
                f"encoding {len(train_labels)} training images and {options.copies} noisy "
                f"copies of each; {count} of them labelled"
            )
            chosen = m2.train_and_choose(
                encode, train_images, train_labels, labelled, validation, options, click.echo
            )
            for name, accuracies in chosen.scores.items():
                marker = "  <- chosen" if name == chosen.name else ""
                levels = "  ".join(f"{rate:.0%} {acc:.2%}" for rate, acc in accuracies.items())
                click.echo(f"validation accuracy, flipped pixels: {name:<18} {levels}{marker}")
            shape = chosen.model.shape
            summary = {
                "method": "M2 (Kingma et al. 2014) on the encoder's means",
                "labels": count,
                "chosen": chosen.name,
                "hidden": shape.hidden,
                "classifier_hidden": list(shape.classifier_sizes),
                "z2_dim": shape.z2_dim,
                "options": dataclasses.asdict(options),
                "validation_accuracy": {
                    name: {f"{rate:g}": round(acc, 4) for rate, acc in accuracies.items()}
                    for name, accuracies in chosen.scores.items()
                },
            }
            check_codes = encode(validation[0])
            graph.add_m2_graphs(model_dir, chosen.model, summary, check_codes)
    except VaeEdgeError as error:
        raise click.ClickException(first_line(error)) from None
    click.echo(
        f"wrote {model_dir / CLASSIFIER_NAME} and {CONDITIONAL_NAME} ({chosen.name}, "
        f"{count} labels) and updated the manifest"
    )


COMMANDS: list[click.Command] = [train_classifier]
