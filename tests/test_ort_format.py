"""`vae-edge export --ort-format`: .ort files that onnxruntime runs like the .onnx graphs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from vae_edge.cli import main
from vae_edge.export import ORT_FORMAT_FILES
from vae_edge.runtime.manifest import read_manifest


@pytest.fixture(scope="module")
def ort_model_dir(small_run, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("ort") / "model"
    args = ["export", str(small_run), "-o", str(model_dir), "--ort-format"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "required_operators.config" in result.output
    return model_dir


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(("graph", "width"), [("encoder", 196), ("decoder", None)])
def test_ort_files_give_the_outputs_of_the_onnx_graphs(ort_model_dir, graph, width):
    config = read_manifest(ort_model_dir).config
    rng = np.random.default_rng(0)
    shape = (64, width or config.latent_dim)
    inputs = (rng.random(shape) < 0.3) if width else rng.standard_normal(shape)
    onnx_session = session(ort_model_dir / f"{graph}.onnx")
    ort_session = session(ort_model_dir / f"{graph}.ort")
    feed = {onnx_session.get_inputs()[0].name: inputs.astype(np.float32)}
    expected, got = onnx_session.run(None, feed), ort_session.run(None, feed)
    assert len(got) == len(expected) == 2
    for got_output, expected_output in zip(got, expected, strict=True):
        np.testing.assert_allclose(got_output, expected_output, rtol=0, atol=1e-6)


def test_operator_config_lists_the_operators_without_build_machine_paths(ort_model_dir):
    config = (ort_model_dir / "required_operators.config").read_text(encoding="utf-8")
    assert "ai.onnx;13;" in config and "Sigmoid" in config
    sources = sorted(line for line in config.splitlines() if line.startswith("# - "))
    assert sources == ["# - decoder.ort", "# - encoder.ort"]  # names, not absolute paths
    build_folder = str(ort_model_dir.parent)
    assert build_folder not in config
    for name in ("encoder.ort", "decoder.ort"):
        assert build_folder.encode() not in (ort_model_dir / name).read_bytes()


def test_export_without_ort_format_removes_stale_ort_files(ort_model_dir, small_run, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in ORT_FORMAT_FILES:
        (model_dir / name).write_bytes((ort_model_dir / name).read_bytes())
    args = ["export", str(small_run), "-o", str(model_dir), "--force"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "decoder.onnx",
        "encoder.onnx",
        "manifest.json",
    ]
