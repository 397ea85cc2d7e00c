"""`vae_edge.runtime.evaluate` against the same quantities computed with PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_edge import runtime
from vae_edge.mnist import load_split
from vae_edge.runtime.evaluate import evaluate
from vae_edge.training.model import VAE

K = 64


@pytest.fixture(scope="module")
def exported(small_model_dir, small_vae, mnist_dir):
    return runtime.load(small_model_dir), small_vae, load_split(mnist_dir, "validation")[:40]


def torch_reference(vae: VAE, images: np.ndarray, k: int, seed: int) -> dict[str, float]:
    """Straightforward PyTorch (float64) version of the same estimators and eps stream."""
    eps = np.random.default_rng(seed).standard_normal(
        (len(images), k, vae.config.latent_dim), dtype=np.float32
    )
    x = torch.from_numpy(images)
    with torch.inference_mode():
        mu, logvar = vae.encoder(x)
        z = mu[:, None] + torch.from_numpy(eps) * torch.exp(0.5 * logvar)[:, None]
        logits = vae.decoder(z).double()
        log_px = -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x[:, None].double().expand_as(logits), reduction="none"
        ).sum(-1)
        normal = torch.distributions.Normal(0.0, 1.0)
        log_pz = normal.log_prob(z.double()).sum(-1)
        posterior = torch.distributions.Normal(
            mu[:, None].double(), torch.exp(0.5 * logvar)[:, None].double()
        )
        log_qz = posterior.log_prob(z.double()).sum(-1)
        kl = torch.distributions.kl_divergence(
            torch.distributions.Normal(mu.double(), torch.exp(0.5 * logvar).double()), normal
        ).sum(-1)
        log_w = log_px + log_pz - log_qz
        nll = -(torch.logsumexp(log_w, dim=1) - math.log(k))
    return {
        "reconstruction": float(-log_px.mean()),
        "kl": float(kl.mean()),
        "negative_elbo": float(-log_px.mean() + kl.mean()),
        "nll_bound": float(nll.mean()),
        # The ELBO estimated from the same samples (log q - log p in place of the closed KL).
        "sampled_negative_elbo": float(-log_w.mean()),
    }


def test_evaluate_matches_pytorch_on_the_same_samples(exported):
    model, vae, images = exported
    ours = evaluate(model, images, k=K, seed=7)
    reference = torch_reference(vae, images, k=K, seed=7)
    for name in ("reconstruction", "kl", "negative_elbo", "nll_bound"):
        assert getattr(ours, name) == pytest.approx(reference[name], abs=2e-3), name
    # Jensen on the same samples: log of the mean weight >= mean of the log weights.
    assert ours.nll_bound < reference["sampled_negative_elbo"]


def test_evaluate_does_not_depend_on_chunking_and_k1_is_the_elbo(exported):
    model, vae, images = exported
    whole = evaluate(model, images, k=K, seed=3)
    chunked = evaluate(model, images, k=K, seed=3, max_rows=K * 3)
    assert chunked.nll_bound == pytest.approx(whole.nll_bound, abs=1e-9)
    single = evaluate(model, images, k=1, seed=3)
    # K = 1: the bound is the single-sample ELBO estimate on that same sample.
    reference = torch_reference(vae, images, k=1, seed=3)
    assert single.nll_bound == pytest.approx(reference["sampled_negative_elbo"], abs=2e-3)
    assert single.nll_bound >= whole.nll_bound


def test_evaluate_chunks_over_k_too_and_gets_the_same_numbers(exported):
    model, _, images = exported
    decoded_rows = []

    class Watched:
        """The real model, with the size of every decoder call recorded."""

        latent_dim, config, encode = model.latent_dim, model.config, model.encode

        def decode_logits(self, z):
            decoded_rows.append(len(z))
            return model.decode_logits(z)

    chunked = evaluate(Watched(), images[:3], k=1000, seed=5, max_rows=96)
    assert max(decoded_rows) <= 96 and sum(decoded_rows) == 3 * 1000
    whole = evaluate(model, images[:3], k=1000, seed=5)
    for name in ("reconstruction", "kl", "nll_bound"):
        assert getattr(chunked, name) == pytest.approx(getattr(whole, name), abs=1e-9), name


def test_more_samples_tighten_the_bound(exported):
    model, _, images = exported
    loose = evaluate(model, images, k=2, seed=0).nll_bound
    tight = evaluate(model, images, k=256, seed=0).nll_bound
    assert tight < loose


@pytest.mark.parametrize("k", [0, -3])
def test_evaluate_rejects_non_positive_k(exported, k):
    model, _, images = exported
    with pytest.raises(ValueError, match="k must be"):
        evaluate(model, images, k=k)


def test_evaluate_rejects_images_of_the_wrong_size(exported):
    model, _, _ = exported
    with pytest.raises(ValueError, match="196"):
        evaluate(model, np.zeros((3, 100), np.float32), k=2)
