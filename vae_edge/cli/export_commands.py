"""`vae-edge export`: a trained checkpoint becomes two ONNX graphs and a manifest."""

from __future__ import annotations

from pathlib import Path

import click

from vae_edge.cli.options import FiniteFloatRange, import_training_module
from vae_edge.config import DEFAULT_ATOL, QUANTIZATIONS
from vae_edge.errors import VaeEdgeError, first_line


@click.command()
@click.argument(
    "run", type=click.Path(exists=True, path_type=Path), metavar="RUN_DIR_OR_CHECKPOINT"
)
@click.option(
    "-o",
    "--output",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("model"),
    show_default=True,
    help="Model folder to write: encoder.onnx, decoder.onnx, manifest.json.",
)
@click.option(
    "--opset",
    type=click.IntRange(min=1),
    default=None,
    help="ONNX opset of the graphs. Default: the lowest that holds their operators, "
    "which the most onnxruntime versions load.",
)
@click.option(
    "--atol",
    type=FiniteFloatRange(min=0, min_open=True),
    default=DEFAULT_ATOL,
    show_default=True,
    help="Largest |onnx - torch| difference the export accepts.",
)
@click.option(
    "--quantize",
    type=click.Choice(QUANTIZATIONS),
    default=None,
    help="Also quantize the graphs' weights (onnxruntime dynamic quantization).",
)
@click.option(
    "--ort-format",
    is_flag=True,
    help="Also write encoder.ort, decoder.ort and required_operators.config for "
    "onnxruntime's minimal and mobile builds.",
)
@click.option("--force", is_flag=True, help="Replace the model already in the folder.")
def export(
    run: Path,
    model_dir: Path,
    opset: int | None,
    atol: float,
    quantize: str | None,
    ort_format: bool,
    force: bool,
) -> None:
    """Export a run's checkpoint to ONNX, validated against PyTorch."""
    checkpoint_module = import_training_module("vae_edge.training.checkpoint")
    exporting = import_training_module("vae_edge.export")
    from vae_edge.runtime.manifest import MANIFEST_NAME

    if not model_dir.parent.is_dir():
        raise click.ClickException(f"-o {model_dir}: folder {model_dir.parent} does not exist")
    if (model_dir / MANIFEST_NAME).exists() and not force:
        raise click.ClickException(
            f"-o {model_dir} already holds a model; pass --force to replace it"
        )
    try:
        checkpoint = checkpoint_module.load_checkpoint(run)
        manifest, results = exporting.export_model(
            checkpoint, model_dir, opset=opset, atol=atol, quantize=quantize, ort_format=ort_format
        )
    except VaeEdgeError as error:
        raise click.ClickException(first_line(error)) from None
    click.echo(f"float32: {results[0].summary()}")
    if quantize is not None:
        click.echo(
            f"{quantize}: {results[1].differences()}; expected for quantized weights, "
            "recorded in the manifest, not held to --atol"
        )
    for entry in (manifest.encoder, manifest.decoder):
        size_kib = (model_dir / entry.file).stat().st_size / 1024
        click.echo(
            f"wrote {model_dir / entry.file} ({size_kib:.1f} KiB, sha256 {entry.sha256[:12]})"
        )
    if ort_format:
        click.echo(f"wrote {', '.join(exporting.ORT_FORMAT_FILES)} (ORT format) to {model_dir}")
    click.echo(
        f"wrote {model_dir / MANIFEST_NAME} "
        f"({manifest.variant}, opset {manifest.opset}, IR version {manifest.ir_version})"
    )


COMMANDS: list[click.Command] = [export]
