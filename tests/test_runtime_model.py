"""The runtime's model API against a numpy forward pass; shapes, errors, loading checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_checks import one_line_error
from click.testing import CliRunner
from onnx import helper, numpy_helper
from runtime_fixtures import (
    SMALL_CONFIG,
    build_model_dir,
    numpy_decode_logits,
    numpy_encode,
    refresh_hashes,
)

import vae_edge
from vae_edge import runtime
from vae_edge.cli import main
from vae_edge.config import MAX_THREADS, ModelConfig
from vae_edge.errors import InputError
from vae_edge.models import bundled_model_names
from vae_edge.runtime import DEFAULT_MODEL_DIR, Manifest, ModelFileError

LATENT = SMALL_CONFIG.latent_dim
ATOL = 1e-6


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A model folder of random weights, and those weights."""
    return build_model_dir(tmp_path_factory.mktemp("runtime-model") / "model")


@pytest.fixture(scope="module")
def model(built):
    return runtime.load(built[0])


@pytest.fixture
def model_copy(built, tmp_path):
    """A copy of the built folder that a test may damage."""
    return shutil.copytree(built[0], tmp_path / "model")


def binary_images(batch: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((batch, 196)) < 0.3).astype(np.float32)


def latent_codes(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, LATENT), dtype=np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("batch", [1, 5, 300])
def test_encode_matches_the_numpy_forward_pass(model, built, batch):
    images = binary_images(batch)
    mu, logvar = model.encode(images)
    expected_mu, expected_logvar = numpy_encode(built[1], model.config, images)
    assert mu.dtype == logvar.dtype == np.float32
    assert mu.shape == logvar.shape == (batch, LATENT)
    np.testing.assert_allclose(mu, expected_mu, rtol=0, atol=ATOL)
    np.testing.assert_allclose(logvar, expected_logvar, rtol=0, atol=ATOL)


@pytest.mark.parametrize("batch", [1, 5, 300])
def test_decode_and_decode_logits_match_the_numpy_forward_pass(model, built, batch):
    z = latent_codes(batch)
    logits = numpy_decode_logits(built[1], model.config, z)
    assert model.decode_logits(z).shape == (batch, 196)
    np.testing.assert_allclose(model.decode_logits(z), logits, rtol=0, atol=ATOL)
    probs = model.decode(z)
    assert probs.dtype == np.float32 and probs.shape == (batch, 14, 14)
    np.testing.assert_allclose(probs.reshape(batch, 196), sigmoid(logits), rtol=0, atol=ATOL)


def test_reconstruct_decodes_the_posterior_mean(model, built):
    images = binary_images(7, seed=1)
    mu, _ = numpy_encode(built[1], model.config, images)
    expected = sigmoid(numpy_decode_logits(built[1], model.config, mu)).reshape(7, 14, 14)
    np.testing.assert_allclose(model.reconstruct(images), expected, rtol=0, atol=ATOL)


def test_image_batches_of_any_real_dtype_and_both_shapes_agree(model):
    images = binary_images(4, seed=2)
    mu, _ = model.encode(images)
    for variant in (
        images.reshape(4, 14, 14),
        images.astype(np.float64),
        images.astype(np.uint8),
        images.astype(bool),
        images.tolist(),
    ):
        assert np.array_equal(model.encode(variant)[0], mu)


def test_more_threads_give_the_same_numbers(built, model):
    z = latent_codes(64, seed=3)
    assert np.array_equal(runtime.load(built[0], threads=2).decode(z), model.decode(z))


def test_generate_is_reproducible_bounded_and_differs_across_seeds(model):
    first = model.generate(50, seed=3)
    assert first.shape == (50, 14, 14) and first.dtype == np.float32
    assert first.min() >= 0 and first.max() <= 1
    assert np.array_equal(first, model.generate(50, seed=3))
    assert not np.array_equal(first, model.generate(50, seed=4))
    assert not np.array_equal(model.generate(5), model.generate(5))  # seed None: fresh


@pytest.mark.parametrize("chunk_size", [1, 7, 50, 4096])
def test_generate_does_not_depend_on_the_chunk_size(model, chunk_size):
    # The digits decode exactly the codes of one big draw from the seeded generator.
    z = np.random.default_rng(11).standard_normal((50, LATENT), dtype=np.float32)
    expected = model.decode(z)
    assert np.array_equal(model.generate(50, seed=11, chunk_size=chunk_size), expected)


@pytest.mark.parametrize("n", [0, -1, 2.5, True, "3", None])
def test_generate_rejects_non_positive_count(model, n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        model.generate(n)


def test_generate_rejects_a_bad_chunk_size(model):
    with pytest.raises(ValueError, match="chunk_size"):
        model.generate(3, chunk_size=0)


@pytest.mark.parametrize(
    ("z", "message"),
    [
        (np.zeros((3, LATENT + 4)), rf"z must have shape \[batch, {LATENT}\].*got \(3, 8\)"),
        (np.zeros(LATENT), r"\[batch, 4\].*got \(4,\)"),
        (np.zeros((2, 2, LATENT)), r"got \(2, 2, 4\)"),
        (np.zeros((0, LATENT)), "batch >= 1"),
        (np.full((1, LATENT), np.nan), "NaN"),
        (np.where(np.arange(500 * LATENT).reshape(500, LATENT) == 1234, np.nan, 0.0), "NaN"),
        (np.full((1, LATENT), np.inf), "infinite"),
        (np.full((1, LATENT), 1e300), "infinite"),  # overflows float32
        (np.array([["a"] * LATENT]), "real numbers"),
        (np.zeros((1, LATENT), complex), "real numbers"),
        ([[0.0] * LATENT, [0.0]], "rectangular"),
    ],
)
def test_bad_latent_codes_raise_value_errors_saying_what_was_expected(model, z, message):
    with pytest.raises(ValueError, match=message):
        model.decode(z)
    with pytest.raises(ValueError, match=message):
        model.decode_logits(z)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((2, 100)), r"images must have shape \[batch, 196\] or \[batch, 14, 14\]"),
        (np.zeros((14, 14)), r"got \(14, 14\)"),
        (np.zeros(196), r"got \(196,\)"),
        (np.zeros((0, 196)), "batch >= 1"),
        (np.full((1, 196), np.nan), "NaN"),
        (np.full((1, 196), 255.0), r"\[0, 1\]"),
        (np.full((9, 196), 0.5) - np.eye(9, 196), r"got \[-0\.5, 0\.5\]"),
        (np.full((1, 196), -0.5), r"\[0, 1\]"),
    ],
)
def test_bad_images_raise_value_errors_saying_what_was_expected(model, images, message):
    with pytest.raises(ValueError, match=message):
        model.encode(images)
    with pytest.raises(ValueError, match=message):
        model.reconstruct(images)


def test_model_describes_itself_from_the_manifest(model, built):
    assert model.config == SMALL_CONFIG
    assert (model.latent_dim, model.image_side) == (LATENT, 14)
    assert model.model_dir == built[0]
    assert "latent_dim=4" in repr(model)


@pytest.mark.parametrize("threads", [0, -2, 1.5, True, MAX_THREADS + 1, 10**6])
def test_load_rejects_a_bad_thread_count(built, threads):
    with pytest.raises(ValueError, match="threads"):
        runtime.load(built[0], threads=threads, lazy=True)


def test_load_takes_up_to_max_threads(built):
    assert runtime.load(built[0], threads=MAX_THREADS, lazy=True).latent_dim == LATENT


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(ModelFileError, match="nowhere: model folder not found"):
        runtime.load(tmp_path / "nowhere")


def test_bundled_models_load_by_name_and_the_default_without_one(tmp_path, monkeypatch):
    # The bundled folders are package data: a checkout and an install both have them.
    monkeypatch.chdir(tmp_path)  # no folder of that name here: the name alone must resolve
    package_models = Path(vae_edge.__file__).parent / "models"
    names = sorted(p.name for p in package_models.iterdir() if (p / "manifest.json").is_file())
    assert "default" in names and bundled_model_names() == names
    for name in names:
        model = runtime.load(name)
        assert model.model_dir.resolve() == (package_models / name).resolve()
        assert model.generate(2, seed=0).shape == (2, model.image_side, model.image_side)
    assert runtime.load().model_dir.resolve() == (package_models / "default").resolve()
    with pytest.raises(ModelFileError, match="no bundled model has that name"):
        runtime.load("no-such-model")


def test_a_folder_wins_over_a_bundled_model_of_the_same_name(built, monkeypatch):
    monkeypatch.chdir(built[0].parent)
    (built[0].parent / "default").symlink_to(built[0])
    assert runtime.load("default").latent_dim == LATENT


def test_an_unknown_model_name_lists_the_bundled_ones():
    with pytest.raises(ModelFileError, match=r"no-such-model: .*\(bundled: default"):
        runtime.load("no-such-model")


@pytest.mark.parametrize("graph_name", ["encoder.onnx", "decoder.onnx"])
@pytest.mark.parametrize("damage", ["missing", "truncated", "modified"])
def test_damaged_graph_is_named(model_copy, graph_name, damage):
    graph = model_copy / graph_name
    data = graph.read_bytes()
    if damage == "missing":
        graph.unlink()
        message = "model file not found"
    elif damage == "truncated":
        graph.write_bytes(data[: len(data) // 2])
        message = "SHA-256 does not match"
    else:
        graph.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        message = "SHA-256 does not match"
    with pytest.raises(ModelFileError, match=rf"{graph_name}: {message}"):
        runtime.load(model_copy)


def test_truncated_graph_with_a_matching_hash_is_named_by_onnxruntime(model_copy):
    graph = model_copy / "decoder.onnx"
    graph.write_bytes(graph.read_bytes()[:-40])
    refresh_hashes(model_copy)
    with pytest.raises(ModelFileError, match=r"decoder\.onnx: onnxruntime cannot load"):
        runtime.load(model_copy)


def test_garbage_graph_with_a_matching_hash_is_named_by_onnxruntime(model_copy):
    (model_copy / "encoder.onnx").write_bytes(b"definitely not a protobuf")
    refresh_hashes(model_copy)
    with pytest.raises(ModelFileError, match=r"encoder\.onnx: onnxruntime cannot load"):
        runtime.load(model_copy)


def test_a_lazy_model_opens_each_graph_when_first_needed(model_copy):
    (model_copy / "encoder.onnx").write_bytes(b"definitely not a protobuf")
    refresh_hashes(model_copy)
    model = runtime.load(model_copy, lazy=True)  # only the manifest is read here
    assert model.generate(3, seed=0).shape == (3, 14, 14)  # the decoder alone
    for _ in range(2):  # refused each time it is asked for, not just the first
        with pytest.raises(ModelFileError, match=r"encoder\.onnx: onnxruntime cannot load"):
            model.encode(np.zeros((1, 196), np.float32))
    damaged = model_copy / "decoder.onnx"
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\x00")
    model = runtime.load(model_copy, lazy=True)  # read and checked when first needed
    with pytest.raises(ModelFileError, match=r"decoder\.onnx: SHA-256 does not match"):
        model.decode(np.zeros((1, LATENT), np.float32))


def test_a_lazy_model_gives_what_an_opened_one_gives(built):
    model_dir = built[0]
    images = binary_images(5)
    eager, lazy = runtime.load(model_dir), runtime.load(model_dir, lazy=True)
    assert np.array_equal(lazy.reconstruct(images), eager.reconstruct(images))
    assert np.array_equal(lazy.generate(4, seed=3), eager.generate(4, seed=3))


def test_garbage_malformed_or_missing_manifest_is_named(model_copy):
    manifest = model_copy / "manifest.json"
    manifest.write_bytes(b"\xff\xfe not json")
    with pytest.raises(ModelFileError, match=r"manifest\.json: not a readable JSON manifest"):
        runtime.load(model_copy)
    manifest.write_text("{not json")
    with pytest.raises(ModelFileError, match=r"manifest\.json: not a readable JSON manifest"):
        runtime.load(model_copy)
    manifest.write_text(json.dumps({"format_version": 1}))
    with pytest.raises(ModelFileError, match=r"manifest\.json: malformed"):
        runtime.load(model_copy)
    manifest.unlink()
    with pytest.raises(ModelFileError, match=r"manifest\.json: manifest not found"):
        runtime.load(model_copy)


@pytest.mark.parametrize("file", ["../decoder.onnx", "/tmp/decoder.onnx", "sub/decoder.onnx"])
def test_graph_files_outside_the_model_folder_are_refused(model_copy, file):
    manifest_path = model_copy / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["decoder"]["file"] = file
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=r"manifest\.json: malformed.*file name inside"):
        runtime.load(model_copy)


def test_a_manifest_of_an_unknown_format_version_is_refused_in_one_line(model_copy):
    manifest = model_copy / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 2}))
    message = "manifest.json: .*format_version 2 is not supported"
    with pytest.raises(ModelFileError, match=message):
        runtime.load(model_copy)
    result = CliRunner().invoke(main, ["info", "--model", str(model_copy)])
    one_line_error(result, "manifest.json", "format_version 2")


def test_latent_size_in_the_manifest_must_match_the_graphs(model_copy):
    manifest_path = model_copy / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["model"]["latent_dim"] = LATENT + 1
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=r"encoder\.onnx: tensor 'mu' has width 4.*needs 5"):
        runtime.load(model_copy)


def test_a_graph_from_another_model_is_refused(model_copy, tmp_path):
    other, _ = build_model_dir(tmp_path / "other", ModelConfig(latent_dim=3, hidden_sizes=(8,)))
    shutil.copy(other / "decoder.onnx", model_copy / "decoder.onnx")
    refresh_hashes(model_copy)
    with pytest.raises(ModelFileError, match=r"decoder\.onnx: tensor 'z' has width 3"):
        runtime.load(model_copy)


def test_tensor_names_must_be_those_the_runtime_uses(model_copy):
    manifest_path = model_copy / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["decoder"]["outputs"] = ["probs", "scores"]
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=r"manifest\.json: decoder\.onnx must map"):
        runtime.load(model_copy)


def test_a_graph_with_a_fixed_batch_size_is_refused(model_copy):
    path = model_copy / "encoder.onnx"
    graph = onnx.load(str(path))
    graph.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(graph, str(path))
    refresh_hashes(model_copy)
    with pytest.raises(ModelFileError, match=r"encoder\.onnx: tensor 'image' has a fixed batch"):
        runtime.load(model_copy)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_deeper_models_match_the_numpy_forward_pass(tmp_path, activation):
    config = ModelConfig(latent_dim=3, hidden_sizes=(16, 8), activation=activation)
    model_dir, weights = build_model_dir(tmp_path / "deep", config, seed=5)
    model = runtime.load(model_dir)
    images = binary_images(9, seed=4)
    mu, logvar = model.encode(images)
    expected_mu, expected_logvar = numpy_encode(weights, config, images)
    np.testing.assert_allclose(mu, expected_mu, rtol=0, atol=ATOL)
    np.testing.assert_allclose(logvar, expected_logvar, rtol=0, atol=ATOL)
    logits = numpy_decode_logits(weights, config, mu)
    np.testing.assert_allclose(model.decode_logits(mu), logits, rtol=0, atol=ATOL)


def test_the_bundled_manifest_records_its_graphs_opset_and_ir_version():
    manifest = runtime.load().manifest
    for entry in (manifest.encoder, manifest.decoder):
        graph = onnx.load(str(DEFAULT_MODEL_DIR / entry.file))
        assert {o.domain: o.version for o in graph.opset_import}[""] == manifest.opset
        assert graph.ir_version == manifest.ir_version


def test_the_manifest_round_trips_every_field(built):
    for folder in (built[0], DEFAULT_MODEL_DIR):
        text = (folder / "manifest.json").read_text(encoding="utf-8")
        manifest = Manifest.from_dict(json.loads(text))
        assert manifest.to_json() == text
        assert Manifest.from_dict(manifest.to_dict()) == manifest


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("preprocessing", {"source_side": 28, "pool": "2x2 mean", "threshold": 100}, "differs"),
        ("preprocessing", {"source_side": 32, "pool": "2x2 mean", "threshold": 128}, "differs"),
        ("image_shape", [28, 28], "image_side 14"),
    ],
)
def test_a_manifest_made_for_other_inputs_is_refused(model_copy, field, value, message):
    manifest_path = model_copy / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data[field] = value
    manifest_path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=rf"manifest\.json: malformed.*{message}"):
        runtime.load(model_copy)


def reshape_output(model_dir, shape: list[int]) -> None:
    """Make the decoder reshape its `probs` to `shape`, hidden from shape inference.

    The target shape is computed at run time (max(shape, 0 * input shape)), so the
    session still declares `probs` as [batch, 196]: only a run shows what comes back.
    """
    path = model_dir / "decoder.onnx"
    graph = onnx.load(str(path))
    for node in graph.graph.node:
        node.output[:] = ["probs_raw" if name == "probs" else name for name in node.output]
    graph.graph.initializer.append(numpy_helper.from_array(np.array(shape), "wanted"))
    graph.graph.initializer.append(numpy_helper.from_array(np.array(0), "zero"))
    graph.graph.node.extend(
        [
            helper.make_node("Shape", ["probs_raw"], ["raw_shape"]),
            helper.make_node("Mul", ["raw_shape", "zero"], ["zeros"]),
            helper.make_node("Max", ["zeros", "wanted"], ["target"]),
            helper.make_node("Reshape", ["probs_raw", "target"], ["probs"]),
        ]
    )
    onnx.save(graph, str(path))
    refresh_hashes(model_dir)


def test_a_graph_that_fails_at_some_batch_sizes_is_blamed_not_the_input(model_copy):
    reshape_output(model_copy, [2, 196])  # runs at batch 2 only
    model = runtime.load(model_copy)
    assert model.decode(latent_codes(2)).shape == (2, 14, 14)
    with pytest.raises(ModelFileError, match=r"decoder\.onnx: onnxruntime failed running it"):
        model.decode(latent_codes(1))


def test_a_graph_that_fails_to_run_is_refused_at_load(model_copy):
    reshape_output(model_copy, [5, 196])
    with pytest.raises(ModelFileError, match=r"decoder\.onnx: onnxruntime failed running it"):
        runtime.load(model_copy)


def test_a_graph_whose_output_has_the_wrong_shape_is_refused_at_load(model_copy):
    reshape_output(model_copy, [4, 98])  # what a batch of 2 holds, wrongly shaped
    with pytest.raises(
        ModelFileError, match=r"decoder\.onnx: output 'probs' comes back with shape \(4, 98\)"
    ):
        runtime.load(model_copy)


@pytest.mark.parametrize("seed", [1.5, -1, "3", True])
def test_generate_rejects_a_seed_that_is_not_a_non_negative_integer(model, seed):
    with pytest.raises(InputError, match="seed must be an integer >= 0"):
        model.generate(2, seed=seed)


@pytest.mark.parametrize(
    ("z", "message"),
    [
        (np.full((1, LATENT), np.nan, np.float32), "NaN"),
        (np.full((3, LATENT), -np.inf, np.float32), "infinite"),
        (np.zeros((0, LATENT), np.float32), "batch >= 1"),
        (np.zeros((1, LATENT + 1), np.float32), r"got \(1, 5\)"),
    ],
)
def test_float32_latent_codes_get_the_same_errors(model, z, message):
    with pytest.raises(InputError, match=message):
        model.decode(z)


# Zeros but for the last pixel of the last image, the next float32 above 1.
ONE_PIXEL_JUST_ABOVE_1 = np.zeros((3, 196), np.float32)
ONE_PIXEL_JUST_ABOVE_1[-1, -1] = np.nextafter(np.float32(1), np.float32(2))


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.full((1, 196), np.nan, np.float32), "NaN"),
        (np.full((2, 196), 1.5, np.float32), r"\[0, 1\], got \[1\.5, 1\.5\]"),
        (np.full((1, 196), -0.25, np.float32), r"\[0, 1\]"),
        (np.full((1, 196), np.inf, np.float32), "infinite"),
        (ONE_PIXEL_JUST_ABOVE_1, r"\[0, 1\], got \[0, 1\.00000012\]"),
    ],
)
def test_float32_images_get_the_same_errors(model, images, message):
    with pytest.raises(InputError, match=message):
        model.encode(images)


def test_float32_inputs_the_quick_check_cannot_settle_are_still_accepted(model):
    # -0.0 has its sign bit set; squares of 1e30 overflow float32: both are valid.
    images = np.where(binary_images(2) > 0, 1.0, -0.0).astype(np.float32)
    assert np.array_equal(model.encode(images)[0], model.encode(images.astype(np.float64))[0])
    z = np.full((1, LATENT), 1e30, np.float32)
    assert np.array_equal(model.decode(z), model.decode(z.astype(np.float64)))


def first_rows_only(model_dir: Path, graph_name: str, rows: int) -> None:
    """Make the graph return only the first `rows` rows of each output, whatever the batch."""
    path = model_dir / graph_name
    graph = onnx.load(str(path))
    outputs = {output.name for output in graph.graph.output}
    for node in graph.graph.node:
        node.input[:] = [f"{name}_all" if name in outputs else name for name in node.input]
        node.output[:] = [f"{name}_all" if name in outputs else name for name in node.output]
    graph.graph.initializer.append(numpy_helper.from_array(np.array([0]), "first"))
    graph.graph.initializer.append(numpy_helper.from_array(np.array([rows]), "last"))
    graph.graph.node.extend(
        helper.make_node("Slice", [f"{name}_all", "first", "last"], [name]) for name in outputs
    )
    onnx.save(graph, str(path))
    refresh_hashes(model_dir)


def test_a_graph_that_returns_fewer_rows_than_it_was_given_is_refused(model_copy):
    # Rows 0-1 only: the load check's batch of 2 comes back whole.
    first_rows_only(model_copy, "decoder.onnx", 2)
    first_rows_only(model_copy, "encoder.onnx", 2)
    model = runtime.load(model_copy)
    message = r"\.onnx: output '{}' comes back with shape \(2, {}\) for a batch of 5"
    with pytest.raises(ModelFileError, match="decoder" + message.format("probs", 196)):
        model.decode(latent_codes(5))
    with pytest.raises(ModelFileError, match="encoder" + message.format("mu", LATENT)):
        model.encode(binary_images(5))
    with pytest.raises(ModelFileError, match="decoder" + message.format("probs", 196)):
        model.generate(5)


def scale_classifier_output(model_dir: Path, factor: float) -> None:
    """Multiply the classifier's probabilities by `factor` (1.015: up to 1.015)."""
    path = model_dir / "classifier.onnx"
    graph = onnx.load(str(path))
    (output,) = graph.graph.output
    for node in graph.graph.node:
        node.output[:] = ["raw" if name == output.name else name for name in node.output]
    factor_array = np.array(factor, dtype=np.float32)
    graph.graph.initializer.append(numpy_helper.from_array(factor_array, "factor"))
    graph.graph.node.append(helper.make_node("Mul", ["raw", "factor"], [output.name]))
    onnx.save(graph, str(path))
    refresh_hashes(model_dir)


def test_a_classifier_whose_outputs_are_not_probabilities_is_refused(tmp_path):
    model_dir = shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "model")
    scale_classifier_output(model_dir, 1.015)
    message = r"classifier\.onnx: output 'probabilities' holds no probabilities"
    with pytest.raises(ModelFileError, match=message):
        runtime.load(model_dir)
    with pytest.raises(ModelFileError, match=message):
        runtime.load(model_dir, lazy=True).classify(binary_images(3))
    one_line_error(CliRunner().invoke(main, ["info", "--model", str(model_dir)]), "classifier.onnx")


def test_a_batch_too_large_for_memory_says_so(built):
    # A real allocation failure: the address space is limited to 1 GiB, and the decoder's
    # outputs for 2,000,000 codes need 3 GB.
    script = f"""
        import resource
        import numpy as np
        from vae_edge import runtime
        from vae_edge.errors import OutOfMemoryError

        model = runtime.load({str(built[0])!r})
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        try:
            model.decode(np.zeros((2_000_000, {LATENT}), np.float32))
        except OutOfMemoryError as error:
            print(error)
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "decoder.onnx: not enough memory to run it on a batch of 2,000,000" in result.stdout
    assert result.stderr == ""  # no log lines of onnxruntime's own


@pytest.mark.parametrize("classifier", ["x", 5, {"digit_confidence": "x"}, {"digit_confidence": 2}])
def test_a_malformed_digit_confidence_in_the_manifest_is_named(tmp_path, classifier):
    model_dir = shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "model")
    manifest = model_dir / "manifest.json"
    data = json.loads(manifest.read_text())
    data["training"]["classifier"] = classifier
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=r"manifest\.json: training\.classifier\.digit_conf"):
        runtime.load(model_dir, lazy=True)
    output = tmp_path / "g.png"
    result = CliRunner().invoke(main, ["generate", "--model", str(model_dir), "-o", str(output)])
    one_line_error(result, "digit_confidence", "expected a probability")
    assert not output.exists()
