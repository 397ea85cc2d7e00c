"""`vae-edge export-c`: C99 decoder source built with the real C compiler, against onnxruntime."""

from __future__ import annotations

import getpass
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_checks import cli_process_command, one_line_error
from click.testing import CliRunner
from full_disk import file_size_limit
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from runtime_fixtures import build_model_dir, refresh_hashes

from vae_edge import runtime
from vae_edge.c_source import C_TOLERANCES
from vae_edge.cli import main
from vae_edge.config import ModelConfig

N_CODES = 1000
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
    assert sorted(p.name for p in (c_build / "cortex-m4").iterdir()) == [
        "link.ld",
        "main.c",
        "startup.c",
    ]
    assert sorted(p.name for p in c_build.iterdir()) == [
        "Makefile",
        "cortex-m4",
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
    # The example decodes one code at a time; an int8 graph (the tiny model's) quantizes
    # its activations with the range of the whole batch, so onnxruntime does the same.
    expected = np.concatenate([model.decode(code[None]) for code in z])
    tolerance = C_TOLERANCES[model.manifest.variant]
    np.testing.assert_allclose(c_probs, expected, rtol=0, atol=tolerance)


def test_a_logit_where_expf_overflows_gives_probability_0_not_nan(default_build):
    """expf overflows float below a logit of -88.7, and -ffast-math turns 1 / (1 + inf)
    into NaN; the C clips the sigmoid's input first (c_source.SIGMOID_INPUT_LIMIT)."""
    model = runtime.load("default")
    draws = np.random.default_rng(0).standard_normal((20000, model.latent_dim)).astype("<f4")
    lowest = model.decode_logits(draws).min(axis=1)
    z = draws[np.argsort(lowest)[:8]]
    assert model.decode_logits(z).min() < -88.8  # the case is reached
    result = run_example(default_build, z.tobytes())
    assert result.returncode == 0, result.stderr
    c_probs = np.frombuffer(result.stdout, dtype="<f4").reshape(len(z), 14, 14)
    assert np.isfinite(c_probs).all()
    np.testing.assert_allclose(c_probs, model.decode(z), rtol=0, atol=C_TOLERANCES["float32"])


@pytest.mark.parametrize(("n_bytes", "n_codes"), [(3, 0), (64 + 1, 1), (64 + 4, 1), (64 + 7, 1)])
def test_example_rejects_input_that_ends_inside_a_code(c_build, n_bytes, n_codes):
    latent_dim = runtime.load("tiny").latent_dim
    assert latent_dim * 4 == 64  # the byte counts above: one code, then part of another
    result = run_example(c_build, bytes(n_bytes))
    assert result.returncode == 1
    assert len(result.stdout) == n_codes * 196 * 4  # the whole codes were decoded
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and f"multiple of {latent_dim}" in lines[0]


@pytest.fixture(scope="module")
def int8_build(small_int8_dir, tmp_path_factory):
    """The small model's int8 folder (`export --quantize int8`) exported to C and built."""
    return export_and_build(tmp_path_factory.mktemp("c") / "int8-c", str(small_int8_dir))


def test_int8_example_follows_onnx_reference_and_stays_near_onnxruntime(small_int8_dir, int8_build):
    """The C computes the int8 graph's dynamic quantization as onnx.reference does; both
    differ from onnxruntime on some codes by a step of a layer's zero point."""
    model = runtime.load(small_int8_dir)
    assert model.manifest.variant == "int8"
    z = np.random.default_rng(0).standard_normal((N_CODES, model.latent_dim)).astype("<f4")
    result = run_example(int8_build, z.tobytes())
    assert result.returncode == 0, result.stderr
    c_probs = np.frombuffer(result.stdout, dtype="<f4").reshape(N_CODES, -1)
    ort_probs = np.concatenate([model.decode(code[None]) for code in z]).reshape(N_CODES, -1)
    np.testing.assert_allclose(c_probs, ort_probs, rtol=0, atol=C_TOLERANCES["int8"])
    reference = ReferenceEvaluator(onnx.load(str(small_int8_dir / "decoder.onnx")))
    ref_probs = np.concatenate(  # batch 1: the quantization is computed per call
        [reference.run(["probs"], {"z": z[i : i + 1]})[0] for i in range(N_CODES)]
    )
    per_code = np.abs(c_probs - ref_probs).max(axis=1)
    assert np.mean(per_code <= C_TOLERANCES["float32"]) >= 0.99, np.sort(per_code)[-20:]
    assert per_code.max() <= C_TOLERANCES["int8"]


def test_an_int8_graph_with_an_operator_the_compiler_lacks_is_one_line(small_int8_dir, tmp_path):
    model_dir = decoder_with_op(tmp_path, "RandomNormalLike", small_int8_dir, "MatMulInteger")
    out_dir = tmp_path / "out"
    one_line_error(invoke("--model", model_dir, "-o", out_dir), "decoder.onnx", "RandomNormalLike")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


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


def test_export_c_refuses_an_earlier_export_without_force(c_build):
    one_line_error(invoke("--model", "tiny", "-o", c_build), "holds a C export", "--force")
    assert (c_build / "example").exists()


@pytest.mark.parametrize("user_file", ["precious.txt", "b/mine.txt", "cortex-m4/notes.txt"])
def test_force_never_replaces_a_folder_holding_the_users_files(c_build, tmp_path, user_file):
    out_dir = tmp_path / "copy"
    shutil.copytree(c_build, out_dir)
    (out_dir / user_file).parent.mkdir(exist_ok=True)
    (out_dir / user_file).write_text("the user's own")
    result = invoke("--model", "tiny", "-o", out_dir, "--force")
    one_line_error(result, str(out_dir), "holds more than an earlier C export")
    assert (out_dir / user_file).read_text() == "the user's own"
    assert (out_dir / "example").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]


@pytest.mark.parametrize("out", [".", "..", "sub/.."])
def test_the_current_folder_is_refused_in_one_line(tmp_path, monkeypatch, out):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    monkeypatch.chdir(work)
    one_line_error(invoke("--model", "tiny", "-o", out, "--force"), "not the current folder")
    assert sorted(p.name for p in work.iterdir()) == ["sub"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_export_c_into_a_folder_named_with_dots_lands_there(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = invoke("--model", "tiny", "-o", "../out/.", "--force")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "vae_decoder.c").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "work"]


def test_a_full_disk_is_one_line_and_keeps_the_earlier_export(c_build, tmp_path):
    out_dir = tmp_path / "copy"
    shutil.copytree(c_build, out_dir)
    before = sorted(p.name for p in out_dir.iterdir())
    result = subprocess.run(
        cli_process_command("export-c", "--model", "tiny", "-o", str(out_dir), "--force"),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=file_size_limit(65536),
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write there (File too large)" in lines[0], lines
    assert sorted(p.name for p in out_dir.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no scratch left


def test_ctrl_c_is_one_line_130_and_leaves_nothing(tmp_path):
    out_dir = tmp_path / "out"
    process = subprocess.Popen(
        cli_process_command("export-c", "--model", "default", "-o", str(out_dir)),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(tmp_path.iterdir()):  # the scratch folder: the export is under way
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["interrupted"]
    assert list(tmp_path.iterdir()) == []


def graph_with_big_buffer(tmp_path: Path, kind: str) -> Path:
    """A model folder whose decoder holds a 17M-float constant ("weights") or tiles the
    logits into a 1.5 MB intermediate tensor ("stack") before the sigmoid."""
    model_dir, _ = build_model_dir(tmp_path / "model")
    graph = onnx.load(str(model_dir / "decoder.onnx"))
    sigmoid = next(node for node in graph.graph.node if node.op_type == "Sigmoid")
    if kind == "weights":
        big = numpy_helper.from_array(np.zeros(17 * 2**20, np.float32), "big")
        graph.graph.node.append(helper.make_node("Constant", [], ["unused"], value=big))
    else:
        repeats = numpy_helper.from_array(np.array([1, 2000], np.int64), "repeats")
        graph.graph.initializer.append(repeats)
        logits = sigmoid.input[0]
        graph.graph.node.extend(
            [
                helper.make_node("Tile", [logits, "repeats"], ["tiled"]),
                helper.make_node("ReduceMax", ["tiled"], ["top"], axes=[1], keepdims=1),
                helper.make_node("Sub", [logits, "top"], ["shifted"]),
            ]
        )
        sigmoid.input[0] = "shifted"
    onnx.save(graph, str(model_dir / "decoder.onnx"))
    refresh_hashes(model_dir)
    return model_dir


@pytest.mark.parametrize(
    ("kind", "fragments"),
    [
        ("weights", ("its weights take 71,3", "more than the 67,108,864")),
        ("stack", ("bytes of stack, more than the 1,048,576",)),
    ],
)
def test_a_graph_whose_buffers_exceed_the_bounds_is_refused(tmp_path, kind, fragments):
    model_dir = graph_with_big_buffer(tmp_path, kind)
    out_dir = tmp_path / "out"
    one_line_error(invoke("--model", model_dir, "-o", out_dir), "decoder.onnx", *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def decoder_with_op(
    tmp_path: Path, op_type: str, model_dir: Path | None = None, replaced: str = "Sigmoid"
) -> Path:
    """A model folder (a copy of `model_dir`, else a small random one) whose decoder's
    first `replaced` node is replaced by `op_type`."""
    if model_dir is None:
        model_dir, _ = build_model_dir(tmp_path / "model")
    else:
        model_dir = shutil.copytree(model_dir, tmp_path / "model")
    graph = onnx.load(str(model_dir / "decoder.onnx"))
    next(node for node in graph.graph.node if node.op_type == replaced).op_type = op_type
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


def test_a_decoder_shaped_apart_from_its_encoder_matches_onnxruntime(tmp_path):
    config = ModelConfig(latent_dim=5, hidden_sizes=(12, 8), decoder_hidden_sizes=(20, 30))
    model_dir, _ = build_model_dir(tmp_path / "model", config)
    out_dir = export_and_build(tmp_path / "c", str(model_dir))
    model = runtime.load(model_dir)
    z = np.random.default_rng(1).standard_normal((64, 5)).astype("<f4")
    result = run_example(out_dir, z.tobytes())
    assert result.returncode == 0, result.stderr
    c_probs = np.frombuffer(result.stdout, dtype="<f4").reshape(64, 14, 14)
    np.testing.assert_allclose(c_probs, model.decode(z), rtol=0, atol=C_TOLERANCES["float32"])
