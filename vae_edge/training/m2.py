"""M2 of Kingma et al. 2014 on the VAE's latent code (their M1+M2): digits from few labels.

The data are latent codes z1: the VAE encoder's means of training images, clean and with
pixels flipped. M2 is a small generative model of them,

    p(y) uniform over the 10 digits,  p(z2) = N(0, I),
    p(z1 | y, z2) = N(mu(y, z2), diag sigma^2(y, z2)),

with two inference networks: the classifier q(y | z1) and the encoder q(z2 | z1, y).
A labelled code costs its negative ELBO -L(z1, y) plus `alpha` times the classifier's
cross-entropy (the labelled classification term of the paper); an unlabelled code costs
the bound with y marginalised over the classifier, sum_y q(y|z1) (-L(z1, y)) - H(q(y|z1)),
so the unlabelled codes shape the classifier too. Exported are the classifier (z1 ->
class probabilities) and the conditional generator (one-hot y, z2 -> the mean of
p(z1 | y, z2)), which makes a code of any digit in one pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vae_edge.runtime.manifest import N_CLASSES
from vae_edge.training.classifier import accuracy_under_noise, choose, noisy_copy
from vae_edge.training.model import mlp
from vae_edge.training.options import M2Options

Encode = Callable[[np.ndarray], np.ndarray]
# The log-variance of p(z1 | y, z2) is kept in this range: an unbounded one lets the
# likelihood of a code grow without end by shrinking the variance onto it.
LOGVAR_RANGE = (-8.0, 4.0)
_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class M2Shape:
    """Sizes of M2's networks: the encoder and the decoder have one hidden tanh layer of
    `hidden`, the classifier the tanh layers `classifier_hidden` (default: the same one
    layer); z2_dim is the style code's size."""

    hidden: int
    z2_dim: int
    classifier_hidden: tuple[int, ...] = ()

    @property
    def classifier_sizes(self) -> tuple[int, ...]:
        return self.classifier_hidden or (self.hidden,)

    @property
    def name(self) -> str:
        deeper = "-".join(map(str, self.classifier_hidden))
        return f"hidden-{self.hidden}-z2-{self.z2_dim}" + (
            f"-classifier-{deeper}" if deeper else ""
        )


# Shapes tried side by side; validation accuracy picks one. The style code z2 has 2
# numbers: with 4 or 8 it carried part of the digit, and an independent judge read fewer
# generated digits as the digit asked for, at the same accuracy. The deeper classifier
# pays with many labels and overfits with few, so validation decides per label count.
CANDIDATES = (
    M2Shape(hidden=128, z2_dim=2),
    M2Shape(hidden=256, z2_dim=2),
    M2Shape(hidden=256, z2_dim=2, classifier_hidden=(512, 256)),
)


def head(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    """n_in -> each of `hidden` (tanh) -> n_out."""
    return nn.Sequential(*mlp([n_in, *hidden], "tanh"), nn.Linear(hidden[-1], n_out))


def halves(joined: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A Gaussian's mean and log-variance from one output [B, 2 * size].

    Slices, not `chunk`: chunk exports as Split with a sizes input, which needs opset 18,
    and the model folders' graphs are opset 13.
    """
    size = joined.shape[1] // 2
    return joined[:, :size], joined[:, size:]


class M2(nn.Module):
    """The three networks of M2 on latent codes of size `latent_dim`."""

    def __init__(self, latent_dim: int, shape: M2Shape) -> None:
        super().__init__()
        self.shape = shape
        hidden = (shape.hidden,)
        self.classifier = head(latent_dim, shape.classifier_sizes, N_CLASSES)  # q(y | z1)
        self.encoder = head(latent_dim + N_CLASSES, hidden, 2 * shape.z2_dim)
        self.decoder = head(N_CLASSES + shape.z2_dim, hidden, 2 * latent_dim)

    def negative_elbo(self, z1: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
        """-L(z1, y) [B] with one sample of z2 ~ q(z2 | z1, y), up to the constant log 10."""
        mu2, logvar2 = halves(self.encoder(torch.cat([z1, one_hot], dim=1)))
        z2 = mu2 + torch.randn_like(mu2) * torch.exp(0.5 * logvar2)
        mu1, logvar1 = halves(self.decoder(torch.cat([one_hot, z2], dim=1)))
        logvar1 = logvar1.clamp(*LOGVAR_RANGE)
        nll = 0.5 * ((z1 - mu1) ** 2 * torch.exp(-logvar1) + logvar1 + _LOG_2PI).sum(dim=1)
        kl = 0.5 * (mu2**2 + logvar2.exp() - 1 - logvar2).sum(dim=1)
        return nll + kl

    def loss(
        self, labelled: torch.Tensor, labels: torch.Tensor, unlabelled: torch.Tensor, alpha: float
    ) -> torch.Tensor:
        """The batch's mean labelled and unlabelled bounds, plus alpha times cross-entropy."""
        eye = torch.eye(N_CLASSES)
        labelled_bound = self.negative_elbo(labelled, eye[labels]).mean()
        cross_entropy = F.cross_entropy(self.classifier(labelled), labels)
        log_q = F.log_softmax(self.classifier(unlabelled), dim=1)
        n = len(unlabelled)
        every_digit = self.negative_elbo(
            unlabelled.repeat_interleave(N_CLASSES, dim=0), eye.repeat(n, 1)
        ).view(n, N_CLASSES)
        unlabelled_bound = (log_q.exp() * (every_digit + log_q)).sum(dim=1).mean()
        return labelled_bound + unlabelled_bound + alpha * cross_entropy


class ClassifierProbabilities(nn.Module):
    """q(y | z1) as exported: z1 -> class probabilities (softmax applied)."""

    def __init__(self, m2: M2) -> None:
        super().__init__()
        self.classifier = m2.classifier

    def forward(self, z1: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(z1), dim=1)


class ConditionalGenerator(nn.Module):
    """The mean of p(z1 | y, z2) as exported: digits [B, 10] and z2 [B, z2_dim] -> z1."""

    def __init__(self, m2: M2) -> None:
        super().__init__()
        self.decoder = m2.decoder

    def forward(self, one_hot: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return halves(self.decoder(torch.cat([one_hot, z2], dim=1)))[0]


def balanced_labels(labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Indices of `count` labelled images, as even over the digits as the data allow.

    Each digit's images are shuffled (`seed`) and dealt in turns, digit 0 first, so the
    first `count` of the deal hold count/10 of each digit while every digit has enough;
    `count = len(labels)` takes them all.
    """
    order = np.random.default_rng(seed).permutation(len(labels))
    shuffled = labels[order]
    rank = np.empty(len(labels), dtype=np.int64)  # place of each image in its digit's deal
    for digit in range(N_CLASSES):
        rank[shuffled == digit] = np.arange(np.count_nonzero(shuffled == digit))
    return np.sort(order[np.lexsort((shuffled, rank))[:count]])


def latent_copies(
    encode: Encode, images: np.ndarray, options: M2Options, rng: np.random.Generator
) -> np.ndarray:
    """Codes [1 + copies, N, latent]: the clean images' means, then noisy copies' means
    (none when `input_flip` is 0)."""
    copies = options.copies if options.input_flip else 0
    noisy = [noisy_copy(images, options.input_flip, rng) for _ in range(copies)]
    return np.stack([encode(images), *(encode(copy) for copy in noisy)])


@dataclass(frozen=True)
class Chosen:
    """The M2 of every candidate shape, their validation accuracies by flip rate, and
    the name of the one with the best mean."""

    models: dict[str, M2]
    scores: dict[str, dict[float, float]]
    name: str

    @property
    def model(self) -> M2:
        return self.models[self.name]


def train_and_choose(
    encode: Encode,
    images: np.ndarray,
    labels: np.ndarray,
    labelled: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray],
    options: M2Options,
    log: Callable[[str], None] = print,
) -> Chosen:
    """What `vae-edge train-classifier` does: encode `images` (and noisy copies), train
    every candidate shape with the labels of `labelled`, and choose on `validation`
    (images, labels), averaged over clean images and each flip rate."""
    codes = latent_copies(encode, images, options, np.random.default_rng(options.seed))
    models = fit(codes, labels, labelled, options, log=log)
    heads = {name: trained.classifier for name, trained in models.items()}
    scores = accuracy_under_noise(encode, heads, *validation)
    return Chosen(models, scores, choose(scores))


def fit(
    codes: np.ndarray,
    labels: np.ndarray,
    labelled: np.ndarray,
    options: M2Options,
    candidates: tuple[M2Shape, ...] = CANDIDATES,
    log: Callable[[str], None] = print,
) -> dict[str, M2]:
    """Train one M2 per candidate shape on `codes` [copies, N, latent].

    Every code is used unlabelled; those of the images at indices `labelled` also with
    their label. Each step draws a batch of unlabelled codes and half as many labelled
    ones, each image in a random one of its copies; an epoch draws N unlabelled codes.
    Runs on one thread: for matrices this small a second one costs more than it saves
    (4x the CPU time on a busy 2-core machine).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit(codes, labels, labelled, options, candidates, log)
    finally:
        torch.set_num_threads(threads)


def _fit(
    codes: np.ndarray,
    labels: np.ndarray,
    labelled: np.ndarray,
    options: M2Options,
    candidates: tuple[M2Shape, ...],
    log: Callable[[str], None],
) -> dict[str, M2]:
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    all_codes = torch.from_numpy(codes)
    n_copies, n_images, latent_dim = codes.shape
    targets = torch.from_numpy(labels.astype(np.int64))
    labelled_index = torch.from_numpy(labelled.astype(np.int64))
    models = {shape.name: M2(latent_dim, shape) for shape in candidates}
    optimizers = {
        name: torch.optim.Adam(model.parameters(), lr=options.lr) for name, model in models.items()
    }
    steps = max(1, n_images // options.batch_size)
    alpha = options.alpha * len(labelled)
    half = max(1, options.batch_size // 2)
    for epoch in range(1, options.epochs + 1):
        lr = options.epoch_lr(epoch)
        totals = dict.fromkeys(models, 0.0)
        for _ in range(steps):
            unlabelled = all_codes[
                torch.randint(n_copies, (options.batch_size,), generator=generator),
                torch.randint(n_images, (options.batch_size,), generator=generator),
            ]
            chosen = labelled_index[torch.randint(len(labelled), (half,), generator=generator)]
            batch = all_codes[torch.randint(n_copies, (half,), generator=generator), chosen]
            for name, model in models.items():
                for group in optimizers[name].param_groups:
                    group["lr"] = lr
                loss = model.loss(batch, targets[chosen], unlabelled, alpha)
                optimizers[name].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[name].step()
                totals[name] += loss.item() / steps
        log(
            f"epoch {epoch:3d}/{options.epochs}  "
            + "  ".join(f"{name} {total:.3f}" for name, total in totals.items())
        )
    return {name: model.eval() for name, model in models.items()}
