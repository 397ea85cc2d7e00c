"""`vae-edge train --init-from`: a new run that starts from another run's weights."""

from __future__ import annotations

import json

import pytest
import torch
from cli_checks import one_line_error
from click.testing import CliRunner

from vae_edge.cli import main
from vae_edge.export import export_model
from vae_edge.runtime.manifest import MANIFEST_NAME
from vae_edge.training.checkpoint import load_checkpoint


def test_a_run_started_from_another_keeps_its_shape_and_weights_and_records_where_from(
    tmp_path, small_run, mnist_dir
):
    source = load_checkpoint(small_run)
    result = CliRunner().invoke(
        main,
        [
            "train",
            *("--init-from", str(small_run), "--epochs", "1", "--lr", "1e-9"),
            *("--iwae-samples", "2", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "ft")),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    tuned = load_checkpoint(tmp_path / "ft")
    assert tuned.config == source.config
    # A learning rate of 1e-9 moves no weight by more than rounding: they are the source's
    # (fresh ones, drawn at random, would differ by the size of the weights themselves).
    for name, weights in source.model_state.items():
        torch.testing.assert_close(tuned.model_state[name], weights, atol=1e-6, rtol=0)
    assert tuned.started_from == {"epochs": source.epoch, "options": source.options}
    export_model(tuned, tmp_path / "model")
    training = json.loads((tmp_path / "model" / MANIFEST_NAME).read_text())["training"]
    assert training["started_from"]["epochs"] == source.epoch
    assert training["options"]["iwae_samples"] == 2


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--hidden", "8"], "--hidden"),
        (["--decoder-hidden", "8"], "--decoder-hidden"),
        (["--resume"], "--resume"),
    ],
)
def test_init_from_refuses_shape_options_and_resume(
    tmp_path, small_run, mnist_dir, extra, fragment
):
    args = ["train", "--init-from", str(small_run), *extra, "--data-dir", str(mnist_dir)]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r")])
    assert fragment in one_line_error(result, "--init-from")
    assert not (tmp_path / "r").exists()


def test_init_from_a_missing_run_is_one_line(tmp_path, mnist_dir):
    args = ["train", "--init-from", str(tmp_path / "nothing"), "--data-dir", str(mnist_dir)]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r")])
    assert "not found" in one_line_error(result, "--init-from")
    assert not (tmp_path / "r").exists()
