"""The dependency-light runtime: onnxruntime, numpy and pillow; never torch.

    from vae_edge import runtime

    model = runtime.load()                  # or runtime.load("path/to/model")
    digits = model.generate(16, seed=0)     # float32 [16, 14, 14] probabilities
    runtime.save_grid(digits, "digits.png")
    x = runtime.preprocess("my_digit.png")  # float32 [196], binarized like MNIST
    mu, logvar = model.encode(x[None])      # each [1, latent_dim]
    again = model.reconstruct(x[None])      # [1, 14, 14]

Every problem with a model folder is a `ModelFileError` (a `ValueError`) naming the file;
bad arrays and arguments are `ValueError`s that say what was expected.
"""

from vae_edge.runtime.images import preprocess, save_grid
from vae_edge.runtime.manifest import Manifest, ModelFileError, read_manifest
from vae_edge.runtime.model import DEFAULT_MODEL_DIR, DEFAULT_THREADS, VAEModel, load

__all__ = [
    "DEFAULT_MODEL_DIR",
    "DEFAULT_THREADS",
    "Manifest",
    "ModelFileError",
    "VAEModel",
    "load",
    "preprocess",
    "read_manifest",
    "save_grid",
]
