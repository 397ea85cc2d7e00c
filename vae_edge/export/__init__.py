"""Export: a training checkpoint becomes a validated model folder for the runtime.

`export_model` builds the complete new folder (graphs, then manifest) as a scratch
sibling of the target (`atomic.building_folder`), validates the graphs against PyTorch,
optionally quantizes them, and only then swaps the scratch folder in for the target.
"""

from __future__ import annotations

from pathlib import Path

from vae_edge.atomic import building_folder, is_current_folder_or_above, is_orphan
from vae_edge.errors import OutputError, os_reason
from vae_edge.export.onnx_export import (
    ExportError,
    build_manifest,
    write_graphs,
)
from vae_edge.export.ort_format import ORT_FORMAT_FILES, write_ort_format
from vae_edge.export.quantize import QUANTIZATIONS, quantize_graph
from vae_edge.export.validate import DEFAULT_ATOL, ValidationResult, validate
from vae_edge.runtime.manifest import (
    CLASSIFIER_NAME,
    CONDITIONAL_NAME,
    DECODER_NAME,
    ENCODER_NAME,
    MANIFEST_NAME,
    Manifest,
)
from vae_edge.training.checkpoint import Checkpoint, vae_from_checkpoint
from vae_edge.training.model import VAE

__all__ = ["DEFAULT_ATOL", "ORT_FORMAT_FILES", "QUANTIZATIONS", "ExportError", "export_model"]

# What a model folder may hold; a folder with anything else is not replaced wholesale.
MODEL_FILES = frozenset(
    {
        MANIFEST_NAME,
        ENCODER_NAME,
        DECODER_NAME,
        CLASSIFIER_NAME,
        CONDITIONAL_NAME,
        *ORT_FORMAT_FILES,
    }
)


def export_model(
    checkpoint: Checkpoint,
    model_dir: Path,
    opset: int | None = None,
    atol: float = DEFAULT_ATOL,
    quantize: str | None = None,
    ort_format: bool = False,
) -> tuple[Manifest, list[ValidationResult]]:
    """Write encoder.onnx, decoder.onnx and manifest.json for `checkpoint` into `model_dir`.

    The graphs are written at `opset`, by default the lowest that holds their operators.
    The float graphs must match PyTorch within `atol` or `ExportError` is raised and
    `model_dir` is left untouched. With `quantize="int8"` the graphs are then quantized
    and their (larger, expected) difference from PyTorch is measured and recorded.
    With `ort_format` the final graphs are also converted to ORT format (`ort_format.py`).
    An existing `model_dir` (a model folder) is replaced so that at every instant it
    holds the complete old model or the complete new one.
    Returns the manifest and the validation results (float, then quantized if any).
    """
    vae = vae_from_checkpoint(checkpoint)
    if model_dir.is_symlink():  # replace the folder it points to, not the link
        model_dir = model_dir.resolve()
    check_replaceable(model_dir)
    try:
        with building_folder(model_dir) as scratch:
            manifest, results = _build(scratch, checkpoint, vae, opset, atol, quantize, ort_format)
    except OSError as error:  # no space, no permission: the swap never happened
        raise OutputError(
            f"-o {model_dir}: cannot write the model ({os_reason(error)}); {model_dir} is unchanged"
        ) from None
    return manifest, results


def _build(
    scratch: Path,
    checkpoint: Checkpoint,
    vae: VAE,
    opset: int | None,
    atol: float,
    quantize: str | None,
    ort_format: bool,
) -> tuple[Manifest, list[ValidationResult]]:
    """Write and validate the model folder's files into the empty folder `scratch`."""
    write_graphs(vae, scratch, opset)
    results = [validate(scratch, vae, atol)]
    if not results[0].passed:
        raise ExportError(results[0].summary())
    if quantize is not None:
        for name in (ENCODER_NAME, DECODER_NAME):
            quantize_graph(scratch / name, scratch / f"{quantize}-{name}", quantize)
            (scratch / f"{quantize}-{name}").replace(scratch / name)
        results.append(validate(scratch, vae, atol))
        if not results[-1].finite:
            raise ExportError(f"{quantize}: {results[-1].summary()}")
    if ort_format:
        write_ort_format(scratch)
    # The float graphs' check is the one held to `atol`; the quantized graphs'
    # differences are measured and recorded beside it, never as a failed check.
    validation = results[0].to_dict()
    if quantize is not None:
        validation[quantize] = {
            "worst_abs_difference": results[1].worst,
            "held_to_tolerance": False,
        }
    manifest = build_manifest(scratch, checkpoint, quantize or "float32", validation)
    (scratch / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest, results


def check_replaceable(model_dir: Path) -> None:
    """Refuse to replace a folder that holds anything besides a model's own files.

    Temporaries that vae-edge processes which have ended left inside (a train-classifier
    killed with -9) are a model folder's own; they go with the old folder. The current
    folder, or one above it, is never replaced.
    """
    if is_current_folder_or_above(model_dir):
        raise ExportError(
            f"-o {model_dir}: give the model a folder of its own, not the current folder "
            "or one above it"
        )
    if not model_dir.is_dir():
        return
    others = sorted(
        p.name for p in model_dir.iterdir() if p.name not in MODEL_FILES and not is_orphan(p)
    )
    if others:
        raise ExportError(
            f"-o {model_dir} holds files that are not part of a model ({others[0]}, ...); "
            "export into a new folder or one holding only a model"
        )
