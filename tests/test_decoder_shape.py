"""A decoder whose hidden sizes differ from the encoder's: config, checkpoint, manifest, runtime."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from cli_checks import one_line_error
from click.testing import CliRunner
from onnx import numpy_helper

from vae_edge import runtime
from vae_edge.cli import main
from vae_edge.config import ModelConfig
from vae_edge.errors import InputError
from vae_edge.export import export_model
from vae_edge.mnist import load_split
from vae_edge.runtime.manifest import MANIFEST_NAME
from vae_edge.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from vae_edge.training.model import VAE

WIDE_DECODER = ModelConfig(latent_dim=3, hidden_sizes=(24, 12), decoder_hidden_sizes=(40,))


def test_the_decoder_mirrors_the_encoder_unless_told_otherwise():
    assert ModelConfig(hidden_sizes=(512, 256)).decoder_sizes == (16, 256, 512, 196)
    assert WIDE_DECODER.decoder_sizes == (3, 40, 196)
    vae = VAE(WIDE_DECODER)
    shapes = [
        tuple(layer.weight.shape) for layer in vae.decoder.modules() if hasattr(layer, "weight")
    ]
    assert shapes == [(40, 3), (196, 40)]
    assert vae.encoder.mu.in_features == 12
    with pytest.raises(InputError, match="hidden sizes"):
        ModelConfig(decoder_hidden_sizes=(0,))


def test_a_config_written_before_the_decoder_could_differ_reads_as_a_mirror():
    data = ModelConfig(hidden_sizes=(32, 8)).to_dict()
    assert data["decoder_hidden_sizes"] == [8, 32]
    del data["decoder_hidden_sizes"]
    assert ModelConfig.from_dict(data).decoder_hidden_sizes == (8, 32)
    assert ModelConfig.from_dict(WIDE_DECODER.to_dict()) == WIDE_DECODER


def test_an_older_checkpoint_without_decoder_sizes_still_loads(tmp_path, small_run):
    payload = torch.load(small_run / CHECKPOINT_NAME, weights_only=True)
    del payload["config"]["decoder_hidden_sizes"]
    torch.save(payload, tmp_path / CHECKPOINT_NAME)
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.config.decoder_hidden_sizes == (48,)


def test_an_older_manifest_without_decoder_sizes_still_loads(tmp_path, small_model_dir):
    folder = tmp_path / "model"
    folder.mkdir()
    for path in small_model_dir.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    del manifest["model"]["decoder_hidden_sizes"]
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    model = runtime.load(folder)
    assert model.config.decoder_hidden_sizes == (48,)
    assert model.decode(np.zeros((2, 6), np.float32)).shape == (2, 14, 14)


def test_train_export_and_run_a_decoder_of_its_own_shape(tmp_path, mnist_dir):
    run_dir, model_dir = tmp_path / "run", tmp_path / "model"
    result = CliRunner().invoke(
        main,
        [
            "train",
            *("--epochs", "1", "--hidden", "24,12", "--decoder-hidden", "40"),
            *("--latent-dim", "3", "--data-dir", str(mnist_dir), "--out", str(run_dir)),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "decoder 3-40-196" in result.output
    checkpoint = load_checkpoint(run_dir)
    assert checkpoint.config == WIDE_DECODER
    export_model(checkpoint, model_dir)
    manifest = json.loads((model_dir / MANIFEST_NAME).read_text())
    assert manifest["model"]["decoder_hidden_sizes"] == [40]
    decoder = onnx.load(model_dir / "decoder.onnx").graph.initializer
    n_weights = sum(numpy_helper.to_array(init).size for init in decoder)
    assert n_weights == (3 + 1) * 40 + (40 + 1) * 196
    model = runtime.load(model_dir)
    images = load_split(mnist_dir, "validation")[:5]
    assert model.reconstruct(images).shape == (5, 14, 14)
    info = CliRunner().invoke(main, ["info", "--model", str(model_dir)])
    assert "decoder 3 - 40 - 196" in info.output, info.output


@pytest.mark.parametrize("value", ["0", "a,b", "16,,8", str(10**12)])
def test_train_refuses_bad_decoder_hidden_sizes_in_one_line(tmp_path, mnist_dir, value):
    result = CliRunner().invoke(
        main,
        ["train", "--decoder-hidden", value, "--data-dir", str(mnist_dir), "--out", str(tmp_path)],
    )
    assert "--decoder-hidden" in one_line_error(result)
    assert not list(tmp_path.iterdir())
