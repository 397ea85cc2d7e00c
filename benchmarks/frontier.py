"""Likelihood per byte of decoder: train candidate models, export float32 and int8, evaluate.

    python -m benchmarks.frontier                       # every candidate below
    python -m benchmarks.frontier --only tiny-h256      # some of them

Each candidate is a `vae-edge train` recipe (printed in the table). Its run is trained
into runs/frontier/NAME, or taken as it is when that run has trained all its epochs
(so the script resumes a sweep and adds new candidates cheaply). Each run is exported
twice (`vae-edge export`, and `vae-edge export --quantize int8`), both variants are
scored with `vae-edge evaluate`'s evaluator (the importance-weighted NLL bound) on the
validation split, the first 1,000 test images, and on the test split, all 10,000. The
best variant for each size budget (decoder file within 64 KiB: tiny; within 1 MiB:
default) is chosen by its validation bound; the test bound is only reported.

Writes benchmarks/results/frontier.md/.json and docs/frontier.png (decoder bytes on a
log axis, test NLL bound, or validation with --validation-only; float32 and int8 points).
Evaluations are cached beside each exported folder, keyed by the decoder's SHA-256, K,
seed and the images scored.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import write_report
from vae_edge import runtime
from vae_edge.atomic import atomic_path, write_text_atomic
from vae_edge.config import ModelConfig, Split
from vae_edge.export import export_model
from vae_edge.mnist import load_split
from vae_edge.runtime.evaluate import evaluate
from vae_edge.runtime.manifest import read_manifest
from vae_edge.training.checkpoint import CheckpointError, load_checkpoint
from vae_edge.training.download import resolve_data_dir
from vae_edge.training.options import TrainOptions
from vae_edge.training.train import train

DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"
# Size budgets of a decoder file (bytes), by the bundled model each one chooses.
BUDGETS = {"tiny": 64 * 1024, "default": 1024 * 1024}
VARIANTS = ("float32", "int8")


@dataclass(frozen=True)
class Candidate:
    """One recipe: a model shape and training options, optionally from another run's weights."""

    name: str
    config: ModelConfig
    options: TrainOptions
    init_from: str | None = None  # the name of the candidate whose weights it starts from

    def command(self, runs_dir: Path) -> str:
        """The `vae-edge train` command that trains this candidate."""
        args = ["vae-edge", "train"]
        if self.init_from is None:
            args += ["--latent-dim", str(self.config.latent_dim)]
            args += ["--hidden", ",".join(map(str, self.config.hidden_sizes))]
            if self.config.decoder_hidden_sizes != self.config.hidden_sizes[::-1]:
                args += ["--decoder-hidden", ",".join(map(str, self.config.decoder_hidden_sizes))]
        else:
            args += ["--init-from", str(runs_dir / self.init_from)]
        defaults = TrainOptions()
        for field in ("epochs", "lr", "lr_schedule", "kl_warmup", "iwae_samples", "seed"):
            value = getattr(self.options, field)
            if field in ("epochs", "seed") or value != getattr(defaults, field):
                args += [f"--{field.replace('_', '-')}", str(value)]
        return shlex.join([*args, "--out", str(runs_dir / self.name)])


def _options(**changes: Any) -> TrainOptions:
    """The default recipe (Adam 3e-3, cosine, batch 128, seed 0) with `changes`."""
    return TrainOptions(**changes)


def _iwae_stage(parent: Candidate, epochs: int, lr: float, samples: int) -> Candidate:
    """`parent` fine-tuned from its weights with the importance-weighted bound (`samples`
    per image): named after it, with its shape."""
    options = _options(epochs=epochs, lr=lr, iwae_samples=samples)
    return Candidate(f"{parent.name}-iwae{samples}", parent.config, options, parent.name)


# The default model bundled before this sweep: its recipe, 200 epochs; then fine-tuned
# with the importance-weighted bound (IWAE) in stages of more samples and lower rates.
_DEFAULT_E200 = Candidate(
    "default-e200", ModelConfig(hidden_sizes=(512, 256)), _options(epochs=200)
)
_DEFAULT_IWAE5 = _iwae_stage(_DEFAULT_E200, epochs=20, lr=3e-4, samples=5)
_DEFAULT_IWAE20 = _iwae_stage(_DEFAULT_IWAE5, epochs=30, lr=3e-4, samples=20)
_DEFAULT_IWAE50 = _iwae_stage(_DEFAULT_IWAE20, epochs=25, lr=2e-4, samples=50)
# Four times the tiny decoder's width (64 KiB as int8), then two IWAE stages.
_TINY_H256 = Candidate("tiny-h256-e100", ModelConfig(hidden_sizes=(256,)), _options(epochs=100))
_TINY_IWAE10 = _iwae_stage(_TINY_H256, epochs=10, lr=1e-3, samples=10)

# The sweep, in training order. Costs on the project's shared 2-core VM are in docs/models.md.
CANDIDATES = (
    _DEFAULT_E200,
    _DEFAULT_IWAE5,
    _DEFAULT_IWAE20,
    _DEFAULT_IWAE50,
    _iwae_stage(_DEFAULT_IWAE50, epochs=15, lr=2e-4, samples=100),
    # The tiny model bundled before this sweep: decoder 16-64-196.
    Candidate("tiny-h64-e200", ModelConfig(hidden_sizes=(64,)), _options(epochs=200)),
    _TINY_H256,
    _TINY_IWAE10,
    _iwae_stage(_TINY_IWAE10, epochs=15, lr=5e-4, samples=20),
)


def run_finished(run_dir: Path, candidate: Candidate) -> bool:
    """Whether `run_dir` holds a checkpoint of `candidate` that has trained all its epochs."""
    try:
        checkpoint = load_checkpoint(run_dir)
    except CheckpointError:
        return False
    return checkpoint.config == candidate.config and checkpoint.epoch == candidate.options.epochs


def train_candidate(
    candidate: Candidate, runs_dir: Path, images: dict[str, np.ndarray], log: Any = print
) -> Path:
    """Train `candidate` into runs_dir/NAME unless it has finished there; return the run."""
    run_dir = runs_dir / candidate.name
    if run_finished(run_dir, candidate):
        return run_dir
    if (run_dir / "checkpoint.pt").exists():
        raise SystemExit(f"{run_dir}: holds an unfinished or other run; remove it or finish it")
    log(f"training {candidate.name}: {candidate.command(runs_dir)}")
    start = None
    if candidate.init_from is not None:
        start = load_checkpoint(runs_dir / candidate.init_from)
    train(
        images["train"],
        images["validation"],
        run_dir,
        candidate.config,
        candidate.options,
        init_from=start,
        log=log,
        show_progress=False,
    )
    return run_dir


def export_variants(run_dir: Path, models_dir: Path) -> dict[str, Path]:
    """The run exported as float32 and int8 folders (kept when their checkpoint is unchanged)."""
    checkpoint = load_checkpoint(run_dir)
    stamp = f"{checkpoint.epoch}:{(run_dir / 'checkpoint.pt').stat().st_mtime_ns}"
    folders = {}
    models_dir.mkdir(parents=True, exist_ok=True)
    for variant in VARIANTS:
        folder = models_dir / f"{run_dir.name}-{variant}"
        stamp_file = models_dir / f"{folder.name}.source"
        if not (stamp_file.exists() and stamp_file.read_text() == stamp):
            export_model(checkpoint, folder, quantize=None if variant == "float32" else variant)
            write_text_atomic(stamp_file, stamp)
        folders[variant] = folder
    return folders


def cached_evaluation(
    folder: Path, split: Split, images: np.ndarray, k: int, seed: int
) -> dict[str, Any]:
    """`vae-edge evaluate`'s figures for `folder` on `images`, computed once per decoder."""
    manifest = read_manifest(folder)
    key = {
        "decoder_sha256": manifest.decoder.sha256,
        "encoder_sha256": manifest.encoder.sha256,
        "split": split,
        "n_images": len(images),
        "k": k,
        "seed": seed,
    }
    cache = folder.parent / f"{folder.name}.{split}-n{len(images)}-k{k}.json"
    if cache.exists():
        stored = json.loads(cache.read_text())
        if stored["key"] == key:
            return stored["evaluation"]
    started = time.perf_counter()
    result = evaluate(runtime.load(folder), images, k=k, seed=seed).to_dict()
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_text_atomic(cache, json.dumps({"key": key, "evaluation": result}, indent=2) + "\n")
    return result


def choose(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each budget, the row with the best validation bound among those that fit it."""
    chosen = {}
    for budget, limit in BUDGETS.items():
        fitting = [row for row in rows if row["decoder bytes"] <= limit]
        if fitting:
            chosen[budget] = min(fitting, key=lambda row: row["validation NLL bound"])
    return chosen


def plot_frontier(rows: list[dict[str, Any]], path: Path, split: Split = "test") -> None:
    """Decoder bytes (log) against `split`'s NLL bound, float32 and int8 points, the budgets."""
    bound = f"{split} NLL bound"
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for variant, marker in zip(VARIANTS, ("o", "^"), strict=True):
        points = [row for row in rows if row["variant"] == variant]
        axes.scatter(
            [row["decoder bytes"] for row in points],
            [row[bound] for row in points],
            marker=marker,
            label=variant,
        )
        for row in points:
            axes.annotate(
                row["candidate"],
                (row["decoder bytes"], row[bound]),
                fontsize=7,
                xytext=(4, 2),
                textcoords="offset points",
            )
    for budget, limit in BUDGETS.items():
        axes.axvline(limit, color="grey", linestyle=":", linewidth=1)
        axes.text(limit, axes.get_ylim()[1], f" {budget} budget", fontsize=8, va="top")
    axes.set_xscale("log")
    axes.set_xlabel("decoder.onnx size (bytes, log scale)")
    axes.set_ylabel(f"{bound} (nats per image, IWAE)")
    axes.set_title("vae-edge: likelihood per byte of decoder (lower is better)")
    axes.legend(loc="upper right")
    axes.grid(True, which="both", alpha=0.3)
    with atomic_path(path) as tmp_path:
        figure.savefig(tmp_path, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, help="candidate names to run")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/frontier"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--k", type=int, default=1000, help="IWAE samples per image")
    parser.add_argument("--train-images", type=int, default=None, help="first N only (smoke)")
    parser.add_argument("--test-images", type=int, default=None, help="first N only (smoke)")
    parser.add_argument("--epochs", type=int, default=None, help="override (smoke)")
    parser.add_argument(
        "--validation-only", action="store_true", help="choose and plot without the test split"
    )
    parser.add_argument("--name", default="frontier", help="report name in --results-dir")
    parser.add_argument(
        "--results-dir", type=Path, default=None, help="default: benchmarks/results"
    )
    parser.add_argument("--figure", type=Path, default=DOCS_DIR / "frontier.png")
    args = parser.parse_args()

    candidates = [c for c in CANDIDATES if args.only is None or c.name in args.only]
    if args.epochs is not None:
        candidates = [
            dataclasses.replace(c, options=dataclasses.replace(c.options, epochs=args.epochs))
            for c in candidates
        ]
    folder = resolve_data_dir(args.data_dir)
    images = {split: load_split(folder, split) for split in ("train", "validation", "test")}
    images["train"] = images["train"][: args.train_images]
    images["test"] = images["test"][: args.test_images]
    models_dir = args.runs_dir / "models"
    rows = []
    for candidate in candidates:
        run_dir = train_candidate(candidate, args.runs_dir, images)
        checkpoint = load_checkpoint(run_dir)
        seconds = sum(entry.get("seconds", 0.0) for entry in checkpoint.history)
        for variant, model_dir in export_variants(run_dir, models_dir).items():
            validation = cached_evaluation(model_dir, "validation", images["validation"], args.k, 0)
            config = candidate.config
            row = {
                "candidate": candidate.name,
                "variant": variant,
                "encoder": "-".join(map(str, (config.input_dim, *config.hidden_sizes))),
                "decoder": "-".join(map(str, config.decoder_sizes)),
                "decoder bytes": (model_dir / "decoder.onnx").stat().st_size,
                "validation NLL bound": round(validation["nll_bound"], 3),
            }
            if not args.validation_only:
                test = cached_evaluation(model_dir, "test", images["test"], args.k, 0)
                row["test NLL bound"] = round(test["nll_bound"], 3)
                row["test -ELBO"] = round(test["negative_elbo"], 3)
            # A run rebuilt from bundled graphs has no history (docs/models.md).
            row["training s"] = round(seconds) if checkpoint.history else "-"
            rows.append(row)
    chosen = choose(rows)
    for row in rows:
        row["chosen for"] = ", ".join(b for b, best in chosen.items() if best is row) or "-"
    write_report(
        args.name,
        f"Likelihood per byte of decoder: IWAE bound, K = {args.k}, seed 0 (validation "
        f"{len(images['validation'])} images"
        + ("" if args.validation_only else f", test {len(images['test'])}")
        + ")",
        rows,
        {
            "k": args.k,
            "budgets": BUDGETS,
            "recipes": {c.name: c.command(args.runs_dir) for c in candidates},
        },
        results_dir=args.results_dir,
    )
    plot_frontier(rows, args.figure, "validation" if args.validation_only else "test")


if __name__ == "__main__":
    main()
