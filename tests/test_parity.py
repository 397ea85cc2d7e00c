"""Parity: the exported graphs and the runtime give what PyTorch gives."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch

from vae_edge import runtime
from vae_edge.config import DEFAULT_ATOL as ATOL
from vae_edge.mnist import load_split


@pytest.fixture(scope="module")
def sessions(small_model_dir):
    return (
        ort.InferenceSession(str(small_model_dir / "encoder.onnx")),
        ort.InferenceSession(str(small_model_dir / "decoder.onnx")),
    )


@pytest.mark.parametrize("batch", [1, 7, 64, 1000])
def test_graphs_match_pytorch(sessions, small_vae, mnist_dir, batch):
    encoder, decoder = sessions
    images = load_split(mnist_dir, "test")[:batch]
    z = np.random.default_rng(batch).standard_normal((batch, 6)).astype(np.float32)
    mu, logvar = encoder.run(None, {"image": images})
    probs, _ = decoder.run(None, {"z": z})
    with torch.inference_mode():
        torch_mu, torch_logvar = small_vae.encoder(torch.from_numpy(images))
        torch_probs = small_vae.decoder.probs(torch.from_numpy(z))
    np.testing.assert_allclose(mu, torch_mu.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(logvar, torch_logvar.numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(probs, torch_probs.numpy(), rtol=0, atol=ATOL)


def test_runtime_decode_and_reconstruct_match_pytorch(small_model_dir, small_vae, mnist_dir):
    model = runtime.load(small_model_dir)
    images = load_split(mnist_dir, "validation")[:50]
    z = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    with torch.inference_mode():
        expected_images = small_vae.decoder.probs(torch.from_numpy(z)).numpy()
        mu, _ = small_vae.encoder(torch.from_numpy(images))
        expected_reconstruction = small_vae.decoder.probs(mu).numpy()
    np.testing.assert_allclose(
        model.decode(z), expected_images.reshape(50, 14, 14), rtol=0, atol=ATOL
    )
    np.testing.assert_allclose(
        model.reconstruct(images), expected_reconstruction.reshape(50, 14, 14), rtol=0, atol=ATOL
    )


def test_generate_is_identical_across_calls_and_processes(small_model_dir):
    model = runtime.load(small_model_dir)
    here = model.generate(20, seed=11)
    assert np.array_equal(here, model.generate(20, seed=11))
    code = (
        "import sys; from vae_edge import runtime; "
        f"sys.stdout.buffer.write(runtime.load({str(small_model_dir)!r}).generate(20, seed=11)"
        ".tobytes())"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert np.array_equal(here, np.frombuffer(there, np.float32).reshape(20, 14, 14))
