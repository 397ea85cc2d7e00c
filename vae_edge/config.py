"""What travels with a model from training to checkpoint, manifest and runtime.

The model's shape (`ModelConfig`), how images become its inputs, the data splits and the
export tolerance. How a model is trained lives in `vae_edge.training.options`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from vae_edge.errors import InputError

# MNIST preprocessing shared by training data and the runtime: 28x28 images are
# mean-pooled by POOL_FACTOR, then pixels at or above THRESHOLD become 1.
SOURCE_SIDE = 28
POOL_FACTOR = 2
THRESHOLD = 128
IMAGE_SIDE = SOURCE_SIDE // POOL_FACTOR  # what the model sees: 14x14
ACTIVATIONS = ("tanh", "relu")
# Widest layer (hidden or latent) a model may have: 16x the default's widest, and small
# enough that the largest weight matrix (8192 x 8192, 256 MiB) still fits in memory.
MAX_LAYER_SIZE = 8192
# train: the 60,000 training images; validation: the first 1,000 test images; test: all
# 10,000 test images (see `vae_edge.mnist.load_split`).
Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = get_args(Split)
# Export: the largest |onnx - torch| difference accepted (logits: relative to their size),
# and the weight quantizations offered beside float32.
DEFAULT_ATOL = 1e-5
QUANTIZATIONS = ("int8",)
# onnxruntime threads per graph at most (`runtime.load(threads=)`, `--threads`): thousands
# never finish starting or stopping (10**6 took 6.4 GB and no result in 120 s), and these
# tiny graphs gain nothing from that many.
MAX_THREADS = 256


def check_hidden_sizes(sizes: tuple[int, ...]) -> None:
    """Refuse an empty list of hidden sizes or one outside 1 to MAX_LAYER_SIZE."""
    if not sizes or any(not 0 < size <= MAX_LAYER_SIZE for size in sizes):
        raise InputError(f"hidden sizes must be integers 1 to {MAX_LAYER_SIZE}, got {sizes}")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the MLP VAE: image side, latent size, hidden sizes, activation.

    `hidden_sizes` are the encoder's, from the image inwards; `decoder_hidden_sizes` the
    decoder's, from the latent code outwards. Left empty, the decoder mirrors the encoder
    (its hidden sizes reversed), as every model before the two could differ did. A larger
    encoder than decoder costs a device that only generates nothing. Hidden layers use
    tanh, as in the study; "relu" exists only to rebuild the PyTorch-example reference.
    """

    latent_dim: int = 16
    hidden_sizes: tuple[int, ...] = (512, 256)
    image_side: int = IMAGE_SIDE
    activation: str = "tanh"
    decoder_hidden_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.latent_dim <= MAX_LAYER_SIZE:
            raise InputError(f"latent_dim must be 1 to {MAX_LAYER_SIZE}, got {self.latent_dim}")
        check_hidden_sizes(self.hidden_sizes)
        if self.decoder_hidden_sizes:
            check_hidden_sizes(self.decoder_hidden_sizes)
        if self.activation not in ACTIVATIONS:
            raise InputError(
                f"unsupported activation {self.activation!r}, expected one of {ACTIVATIONS}"
            )
        hidden = tuple(int(s) for s in self.hidden_sizes)
        decoder_hidden = tuple(int(s) for s in self.decoder_hidden_sizes) or hidden[::-1]
        object.__setattr__(self, "hidden_sizes", hidden)
        object.__setattr__(self, "decoder_hidden_sizes", decoder_hidden)

    @property
    def input_dim(self) -> int:
        """Number of pixels in one flattened image."""
        return self.image_side * self.image_side

    @property
    def decoder_sizes(self) -> tuple[int, ...]:
        """The decoder's layer widths: latent, its hidden sizes, pixels."""
        return (self.latent_dim, *self.decoder_hidden_sizes, self.input_dim)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stored in checkpoints and manifests."""
        data = asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        data["decoder_hidden_sizes"] = list(self.decoder_hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; an unknown activation is an error, never a guess.

        Checkpoints and manifests written before the decoder could differ from the encoder
        have no `decoder_hidden_sizes`: their decoder mirrors the encoder.
        """
        return cls(
            latent_dim=int(data["latent_dim"]),
            hidden_sizes=tuple(int(s) for s in data["hidden_sizes"]),
            image_side=int(data["image_side"]),
            activation=str(data["activation"]),
            decoder_hidden_sizes=tuple(int(s) for s in data.get("decoder_hidden_sizes", ())),
        )


# `generate(digit=d)` in a folder without a conditional generator (from before M2) keeps
# prior samples the classifier gives to d with at least this probability, unless the
# manifest's classifier record sets its own `digit_confidence`. Chosen with an independent
# pixel-space judge (benchmarks/recognition.py tried 0.95, 0.99 and 0.999): at 0.95 the
# judge disagreed on more than 5 % of the default model's digits; 0.999 halves the yield.
DIGIT_CONFIDENCE = 0.99
