"""The four figures of a training run, drawn with matplotlib (training side only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

# Figure objects rather than pyplot: no global state and no display backend needed.
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vae_edge.atomic import atomic_path
from vae_edge.grid import tile
from vae_edge.training.model import VAE

FIGURE_NAMES = (
    "reconstruction_train.png",
    "reconstruction_validation.png",
    "samples.png",
    "training_curves.png",
)


def _save_figure(figure: Figure, path: Path) -> None:
    with atomic_path(path) as tmp_path:
        figure.savefig(tmp_path, format="png", dpi=100, bbox_inches="tight")


def _show_grid(canvas: np.ndarray, title: str, path: Path) -> None:
    figure = Figure(figsize=(canvas.shape[1] / 20, canvas.shape[0] / 20 + 0.4))
    axis = figure.subplots()
    axis.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axis.set_title(title)
    axis.axis("off")
    _save_figure(figure, path)


@torch.inference_mode()
def plot_reconstructions(model: VAE, images: np.ndarray, title: str, path: Path) -> None:
    """Originals (top row) above their reconstructions from mu (bottom row)."""
    side = model.config.image_side
    inputs = torch.from_numpy(images)
    mu, _ = model.encoder(inputs)
    reconstructions = model.decoder.probs(mu).numpy()
    pair = np.concatenate([images, reconstructions]).reshape(-1, side, side)
    _show_grid(tile(pair, n_columns=images.shape[0]), title, path)


@torch.inference_mode()
def plot_samples(model: VAE, path: Path, n_samples: int = 64, seed: int = 0) -> None:
    """A grid of digits decoded from z ~ N(0, I)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n_samples, model.config.latent_dim, generator=generator)
    side = model.config.image_side
    samples = model.decoder.probs(z).numpy().reshape(-1, side, side)
    _show_grid(tile(samples, n_columns=int(np.ceil(np.sqrt(n_samples)))), "samples", path)


def plot_training_curves(history: list[dict[str, float]], path: Path) -> None:
    """Reconstruction error and KL per epoch, train against validation."""
    epochs = [entry["epoch"] for entry in history]
    figure = Figure(figsize=(10, 4), layout="tight")
    axes = figure.subplots(1, 2)
    for axis, term, label in (
        (axes[0], "reconstruction", "reconstruction error (BCE, nats/image)"),
        (axes[1], "kl", "KL divergence (nats/image)"),
    ):
        axis.plot(epochs, [e[f"train_{term}"] for e in history], "o-", label="train")
        axis.plot(epochs, [e[f"validation_{term}"] for e in history], "s-", label="validation")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    _save_figure(figure, path)


def plot_run(
    model: VAE,
    history: list[dict[str, float]],
    train_images: np.ndarray,
    validation_images: np.ndarray,
    out_dir: Path,
    n_examples: int = 16,
) -> list[Path]:
    """Write the four figures of a run into `out_dir`; returns their paths."""
    paths = [out_dir / name for name in FIGURE_NAMES]
    plot_reconstructions(model, train_images[:n_examples], "training images", paths[0])
    plot_reconstructions(model, validation_images[:n_examples], "validation images", paths[1])
    plot_samples(model, paths[2])
    plot_training_curves(history, paths[3])
    return paths
