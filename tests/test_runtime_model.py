"""The runtime's model API: loading checks, shapes, errors, generation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vae_edge import runtime
from vae_edge.runtime import ModelFileError


@pytest.fixture(scope="module")
def model(small_model_dir):
    return runtime.load(small_model_dir)


@pytest.fixture
def model_copy(small_model_dir, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(small_model_dir, target)
    return target


def test_generate_is_reproducible_bounded_and_chunk_independent(model):
    first = model.generate(50, seed=3)
    assert first.shape == (50, 14, 14) and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 1
    assert np.array_equal(first, model.generate(50, seed=3))
    assert np.array_equal(first, model.generate(50, seed=3, chunk_size=7))
    assert not np.array_equal(first, model.generate(50, seed=4))


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_generate_rejects_non_positive_count(model, n):
    with pytest.raises(ValueError, match="positive"):
        model.generate(n)


def test_encode_decode_reconstruct_shapes_and_consistency(model, mnist_dir):
    from vae_edge.mnist import load_split

    images = load_split(mnist_dir, "validation")[:9]
    mu, logvar = model.encode(images)
    assert mu.shape == logvar.shape == (9, model.latent_dim)
    assert np.array_equal(model.encode(images.reshape(9, 14, 14))[0], mu)
    assert np.array_equal(model.reconstruct(images), model.decode(mu))
    probs = model.decode(mu)
    logits = model.decode_logits(mu)
    np.testing.assert_allclose(probs.reshape(9, -1), 1 / (1 + np.exp(-logits)), atol=1e-6)
    # Integer and float64 input are accepted and converted.
    assert np.allclose(model.encode(images.astype(np.int64))[0], mu, atol=1e-6)


def test_bad_arrays_raise_value_errors_saying_what_was_expected(model):
    latent = model.latent_dim
    with pytest.raises(ValueError, match=rf"\[batch, {latent}\].*\(3, {latent + 1}\)"):
        model.decode(np.zeros((3, latent + 1), np.float32))
    with pytest.raises(ValueError, match="196"):
        model.encode(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        model.decode(np.full((1, latent), np.nan, np.float32))
    with pytest.raises(ValueError, match="batch >= 1"):
        model.decode(np.zeros((0, latent), np.float32))
    with pytest.raises(ValueError, match="real numbers"):
        model.decode(np.array([["a"] * latent]))


def test_missing_folder_and_default_model_errors_name_the_path(tmp_path):
    with pytest.raises(ModelFileError, match="nowhere"):
        runtime.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="threads"):
        runtime.load(tmp_path, threads=0)


@pytest.mark.parametrize("damage", ["missing", "truncated", "modified"])
def test_damaged_graph_is_named(model_copy, damage):
    graph = model_copy / "decoder.onnx"
    data = graph.read_bytes()
    if damage == "missing":
        graph.unlink()
    elif damage == "truncated":
        graph.write_bytes(data[: len(data) // 2])
    else:
        graph.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ModelFileError, match=r"decoder\.onnx"):
        runtime.load(model_copy)


def test_garbage_or_missing_manifest_is_named(model_copy):
    manifest = model_copy / "manifest.json"
    manifest.write_text("{not json")
    with pytest.raises(ModelFileError, match=r"manifest\.json"):
        runtime.load(model_copy)
    manifest.write_text(json.dumps({"format_version": 1}))
    with pytest.raises(ModelFileError, match="malformed"):
        runtime.load(model_copy)
    manifest.unlink()
    with pytest.raises(ModelFileError, match="manifest not found"):
        runtime.load(model_copy)


def test_graph_that_onnxruntime_cannot_load_is_named(model_copy):
    from vae_edge.runtime.manifest import Manifest, sha256_file

    graph = model_copy / "encoder.onnx"
    graph.write_bytes(b"definitely not a protobuf")
    manifest_path = model_copy / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["encoder"]["sha256"] = sha256_file(graph)  # hash matches, content is garbage
    manifest_path.write_text(Manifest.from_dict(data).to_json())
    with pytest.raises(ModelFileError, match=r"encoder\.onnx: onnxruntime cannot load"):
        runtime.load(model_copy)


def test_latent_size_in_manifest_must_match_the_graph(model_copy, model):
    manifest_path = model_copy / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["model"]["latent_dim"] = model.latent_dim + 1
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="latent size"):
        runtime.load(model_copy)
