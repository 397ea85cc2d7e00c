"""The runtime commands end to end, and their one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from vae_edge import runtime
from vae_edge.cli import main
from vae_edge.mnist import read_idx


@pytest.fixture(scope="module")
def digits(tmp_path_factory, mnist_dir):
    folder = tmp_path_factory.mktemp("inputs")
    paths = []
    for index, image in enumerate(read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:3]):
        paths.append(str(folder / f"d{index}.png"))
        Image.fromarray(image).save(paths[-1])
    return paths


def invoke(*args: str):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0]


def test_generate_writes_the_grid_and_is_reproducible(tmp_path, small_model_dir):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for path in (first, second):
        result = invoke(
            "generate",
            "-n",
            10,
            "-o",
            path,
            "--model",
            small_model_dir,
            "--seed",
            5,
            "--nrow",
            5,
            "--scale",
            3,
        )
        assert result.exit_code == 0, result.output
        assert "seed 5" in result.output
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as png:
        assert png.size == ((5 * 15 + 1) * 3, (2 * 15 + 1) * 3)
    expected = runtime.load(small_model_dir).generate(10, seed=5)
    pixels = np.asarray(Image.open(first))[3:45:3, 3:45:3]
    assert np.array_equal(pixels, (expected[0] * 255).round().astype(np.uint8))


def test_generate_without_seed_prints_one_that_reproduces(tmp_path, small_model_dir):
    result = invoke("generate", "-n", 4, "-o", tmp_path / "a.png", "--model", small_model_dir)
    seed = result.output.strip().rsplit("seed ", 1)[1].rstrip(")")
    invoke(
        "generate", "-n", 4, "-o", tmp_path / "b.png", "--model", small_model_dir, "--seed", seed
    )
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_reconstruct_writes_inputs_above_reconstructions(tmp_path, small_model_dir, digits):
    out = tmp_path / "r.png"
    result = invoke("reconstruct", *digits, "-o", out, "--model", small_model_dir, "--scale", 1)
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (2 * 15 + 1, 3 * 15 + 1)
    model = runtime.load(small_model_dir)
    inputs = np.stack([runtime.preprocess(path) for path in digits])
    assert np.array_equal(pixels[1:15, 1:15], (inputs[0].reshape(14, 14) * 255).astype(np.uint8))
    expected = (model.reconstruct(inputs)[0] * 255).round().astype(np.uint8)
    assert np.array_equal(pixels[16:30, 1:15], expected)


def test_encode_writes_npy_and_json(tmp_path, small_model_dir, digits):
    model = runtime.load(small_model_dir)
    mu, logvar = model.encode(np.stack([runtime.preprocess(path) for path in digits]))
    assert (
        invoke("encode", *digits, "-o", tmp_path / "z.npy", "--model", small_model_dir).exit_code
        == 0
    )
    assert np.array_equal(np.load(tmp_path / "z.npy"), mu)
    assert (
        invoke("encode", *digits, "-o", tmp_path / "z.json", "--model", small_model_dir).exit_code
        == 0
    )
    records = json.loads((tmp_path / "z.json").read_text())
    assert [r["file"] for r in records] == digits
    np.testing.assert_allclose([r["logvar"] for r in records], logvar, rtol=1e-6)


def test_interpolate_ends_at_the_two_reconstructions(tmp_path, small_model_dir, digits):
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
        small_model_dir,
        "--scale",
        1,
    )
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (16, 4 * 15 + 1)
    model = runtime.load(small_model_dir)
    ends = model.reconstruct(np.stack([runtime.preprocess(p) for p in digits[:2]]))
    assert np.array_equal(pixels[1:15, 1:15], (ends[0] * 255).round().astype(np.uint8))
    assert np.array_equal(pixels[1:15, 46:60], (ends[1] * 255).round().astype(np.uint8))


def test_info_describes_the_model(small_model_dir):
    result = invoke("info", "--model", small_model_dir)
    assert result.exit_code == 0, result.output
    manifest = runtime.read_manifest(small_model_dir)
    assert "latent size  6" in result.output
    assert manifest.decoder.sha256[:16] in result.output
    assert "validation_reconstruction" in result.output


def test_evaluate_prints_and_writes_the_scores(tmp_path, small_model_dir, mnist_dir):
    out = tmp_path / "scores.json"
    result = invoke(
        "evaluate",
        "--model",
        small_model_dir,
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


def test_bench_prints_a_table(small_model_dir):
    result = invoke("bench", "--model", small_model_dir, "--seconds", 0.05)
    assert result.exit_code == 0, result.output
    assert "| decode | 1 | 1024 |" in result.output and "onnxruntime" in result.output


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["generate", "-n", "0"], ["-n", "positive"]),
        (["generate", "-n", "-3"], ["-n", "positive"]),
        (["generate", "-o", "{tmp}/missing/grid.png"], ["missing"]),
        (["generate", "-o", "{tmp}/file/grid.png"], ["file"]),
        (["encode", "{digit}", "-o", "{tmp}/z.txt"], [".npy or .json"]),
        (["reconstruct", "{tmp}/notes.txt", "-o", "{tmp}/r.png"], ["notes.txt", "not an image"]),
        (["evaluate", "--k", "2", "--data-dir", "{tmp}/nowhere"], ["nowhere"]),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_file(
    tmp_path, small_model_dir, digits, args, fragments
):
    (tmp_path / "file").write_text("a file, not a folder")
    (tmp_path / "notes.txt").write_text("not an image")
    before = set(tmp_path.rglob("*"))
    filled = [a.format(tmp=tmp_path, digit=digits[0]) for a in args]
    result = invoke(*filled, "--model", small_model_dir)
    assert_one_line_error(result, *fragments)
    assert set(tmp_path.rglob("*")) == before


def test_model_folder_without_its_files_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke("generate", "--model", tmp_path / "empty", "-o", tmp_path / "g.png")
    assert_one_line_error(result, "manifest.json")
    assert not (tmp_path / "g.png").exists()
