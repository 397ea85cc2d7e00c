"""The runtime commands end to end on a real model folder, and their one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest
from cli_checks import one_line_error
from click.testing import CliRunner
from PIL import Image
from runtime_fixtures import OPSET, build_model_dir, refresh_hashes

from vae_edge import runtime
from vae_edge.cli import main
from vae_edge.config import ModelConfig
from vae_edge.errors import InputError
from vae_edge.mnist import IMAGE_FILES, find_idx_file, read_idx
from vae_edge.runtime.model import VAEModel

CONFIG = ModelConfig(latent_dim=5, hidden_sizes=(12, 8))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_model_dir(tmp_path_factory.mktemp("cli-model") / "model", CONFIG)[0]


@pytest.fixture(scope="module")
def model(model_dir):
    return runtime.load(model_dir)


@pytest.fixture(scope="module")
def digits(tmp_path_factory, mnist_dir) -> list[str]:
    """Three MNIST test digits saved as 28x28 PNG files."""
    folder = tmp_path_factory.mktemp("inputs")
    paths = []
    for index, image in enumerate(read_idx(find_idx_file(mnist_dir, IMAGE_FILES["test"]))[:3]):
        paths.append(str(folder / f"d{index}.png"))
        Image.fromarray(image).save(paths[-1])
    return paths


def invoke(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def test_generate_writes_the_grid_and_is_reproducible(tmp_path, model_dir, model):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for path in (first, second):
        result = invoke(
            "generate",
            "-n",
            10,
            "-o",
            path,
            "--model",
            model_dir,
            "--seed",
            5,
            "--nrow",
            5,
            "--scale",
            3,
            "--threads",
            2,
        )
        assert result.exit_code == 0, result.output
        assert result.output == f"wrote 10 digits to {path} (seed 5)\n"
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as png:
        assert png.format == "PNG" and png.mode == "L"
        assert png.size == ((5 * 15 + 1) * 3, (2 * 15 + 1) * 3)
        pixels = np.asarray(png)
    expected = model.generate(10, seed=5)
    first_tile = pixels[3 : 3 + 42 : 3, 3 : 3 + 42 : 3]
    assert np.array_equal(first_tile, np.rint(expected[0] * 255).astype(np.uint8))


def test_generate_defaults_to_64_digits_in_an_8x8_grid(tmp_path, model_dir):
    result = invoke("generate", "-o", tmp_path / "g.png", "--model", model_dir)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "g.png") as png:
        assert png.size == ((8 * 15 + 1) * 4,) * 2


def test_generate_without_seed_prints_one_that_reproduces(tmp_path, model_dir):
    result = invoke("generate", "-n", 4, "-o", tmp_path / "a.png", "--model", model_dir)
    assert result.exit_code == 0, result.output
    seed = result.output.strip().rsplit("seed ", 1)[1].rstrip(")")
    again = invoke(
        "generate", "-n", 4, "-o", tmp_path / "b.png", "--model", model_dir, "--seed", seed
    )
    assert again.exit_code == 0, again.output
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_reconstruct_writes_inputs_above_reconstructions(tmp_path, model_dir, model, digits):
    out = tmp_path / "r.png"
    result = invoke("reconstruct", *digits, "-o", out, "--model", model_dir, "--scale", 1)
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (2 * 15 + 1, 3 * 15 + 1)
    inputs = np.stack([runtime.preprocess(path) for path in digits])
    reconstructions = np.rint(model.reconstruct(inputs) * 255).astype(np.uint8)
    for column in range(3):
        left = 1 + 15 * column
        top_tile, bottom_tile = pixels[1:15, left : left + 14], pixels[16:30, left : left + 14]
        assert np.array_equal(top_tile, inputs[column].reshape(14, 14) * 255)
        assert np.array_equal(bottom_tile, reconstructions[column])


def test_reconstruct_inverts_dark_on_light_inputs(tmp_path, model_dir, digits):
    inverted = tmp_path / "inverted.png"
    Image.fromarray(255 - np.asarray(Image.open(digits[0]))).save(inverted)
    plain, flipped = tmp_path / "plain.png", tmp_path / "flipped.png"
    assert invoke("reconstruct", digits[0], "-o", plain, "--model", model_dir).exit_code == 0
    result = invoke("reconstruct", inverted, "--invert", "-o", flipped, "--model", model_dir)
    assert result.exit_code == 0, result.output
    assert plain.read_bytes() == flipped.read_bytes()


def test_encode_writes_mu_as_npy(tmp_path, model_dir, model, digits):
    mu, _ = model.encode(np.stack([runtime.preprocess(path) for path in digits]))
    result = invoke("encode", *digits, "-o", tmp_path / "z.npy", "--model", model_dir)
    assert result.exit_code == 0, result.output
    saved = np.load(tmp_path / "z.npy")
    assert saved.shape == (3, CONFIG.latent_dim) and np.array_equal(saved, mu)


def test_encode_writes_mu_and_logvar_per_file_as_json(tmp_path, model_dir, model, digits):
    mu, logvar = model.encode(np.stack([runtime.preprocess(path) for path in digits]))
    result = invoke("encode", *digits, "-o", tmp_path / "z.JSON", "--model", model_dir)
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "z.JSON").read_text())
    assert [record["file"] for record in records] == digits
    np.testing.assert_allclose([record["mu"] for record in records], mu, rtol=1e-6)
    np.testing.assert_allclose([record["logvar"] for record in records], logvar, rtol=1e-6)


def test_interpolate_ends_at_the_two_reconstructions(tmp_path, model_dir, model, digits):
    out = tmp_path / "strip.png"
    result = invoke(
        "interpolate",
        digits[0],
        digits[1],
        "-o",
        out,
        "--steps",
        4,
        "--model",
        model_dir,
        "--scale",
        1,
    )
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (16, 4 * 15 + 1)
    ends = model.reconstruct(np.stack([runtime.preprocess(p) for p in digits[:2]]))
    assert np.array_equal(pixels[1:15, 1:15], np.rint(ends[0] * 255).astype(np.uint8))
    assert np.array_equal(pixels[1:15, 46:60], np.rint(ends[1] * 255).astype(np.uint8))


def test_info_describes_the_model(model_dir):
    result = invoke("info", "--model", model_dir)
    assert result.exit_code == 0, result.output
    manifest = runtime.read_manifest(model_dir)
    assert "latent size  5" in result.output
    assert "hidden sizes 12, 8; decoder 8, 12" in result.output
    assert "encoder 196 - 12 - 8 - 5, decoder 5 - 8 - 12 - 196 (tanh)" in result.output
    assert f"opset {OPSET}" in result.output and "float32" in result.output
    for entry in (manifest.encoder, manifest.decoder):
        size = (model_dir / entry.file).stat().st_size
        assert f"{entry.file} {size:,} bytes, sha256 {entry.sha256[:16]}" in result.output
    assert "threshold 128" in result.output
    assert "random weights built by tests/runtime_fixtures.py" in result.output


def test_evaluate_prints_and_writes_the_scores(tmp_path, model_dir, mnist_dir):
    out = tmp_path / "scores.json"
    result = invoke(
        "evaluate",
        "--model",
        model_dir,
        "--split",
        "validation",
        "--k",
        3,
        "--data-dir",
        mnist_dir,
        "--json",
        out,
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["n_images"] == 1000 and scores["k"] == 3
    assert f"{scores['nll_bound']:8.3f}" in result.output


def test_bench_prints_a_table(model_dir):
    result = invoke("bench", "--model", model_dir, "--seconds", 0.05)
    assert result.exit_code == 0, result.output
    assert "| decode | 1 | 1024 |" in result.output and "onnxruntime" in result.output


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["generate", "-n", "0"], ["-n", "positive"]),
        (["generate", "-n", "-3"], ["-n", "positive"]),
        (["generate", "--scale", "0"], ["--scale", "x>=1"]),
        (["interpolate", "{digit}", "{digit}", "--steps", "1"], ["--steps", "x>=2"]),
        (["generate", "-o", "{tmp}/missing/grid.png"], ["missing does not exist"]),
        (["generate", "-o", "{tmp}/file/grid.png"], ["file is not a folder"]),
        (["generate", "-o", "{tmp}/grid.jpg"], ["grid.jpg", ".png"]),
        (["reconstruct", "{digit}", "-o", "{tmp}/r.txt"], ["r.txt", ".png"]),
        (["reconstruct", "{tmp}/notes.txt", "-o", "{tmp}/r.png"], ["notes.txt", "not an image"]),
        (["reconstruct", "{tmp}/absent.png", "-o", "{tmp}/r.png"], ["absent.png", "not found"]),
        (["encode", "{digit}", "-o", "{tmp}/z.txt"], [".npy or .json"]),
        (["encode", "{digit}", "{tmp}/notes.txt", "-o", "{tmp}/z.npy"], ["notes.txt"]),
        (["interpolate", "{digit}", "{tmp}/notes.txt", "-o", "{tmp}/i.png"], ["notes.txt"]),
        (["evaluate", "--k", "2", "--data-dir", "{tmp}/nowhere"], ["nowhere"]),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_file(tmp_path, model_dir, digits, args, fragments):
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "notes.txt").write_text("not an image")
    before = set(tmp_path.rglob("*"))
    filled = [arg.format(tmp=tmp_path, digit=digits[0]) for arg in args]
    result = invoke(*filled, "--model", model_dir)
    one_line_error(result, *fragments)
    assert set(tmp_path.rglob("*")) == before


# A graph each command runs (commands open only the graphs they run).
GRAPH_RUN_BY = {
    "generate": "decoder.onnx",
    "reconstruct": "encoder.onnx",
    "encode": "encoder.onnx",
    "info": "decoder.onnx",
}


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("no folder", "model folder not found"),
        ("no manifest", "manifest.json: manifest not found"),
        ("no graph", "{graph}: model file not found"),
        ("truncated graph", "{graph}: SHA-256 does not match"),
        ("garbage manifest", "manifest.json: not a readable JSON manifest"),
    ],
)
@pytest.mark.parametrize("command", list(GRAPH_RUN_BY))
def test_a_broken_model_folder_is_one_line_and_leaves_no_file(
    tmp_path, model_dir, digits, damage, fragment, command
):
    broken = tmp_path / "model"
    graph = broken / GRAPH_RUN_BY[command]
    if damage != "no folder":
        shutil.copytree(model_dir, broken)
    if damage == "no manifest":
        (broken / "manifest.json").unlink()
    elif damage == "no graph":
        graph.unlink()
    elif damage == "truncated graph":
        graph.write_bytes(graph.read_bytes()[:100])
    elif damage == "garbage manifest":
        (broken / "manifest.json").write_text("{ nope")
    out = tmp_path / "out"
    out.mkdir()
    inputs = {
        "generate": ["-o", out / "g.png"],
        "reconstruct": [digits[0], "-o", out / "r.png"],
        "encode": [digits[0], "-o", out / "z.npy"],
        "info": [],
    }[command]
    result = invoke(command, *inputs, "--model", broken)
    one_line_error(result, fragment.format(graph=graph.name))
    assert list(out.iterdir()) == []


def test_commands_open_only_the_graphs_they_run(tmp_path, model_dir, digits):
    broken = shutil.copytree(model_dir, tmp_path / "model")
    (broken / "encoder.onnx").write_bytes(b"not a graph, with a matching hash")
    refresh_hashes(broken)
    assert invoke("generate", "-n", 4, "-o", tmp_path / "g.png", "--model", broken).exit_code == 0
    assert (tmp_path / "g.png").exists()
    for command in (["encode", digits[0], "-o", tmp_path / "z.npy"], ["info"]):
        result = invoke(*command, "--model", broken)
        one_line_error(result, "encoder.onnx: onnxruntime cannot load it")
    assert not (tmp_path / "z.npy").exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["generate", "-n", str(10**6)], ["50,000,000"]),
        (["generate", "--nrow", str(10**9)], ["1000000000 per row"]),
        (["generate", "--scale", str(10**5)], ["scale 100000"]),
        (["interpolate", "{digit}", "{digit}", "--steps", str(10**9)], ["50,000,000"]),
        (["generate", "--threads", "10000"], ["--threads"]),
        (["bench", "--seconds", "inf"], ["--seconds"]),
        (["bench", "--seconds", "nan"], ["--seconds", "not a finite number"]),
        (["evaluate", "--seed", "-1"], ["--seed"]),
        (["generate", "--seed", str(2**63)], ["--seed"]),
        (["reconstruct", "{tmp}/fifo", "-o", "{tmp}/r.png"], ["fifo", "not an image"]),
    ],
)
def test_outputs_beyond_the_limits_are_refused_at_once(
    tmp_path, model_dir, digits, args, fragments
):
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would block forever
    filled = [arg.format(tmp=tmp_path, digit=digits[0]) for arg in args]
    started = time.perf_counter()
    result = invoke(*filled, "--model", model_dir)
    one_line_error(result, *fragments)
    assert time.perf_counter() - started < 5  # refused before any work, not after
    assert [p.name for p in tmp_path.iterdir()] == ["fifo"]


def test_a_programming_error_keeps_its_traceback(tmp_path, model_dir, monkeypatch):
    def broken_generate(self, *args, **kwargs):
        raise ValueError("a bug, not a user mistake")

    monkeypatch.setattr(VAEModel, "generate", broken_generate)
    result = invoke("generate", "-o", tmp_path / "g.png", "--model", model_dir)
    assert isinstance(result.exception, ValueError)  # not turned into a one-line error


def test_an_error_with_an_empty_message_is_still_one_line(tmp_path, model_dir, monkeypatch):
    def empty_error(self, *args, **kwargs):
        raise InputError("")

    monkeypatch.setattr(VAEModel, "generate", empty_error)
    result = invoke("generate", "-o", tmp_path / "g.png", "--model", model_dir)
    assert one_line_error(result) == "Error: InputError"
