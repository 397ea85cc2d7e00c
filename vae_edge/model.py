"""The MLP VAE: a tanh encoder giving mu and log-variance, a tanh decoder with sigmoid output."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vae_edge.config import ModelConfig


def _tanh_mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, each followed by tanh."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.Tanh()]
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """image [B, 196] -> (mu, logvar), each [B, latent_dim]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.body = _tanh_mlp([config.input_dim, *config.hidden_sizes])
        self.mu = nn.Linear(config.hidden_sizes[-1], config.latent_dim)
        self.logvar = nn.Linear(config.hidden_sizes[-1], config.latent_dim)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(image)
        return self.mu(hidden), self.logvar(hidden)


class Decoder(nn.Module):
    """z [B, latent_dim] -> pixel logits [B, 196]; `probs` applies the sigmoid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        hidden = list(reversed(config.hidden_sizes))
        self.body = _tanh_mlp([config.latent_dim, *hidden])
        self.out = nn.Linear(hidden[-1], config.input_dim)

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


def loss_terms(
    logits: torch.Tensor, image: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image (reconstruction BCE, KL) in nats, averaged over the batch.

    BCE is summed over the pixels and computed from logits for numerical stability;
    KL is the closed form for a diagonal Gaussian against N(0, I).
    """
    bce = F.binary_cross_entropy_with_logits(logits, image, reduction="sum") / image.shape[0]
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / image.shape[0]
    return bce, kl
