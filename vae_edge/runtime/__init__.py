"""The dependency-light runtime: onnxruntime, numpy and pillow; never torch.

    from vae_edge import runtime

    model = runtime.load()                  # or runtime.load("path/to/model")
    digits = model.generate(16, seed=0)     # float32 [16, 14, 14] probabilities
    runtime.save_grid(digits, "digits.png")
    x = runtime.preprocess("my_digit.png")  # float32 [196], binarized like MNIST
    mu, logvar = model.encode(x[None])      # each [1, latent_dim]
    again = model.reconstruct(x[None])      # [1, 14, 14]

Every problem with a model folder is a `ModelFileError` (a `ValueError`) naming the file;
bad arrays and arguments are `InputError`s (also `ValueError`s) that say what was expected;
a batch too large for the machine's memory is an `OutOfMemoryError` (a `MemoryError`).
The three live in `vae_edge.errors`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vae_edge.runtime.folders import DEFAULT_MODEL_DIR
    from vae_edge.runtime.images import preprocess
    from vae_edge.runtime.manifest import Manifest, ModelFileError, read_manifest
    from vae_edge.runtime.model import DEFAULT_THREADS, VAEModel, load
    from vae_edge.runtime.png import save_grid

# Each public name and the module it lives in, imported on first use: importing
# `vae_edge.runtime.manifest` (as the command line does) must not load onnxruntime.
_HOMES = {
    "preprocess": "images",
    "save_grid": "png",
    "Manifest": "manifest",
    "ModelFileError": "manifest",
    "read_manifest": "manifest",
    "DEFAULT_MODEL_DIR": "folders",
    "DEFAULT_THREADS": "model",
    "VAEModel": "model",
    "load": "model",
}
__all__ = [  # noqa: RUF022 (grouped by module, like _HOMES)
    "preprocess",
    "save_grid",
    "Manifest",
    "ModelFileError",
    "read_manifest",
    "DEFAULT_MODEL_DIR",
    "DEFAULT_THREADS",
    "VAEModel",
    "load",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
