"""Training speed: vae-edge's tensor-slice loop against a plain DataLoader loop.

Same model, batch size, optimizer and data; the two loops alternate epoch by epoch so
machine drift hits both. Prints a Markdown table and writes JSON beside this script.

    python -m benchmarks.train_loop --data-dir ../shared/data/mnist --epochs 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.report import write_report
from vae_edge.config import ModelConfig
from vae_edge.mnist import load_split
from vae_edge.training.download import resolve_data_dir
from vae_edge.training.model import VAE, loss_terms
from vae_edge.training.options import TrainOptions
from vae_edge.training.train import train_epoch


def dataloader_epoch(model: VAE, optimizer: torch.optim.Optimizer, loader: DataLoader) -> None:
    """The textbook loop (pytorch/examples vae): a DataLoader yielding per-sample tensors."""
    model.train()
    for (batch,) in loader:
        bce, kl = loss_terms(batch, *model(batch))
        optimizer.zero_grad(set_to_none=True)
        (bce + kl).backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per loop")
    args = parser.parse_args()

    images = load_split(resolve_data_dir(args.data_dir), "train")
    config, options = ModelConfig(), TrainOptions()
    torch.manual_seed(0)
    ours, theirs = VAE(config), VAE(config)
    ours_optimizer = torch.optim.Adam(ours.parameters(), lr=options.lr)
    theirs_optimizer = torch.optim.Adam(theirs.parameters(), lr=options.lr)
    tensor = torch.from_numpy(images)
    generator = torch.Generator().manual_seed(0)
    loader = DataLoader(TensorDataset(tensor), batch_size=options.batch_size, shuffle=True)

    seconds: dict[str, list[float]] = {"tensor slices (vae-edge)": [], "DataLoader": []}
    for _ in range(args.epochs):
        started = time.perf_counter()
        train_epoch(ours, ours_optimizer, tensor, options.batch_size, generator)
        seconds["tensor slices (vae-edge)"].append(time.perf_counter() - started)
        started = time.perf_counter()
        dataloader_epoch(theirs, theirs_optimizer, loader)
        seconds["DataLoader"].append(time.perf_counter() - started)

    medians = {name: statistics.median(values) for name, values in seconds.items()}
    baseline = medians["DataLoader"]
    rows = [
        {
            "loop": name,
            "median epoch (s)": round(median, 3),
            "10 epochs (s)": round(10 * median, 1),
            "speed-up vs DataLoader": round(baseline / median, 2),
        }
        for name, median in medians.items()
    ]
    write_report(
        "train_loop",
        f"Training loop, {len(images)} images, {config.input_dim}-"
        f"{'-'.join(map(str, config.hidden_sizes))}-{config.latent_dim}, "
        f"batch {options.batch_size}, median of {args.epochs} epochs",
        rows,
        {"seconds": seconds},
    )


if __name__ == "__main__":
    main()
