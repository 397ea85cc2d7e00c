"""A loaded model folder: two onnxruntime sessions behind a small numpy API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

import vae_edge
from vae_edge.config import ModelConfig
from vae_edge.runtime.manifest import (
    DECODER_INPUTS,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    GraphEntry,
    Manifest,
    ModelFileError,
    read_manifest,
)

DEFAULT_MODEL_DIR = Path(vae_edge.__file__).resolve().parent / "models" / "default"
# One thread: for these tiny graphs a second thread costs more in hand-off than it
# saves at batch 1, and it leaves the device's other cores to the app that embeds us.
DEFAULT_THREADS = 1


def _session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    # Idle threads sleep instead of spinning: no core burnt between calls.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def _open_session(
    path: Path, entry: GraphEntry, threads: int, input_width: int, output_width: int
) -> ort.InferenceSession:
    """An onnxruntime session whose tensor names and widths are those the manifest promises."""
    try:
        session = ort.InferenceSession(
            str(path), _session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own exception types
        detail = str(error).strip().splitlines()[0][:200]
        raise ModelFileError(f"{path}: onnxruntime cannot load it ({detail})") from None
    inputs = tuple(node.name for node in session.get_inputs())
    outputs = tuple(node.name for node in session.get_outputs())
    if inputs != entry.inputs or outputs != entry.outputs:
        raise ModelFileError(
            f"{path}: graph has inputs {inputs} and outputs {outputs}, "
            f"manifest says {entry.inputs} and {entry.outputs}"
        )
    widths = (session.get_inputs()[0].shape[-1], session.get_outputs()[0].shape[-1])
    if widths != (input_width, output_width):
        raise ModelFileError(
            f"{path}: graph maps width {widths[0]} to {widths[1]}, the manifest's model "
            f"config (latent size, image size) says {input_width} to {output_width}"
        )
    return session


def _as_batch(array: object, name: str, width: int, side: int | None = None) -> np.ndarray:
    """Check and convert `array` to float32 [batch, width] (or [batch, side, side])."""
    array = np.asarray(array)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    shape_ok = array.ndim == 2 and array.shape[1] == width
    if side is not None:
        shape_ok = shape_ok or (array.ndim == 3 and array.shape[1:] == (side, side))
    if not shape_ok or array.shape[0] == 0:
        expected = f"[batch, {width}]" + (f" or [batch, {side}, {side}]" if side else "")
        raise ValueError(f"{name} must have shape {expected} with batch >= 1, got {array.shape}")
    array = np.ascontiguousarray(array.reshape(array.shape[0], width), dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


class VAEModel:
    """An exported VAE: `generate`, `encode`, `decode`, `reconstruct` on numpy arrays."""

    def __init__(self, model_dir: Path, manifest: Manifest, threads: int) -> None:
        self.model_dir = model_dir
        self.manifest = manifest
        self.config: ModelConfig = manifest.config
        self.latent_dim = self.config.latent_dim
        self.image_side = self.config.image_side
        pixels, latent = self.config.input_dim, self.latent_dim
        self._encoder = _open_session(
            model_dir / manifest.encoder.file, manifest.encoder, threads, pixels, latent
        )
        self._decoder = _open_session(
            model_dir / manifest.decoder.file, manifest.decoder, threads, latent, pixels
        )

    def __repr__(self) -> str:
        return f"VAEModel({str(self.model_dir)!r}, latent_dim={self.latent_dim})"

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Binarized images [B, 196] or [B, 14, 14] -> (mu, logvar), each [B, latent_dim]."""
        side = self.image_side
        batch = _as_batch(images, "images", self.config.input_dim, side)
        mu, logvar = self._encoder.run(list(ENCODER_OUTPUTS), {ENCODER_INPUTS[0]: batch})
        return mu, logvar

    def decode_logits(self, z: np.ndarray) -> np.ndarray:
        """Latent codes [B, latent_dim] -> pixel logits [B, 196]."""
        batch = _as_batch(z, "z", self.latent_dim)
        return self._decoder.run([DECODER_OUTPUTS[1]], {DECODER_INPUTS[0]: batch})[0]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latent codes [B, latent_dim] -> pixel probabilities [B, 14, 14]."""
        batch = _as_batch(z, "z", self.latent_dim)
        probs = self._decoder.run([DECODER_OUTPUTS[0]], {DECODER_INPUTS[0]: batch})[0]
        return probs.reshape(-1, self.image_side, self.image_side)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Images -> their reconstructions [B, 14, 14], decoded from mu (no sampling)."""
        mu, _ = self.encode(images)
        return self.decode(mu)

    def generate(self, n: int, seed: int | None = None, chunk_size: int = 4096) -> np.ndarray:
        """`n` new digits [n, 14, 14] decoded from z ~ N(0, I), `chunk_size` at a time.

        The same seed gives the same digits whatever the chunk size: every chunk draws
        the next part of one generator's stream.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"n must be a positive number of digits, got {n!r}")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        rng = np.random.default_rng(seed)
        side = self.image_side
        out = np.empty((n, side, side), dtype=np.float32)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            z = rng.standard_normal((stop - start, self.latent_dim), dtype=np.float32)
            out[start:stop] = self.decode(z)
        return out


def load(model_dir: str | Path | None = None, *, threads: int | None = None) -> VAEModel:
    """Open an exported model folder (default: the model bundled with vae-edge).

    The manifest and the SHA-256 of both graphs are checked first; any problem is a
    `ModelFileError` naming the file. `threads` is onnxruntime's intra-op thread count.
    """
    model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    threads = DEFAULT_THREADS if threads is None else threads
    if threads <= 0:
        raise ValueError(f"threads must be positive, got {threads}")
    return VAEModel(model_dir, read_manifest(model_dir), threads)
