"""The training loop: whole data set in one tensor, index-slice batches, atomic checkpoints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import click
import numpy as np
import torch

from vae_edge.atomic import remove_orphans, write_text_atomic
from vae_edge.config import ModelConfig
from vae_edge.errors import InputError, VaeEdgeError, first_line
from vae_edge.training.checkpoint import (
    CHECKPOINT_NAME,
    HISTORY_FIELDS,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
)
from vae_edge.training.model import VAE, flip_pixels, iwae_terms, loss_terms
from vae_edge.training.options import TrainOptions

HISTORY_NAME = "history.json"
LOCK_NAME = ".vae-edge-train.lock"
# Validation draws its eps from a generator of its own, so evaluating never shifts the
# training stream and a resumed run stays bit-identical to an uninterrupted one.
VALIDATION_SEED_OFFSET = 1_000_003


class RunFolderBusy(VaeEdgeError):
    """Another process is training into the same run folder."""


class TrainingError(VaeEdgeError):
    """Training cannot go on: the loss is no longer a finite number (it diverged)."""


@dataclass
class TrainResult:
    """What a call to `train` left behind."""

    model: VAE
    history: list[dict[str, float]]
    epochs_done: int
    interrupted: bool


def epoch_record(
    epoch: int, train: tuple[float, float], validation: tuple[float, float], seconds: float
) -> dict[str, float]:
    """One entry of a run's history: (reconstruction, KL) on train and validation."""
    return dict(zip(HISTORY_FIELDS, (epoch, *train, *validation, seconds), strict=True))


def data_fingerprint(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' bytes: tells whether a resumed run sees the same data."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def resolve_device(name: str) -> torch.device:
    """'auto' means a GPU where PyTorch sees one, else the CPU; else cpu, cuda or cuda:N."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise InputError(f"unknown device {name!r}, expected auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but PyTorch sees no CUDA GPU")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise InputError(f"device {name!r}: PyTorch sees {torch.cuda.device_count()} GPU(s)")
    return device


@contextlib.contextmanager
def lock_run_folder(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on run folder `out_dir` (Linux/macOS flock) while training.

    A second `train` on the same folder fails at once with `RunFolderBusy` instead of
    silently overwriting the first one's checkpoints. The kernel drops the lock when the
    process ends, however it ends; a run that ends normally also removes the lock file.
    """
    import fcntl  # POSIX only, like the rest of the training CLI's process handling

    lock_path = out_dir / LOCK_NAME
    while True:
        lock_file = open(lock_path, "a+")  # noqa: SIM115 (held open while training)
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "another process"
            lock_file.close()
            raise RunFolderBusy(
                f"--out {out_dir}: another vae-edge train ({holder}) is using this run "
                "folder; wait for it or choose another --out"
            ) from None
        if is_same_file(lock_file, lock_path):
            break
        lock_file.close()  # its holder removed it as we opened it: lock the new one
    with lock_file:
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"pid {os.getpid()}")
        lock_file.flush()
        try:
            remove_orphans(out_dir)  # checkpoint temporaries of a run killed with -9
            yield
        finally:
            lock_path.unlink(missing_ok=True)  # still held: nobody locks the old file


def is_same_file(opened: IO[str], path: Path) -> bool:
    """Whether `path` still names the file `opened` is (not removed or replaced since)."""
    try:
        return os.path.samestat(os.fstat(opened.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def resumed_options(checkpoint: Checkpoint, epochs: int, device: str) -> TrainOptions:
    """The run's own options, with the total epochs to reach and the device to use.

    The cosine schedule is a function of the total, so a different total would not give
    the weights an uninterrupted run of that total reaches: it is refused.
    """
    stored = checkpoint.train_options()
    if stored.lr_schedule == "cosine" and epochs != stored.epochs:
        raise InputError(
            f"epochs {epochs} differs from the {stored.epochs} that the run's cosine "
            "learning-rate schedule spans; resume to that total (runs trained with "
            "--lr-schedule constant can be extended)"
        )
    return TrainOptions(**{**asdict(stored), "epochs": epochs, "device": device})


@torch.inference_mode()
def evaluate_loss(
    model: VAE, images: torch.Tensor, seed: int, batch_size: int = 1000
) -> tuple[float, float]:
    """Mean per-image (reconstruction BCE, KL) over `images`, with a fixed eps stream."""
    model.eval()
    generator = torch.Generator(device=images.device).manual_seed(seed)
    bce_total = kl_total = 0.0
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size]
        bce, kl = loss_terms(batch, *model(batch, generator))
        bce_total += bce.item() * batch.shape[0]
        kl_total += kl.item() * batch.shape[0]
    return bce_total / images.shape[0], kl_total / images.shape[0]


def train(
    train_images: np.ndarray,
    validation_images: np.ndarray,
    out_dir: str | Path,
    config: ModelConfig,
    options: TrainOptions,
    *,
    resume_from: Checkpoint | None = None,
    init_from: Checkpoint | None = None,
    log: Callable[[str], None] = click.echo,
    show_progress: bool = True,
) -> TrainResult:
    """Train (or, with `resume_from`, continue) a VAE; checkpoint to `out_dir` after every epoch.

    `train_images` and `validation_images` are binarized float32 arrays [N, 196]. With
    `resume_from`, the model config and options stored in that checkpoint are used, except
    `options.epochs` and `options.device`: the total number of epochs to reach and where
    (see `resumed_options`). Ctrl-C stops the run between batches; the checkpoint of the
    last completed epoch stays usable for resuming. A loss that is no longer finite stops
    the run with `TrainingError`, the checkpoint keeping the last finite epoch.

    With `init_from` (a new run only), the model takes that checkpoint's config and
    weights and trains them on with `options` and a fresh optimizer: fine-tuning, for
    example with another objective.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(options.device)
    fingerprint = data_fingerprint(train_images, validation_images)
    if resume_from is not None:
        config = resume_from.config
        options = resumed_options(resume_from, options.epochs, options.device)
        if resume_from.data_fingerprint not in (None, fingerprint):
            log(
                "warning: the training or validation data differ from those the run was "
                "trained on so far; the result will not match an uninterrupted run"
            )
    started_from = None
    if resume_from is not None:
        started_from = resume_from.started_from
    elif init_from is not None:
        config, started_from = init_from.config, init_from.lineage()
    torch.manual_seed(options.seed)  # weight initialisation
    model = VAE(config).to(device)
    if resume_from is None and init_from is not None:
        model.load_state_dict(init_from.model_state)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr)
    generator = torch.Generator(device=device).manual_seed(options.seed)
    history: list[dict[str, float]] = []
    start_epoch = 0
    if resume_from is not None:
        try:
            model.load_state_dict(resume_from.model_state)
            optimizer.load_state_dict(resume_from.optimizer_state)
            generator.set_state(resume_from.rng_state)
        except (RuntimeError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(
                f"{out_dir / CHECKPOINT_NAME}: cannot resume from it ({first_line(error)})"
            ) from None
        history = list(resume_from.history)
        start_epoch = resume_from.epoch

    def save(epoch: int) -> None:
        Checkpoint(
            config=config,
            options=asdict(options),
            epoch=epoch,
            model_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
            optimizer_state=optimizer.state_dict(),
            rng_state=generator.get_state(),
            history=history,
            data_fingerprint=fingerprint,
            started_from=started_from,
        ).save(out_dir / CHECKPOINT_NAME)
        history_text = json.dumps(history, indent=2, allow_nan=False)
        write_text_atomic(out_dir / HISTORY_NAME, history_text + "\n")

    if resume_from is None:
        save(0)  # so even a run stopped in its first epoch leaves a resumable checkpoint
    train_tensor = torch.from_numpy(train_images).to(device)
    validation_tensor = torch.from_numpy(validation_images).to(device)
    epoch = start_epoch
    try:
        for epoch in range(start_epoch + 1, options.epochs + 1):
            started = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = options.epoch_lr(epoch)
            train_bce, train_kl = train_epoch(
                model,
                optimizer,
                train_tensor,
                options.batch_size,
                generator,
                label=f"epoch {epoch}/{options.epochs}",
                epoch=epoch,
                kl_weight=options.kl_weight(epoch),
                input_flip=options.input_flip,
                iwae_samples=options.iwae_samples,
                show_progress=show_progress,
            )
            val_bce, val_kl = evaluate_loss(
                model, validation_tensor, seed=options.seed + VALIDATION_SEED_OFFSET
            )
            check_finite(epoch, "validation", val_bce, val_kl)
            history.append(
                epoch_record(
                    epoch, (train_bce, train_kl), (val_bce, val_kl), time.perf_counter() - started
                )
            )
            save(epoch)
            log(
                f"epoch {epoch:3d}/{options.epochs}  "
                f"train recon {train_bce:7.3f} kl {train_kl:6.3f}  "
                f"val recon {val_bce:7.3f} kl {val_kl:6.3f}  "
                f"({history[-1]['seconds']:.1f}s)"
            )
    except KeyboardInterrupt:
        saved = load_checkpoint(out_dir / CHECKPOINT_NAME)
        log(
            f"interrupted: checkpoint holds {saved.epoch} completed epoch(s); "
            "continue with --resume"
        )
        model.load_state_dict(saved.model_state)
        return TrainResult(model.cpu().eval(), saved.history, saved.epoch, interrupted=True)
    return TrainResult(model.cpu().eval(), history, epoch, interrupted=False)


def check_finite(epoch: int, part: str, bce: float, kl: float) -> None:
    """Stop a diverged run: a NaN or infinite loss would only spread into the weights."""
    if not (math.isfinite(bce) and math.isfinite(kl)):
        raise TrainingError(
            f"epoch {epoch}: the {part} loss is not finite (reconstruction {bce}, KL {kl}); "
            f"training stopped, {CHECKPOINT_NAME} keeps epoch {epoch - 1}; "
            "try a smaller --lr"
        )


def train_epoch(
    model: VAE,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    label: str = "",
    show_progress: bool = False,
    kl_weight: float = 1.0,
    input_flip: float = 0.0,
    iwae_samples: int = 1,
    epoch: int = 1,
) -> tuple[float, float]:
    """One pass over `images` in a random order; returns mean per-image (BCE, KL).

    Raises `TrainingError` at the first batch whose loss is not finite (`epoch` names it).

    The optimizer minimizes BCE + kl_weight * KL (kl_weight < 1 only during KL warm-up),
    or with `iwae_samples` > 1 the importance-weighted bound (`iwae_terms`); the returned
    BCE and KL are the ELBO's terms either way.
    With `input_flip` > 0 the encoder sees corrupted images (`flip_pixels`) and the BCE
    is still taken against the clean ones: the denoising criterion.
    """
    model.train()
    n_images = images.shape[0]
    order = torch.randperm(n_images, generator=generator, device=images.device)
    starts = range(0, n_images, batch_size)
    bce_total = kl_total = 0.0
    seen = 0

    def running_loss(_: object) -> str:
        return f"loss {(bce_total + kl_total) / seen:.2f}" if seen else ""

    progress = click.progressbar(
        starts, label=label, file=sys.stderr, item_show_func=running_loss, width=24
    )
    with progress if show_progress else contextlib.nullcontext(starts) as batch_starts:
        for start in batch_starts:
            batch = images[order[start : start + batch_size]]
            seen_by_encoder = flip_pixels(batch, input_flip, generator) if input_flip else batch
            if iwae_samples > 1:
                loss, bce, kl = iwae_terms(model, batch, seen_by_encoder, iwae_samples, generator)
            else:
                bce, kl = loss_terms(batch, *model(seen_by_encoder, generator))
                loss = bce + kl_weight * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            batch_bce, batch_kl = bce.item(), kl.item()
            check_finite(epoch, "training", batch_bce, batch_kl)
            bce_total += batch_bce * batch.shape[0]
            kl_total += batch_kl * batch.shape[0]
            seen += batch.shape[0]
    return bce_total / seen, kl_total / seen
