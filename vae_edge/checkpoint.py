"""Training checkpoints: weights, model config, optimizer, RNG and history in one file.

Saved atomically and loaded with `weights_only=True`, so a checkpoint can be trusted not
to run code and is never seen half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vae_edge import __version__
from vae_edge.atomic import atomic_path
from vae_edge.config import ModelConfig
from vae_edge.errors import VaeEdgeError

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


class CheckpointError(VaeEdgeError, ValueError):
    """A checkpoint is missing, corrupted or not one of ours."""


@dataclass
class Checkpoint:
    """What a run has saved after `epoch` completed epochs (0 = initial weights)."""

    config: ModelConfig
    options: dict[str, Any]
    epoch: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    rng_state: torch.Tensor
    history: list[dict[str, float]]
    package_version: str = __version__

    def save(self, path: str | Path) -> None:
        """Write the checkpoint to `path` atomically."""
        payload = {
            "format": CHECKPOINT_FORMAT,
            "package_version": self.package_version,
            "config": self.config.to_dict(),
            "options": self.options,
            "epoch": self.epoch,
            "model": self.model_state,
            "optimizer": self.optimizer_state,
            "rng_state": self.rng_state,
            "history": self.history,
        }
        with atomic_path(path) as tmp_path:
            torch.save(payload, tmp_path)


def checkpoint_path(run_or_checkpoint: str | Path) -> Path:
    """Accept a run folder or a checkpoint file and return the checkpoint file's path."""
    path = Path(run_or_checkpoint)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def load_checkpoint(run_or_checkpoint: str | Path) -> Checkpoint:
    """Load a checkpoint (or a run folder's checkpoint); `CheckpointError` names a bad file."""
    path = checkpoint_path(run_or_checkpoint)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise CheckpointError(f"{path}: not a readable checkpoint ({first_line})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a vae-edge checkpoint (format {CHECKPOINT_FORMAT})")
    try:
        return Checkpoint(
            config=ModelConfig.from_dict(payload["config"]),
            options=dict(payload["options"]),
            epoch=int(payload["epoch"]),
            model_state=payload["model"],
            optimizer_state=payload["optimizer"],
            rng_state=payload["rng_state"],
            history=list(payload["history"]),
            package_version=str(payload["package_version"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: incomplete checkpoint ({error!r})") from None
