"""How to train: the VAE's and the digit classifier's options (torch-free, so the command
line can show their defaults without importing torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vae_edge.errors import InputError

LR_SCHEDULES = ("constant", "cosine")
# IWAE training decodes this many samples per image at most: each costs a decoder pass.
MAX_IWAE_SAMPLES = 1000
# Denoising flips at most half of an image's pixels: more would invert it, not corrupt it.
MAX_INPUT_FLIP = 0.5
# Seeds reach torch.manual_seed, which takes at most a 64-bit value.
MAX_SEED = 2**63 - 1
# TrainOptions' integer fields and their least values.
INTEGER_OPTIONS = {"epochs": 1, "batch_size": 1, "kl_warmup": 0, "seed": 0}


def cosine_lr(lr: float, epoch: int, epochs: int) -> float:
    """`lr` decayed along a cosine from itself in epoch 1 towards 0 after epoch `epochs`."""
    return lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))


@dataclass(frozen=True)
class TrainOptions:
    """How to train: everything besides the model's shape."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    kl_warmup: int = 0
    # Denoising: each training image gets a flip rate drawn from U(0, input_flip) and each
    # of its pixels flips with that rate before the encoder sees it; the loss still
    # reconstructs the clean image. 0 trains a plain VAE.
    input_flip: float = 0.0
    # Training objective: 1 is the ELBO (closed-form KL); k > 1 the importance-weighted
    # bound with k latent samples per image (IWAE, Burda et al. 2016).
    iwae_samples: int = 1
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        # Checked as strictly as the command line does: a checkpoint's options come here too.
        for name, low in INTEGER_OPTIONS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.seed > MAX_SEED:
            raise InputError(f"seed must be at most {MAX_SEED}, got {self.seed}")
        if not isinstance(self.device, str):
            raise InputError(f"device must be a name such as 'cpu', got {self.device!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"lr must be a positive finite number, got {self.lr}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InputError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule}")
        if not 0 <= self.input_flip <= MAX_INPUT_FLIP:
            raise InputError(f"input_flip must be in [0, {MAX_INPUT_FLIP}], got {self.input_flip}")
        if not 1 <= self.iwae_samples <= MAX_IWAE_SAMPLES:
            raise InputError(
                f"iwae_samples must be 1 to {MAX_IWAE_SAMPLES}, got {self.iwae_samples}"
            )
        if self.iwae_samples > 1 and self.kl_warmup:
            raise InputError("kl_warmup weighs the ELBO's KL term; use it with iwae_samples 1")

    def epoch_lr(self, epoch: int) -> float:
        """Learning rate of 1-based `epoch`: constant, or cosine-decayed towards 0."""
        if self.lr_schedule == "constant":
            return self.lr
        return cosine_lr(self.lr, epoch, self.epochs)

    def kl_weight(self, epoch: int) -> float:
        """Weight of the KL term in 1-based `epoch`: rises linearly to 1 over `kl_warmup`."""
        return min(1.0, epoch / self.kl_warmup) if self.kl_warmup else 1.0


@dataclass(frozen=True)
class ClassifierOptions:
    """How the latent digit classifier trains: Adam, learning rate decayed along a cosine.

    `input_flip` corrupts the training images as denoising training does (a flip rate
    per image from U(0, input_flip)), so the classifier also learns noisy digits' codes;
    `vae-edge train-classifier` uses the model's own `TrainOptions.input_flip`: the
    corruption its encoder was trained to see through.
    """

    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-3
    input_flip: float = 0.0
    seed: int = 0

    def epoch_lr(self, epoch: int) -> float:
        """Learning rate of 1-based `epoch`, cosine-decayed towards 0."""
        return cosine_lr(self.lr, epoch, self.epochs)


@dataclass(frozen=True)
class M2Options(ClassifierOptions):
    """How M2 trains on latent codes (`vae_edge.training.m2`): Adam, cosine-decayed rate.

    Each training image gives its clean code and, unless `input_flip` is 0, `copies`
    codes of noisy copies (pixels flipped at a rate from U(0, input_flip) per copy), so
    few labels go further and the classifier also knows noisy digits' codes. The labelled
    codes' mean cross-entropy weighs `alpha` times the number of labels against the
    codes' mean bounds: Kingma et al. 2014's alpha = 0.1 N on sums over the data, which
    leans on the labels more as there are more of them. Twenty epochs: with all labels,
    8 reached 90.8 % clean validation accuracy on the default model, 20 reached 94.5 %.
    """

    epochs: int = 20
    batch_size: int = 512
    lr: float = 3e-3
    alpha: float = 0.1
    copies: int = 2
