"""Test-set quality of an exported model: negative ELBO and the importance-weighted NLL bound.

Runs on the runtime alone (onnxruntime + numpy), so it measures any exported variant,
float or quantized, exactly as a device would run it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from vae_edge.errors import InputError
from vae_edge.runtime.model import VAEModel
from vae_edge.runtime.noise import CLEAN_AND_FLIP_RATES, flip_pixels

LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class Evaluation:
    """Per-image averages in nats over `n_images` images."""

    n_images: int
    k: int
    seed: int
    reconstruction: float  # E_q[-log p(x|z)], estimated with the k samples
    kl: float  # KL(q(z|x) || N(0, I)), closed form
    negative_elbo: float  # reconstruction + kl
    nll_bound: float  # -log (1/k) sum_k p(x, z_k) / q(z_k|x): an upper bound on -log p(x)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _log_sum_exp(values: np.ndarray, axis: int) -> np.ndarray:
    peak = values.max(axis=axis, keepdims=True)
    return np.squeeze(peak, axis) + np.log(np.exp(values - peak).sum(axis=axis))


def _sample_terms(
    model: VAEModel,
    batch: np.ndarray,
    mu: np.ndarray,
    logvar: np.ndarray,
    n_samples: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """log p(x|z_k) and log p(x, z_k) / q(z_k|x) for `n_samples` new z per image, [B, n]."""
    eps = rng.standard_normal((len(batch), n_samples, model.latent_dim), dtype=np.float32)
    z = mu[:, None, :] + eps * np.exp(0.5 * logvar)[:, None, :]
    logits = model.decode_logits(z.reshape(-1, model.latent_dim)).astype(np.float64)
    logits = logits.reshape(len(batch), n_samples, -1)
    # log p(x|z) = sum x*l - softplus(l), written so large |l| never overflows.
    log_likelihood = (batch[:, None, :] * logits - np.logaddexp(0.0, logits)).sum(axis=2)
    z64, eps64 = z.astype(np.float64), eps.astype(np.float64)
    log_prior = -0.5 * (z64**2 + LOG_2PI).sum(axis=2)
    log_posterior = -0.5 * (eps64**2 + LOG_2PI + logvar[:, None, :]).sum(axis=2)
    return log_likelihood, log_likelihood + log_prior - log_posterior


def evaluate(
    model: VAEModel,
    images: np.ndarray,
    k: int = 1000,
    seed: int = 0,
    max_rows: int = 1 << 15,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Score binarized images [N, 196] under `model` with `k` posterior samples per image.

    Memory stays bounded whatever `k`: at most `max_rows` latent samples are decoded at
    once. The eps stream comes from one `np.random.default_rng(seed)` in image order, so
    the result does not depend on `max_rows`. `progress` is called with the number of
    images just done.
    """
    if k <= 0:
        raise InputError(f"k must be a positive number of samples, got {k}")
    images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    if images.shape[0] == 0 or images.shape[1] != model.config.input_dim:
        raise InputError(
            f"images must have shape [N, {model.config.input_dim}] with N > 0, got {images.shape}"
        )
    rng = np.random.default_rng(seed)
    # Many images share a decoder call when k is small; when k alone exceeds max_rows,
    # one image's samples are decoded in chunks of max_rows and their log-weights
    # combined with a running log-sum-exp. Either way eps is drawn in the same order.
    batch_size = max(1, max_rows // k)
    chunk = min(k, max_rows)
    sums = {"reconstruction": 0.0, "kl": 0.0, "nll_bound": 0.0}
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        mu, logvar = model.encode(batch)
        log_likelihood_sum = np.zeros(len(batch))
        log_weight_total = np.full(len(batch), -np.inf)
        for done in range(0, k, chunk):
            n_samples = min(chunk, k - done)
            log_likelihood, log_weights = _sample_terms(model, batch, mu, logvar, n_samples, rng)
            log_likelihood_sum += log_likelihood.sum(axis=1)
            log_weight_total = np.logaddexp(log_weight_total, _log_sum_exp(log_weights, axis=1))
        kl = -0.5 * (1 + logvar - mu.astype(np.float64) ** 2 - np.exp(logvar)).sum(axis=1)
        sums["reconstruction"] -= (log_likelihood_sum / k).sum()
        sums["kl"] += kl.sum()
        sums["nll_bound"] -= (log_weight_total - np.log(k)).sum()
        if progress is not None:
            progress(len(batch))
    means = {name: float(total / len(images)) for name, total in sums.items()}
    return Evaluation(
        n_images=len(images),
        k=k,
        seed=seed,
        negative_elbo=means["reconstruction"] + means["kl"],
        **means,
    )


def classification_accuracy(
    model: VAEModel,
    images: np.ndarray,
    labels: np.ndarray,
    rates: tuple[float, ...] = CLEAN_AND_FLIP_RATES,
    seed: int = 0,
    batch_size: int = 4096,
) -> dict[float, float]:
    """The classifier's accuracy on `images` with each fraction of pixels flipped (0: clean).

    Each noise level flips pixels with its own `np.random.default_rng(seed)`, so a
    level's result does not depend on which others are asked for.
    """
    accuracy = {}
    for rate in rates:
        rng = np.random.default_rng(seed)
        correct = 0
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            seen = flip_pixels(batch, rate, rng) if rate else batch
            correct += int(np.sum(model.classify(seen)[0] == labels[start : start + batch_size]))
        accuracy[rate] = correct / len(images)
    return accuracy
