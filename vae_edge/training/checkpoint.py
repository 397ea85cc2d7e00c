"""Training checkpoints: weights, model config, optimizer, RNG and history in one file.

Saved atomically and loaded with `weights_only=True`, so a checkpoint can be trusted not
to run code and is never seen half-written.
"""

from __future__ import annotations

import io
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vae_edge import __version__
from vae_edge.atomic import write_bytes_atomic
from vae_edge.config import ModelConfig
from vae_edge.errors import VaeEdgeError, first_line
from vae_edge.training.model import VAE
from vae_edge.training.options import TrainOptions

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
# What a run's history records about each completed epoch (`train.epoch_record`).
HISTORY_FIELDS = (
    "epoch",
    "train_reconstruction",
    "train_kl",
    "validation_reconstruction",
    "validation_kl",
    "seconds",
)


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
    # SHA-256 of the training and validation arrays; None in checkpoints from before.
    data_fingerprint: str | None = None
    # For a run started from another run's weights (`vae-edge train --init-from`): that
    # run's `lineage()`, so the manifest tells every stage the weights went through.
    started_from: dict[str, Any] | None = None

    def train_options(self) -> TrainOptions:
        """The run's TrainOptions (an option added since takes its default)."""
        return TrainOptions(**self.options)

    def lineage(self) -> dict[str, Any]:
        """How these weights were trained: epochs and options, and what they started from."""
        record: dict[str, Any] = {"epochs": self.epoch, "options": self.options}
        if self.started_from is not None:
            record["started_from"] = self.started_from
        return record

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
            "data_fingerprint": self.data_fingerprint,
            "started_from": self.started_from,
        }
        # Serialized in memory first: torch.save reports a full disk as a RuntimeError,
        # a plain write as the OSError that `write_bytes_atomic` names the file by.
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        write_bytes_atomic(path, buffer.getvalue())


def vae_from_checkpoint(checkpoint: Checkpoint) -> VAE:
    """The checkpoint's VAE in eval mode on the CPU."""
    vae = VAE(checkpoint.config)
    vae.load_state_dict(checkpoint.model_state)
    return vae.eval()


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
        raise CheckpointError(f"{path}: not a readable checkpoint ({first_line(error)})") from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise CheckpointError(f"{path}: not a vae-edge checkpoint")
    if payload["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {payload['format']!r} is not one this vae-edge "
            f"{__version__} reads (format {CHECKPOINT_FORMAT})"
        )
    try:
        checkpoint = Checkpoint(
            config=ModelConfig.from_dict(payload["config"]),
            options=dict(payload["options"]),
            epoch=_checked_epoch(payload["epoch"]),
            model_state=payload["model"],
            optimizer_state=payload["optimizer"],
            rng_state=payload["rng_state"],
            history=_checked_history(payload["history"], payload["epoch"]),
            package_version=str(payload["package_version"]),
            data_fingerprint=payload.get("data_fingerprint"),
            started_from=payload.get("started_from"),
        )
        checkpoint.train_options()
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: malformed checkpoint ({error!r})") from None
    _check_fit(checkpoint, path)
    return checkpoint


def _checked_epoch(epoch: object) -> int:
    """`epoch` if it is a count of completed epochs: an integer >= 0."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch is {epoch!r:.40}, expected an integer >= 0")
    return epoch


def _checked_history(history: object, epochs: int) -> list[dict[str, float]]:
    """`history` if it is a list of `epochs` epoch records: each field a finite number."""
    if not isinstance(history, list):
        raise TypeError(f"history is {type(history).__name__}, expected a list of epochs")
    if len(history) != epochs:
        raise ValueError(f"history holds {len(history)} epochs, the checkpoint {epochs}")
    for index, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise TypeError(f"history entry {index} is {entry!r:.40}, expected a dict")
        for field in HISTORY_FIELDS:
            value = entry.get(field)
            is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not (is_number and math.isfinite(value)):
                raise ValueError(f"history entry {index}: {field} is {value!r:.40}")
    return history


def _check_fit(checkpoint: Checkpoint, path: Path) -> None:
    """Refuse a checkpoint whose weights, optimizer or RNG state do not fit its config."""
    model = VAE(checkpoint.config)
    try:
        model.load_state_dict(checkpoint.model_state)  # strict: no missing or extra weight
        optimizer = torch.optim.Adam(model.parameters())
        optimizer.load_state_dict(checkpoint.optimizer_state)
        for parameter in model.parameters():
            for name, value in optimizer.state.get(parameter, {}).items():
                if name != "step" and value.shape != parameter.shape:
                    raise ValueError(f"optimizer state {name} has shape {tuple(value.shape)}")
        rng_state = checkpoint.rng_state
        if not isinstance(rng_state, torch.Tensor) or rng_state.dtype != torch.uint8:
            raise TypeError("the RNG state is not a byte tensor")
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(
            f"{path}: the checkpoint does not fit its own model config ({first_line(error)})"
        ) from None
