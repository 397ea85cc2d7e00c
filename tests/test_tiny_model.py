"""The bundled `tiny` model: found by name, exported portably, small enough for an MCU."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

from vae_edge import runtime
from vae_edge.cli import main
from vae_edge.models import bundled_model_dir


def test_tiny_loads_by_name_with_its_own_shape():
    model = runtime.load("tiny")
    assert model.model_dir == bundled_model_dir("tiny")
    assert (model.latent_dim, model.config.hidden_sizes) == (16, (64,))
    assert (model.manifest.opset, model.manifest.ir_version) == (13, 7)  # portable export
    assert (bundled_model_dir("tiny") / "decoder.onnx").stat().st_size < 64 * 1024
    digits = model.generate(8, seed=0)
    assert digits.shape == (8, 14, 14) and digits.min() >= 0 and digits.max() <= 1
    assert not np.allclose(digits, runtime.load().generate(8, seed=0), atol=1e-3)


def test_model_tiny_selects_it_on_the_command_line(tmp_path):
    result = CliRunner().invoke(main, ["info", "--model", "tiny"])
    assert result.exit_code == 0, result.output
    assert "196 - 64 - 16" in result.output
    grid, expected, default = (tmp_path / f"{name}.png" for name in ("cli", "api", "default"))
    args = ["generate", "-n", "4", "--seed", "0", "-o"]
    result = CliRunner().invoke(main, [*args, str(grid), "--model", "tiny"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(main, [*args, str(default)]).exit_code == 0
    runtime.save_grid(runtime.load("tiny").generate(4, seed=0), expected)
    assert np.array_equal(np.asarray(Image.open(grid)), np.asarray(Image.open(expected)))
    assert not np.array_equal(np.asarray(Image.open(grid)), np.asarray(Image.open(default)))
