"""Recognition under noise: the latent classifier against the same classifier on pixels.

    python -m benchmarks.recognition vae_edge/models/default vae_edge/models/robust

For each model folder (which must hold a classifier, `vae-edge train-classifier`):

- semi-supervised: with 100, 1,000 and all 60,000 labels (drawn evenly per class,
  seed 0), the classifier shape the folder chose is trained on the encoder's latent
  means and, the same way, on the 196 pixels; both are scored on the 10,000 test images,
  clean and with 5, 10 and 20 % of the pixels flipped. With 60,000 labels the latent
  row is the folder's own classifier.onnx, run by the runtime;
- denoising: the fraction of pixels the reconstruction (thresholded at 0.5) gets wrong
  against the clean image, next to the noisy input's own;
- `generate(digit=d)`: the share of generated digits an independent judge (the pixel
  classifier trained on all labels) reads as d;
- figures `docs/denoising_<model>.png` and `docs/digits_<model>.png`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.report import write_report
from vae_edge import runtime
from vae_edge.mnist import load_labels, load_split
from vae_edge.runtime.evaluate import classification_accuracy
from vae_edge.runtime.manifest import N_CLASSES
from vae_edge.runtime.noise import FLIP_RATES, flip_pixels
from vae_edge.training.classifier import (
    LatentClassifier,
    accuracy_under_noise,
    fit_candidates,
    predict,
)
from vae_edge.training.download import resolve_data_dir
from vae_edge.training.options import ClassifierOptions

LABEL_COUNTS = (100, 1000, 60000)
CONFIDENCES = (0.95, 0.99, 0.999)
DOCS = Path(__file__).resolve().parents[1] / "docs"


def balanced_subset(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `count` labelled images, `count / 10` of each digit (all, for all)."""
    if count >= len(labels):
        return np.arange(len(labels))
    per_class = count // N_CLASSES
    return np.concatenate(
        [rng.choice(np.flatnonzero(labels == d), per_class, replace=False) for d in range(10)]
    )


def labelled_draws(train, count: int) -> tuple[np.ndarray, np.ndarray]:
    """60,000 draws from a balanced subset of `count` labelled training images.

    Each epoch then sees 60,000 examples whatever the label count, so every count gets
    the same number of optimizer steps (and fresh pixel flips each time).
    """
    chosen = balanced_subset(train[1], count, np.random.default_rng(0))
    draws = np.random.default_rng(1).choice(chosen, len(train[1]))
    return train[0][draws], train[1][draws]


def train_like_folder(model, features, width: int, examples) -> LatentClassifier:
    """A classifier of the folder's own shape and training options, on `features`."""
    recipe = model.manifest.training["classifier"]
    options = ClassifierOptions(**recipe["options"])
    shape = {"chosen": tuple(recipe["hidden_sizes"])}
    return fit_candidates(features, *examples, width, options, shape, log=lambda _: None)["chosen"]


def pixels(images: np.ndarray) -> np.ndarray:
    return images


def semi_supervised(model, train, test) -> tuple[list[dict[str, object]], LatentClassifier]:
    """Rows of accuracy for each label count, latent and pixel features; and the judge,
    the pixel classifier trained on all labels."""
    rows = []
    for count in LABEL_COUNTS:
        examples = labelled_draws(train, count)
        for name, features, width in (
            ("latent mu", lambda x: model.encode(x)[0], model.latent_dim),
            ("pixels", pixels, model.config.input_dim),
        ):
            all_labels = count == len(train[1])
            if name == "latent mu" and all_labels:
                scores = classification_accuracy(model, *test)
                source = "classifier.onnx"
            else:
                classifier = train_like_folder(model, features, width, examples)
                scores = accuracy_under_noise(features, {name: classifier}, *test)[name]
                source = "trained here"
                if name == "pixels" and all_labels:
                    judge = classifier
            result = {f"{rate:.0%}": value for rate, value in scores.items()}
            rows.append({"labels": count, "features": name, "source": source, **result})
            print(rows[-1], flush=True)
    return rows, judge


def denoising(model, test_images) -> list[dict[str, object]]:
    """Pixel error of noisy inputs and of their reconstructions, against the clean images."""
    rows = []
    for rate in FLIP_RATES:
        noisy = flip_pixels(test_images, rate, np.random.default_rng(0))
        recon = model.reconstruct(noisy).reshape(len(test_images), -1)
        rows.append(
            {
                "flipped": f"{rate:.0%}",
                "noisy input: pixels wrong": f"{np.mean(noisy != test_images):.2%}",
                "reconstruction: pixels wrong": f"{np.mean((recon >= 0.5) != test_images):.2%}",
                "reconstruction: mean |x̂ - x|": round(
                    float(np.mean(np.abs(recon - test_images))), 4
                ),
            }
        )
    return rows


def digit_generation(
    model, judge, confidences: tuple[float, ...], per_digit: int = 200
) -> list[dict[str, object]]:
    """How often the judge reads generate(digit=d) as d (seed 0), per confidence threshold."""
    rows, shipped = [], model.digit_confidence
    for confidence in confidences:
        model.digit_confidence = confidence
        row: dict[str, object] = {"confidence": confidence}
        started = time.perf_counter()
        for digit in range(N_CLASSES):
            generated = model.generate(per_digit, seed=0, digit=digit).reshape(per_digit, -1)
            read_as = predict(judge, (generated >= 0.5).astype(np.float32))
            row[str(digit)] = float(np.mean(read_as == digit))
        row["all"] = float(np.mean([row[str(digit)] for digit in range(N_CLASSES)]))
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        print(row, flush=True)
    model.digit_confidence = shipped
    return rows


def figures(model, name: str, test_images: np.ndarray) -> None:
    """Noisy inputs above their reconstructions; one generated row per digit."""
    side = model.image_side
    clean = test_images[:10]
    rows = [clean.reshape(-1, side, side)]
    for rate in FLIP_RATES:
        noisy = flip_pixels(clean, rate, np.random.default_rng(0))
        rows += [noisy.reshape(-1, side, side), model.reconstruct(noisy)]
    runtime.save_grid(np.concatenate(rows), DOCS / f"denoising_{name}.png", nrow=10, scale=3)
    digits = np.concatenate([model.generate(10, seed=0, digit=d) for d in range(N_CLASSES)])
    runtime.save_grid(digits, DOCS / f"digits_{name}.png", nrow=10, scale=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="model folders with a classifier")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--generation-only",
        action="store_true",
        help="skip the accuracy and denoising tables; train only the judge",
    )
    parser.add_argument(
        "--confidences", type=float, nargs="+", default=CONFIDENCES, help="thresholds to try"
    )
    args = parser.parse_args()
    folder = resolve_data_dir(args.data_dir)
    train = (load_split(folder, "train"), load_labels(folder, "train"))
    test = (load_split(folder, "test"), load_labels(folder, "test"))
    for model_dir in args.models:
        model = runtime.load(model_dir, threads=2)
        name = model_dir.name
        if args.generation_only:
            all_labels = labelled_draws(train, len(train[1]))
            judge = train_like_folder(model, pixels, model.config.input_dim, all_labels)
        else:
            rows, judge = semi_supervised(model, train, test)
            write_report(
                f"recognition_{name}",
                f"{name}: test accuracy (10,000 images) by labels used and pixels flipped",
                rows,
                {"classifier": model.manifest.training["classifier"]["chosen"]},
            )
            write_report(
                f"denoising_{name}",
                f"{name}: pixel error against the clean test images (10,000)",
                denoising(model, test[0]),
                {},
            )
        write_report(
            f"digit_generation_{name}",
            f"{name}: generate(digit=d), 200 per digit, share a pixel-space judge reads as d",
            digit_generation(model, judge, tuple(args.confidences)),
            {},
        )
        figures(model, name, test[0])


if __name__ == "__main__":
    main()
