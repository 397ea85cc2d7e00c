"""The PyTorch twin of an exported float32 model folder, rebuilt from its graphs' weights.

The benchmarks compare the runtime with PyTorch on the same model. The bundled model's
training checkpoint is not in the repository, but its graphs hold every weight: each
Linear layer is a Gemm whose weight and bias initializers carry the PyTorch parameter
names (the encoder's without the `encoder.` prefix, as it was exported on its own).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from vae_edge.config import DEFAULT_ATOL
from vae_edge.runtime import load
from vae_edge.runtime.manifest import read_graph, read_manifest_only
from vae_edge.training.checkpoint import Checkpoint
from vae_edge.training.model import VAE


def vae_from_model_dir(model_dir: str | Path) -> VAE:
    """A PyTorch VAE in eval mode with the weights of `model_dir`'s float32 graphs.

    Checks that it reproduces the runtime's outputs on random inputs (within DEFAULT_ATOL).
    """
    manifest = read_manifest_only(Path(model_dir))
    if manifest.variant != "float32":
        raise SystemExit(f"{model_dir}: a {manifest.variant} model has no PyTorch twin")
    state = {}
    for prefix, entry in (("encoder.", manifest.encoder), ("", manifest.decoder)):
        graph = read_graph(Path(model_dir), entry)
        for initializer in onnx.load_from_string(graph).graph.initializer:
            weights = numpy_helper.to_array(initializer).copy()
            state[prefix + initializer.name] = torch.from_numpy(weights)
    vae = VAE(manifest.config)
    vae.load_state_dict(state)
    vae.eval()
    _check_twin(vae, model_dir)
    return vae


def _check_twin(vae: VAE, model_dir: str | Path) -> None:
    model = load(model_dir)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((64, model.latent_dim), dtype=np.float32)
    images = (rng.random((64, model.config.input_dim)) < 0.3).astype(np.float32)
    with torch.inference_mode():
        probs = vae.decoder.probs(torch.from_numpy(z)).numpy()
        mu = vae.encoder(torch.from_numpy(images))[0].numpy()
    worst = max(
        np.abs(probs.reshape(model.decode(z).shape) - model.decode(z)).max(),
        np.abs(mu - model.encode(images)[0]).max(),
    )
    if worst > DEFAULT_ATOL:
        raise SystemExit(f"{model_dir}: the rebuilt PyTorch VAE differs by {worst:.1e}")


def write_checkpoint(vae: VAE, path: Path) -> None:
    """Save `vae` as a vae-edge checkpoint: its weights, a fresh optimizer, no history."""
    Checkpoint(
        config=vae.config,
        options={},
        epoch=0,
        model_state=vae.state_dict(),
        optimizer_state=torch.optim.Adam(vae.parameters()).state_dict(),
        rng_state=torch.get_rng_state(),
        history=[],
    ).save(path)
