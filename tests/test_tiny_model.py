"""The bundled `tiny` model: found by name, exported as `vae-edge export` writes int8 today."""

from __future__ import annotations

import onnx
from click.testing import CliRunner

from vae_edge import runtime
from vae_edge.cli import main
from vae_edge.export import export_model
from vae_edge.models import bundled_model_dir
from vae_edge.runtime.manifest import read_manifest
from vae_edge.training.checkpoint import load_checkpoint

FLASH_BUDGET = 64 * 1024  # bytes of decoder weights the tiny model is made for


def test_tiny_loads_by_name_with_its_own_shape_and_fits_64_kib():
    model = runtime.load("tiny")
    assert model.model_dir == bundled_model_dir("tiny")
    assert (model.latent_dim, model.config.decoder_sizes) == (16, (16, 256, 196))
    assert model.manifest.variant == "int8"
    assert (bundled_model_dir("tiny") / "decoder.onnx").stat().st_size <= FLASH_BUDGET
    digits = model.generate(8, seed=0)
    assert digits.shape == (8, 14, 14) and digits.min() >= 0 and digits.max() <= 1
    assert (digits > 0.5).mean() > 0.05  # strokes, not a blank or saturated picture


def test_model_tiny_selects_it_on_the_command_line():
    result = CliRunner().invoke(main, ["info", "--model", "tiny"])
    assert result.exit_code == 0, result.output
    assert "decoder 16 - 256 - 196" in result.output and "variant      int8" in result.output


def test_tiny_graphs_are_what_export_writes_for_int8_today(tmp_path, small_run):
    """Same operators in the same order, opset, IR version and metadata as a fresh export."""
    fresh = tmp_path / "fresh"
    export_model(load_checkpoint(small_run), fresh, quantize="int8")
    bundled = bundled_model_dir("tiny")
    for name in ("encoder.onnx", "decoder.onnx"):
        ours, theirs = onnx.load(bundled / name), onnx.load(fresh / name)
        assert [n.op_type for n in ours.graph.node] == [n.op_type for n in theirs.graph.node]
        assert ours.opset_import == theirs.opset_import and ours.ir_version == theirs.ir_version
        assert ours.metadata_props == theirs.metadata_props and not ours.doc_string
        assert not any(node.doc_string for node in ours.graph.node)
    assert read_manifest(bundled).opset == read_manifest(fresh).opset
