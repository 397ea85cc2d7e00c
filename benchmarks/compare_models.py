"""Compare exported models for the default: test-set NLL bound, decoder latency and size.

    python -m benchmarks.compare_models model-a model-b --k 1000

Each model is scored by `vae_edge.runtime.evaluate` on the 10,000 test images (K
importance samples per image) and its decoder is timed at batch 1 on one thread.
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.report import write_report
from vae_edge import runtime
from vae_edge.mnist import load_split
from vae_edge.runtime.bench import time_calls
from vae_edge.runtime.evaluate import evaluate
from vae_edge.training.download import resolve_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="exported model folders")
    parser.add_argument("--k", type=int, default=1000, help="importance samples per image")
    parser.add_argument("--split", default="test", choices=["test", "validation"])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--name", default="compare_models", help="results file name")
    args = parser.parse_args()

    images = load_split(resolve_data_dir(args.data_dir), args.split)
    rows = []
    for model_dir in args.models:
        model = runtime.load(model_dir, threads=1)
        scores = evaluate(model, images, k=args.k, seed=0)
        z = np.zeros((1, model.latent_dim), np.float32)
        latency = statistics.median(time_calls(partial(model.decode, z), seconds=1.0))
        config = model.config
        decoder_bytes = (model_dir / model.manifest.decoder.file).stat().st_size
        rows.append(
            {
                "model": model_dir.name,
                "layers": "-".join(
                    map(str, (config.input_dim, *config.hidden_sizes, config.latent_dim))
                ),
                "activation": config.activation,
                "variant": model.manifest.variant,
                "epochs": model.manifest.training.get("epochs", "?"),
                f"{args.split} NLL bound K={args.k}": round(scores.nll_bound, 2),
                "-ELBO": round(scores.negative_elbo, 2),
                "recon": round(scores.reconstruction, 2),
                "KL": round(scores.kl, 2),
                "decoder (KiB)": round(decoder_bytes / 1024, 1),
                "decoder batch-1 (µs, 1 thread)": round(latency * 1e6, 1),
            }
        )
        print(rows[-1], flush=True)
    write_report(
        args.name,
        f"Models on the {len(images)} {args.split} images (nats/image, seed 0)",
        rows,
        {"k": args.k, "split": args.split},
    )


if __name__ == "__main__":
    main()
