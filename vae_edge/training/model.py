"""The MLP VAE: a tanh encoder giving mu and log-variance, a tanh decoder with sigmoid output."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from vae_edge.config import ModelConfig
from vae_edge.runtime.noise import apply_flips

ACTIVATION_LAYERS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, each followed by the activation."""
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), ACTIVATION_LAYERS[activation]()]
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """image [B, 196] -> (mu, logvar), each [B, latent_dim]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.body = mlp([config.input_dim, *config.hidden_sizes], config.activation)
        self.mu = nn.Linear(config.hidden_sizes[-1], config.latent_dim)
        self.logvar = nn.Linear(config.hidden_sizes[-1], config.latent_dim)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(image)
        return self.mu(hidden), self.logvar(hidden)


class Decoder(nn.Module):
    """z [B, latent_dim] -> pixel logits [B, 196]; `probs` applies the sigmoid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        *body, pixels = config.decoder_sizes
        self.body = mlp(body, config.activation)
        self.out = nn.Linear(body[-1], pixels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(z))

    def probs(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(z))


class VAE(nn.Module):
    """Encoder and decoder joined by the reparameterization z = mu + eps * sigma."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def forward(
        self, image: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (pixel logits, mu, logvar) for one stochastic pass."""
        mu, logvar = self.encoder(image)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


def flip_pixels(
    images: torch.Tensor, max_rate: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Binary `images` [B, P] with each image's pixels flipped at a rate drawn from U(0, max_rate).

    The corruption of denoising training: drawing the rate per image shows the encoder
    clean, lightly and heavily corrupted digits alike. The draws are torch's, on the
    images' device; the flip rule is the runtime's `apply_flips`.
    """
    shape = (images.shape[0], 1)
    rates = max_rate * torch.rand(shape, generator=generator, device=images.device)
    uniforms = torch.rand(images.shape, generator=generator, device=images.device)
    return apply_flips(images, rates, uniforms)


def loss_terms(
    image: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image (reconstruction BCE, KL) in nats, averaged over the batch.

    Takes the images and what `VAE.forward` returned for them: `loss_terms(x, *vae(x))`.

    BCE is summed over the pixels and computed from logits for numerical stability;
    KL is the closed form for a diagonal Gaussian against N(0, I).
    """
    bce = F.binary_cross_entropy_with_logits(logits, image, reduction="sum") / image.shape[0]
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / image.shape[0]
    return bce, kl


def iwae_terms(
    model: VAE, image: torch.Tensor, seen: torch.Tensor, n_samples: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(IWAE loss, reconstruction BCE, KL) per image, averaged over the batch, in nats.

    The importance-weighted bound of Burda et al. (2016) with `n_samples` latent samples
    per image: -log (1/k) sum_k p(x, z_k) / q(z_k | x), the estimator `vae-edge evaluate`
    reports at k = 1000, here as the training loss. The encoder sees `seen` (the images,
    or their corrupted copies), the likelihood is of the clean `image`. BCE (averaged
    over the samples) and the closed-form KL are returned for the training log only.
    """
    mu, logvar = model.encoder(seen)
    shape = (n_samples, *mu.shape)
    eps = torch.randn(shape, generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + eps * torch.exp(0.5 * logvar)
    logits = model.decoder(z)
    targets = image.expand_as(logits)
    log_likelihood = -F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(2)
    log_prior = -0.5 * z.pow(2).sum(2)  # the 2*pi terms of prior and posterior cancel
    log_posterior = -0.5 * (eps.pow(2) + logvar).sum(2)
    log_weights = log_likelihood + log_prior - log_posterior
    bound = torch.logsumexp(log_weights, dim=0) - math.log(n_samples)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / image.shape[0]
    return -bound.mean(), -log_likelihood.mean(dim=0).mean(), kl
