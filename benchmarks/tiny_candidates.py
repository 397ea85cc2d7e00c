"""Candidates for the tiny model: validation loss of training runs beside decoder size.

    python -m benchmarks.tiny_candidates runs/tiny-h64-e30 runs/tiny-h72-e30 ...

Reads each run's history.json (the last epoch's validation reconstruction + KL, the
negative ELBO, nats per image) and counts the decoder's float32 weights from the run's
model shape, to choose the best decoder that fits a 64 KiB microcontroller.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from benchmarks.report import write_report
from vae_edge.config import ModelConfig
from vae_edge.training.checkpoint import load_checkpoint

FLASH_BUDGET = 64 * 1024


def decoder_weights(config: ModelConfig) -> int:
    """Weights and biases of the decoder's layers."""
    return sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(config.decoder_sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="training run folders")
    parser.add_argument("--name", default="tiny_candidates", help="results file name")
    args = parser.parse_args()

    rows = []
    for run in args.runs:
        config = load_checkpoint(run).config
        last = json.loads((run / "history.json").read_text())[-1]
        weight_bytes = 4 * decoder_weights(config)
        rows.append(
            {
                "run": run.name,
                "decoder": "-".join(map(str, config.decoder_sizes)),
                "epochs": last["epoch"],
                "validation -ELBO": round(
                    last["validation_reconstruction"] + last["validation_kl"], 2
                ),
                "decoder float32 weights (bytes)": weight_bytes,
                "share of 64 KiB": round(weight_bytes / FLASH_BUDGET, 3),
            }
        )
    write_report(args.name, "Tiny-model candidates (validation set, nats/image)", rows, {})


if __name__ == "__main__":
    main()
