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
from vae_edge.errors import VaeEdgeError
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
from vae_edge.training.checkpoint import Checkpoint
from vae_edge.training.model import VAE, Decoder

# The opset torch's exporter writes; graphs are then converted to the opset asked for,
# by default the lowest that holds their operators, so older runtimes load them too.
EXPORTER_OPSET = 18
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


class ExportError(VaeEdgeError, RuntimeError):
    """The export could not produce a valid model folder."""


class DecoderWithProbs(nn.Module):
    """The decoder as exported: z -> (probs, logits); logits serve exact evaluation."""

    def __init__(self, decoder: Decoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.decoder(z)
        return torch.sigmoid(logits), logits


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


def default_opset(graph: onnx.ModelProto) -> int:
    """The version of the default ("ai.onnx") operator set the graph imports."""
    return {entry.domain: entry.version for entry in graph.opset_import}[""]


def lowest_opset(graph: onnx.ModelProto) -> int:
    """The lowest default-domain opset whose operators mean what this graph's mean.

    Each operator's schema in force at the graph's opset was introduced at some version;
    the graph needs the newest of those introductions, and no later opset.
    """
    current = default_opset(graph)
    return max(
        onnx.defs.get_schema(node.op_type, current, node.domain).since_version
        for node in graph.graph.node
    )


def strip_build_details(graph: onnx.ModelProto) -> None:
    """Drop doc strings and metadata: the exporter records stack traces with local paths."""
    graph.doc_string = ""
    del graph.metadata_props[:]
    body = graph.graph
    body.doc_string = ""
    for item in (*body.node, *body.input, *body.output, *body.value_info, *body.initializer):
        item.doc_string = ""
        if hasattr(item, "metadata_props"):
            del item.metadata_props[:]


def make_portable(graph: onnx.ModelProto, opset: int | None) -> onnx.ModelProto:
    """`graph` at `opset` (None: `lowest_opset`), with the lowest IR version that opset allows.

    Strips build details first. Raises `ExportError` when the graph cannot be expressed
    at `opset`.
    """
    strip_build_details(graph)
    needed, newest = lowest_opset(graph), onnx.defs.onnx_opset_version()
    target = needed if opset is None else opset
    if not needed <= target <= newest:
        raise ExportError(
            f"--opset {target}: the graph's operators need opset {needed} to {newest}"
        )
    if target != default_opset(graph):
        graph = onnx.version_converter.convert_version(graph, target)
    # The IR version of the ONNX release that introduced these opsets: the oldest readers
    # that understand the operators also understand the file.
    graph.ir_version = onnx.helper.find_min_ir_version_for(list(graph.opset_import))
    return graph


def export_graph(
    module: nn.Module,
    example: torch.Tensor | tuple[torch.Tensor, ...],
    input_names: tuple[str, ...],
    output_names: tuple[str, ...],
    path: Path,
    opset: int | None,
) -> None:
    """Export `module` to one self-contained, portable ONNX file with a dynamic batch axis.

    `example` is the input, or a tuple of inputs that share the batch axis.
    """
    batch = torch.export.Dim("batch", min=1)
    examples = example if isinstance(example, tuple) else (example,)
    with _quiet(), torch.inference_mode(False):
        torch.onnx.export(
            module,
            examples,
            str(path),
            dynamo=True,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_shapes=tuple({0: batch} for _ in examples),
            opset_version=EXPORTER_OPSET,
            external_data=False,
            optimize=True,
            verify=False,
        )
    graph = make_portable(onnx.load(str(path)), opset)
    onnx.save(graph, str(path))
    onnx.checker.check_model(graph, full_check=True)
    random_ops = sorted({node.op_type for node in graph.graph.node} & RANDOM_OPS)
    if random_ops:
        raise ExportError(f"{path.name}: graph holds random ops {random_ops}")


def training_summary(checkpoint: Checkpoint) -> dict[str, object]:
    """What the manifest records about how the model was trained.

    The last history entry gives the final losses; a metric it lacks is left out rather
    than failing the export (an epoch-0 checkpoint has no history at all).
    """
    summary: dict[str, object] = checkpoint.lineage()
    if checkpoint.history:
        last = checkpoint.history[-1]
        summary.update({key: round(float(last[key]), 4) for key in TRAINING_METRICS if key in last})
        seconds = [entry["seconds"] for entry in checkpoint.history if "seconds" in entry]
        if seconds:
            summary["seconds"] = round(float(sum(seconds)), 1)
    return summary


def write_graphs(vae: VAE, folder: Path, opset: int | None = None) -> None:
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
    folder: Path, checkpoint: Checkpoint, variant: str, validation: dict[str, object]
) -> Manifest:
    """The manifest describing the graphs in `folder`, fingerprinted with their SHA-256.

    Opset and IR version are read back from the written decoder (both graphs share them).
    """
    written = onnx.load(str(folder / DECODER_NAME), load_external_data=False)

    def entry(name: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> GraphEntry:
        return GraphEntry(name, sha256_file(folder / name), inputs, outputs)

    return Manifest(
        config=checkpoint.config,
        encoder=entry(ENCODER_NAME, ENCODER_INPUTS, ENCODER_OUTPUTS),
        decoder=entry(DECODER_NAME, DECODER_INPUTS, DECODER_OUTPUTS),
        opset=default_opset(written),
        ir_version=written.ir_version,
        package_version=__version__,
        variant=variant,
        training=training_summary(checkpoint),
        validation=validation,
    )
