"""Recognition from few labels and digits on demand: M2 on the latent code against the rest.

    python -m benchmarks.recognition vae_edge/models/default vae_edge/models/robust \
        --generation vae_edge/models/tiny

For each model folder (which must hold M2's graphs, `vae-edge train-classifier`):

- accuracy: with 100, 600, 1,000, 3,000 and all 60,000 labels (drawn evenly per digit,
  seed 0), on the 10,000 test images, clean and with 10 and 20 % of the pixels flipped,
  for three classifiers given the same labels: M2 on the latent means (trained and chosen
  on validation as `train-classifier --labels N` does, with the folder's recipe; with all
  labels, the folder's own classifier.onnx, run by the runtime), today's supervised
  classifier on the latent means (an MLP, labelled codes only), and the same MLP on the
  196 pixels; both MLPs see fresh flips of the model's own `--input-flip` each epoch.
  Kingma et al. 2014's figures stand beside them, marked as 28x28 MNIST (not this data);
- `generate(digit=d)`, for these folders and those after `--generation`: the time per
  digit and the share an independent judge (the pixel MLP trained here on all labels,
  clean) reads as d, for M2's one pass against the rejection sampler (the same folder
  without conditional.onnx, its classifier at the runtime's default threshold);
- denoising: the share of pixels a noisy test image and its reconstruction (at 0.5) get
  wrong against the clean image, and figures `docs/denoising_<model>.png` and
  `docs/digits_<model>.png`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.report import write_report
from vae_edge import runtime
from vae_edge.errors import VaeEdgeError
from vae_edge.mnist import load_labeled_split
from vae_edge.runtime.evaluate import classification_accuracy
from vae_edge.runtime.manifest import CONDITIONAL_NAME, MANIFEST_NAME, N_CLASSES
from vae_edge.runtime.noise import FLIP_RATES, flip_pixels
from vae_edge.training import m2
from vae_edge.training.classifier import accuracy_under_noise, fit_candidates, predict
from vae_edge.training.download import resolve_data_dir
from vae_edge.training.options import ClassifierOptions, M2Options

LABEL_COUNTS = (100, 600, 1000, 3000, 60000)
RATES = (0.0, 0.1, 0.2)
# Today's supervised classifier, on the latent means and on pixels: an MLP of 256 tanh
# units, 5 epochs of 60,000 draws from the labelled images (fewer epochs than the
# bundled classifiers had, to keep the grid within minutes).
BASELINE_SHAPE = {"mlp-256": (256,)}
BASELINE_OPTIONS = ClassifierOptions(epochs=5)
# Kingma et al. 2014, Table 1: test error (%) on 28x28 MNIST by labels used.
KINGMA = {
    "NN": {100: 25.80, 600: 11.44, 1000: 10.70, 3000: 6.04},
    "M1+TSVM": {100: 11.82, 600: 5.72, 1000: 4.24, 3000: 3.49},
    "M2": {100: 11.97, 600: 4.94, 1000: 3.60, 3000: 3.92},
    "M1+M2": {100: 3.33, 600: 2.59, 1000: 2.40, 3000: 2.18},
}
PER_DIGIT = 100
DOCS = Path(__file__).resolve().parents[1] / "docs"


def labelled_draws(train, count: int) -> tuple[np.ndarray, np.ndarray]:
    """60,000 draws from `count` balanced labelled training images (seed 0), so every
    count gets as many optimizer steps as all labels do."""
    chosen = m2.balanced_labels(train[1], count)
    draws = np.random.default_rng(1).choice(chosen, len(train[1]))
    return train[0][draws], train[1][draws]


def mlp_accuracy(features, width: int, train, count: int, input_flip: float, test) -> dict:
    """The baseline MLP trained on `features` of `count` labelled images, scored on `test`."""
    options = ClassifierOptions(**{**vars(BASELINE_OPTIONS), "input_flip": input_flip})
    (classifier,) = fit_candidates(
        features, *labelled_draws(train, count), width, options, BASELINE_SHAPE, log=str
    ).values()
    return accuracy_under_noise(features, {"mlp": classifier}, *test, rates=RATES)["mlp"]


def accuracy_rows(
    model, train, validation, test, label_counts=LABEL_COUNTS, epochs: int | None = None
) -> list[dict[str, object]]:
    """Test accuracy by label count and flips: M2, the latent MLP, the pixel MLP.

    M2 trains with the folder's recipe, for `epochs` instead where given.
    """
    recipe = model.manifest.training["classifier"]["options"]
    options = M2Options(**{**recipe, "epochs": epochs or recipe["epochs"]})
    trained_flip = model.manifest.training.get("options", {}).get("input_flip", 0.0)

    def encode(images: np.ndarray) -> np.ndarray:
        return model.encode(images)[0]

    rows = []
    for count in label_counts:
        if count >= len(train[1]):
            scores = {"M2 on the latent means": classification_accuracy(model, *test, RATES)}
        else:
            labelled = m2.balanced_labels(train[1], count)
            chosen = m2.train_and_choose(encode, *train, labelled, validation, options, str)
            heads = {f"M2 on the latent means ({chosen.name})": chosen.model.classifier}
            scores = accuracy_under_noise(encode, heads, *test, rates=RATES)
        scores["supervised MLP on the latent means"] = mlp_accuracy(
            encode, model.latent_dim, train, count, trained_flip, test
        )
        scores["supervised MLP on the pixels"] = mlp_accuracy(
            pixels, model.config.input_dim, train, count, trained_flip, test
        )
        for name, accuracies in scores.items():
            rows.append(
                {
                    "labels": count,
                    "classifier": name,
                    **{
                        f"{rate:.0%} flipped": round(value, 4) for rate, value in accuracies.items()
                    },
                }
            )
            print(rows[-1], flush=True)
    return rows


def kingma_rows() -> list[dict[str, object]]:
    """Kingma et al.'s accuracies (100 - error), 28x28 MNIST, clean test images."""
    return [
        {
            "method (28x28 MNIST)": name,
            **{str(n): round(100 - error, 2) for n, error in row.items()},
        }
        for name, row in KINGMA.items()
    ]


def pixels(images: np.ndarray) -> np.ndarray:
    return images


def without_conditional(model_dir: Path, copy_dir: Path) -> Path:
    """A copy of `model_dir` as folders were before M2: the classifier, no generator."""
    shutil.copytree(model_dir, copy_dir)
    manifest = json.loads((copy_dir / MANIFEST_NAME).read_text())
    manifest.pop("conditional", None)
    (copy_dir / MANIFEST_NAME).write_text(json.dumps(manifest))
    (copy_dir / CONDITIONAL_NAME).unlink(missing_ok=True)
    return copy_dir


def generation_row(name: str, method: str, model, judge) -> dict[str, object]:
    """Seconds per digit and the judge's share read right, PER_DIGIT of each digit (seed 0).

    A digit the model cannot give (the rejection sampler's refusal) counts as 0 right.
    """
    right, made, seconds = [], 0, 0.0
    for digit in range(N_CLASSES):
        started = time.perf_counter()
        try:
            images = model.generate(PER_DIGIT, seed=0, digit=digit).reshape(PER_DIGIT, -1)
        except VaeEdgeError:
            seconds += time.perf_counter() - started
            right.append(0.0)
            continue
        seconds += time.perf_counter() - started
        made += PER_DIGIT
        read_as = predict(judge, (images >= 0.5).astype(np.float32))
        right.append(float(np.mean(read_as == digit)))
    return {
        "model": name,
        "method": method,
        "digits possible": sum(share > 0 for share in right),
        "judged right": round(float(np.mean(right)), 4),
        "ms per digit": round(1000 * seconds / max(made, 1), 3),
    }


def denoising_rows(model, test_images: np.ndarray) -> list[dict[str, object]]:
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
    parser.add_argument("models", nargs="*", type=Path, help="folders for every table")
    parser.add_argument(
        "--generation", nargs="*", type=Path, default=[], help="folders for generation only"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--labels", nargs="+", type=int, default=LABEL_COUNTS, help="label counts to measure"
    )
    parser.add_argument("--epochs", type=int, default=None, help="M2's (default: the recipe's)")
    args = parser.parse_args()
    folder = resolve_data_dir(args.data_dir)
    train = load_labeled_split(folder, "train")
    validation = load_labeled_split(folder, "validation")
    test = load_labeled_split(folder, "test")
    judge_options = ClassifierOptions(**{**vars(BASELINE_OPTIONS), "input_flip": 0.0})
    (judge,) = fit_candidates(
        pixels, *train, train[0].shape[1], judge_options, BASELINE_SHAPE, log=str
    ).values()
    write_report(
        "recognition_kingma",
        "Kingma et al. 2014, Table 1: test accuracy (%) by labels, 28x28 MNIST (not this data)",
        kingma_rows(),
        {},
    )
    generation = []
    for model_dir in [*args.models, *args.generation]:
        model = runtime.load(model_dir, threads=2)
        name = model_dir.name
        if model_dir in args.models:
            write_report(
                f"recognition_{name}",
                f"{name}: test accuracy (10,000 images) by labels used and pixels flipped",
                accuracy_rows(model, train, validation, test, args.labels, args.epochs),
                {"m2": model.manifest.training["classifier"]},
            )
            write_report(
                f"denoising_{name}",
                f"{name}: pixel error against the clean test images (10,000)",
                denoising_rows(model, test[0]),
                {},
            )
            figures(model, name, test[0])
        generation.append(generation_row(name, "M2: conditional.onnx", model, judge))
        with tempfile.TemporaryDirectory() as scratch:
            older = runtime.load(without_conditional(model_dir, Path(scratch) / name))
            method = f"rejection at {older.digit_confidence}"
            generation.append(generation_row(name, method, older, judge))
        print(generation[-2:], flush=True)
    write_report(
        "digit_generation",
        f"generate(digit=d), {PER_DIGIT} per digit (seed 0): time and a pixel judge's reading",
        generation,
        {},
    )


if __name__ == "__main__":
    main()
