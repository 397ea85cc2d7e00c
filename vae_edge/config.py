"""The one description of a VAE that travels from training to checkpoint, manifest and runtime."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# MNIST preprocessing shared by training data and the runtime: 28x28 images are
# mean-pooled by POOL_FACTOR, then pixels at or above THRESHOLD become 1.
SOURCE_SIDE = 28
POOL_FACTOR = 2
THRESHOLD = 128
ACTIVATIONS = ("tanh", "relu")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the MLP VAE: image side, latent size, the encoder's hidden sizes, activation.

    The decoder mirrors the encoder (hidden sizes reversed). Hidden layers use tanh, as in
    the study; "relu" exists only to rebuild the PyTorch-example reference for comparison.
    """

    latent_dim: int = 16
    hidden_sizes: tuple[int, ...] = (512,)
    image_side: int = SOURCE_SIDE // POOL_FACTOR
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if self.latent_dim <= 0:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        if not self.hidden_sizes or any(size <= 0 for size in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unsupported activation {self.activation!r}, expected one of {ACTIVATIONS}"
            )
        object.__setattr__(self, "hidden_sizes", tuple(int(s) for s in self.hidden_sizes))

    @property
    def input_dim(self) -> int:
        """Number of pixels in one flattened image."""
        return self.image_side * self.image_side

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stored in checkpoints and manifests."""
        data = asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; an unknown activation is an error, never a guess."""
        return cls(
            latent_dim=int(data["latent_dim"]),
            hidden_sizes=tuple(int(s) for s in data["hidden_sizes"]),
            image_side=int(data["image_side"]),
            activation=str(data["activation"]),
        )
