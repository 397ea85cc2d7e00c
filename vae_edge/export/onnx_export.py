"""PyTorch modules -> ONNX graphs, and the manifest that fingerprints them."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import onnx
import torch
from torch import nn

from vae_edge import __version__
from vae_edge.checkpoint import Checkpoint
from vae_edge.model import VAE, Decoder
from vae_edge.runtime.manifest import (
    DECODER_INPUTS,
    DECODER_NAME,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_NAME,
    ENCODER_OUTPUTS,
    GraphEntry,
    Manifest,
    sha256_file,
)

DEFAULT_OPSET = 18
# Ops that would make a graph non-deterministic; sampling belongs to the runtime.
RANDOM_OPS = {
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "Multinomial",
    "Bernoulli",
}
# Final losses copied from the checkpoint's last history entry into the manifest.
TRAINING_METRICS = (
    "train_reconstruction",
    "train_kl",
    "validation_reconstruction",
    "validation_kl",
)


class ExportError(RuntimeError):
    """The export could not produce a valid model folder."""


class DecoderWithProbs(nn.Module):
    """The decoder as exported: z -> (probs, logits); logits serve exact evaluation."""

    def __init__(self, decoder: Decoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.decoder(z)
        return torch.sigmoid(logits), logits


def vae_from_checkpoint(checkpoint: Checkpoint) -> VAE:
    """The checkpoint's VAE in eval mode on the CPU."""
    vae = VAE(checkpoint.config)
    vae.load_state_dict(checkpoint.model_state)
    return vae.eval()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's progress lines and warnings; errors still propagate."""
    chatter = io.StringIO()
    onnx_logger = logging.getLogger("torch.onnx")
    level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(chatter),
            contextlib.redirect_stderr(chatter),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        onnx_logger.setLevel(level)


def export_graph(
    module: nn.Module,
    example: torch.Tensor,
    input_names: tuple[str, ...],
    output_names: tuple[str, ...],
    path: Path,
    opset: int,
) -> None:
    """Export `module` to one self-contained ONNX file with a dynamic batch axis."""
    batch = torch.export.Dim("batch", min=1)
    with _quiet(), torch.inference_mode(False):
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=True,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_shapes=({0: batch},),
            opset_version=opset,
            external_data=False,
            optimize=True,
            verify=False,
        )
    graph = onnx.load(str(path))
    # An opset the exporter cannot convert to is only a logged warning (silenced above):
    # it keeps its own opset, so the file, not the request, is what the manifest may claim.
    written = {entry.domain: entry.version for entry in graph.opset_import}.get("")
    if written != opset:
        raise ExportError(
            f"--opset {opset}: the exporter could not convert the graph (it wrote opset {written})"
        )
    onnx.checker.check_model(graph, full_check=True)
    random_ops = sorted({node.op_type for node in graph.graph.node} & RANDOM_OPS)
    if random_ops:
        raise ExportError(f"{path.name}: graph holds random ops {random_ops}")


def training_summary(checkpoint: Checkpoint) -> dict[str, object]:
    """What the manifest records about how the model was trained.

    The last history entry gives the final losses; a metric it lacks is left out rather
    than failing the export (an epoch-0 checkpoint has no history at all).
    """
    summary: dict[str, object] = {"epochs": checkpoint.epoch, "options": checkpoint.options}
    if checkpoint.history:
        last = checkpoint.history[-1]
        summary.update({key: round(float(last[key]), 4) for key in TRAINING_METRICS if key in last})
        seconds = [entry["seconds"] for entry in checkpoint.history if "seconds" in entry]
        if seconds:
            summary["seconds"] = round(float(sum(seconds)), 1)
    return summary


def write_graphs(vae: VAE, folder: Path, opset: int = DEFAULT_OPSET) -> None:
    """Export `vae` as encoder.onnx and decoder.onnx into `folder`."""
    config = vae.config
    export_graph(
        vae.encoder,
        torch.zeros(2, config.input_dim),
        ENCODER_INPUTS,
        ENCODER_OUTPUTS,
        folder / ENCODER_NAME,
        opset,
    )
    export_graph(
        DecoderWithProbs(vae.decoder),
        torch.zeros(2, config.latent_dim),
        DECODER_INPUTS,
        DECODER_OUTPUTS,
        folder / DECODER_NAME,
        opset,
    )


def build_manifest(
    folder: Path,
    checkpoint: Checkpoint,
    opset: int,
    variant: str,
    validation: dict[str, object],
) -> Manifest:
    """The manifest describing the graphs in `folder`, fingerprinted with their SHA-256."""

    def entry(name: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> GraphEntry:
        return GraphEntry(name, sha256_file(folder / name), inputs, outputs)

    return Manifest(
        config=checkpoint.config,
        encoder=entry(ENCODER_NAME, ENCODER_INPUTS, ENCODER_OUTPUTS),
        decoder=entry(DECODER_NAME, DECODER_INPUTS, DECODER_OUTPUTS),
        opset=opset,
        package_version=__version__,
        variant=variant,
        training=training_summary(checkpoint),
        validation=validation,
    )
