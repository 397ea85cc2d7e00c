"""A digit classifier on the VAE's latent means, trained with PyTorch and chosen on validation.

The features are what the exported encoder gives (`encode`: images -> mu), so the
classifier learns exactly the codes the runtime will hand it. Training images may be
corrupted with pixel flips (each image at its own rate drawn from U(0, input_flip)), as
in denoising training, so the classifier also knows the codes of noisy digits.
Candidates of several shapes train side by side on the same features, and the one with
the best mean validation accuracy over clean and flipped images is kept.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from vae_edge.runtime.manifest import N_CLASSES
from vae_edge.runtime.noise import CLEAN_AND_FLIP_RATES, flip_pixels
from vae_edge.training.model import mlp
from vae_edge.training.options import ClassifierOptions

# Candidate shapes: hidden sizes of the MLP on mu; () is multinomial logistic regression.
CANDIDATES: dict[str, tuple[int, ...]] = {
    "logistic": (),
    "mlp-256": (256,),
    "mlp-512-256": (512, 256),
}
Encode = Callable[[np.ndarray], np.ndarray]


class LatentClassifier(nn.Module):
    """Features [B, input_dim] (latent means) -> class logits [B, 10]: tanh layers, then linear."""

    def __init__(self, input_dim: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        sizes = [input_dim, *hidden_sizes]
        self.body = nn.Sequential(*mlp(sizes, "tanh"), nn.Linear(sizes[-1], N_CLASSES))

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        return self.body(mu)


class ClassifierProbabilities(nn.Module):
    """The classifier as exported: mu -> class probabilities (softmax applied)."""

    def __init__(self, classifier: LatentClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(mu), dim=1)


def noisy_copy(images: np.ndarray, max_rate: float, rng: np.random.Generator) -> np.ndarray:
    """`images` with each image's pixels flipped at its own rate from U(0, max_rate)."""
    return flip_pixels(images, max_rate * rng.random((len(images), 1)), rng)


def fit_candidates(
    encode: Encode,
    images: np.ndarray,
    labels: np.ndarray,
    latent_dim: int,
    options: ClassifierOptions,
    candidates: dict[str, tuple[int, ...]] = CANDIDATES,
    log: Callable[[str], None] = print,
) -> dict[str, LatentClassifier]:
    """Train one classifier per candidate shape on the latent means of `images`.

    Each epoch draws a fresh corruption of the training images (if `input_flip` > 0),
    encodes it once and gives every candidate one pass over it in the same order; clean
    images are encoded once for all epochs.
    """
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    models = {name: LatentClassifier(latent_dim, hidden) for name, hidden in candidates.items()}
    optimizers = {
        name: torch.optim.Adam(m.parameters(), lr=options.lr) for name, m in models.items()
    }
    targets = torch.from_numpy(labels.astype(np.int64))
    loss_function = nn.CrossEntropyLoss()
    clean = None if options.input_flip else torch.from_numpy(encode(images))
    for epoch in range(1, options.epochs + 1):
        features = (
            clean
            if clean is not None
            else torch.from_numpy(encode(noisy_copy(images, options.input_flip, rng)))
        )
        order = torch.randperm(len(images), generator=generator)
        lr = options.epoch_lr(epoch)
        losses = {}
        for name, model in models.items():
            model.train()
            for group in optimizers[name].param_groups:
                group["lr"] = lr
            total = 0.0
            for start in range(0, len(images), options.batch_size):
                batch = order[start : start + options.batch_size]
                loss = loss_function(model(features[batch]), targets[batch])
                optimizers[name].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[name].step()
                total += loss.item() * len(batch)
            losses[name] = total / len(images)
        log(
            f"epoch {epoch:3d}/{options.epochs}  "
            + "  ".join(f"{name} {loss:.4f}" for name, loss in losses.items())
        )
    return {name: model.eval() for name, model in models.items()}


@torch.inference_mode()
def predict(classifier: nn.Module, features: np.ndarray) -> np.ndarray:
    """Predicted digits [N] for features [N, width] of a module that gives class logits."""
    return classifier(torch.from_numpy(features)).argmax(dim=1).numpy()


def accuracy_under_noise(
    encode: Encode,
    classifiers: dict[str, nn.Module],
    images: np.ndarray,
    labels: np.ndarray,
    rates: tuple[float, ...] = CLEAN_AND_FLIP_RATES,
    seed: int = 0,
) -> dict[str, dict[float, float]]:
    """Accuracy of each classifier (features -> logits) on `images` with each fraction of
    pixels flipped; the features are `encode` of the (flipped) images."""
    scores: dict[str, dict[float, float]] = {name: {} for name in classifiers}
    for rate in rates:
        seen = flip_pixels(images, rate, np.random.default_rng(seed)) if rate else images
        mu = encode(seen)
        for name, classifier in classifiers.items():
            scores[name][rate] = float(np.mean(predict(classifier, mu) == labels))
    return scores


def choose(scores: dict[str, dict[float, float]]) -> str:
    """The candidate with the best accuracy averaged over the noise levels."""
    return max(scores, key=lambda name: float(np.mean(list(scores[name].values()))))
