"""The reference to beat: the PyTorch example VAE, trained the way that example trains it.

One hidden ReLU layer of 400 units, latent 20, Adam 1e-3, batch 128, a shuffling
DataLoader, on the same 14x14 binarized MNIST. The result is a normal vae-edge run
folder, so `vae-edge export` and `vae-edge evaluate` score it exactly like our models.

    python -m benchmarks.reference_vae --out runs/reference --epochs 10
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.train_loop import dataloader_epoch
from vae_edge.config import ModelConfig
from vae_edge.mnist import load_split
from vae_edge.training.checkpoint import Checkpoint
from vae_edge.training.download import resolve_data_dir
from vae_edge.training.model import VAE
from vae_edge.training.train import (
    VALIDATION_SEED_OFFSET,
    TrainOptions,
    epoch_record,
    evaluate_loss,
)

REFERENCE_CONFIG = ModelConfig(latent_dim=20, hidden_sizes=(400,), activation="relu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/reference"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    folder = resolve_data_dir(args.data_dir)
    train_images = torch.from_numpy(load_split(folder, "train"))
    validation_images = torch.from_numpy(load_split(folder, "validation"))
    options = TrainOptions(
        epochs=args.epochs, batch_size=128, lr=1e-3, lr_schedule="constant", seed=args.seed
    )
    torch.manual_seed(args.seed)
    vae = VAE(REFERENCE_CONFIG)
    optimizer = torch.optim.Adam(vae.parameters(), lr=options.lr)
    loader = DataLoader(TensorDataset(train_images), batch_size=options.batch_size, shuffle=True)
    history = []
    args.out.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        dataloader_epoch(vae, optimizer, loader)
        seconds = time.perf_counter() - started
        seed = options.seed + VALIDATION_SEED_OFFSET
        history.append(
            epoch_record(
                epoch,
                evaluate_loss(vae, train_images, seed=seed),
                evaluate_loss(vae, validation_images, seed=seed),
                seconds,
            )
        )
        val_bce, val_kl = history[-1]["validation_reconstruction"], history[-1]["validation_kl"]
        print(f"epoch {epoch:3d}  val recon {val_bce:7.3f} kl {val_kl:6.3f}  ({seconds:.1f}s)")
    Checkpoint(
        config=REFERENCE_CONFIG,
        options=asdict(options),
        epoch=args.epochs,
        model_state=vae.state_dict(),
        optimizer_state=optimizer.state_dict(),
        rng_state=torch.get_rng_state(),
        history=history,
    ).save(args.out / "checkpoint.pt")
    print(f"wrote {args.out / 'checkpoint.pt'}")


if __name__ == "__main__":
    main()
