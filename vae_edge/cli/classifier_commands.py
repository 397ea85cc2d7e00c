"""`vae-edge train-classifier`: a digit classifier on a model folder's latent codes (PyTorch)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from vae_edge.cli.options import (
    DATA_DIR_OPTION,
    INPUT_FLIP_RANGE,
    MODEL_DIR_OPTION,
    SEED_RANGE,
    import_training_module,
)
from vae_edge.config import DIGIT_CONFIDENCE
from vae_edge.errors import VaeEdgeError, first_line
from vae_edge.runtime.manifest import CLASSIFIER_NAME
from vae_edge.training.options import ClassifierOptions


@click.command("train-classifier")
@MODEL_DIR_OPTION
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=ClassifierOptions.epochs,
    show_default=True,
    help="Training epochs.",
)
@click.option(
    "--input-flip",
    type=INPUT_FLIP_RANGE,
    default=None,
    help="Train on images whose pixels flip at a rate drawn from U(0, this) per image "
    "(0: clean images only). Default: the model's own --input-flip from training, the "
    "noise its encoder was trained to see through.",
)
@click.option(
    "--digit-confidence",
    type=click.FloatRange(min=0.5, max=1, max_open=True),
    default=DIGIT_CONFIDENCE,
    show_default=True,
    help="Probability the classifier must give a prior sample for `generate --digit` to "
    "keep it; recorded in the manifest. Lower it for a classifier that is rarely so sure.",
)
@click.option("--seed", type=SEED_RANGE, default=0, show_default=True, help="Seed.")
@DATA_DIR_OPTION
def train_classifier(
    model_dir: Path | None,
    epochs: int,
    input_flip: float | None,
    digit_confidence: float,
    seed: int,
    data_dir: Path | None,
) -> None:
    """Train a digit classifier on the model's latent means and add it to the model folder.

    Candidates (logistic regression and two MLPs) train on all 60,000 labelled training
    images; the one with the best validation accuracy, averaged over clean images and
    5, 10 and 20 % flipped pixels, is exported as classifier.onnx.
    """
    training = import_training_module("vae_edge.training.classifier")
    graph = import_training_module("vae_edge.export.classifier_graph")
    from vae_edge import runtime
    from vae_edge.mnist import load_labeled_split
    from vae_edge.training.download import resolve_data_dir

    try:
        model = runtime.load(model_dir, threads=2)  # large batches: two threads pay
        if input_flip is None:
            input_flip = model.manifest.training.get("options", {}).get("input_flip", 0.0)
        options = ClassifierOptions(epochs=epochs, input_flip=input_flip, seed=seed)
        folder = resolve_data_dir(data_dir)
        splits = {split: load_labeled_split(folder, split) for split in ("train", "validation")}

        def encode(images):
            return model.encode(images)[0]

        classifiers = training.fit_candidates(
            encode, *splits["train"], model.latent_dim, options, log=click.echo
        )
        scores = training.accuracy_under_noise(encode, classifiers, *splits["validation"])
        chosen = training.choose(scores)
        for name, accuracies in scores.items():
            marker = "  <- chosen" if name == chosen else ""
            levels = "  ".join(f"{rate:.0%} {acc:.2%}" for rate, acc in accuracies.items())
            click.echo(f"validation accuracy, flipped pixels: {name:<12} {levels}{marker}")
        summary = {
            "chosen": chosen,
            "hidden_sizes": list(training.CANDIDATES[chosen]),
            "options": dataclasses.asdict(options),
            "digit_confidence": digit_confidence,
            "validation_accuracy": {
                name: {f"{rate:g}": round(acc, 4) for rate, acc in accuracies.items()}
                for name, accuracies in scores.items()
            },
        }
        check_inputs = encode(splits["validation"][0])
        graph.add_classifier(model.model_dir, classifiers[chosen], summary, check_inputs)
    except VaeEdgeError as error:
        raise click.ClickException(first_line(error)) from None
    click.echo(f"wrote {model.model_dir / CLASSIFIER_NAME} ({chosen}) and updated the manifest")


COMMANDS: list[click.Command] = [train_classifier]
