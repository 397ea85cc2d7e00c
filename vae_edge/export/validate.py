"""Export validation: the ONNX graphs in onnxruntime against PyTorch on fresh inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from vae_edge.config import DEFAULT_ATOL
from vae_edge.runtime.manifest import (
    DECODER_INPUTS,
    DECODER_NAME,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_NAME,
    ENCODER_OUTPUTS,
)
from vae_edge.training.model import VAE

VALIDATION_BATCH_SIZES = (1, 7, 64, 1000)
OUTPUTS = (*ENCODER_OUTPUTS, *DECODER_OUTPUTS)  # mu, logvar, probs, logits
LOGITS = DECODER_OUTPUTS[1]


@dataclass
class ValidationResult:
    """Worst absolute difference per graph output over every batch size tried.

    mu, logvar and probs must stay within `atol`. Logits are unbounded (a trained model's
    reach 20 and more) and the graph's Gemm sums in another order than PyTorch, so their
    rounding error grows with their size: their tolerance is `atol` times the largest
    |logit| seen (at least 1), recorded in `logit_scale`.
    """

    batch_sizes: tuple[int, ...]
    atol: float
    worst: dict[str, float] = field(default_factory=dict)
    logit_scale: float = 1.0

    def tolerance(self, name: str) -> float:
        return self.atol * self.logit_scale if name == LOGITS else self.atol

    @property
    def finite(self) -> bool:
        """False when either side produced NaN or infinity somewhere (recorded as inf)."""
        return all(np.isfinite(value) for value in self.worst.values())

    @property
    def passed(self) -> bool:
        return self.finite and all(
            value <= self.tolerance(name) for name, value in self.worst.items()
        )

    def to_dict(self) -> dict[str, object]:
        """The manifest's record of this check."""
        return {
            "batch_sizes": list(self.batch_sizes),
            "atol": self.atol,
            "logits_tolerance": self.tolerance(LOGITS),
            "worst_abs_difference": self.worst,
            "passed": self.passed,
        }

    def differences(self) -> str:
        """Each output's worst |onnx - torch| and the batch sizes tried."""
        parts = ", ".join(f"{name} {value:.1e}" for name, value in self.worst.items())
        return f"worst |onnx - torch| {parts} (batch {', '.join(map(str, self.batch_sizes))})"

    def summary(self) -> str:
        """One line: the verdict, each output's worst difference and the tolerances."""
        verdict = "ok" if self.passed else "FAILED"
        if not self.finite:
            verdict += " (NaN or infinite outputs: the model has diverged)"
        return (
            f"validation {verdict}: {self.differences()}; "
            f"tolerance {self.atol:.0e}, logits {self.tolerance(LOGITS):.0e}"
        )


def validate(
    model_dir: Path,
    vae: VAE,
    atol: float = DEFAULT_ATOL,
    batch_sizes: tuple[int, ...] = VALIDATION_BATCH_SIZES,
    seed: int = 0,
) -> ValidationResult:
    """Run both graphs of `model_dir` in onnxruntime and `vae` in PyTorch on the same inputs.

    Images are random binary [B, 196], latent codes standard normal [B, latent].
    """
    rng = np.random.default_rng(seed)
    encoder = ort.InferenceSession(
        str(model_dir / ENCODER_NAME), providers=["CPUExecutionProvider"]
    )
    decoder = ort.InferenceSession(
        str(model_dir / DECODER_NAME), providers=["CPUExecutionProvider"]
    )
    result = ValidationResult(batch_sizes=batch_sizes, atol=atol)
    vae = vae.eval()
    for batch in batch_sizes:
        images = (rng.random((batch, vae.config.input_dim)) < 0.5).astype(np.float32)
        z = rng.standard_normal((batch, vae.config.latent_dim)).astype(np.float32)
        with torch.inference_mode():
            mu, logvar = vae.encoder(torch.from_numpy(images))
            logits = vae.decoder(torch.from_numpy(z))
            expected = dict(
                zip(
                    OUTPUTS,
                    (mu.numpy(), logvar.numpy(), torch.sigmoid(logits).numpy(), logits.numpy()),
                    strict=True,
                )
            )
        encoded = encoder.run(list(ENCODER_OUTPUTS), {ENCODER_INPUTS[0]: images})
        decoded = decoder.run(list(DECODER_OUTPUTS), {DECODER_INPUTS[0]: z})
        actual = dict(zip(OUTPUTS, (*encoded, *decoded), strict=True))
        result.logit_scale = max(result.logit_scale, float(np.abs(expected[LOGITS]).max()))
        for name, value in expected.items():
            finite = np.isfinite(value).all() and np.isfinite(actual[name]).all()
            # max(0.0, nan) is 0.0: a non-finite output must not read as a perfect match.
            difference = float(np.max(np.abs(actual[name] - value))) if finite else np.inf
            result.worst[name] = max(result.worst.get(name, 0.0), difference)
    return result
