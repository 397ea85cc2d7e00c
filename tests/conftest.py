"""Shared fixtures: where the real MNIST files are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The four official MNIST files: $VAE_EDGE_DATA, else ../shared/data/mnist."""
    folder = os.environ.get("VAE_EDGE_DATA")
    return Path(folder) if folder else Path(__file__).resolve().parents[2] / "shared/data/mnist"
