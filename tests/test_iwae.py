"""The importance-weighted training objective (IWAE) against the evaluator's bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_checks import one_line_error
from click.testing import CliRunner

from vae_edge import runtime
from vae_edge.cli import main
from vae_edge.errors import InputError
from vae_edge.mnist import load_split
from vae_edge.runtime.evaluate import evaluate
from vae_edge.training.checkpoint import load_checkpoint
from vae_edge.training.model import iwae_terms, loss_terms
from vae_edge.training.options import TrainOptions

K = 2000


def test_the_training_loss_is_the_bound_vae_edge_evaluate_reports(
    small_vae, small_model_dir, mnist_dir
):
    images = load_split(mnist_dir, "validation")[:20]
    x = torch.from_numpy(images)
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        loss, bce, kl = iwae_terms(small_vae, x, x, K, generator)
        elbo = sum(loss_terms(x, *small_vae(x, generator)))
    evaluation = evaluate(runtime.load(small_model_dir), images, k=K, seed=0)
    # Two independent K=2000 estimates of the same bound agree to sampling noise...
    assert float(loss) == pytest.approx(evaluation.nll_bound, abs=0.05)
    assert float(kl) == pytest.approx(evaluation.kl, abs=1e-3)
    assert float(bce) == pytest.approx(evaluation.reconstruction, abs=0.05)
    # ...and the bound is tighter than the ELBO by much more than that.
    assert float(loss) < float(elbo) - 0.3


def test_iwae_training_runs_and_is_recorded(tmp_path, mnist_dir):
    result = CliRunner().invoke(
        main,
        [
            "train",
            *("--epochs", "1", "--hidden", "16", "--latent-dim", "2", "--iwae-samples", "3"),
            *("--data-dir", str(mnist_dir), "--out", str(tmp_path), "--quiet"),
        ],
    )
    assert result.exit_code == 0, result.output
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.train_options().iwae_samples == 3
    assert np.isfinite(checkpoint.history[0]["train_reconstruction"])
    resumed = CliRunner().invoke(
        main, ["train", "--out", str(tmp_path), "--resume", "--iwae-samples", "5"]
    )
    assert "--iwae-samples 5" in one_line_error(resumed)


@pytest.mark.parametrize("value", ["0", "1001", "x"])
def test_train_refuses_bad_iwae_samples_in_one_line(tmp_path, mnist_dir, value):
    result = CliRunner().invoke(
        main,
        ["train", "--iwae-samples", value, "--data-dir", str(mnist_dir), "--out", str(tmp_path)],
    )
    assert "--iwae-samples" in one_line_error(result)


def test_kl_warmup_is_refused_with_the_iwae_objective():
    with pytest.raises(InputError, match="kl_warmup"):
        TrainOptions(iwae_samples=5, kl_warmup=10)
