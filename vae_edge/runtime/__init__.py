"""The dependency-light runtime: onnxruntime, numpy and pillow; never torch.

from vae_edge import runtime
model = runtime.load()                  # or runtime.load("path/to/model")
digits = model.generate(16, seed=0)     # [16, 14, 14] probabilities
runtime.save_grid(digits, "digits.png")
"""

from vae_edge.runtime.images import preprocess, save_grid
from vae_edge.runtime.manifest import Manifest, ModelFileError, read_manifest
from vae_edge.runtime.model import DEFAULT_MODEL_DIR, VAEModel, load

__all__ = [
    "DEFAULT_MODEL_DIR",
    "Manifest",
    "ModelFileError",
    "VAEModel",
    "load",
    "preprocess",
    "read_manifest",
    "save_grid",
]
