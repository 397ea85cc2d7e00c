"""Shared fixtures: the real MNIST files, and one small trained and exported model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SMALL_EPOCHS = 2


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The four official MNIST files: $VAE_EDGE_DATA, else ../shared/data/mnist."""
    folder = os.environ.get("VAE_EDGE_DATA")
    return Path(folder) if folder else Path(__file__).resolve().parents[2] / "shared/data/mnist"


@pytest.fixture(scope="session")
def small_mnist_dir(tmp_path_factory, mnist_dir) -> Path:
    """The first 2,000 training and 1,200 test images and labels of the real MNIST files:
    for tests and benchmark smoke runs that need MNIST files but not all of them."""
    from mnist_files import write_mnist_slice

    target = tmp_path_factory.mktemp("small-mnist")
    return write_mnist_slice(mnist_dir, target, {"train": 2000, "test": 1200})


@pytest.fixture(scope="session")
def dead_pid() -> int:
    """The id of a process that has ended: its temporaries are orphans."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(ended.stdout)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory, mnist_dir) -> Path:
    """A run folder: a small VAE trained for two epochs on 6,000 real training images."""
    from vae_edge.config import ModelConfig
    from vae_edge.mnist import load_split
    from vae_edge.training.options import TrainOptions
    from vae_edge.training.train import train

    run_dir = tmp_path_factory.mktemp("small-run")
    train(
        load_split(mnist_dir, "train")[:6000],
        load_split(mnist_dir, "validation"),
        run_dir,
        ModelConfig(latent_dim=6, hidden_sizes=(48,)),
        TrainOptions(epochs=SMALL_EPOCHS),
        log=lambda _: None,
        show_progress=False,
    )
    return run_dir


@pytest.fixture(scope="session")
def small_vae(small_run):
    """The small run's PyTorch VAE, in eval mode."""
    from vae_edge.training.checkpoint import load_checkpoint, vae_from_checkpoint

    return vae_from_checkpoint(load_checkpoint(small_run))


@pytest.fixture(scope="session")
def small_model_dir(small_run, tmp_path_factory) -> Path:
    """The small run exported to ONNX (treat as read-only; copy it to damage it)."""
    from vae_edge.export import export_model
    from vae_edge.training.checkpoint import load_checkpoint

    model_dir = tmp_path_factory.mktemp("small-model") / "model"
    export_model(load_checkpoint(small_run), model_dir)
    return model_dir


@pytest.fixture(scope="session")
def small_int8_dir(small_run, tmp_path_factory) -> Path:
    """The small run exported by `vae-edge export --quantize int8` (treat as read-only)."""
    from click.testing import CliRunner

    from vae_edge.cli import main

    model_dir = tmp_path_factory.mktemp("small-int8") / "model"
    result = CliRunner().invoke(
        main, ["export", str(small_run), "-o", str(model_dir), "--quantize", "int8"]
    )
    assert result.exit_code == 0, result.output
    return model_dir
