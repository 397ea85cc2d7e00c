"""`vae-edge export-c`: C99 decoder source built with the real C compiler, against onnxruntime."""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_checks import one_line_error
from click.testing import CliRunner
from runtime_fixtures import build_model_dir, refresh_hashes

from vae_edge import runtime
from vae_edge.cli import main

N_CODES = 1000
C_TOLERANCE = 1e-5  # float32 C against onnxruntime, per pixel probability
# Absolute paths of this machine that generated files must not carry.
BUILD_MACHINE_PATH = re.compile(r"(?<![\w.*])/(home|root|tmp|work|Users|usr|opt)/")


def invoke(*args):
    return CliRunner().invoke(main, ["export-c", *map(str, args)])


def make(out_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make -C out_dir ...`; CI must have make and a C compiler, so none is a failure."""
    for tool in ("make", "cc"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found on PATH: the C export test needs it")
    return subprocess.run(
        ["make", "-C", str(out_dir), *args], capture_output=True, text=True, timeout=300
    )


def export_and_build(out_dir: Path, model: str) -> Path:
    """`export-c --model MODEL -o OUT_DIR`, then `make example vae_decoder.o` there."""
    result = invoke("--model", model, "-o", out_dir)
    assert result.exit_code == 0, result.output
    built = make(out_dir, "example", "vae_decoder.o")
    assert built.returncode == 0, built.stdout + built.stderr
    assert "-Werror" in built.stdout  # warnings are errors, as the docs say
    return out_dir


@pytest.fixture(scope="module")
def c_build(tmp_path_factory):
    """The bundled tiny model exported to C and built with `make` (the system `cc`)."""
    return export_and_build(tmp_path_factory.mktemp("c") / "decoder-c", "tiny")


@pytest.fixture(scope="module")
def default_build(tmp_path_factory):
    """The bundled default model exported to C and built with `make`."""
    return export_and_build(tmp_path_factory.mktemp("c") / "default-c", "default")


def test_force_replaces_an_earlier_export_and_leaves_no_scratch(tmp_path):
    out_dir = tmp_path / "decoder-c"
    assert invoke("--model", "tiny", "-o", out_dir).exit_code == 0
    (out_dir / "example").write_text("an earlier build of the example")
    result = invoke("--model", "tiny", "-o", out_dir, "--force")
    assert result.exit_code == 0, result.output
    assert not (out_dir / "example").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["decoder-c"]  # no scratch left


def run_example(out_dir: Path, data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([out_dir / "example"], input=data, capture_output=True, timeout=60)


def test_export_c_writes_header_source_example_and_makefile(c_build):
    assert sorted(p.name for p in c_build.iterdir()) == [
        "Makefile",
        "example",
        "example.c",
        "vae_decoder.c",
        "vae_decoder.h",
        "vae_decoder.o",
    ]


def test_tiny_decoder_fits_64_kib_of_flash_and_needs_no_static_ram(c_build):
    if shutil.which("size") is None:
        pytest.fail("size (binutils) not found on PATH: the C export test needs it")
    sizes = subprocess.run(
        ["size", "vae_decoder.o"], cwd=c_build, capture_output=True, text=True, check=True
    )
    text, data, bss = map(int, sizes.stdout.splitlines()[1].split()[:3])
    assert text + data <= 64 * 1024  # text holds the const weights (.rodata)
    assert data + bss == 0  # nothing writable: weights are const, buffers on the stack


@pytest.mark.parametrize("build", ["c_build", "default_build"])
def test_example_matches_onnxruntime_on_1000_codes(request, build):
    """1,000 codes, the first few far outside the prior: -ffast-math must not turn an
    overflowing exp into a NaN or a probability outside [0, 1]."""
    model = runtime.load("tiny" if build == "c_build" else "default")
    z = np.random.default_rng(0).standard_normal((N_CODES, model.latent_dim)).astype("<f4")
    z[:4] = np.array([1e3, -1e3, 1e6, -1e6], "<f4")[:, None]
    result = run_example(request.getfixturevalue(build), z.tobytes())
    assert result.returncode == 0, result.stderr
    c_probs = np.frombuffer(result.stdout, dtype="<f4").reshape(N_CODES, 14, 14)
    np.testing.assert_allclose(c_probs, model.decode(z), rtol=0, atol=C_TOLERANCE)


def test_example_rejects_input_that_ends_inside_a_code(c_build):
    latent_dim = runtime.load("tiny").latent_dim
    result = run_example(c_build, np.zeros(latent_dim + 1, "<f4").tobytes())
    assert result.returncode == 1
    assert len(result.stdout) == 196 * 4  # the one whole code was decoded
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and f"multiple of {latent_dim}" in lines[0]


def test_decoder_source_has_no_heap_stdio_or_build_machine_paths(c_build):
    for name in ("vae_decoder.c", "vae_decoder.h"):
        text = (c_build / name).read_text(encoding="utf-8")
        assert not re.search(r"\b(malloc|calloc|realloc|free|printf|fopen)\s*\(", text)
        assert "#include <stdio.h>" not in text and "#include <stdlib.h>" not in text
        assert not BUILD_MACHINE_PATH.search(text), BUILD_MACHINE_PATH.search(text)
        assert str(c_build) not in text and f"/{getpass.getuser()}/" not in text


def test_make_without_the_compiler_is_one_line_and_builds_nothing(c_build, tmp_path):
    out_dir = tmp_path / "copy"
    shutil.copytree(c_build, out_dir)
    for built in ("example", "vae_decoder.o"):
        (out_dir / built).unlink()
    result = make(out_dir, "CC=vae-edge-no-such-cc")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'vae-edge-no-such-cc' not found on PATH" in lines[0], lines
    assert not (out_dir / "example").exists()


def test_export_c_refuses_a_folder_that_is_not_empty(c_build):
    one_line_error(invoke("--model", "tiny", "-o", c_build), "not empty", "--force")
    assert (c_build / "example").exists()


def decoder_with_op(tmp_path: Path, op_type: str) -> Path:
    """A model folder whose decoder's Sigmoid node is replaced by `op_type`."""
    model_dir, _ = build_model_dir(tmp_path / "model")
    graph = onnx.load(str(model_dir / "decoder.onnx"))
    next(node for node in graph.graph.node if node.op_type == "Sigmoid").op_type = op_type
    onnx.save(graph, str(model_dir / "decoder.onnx"))
    refresh_hashes(model_dir)
    return model_dir


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        ("no decoder", ("decoder.onnx", "not found")),
        ("unsupported op", ("decoder.onnx", "ai.onnx.RandomNormalLike")),
        ("unwritable", ("/proc/vae-edge-c", "cannot write there")),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, damage, fragments):
    if damage == "unsupported op":
        model_dir = decoder_with_op(tmp_path, "RandomNormalLike")
    else:
        model_dir, _ = build_model_dir(tmp_path / "model")
    if damage == "no decoder":
        (model_dir / "decoder.onnx").unlink()
    out_dir = Path("/proc/vae-edge-c") if damage == "unwritable" else tmp_path / "out"
    one_line_error(invoke("--model", model_dir, "-o", out_dir), *fragments)
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no scratch folder
