"""Export: a training checkpoint becomes a validated model folder for the runtime.

`export_model` exports into a scratch folder, validates the graphs against PyTorch,
optionally quantizes them, and only then moves them into place, manifest last.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from vae_edge.atomic import write_text_atomic
from vae_edge.checkpoint import Checkpoint
from vae_edge.export.onnx_export import (
    ExportError,
    build_manifest,
    vae_from_checkpoint,
    write_graphs,
)
from vae_edge.export.ort_format import ORT_FORMAT_FILES, write_ort_format
from vae_edge.export.quantize import QUANTIZATIONS, quantize_graph
from vae_edge.export.validate import DEFAULT_ATOL, ValidationResult, validate
from vae_edge.runtime.manifest import DECODER_NAME, ENCODER_NAME, MANIFEST_NAME, Manifest

__all__ = ["DEFAULT_ATOL", "ORT_FORMAT_FILES", "QUANTIZATIONS", "ExportError", "export_model"]


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
    Returns the manifest and the validation results (float, then quantized if any).
    """
    vae = vae_from_checkpoint(checkpoint)
    with tempfile.TemporaryDirectory(dir=model_dir.parent, prefix=".vae-edge-export-") as tmp:
        scratch = Path(tmp)
        write_graphs(vae, scratch, opset)
        results = [validate(scratch, vae, atol)]
        if not results[0].passed:
            raise ExportError(results[0].summary())
        if quantize is not None:
            for name in (ENCODER_NAME, DECODER_NAME):
                quantize_graph(scratch / name, scratch / f"{quantize}-{name}", quantize)
                (scratch / f"{quantize}-{name}").replace(scratch / name)
            results.append(validate(scratch, vae, atol))
        if ort_format:
            write_ort_format(scratch)
        manifest = build_manifest(scratch, checkpoint, quantize or "float32", results[-1].to_dict())
        _move_into_place(scratch, model_dir, manifest.to_json())
    return manifest, results


def _move_into_place(scratch: Path, model_dir: Path, manifest_text: str) -> None:
    """Move the validated graphs (and ORT files) from `scratch` into `model_dir`, then the manifest.

    The old manifest goes first and the new one comes last, so the folder never pairs a
    manifest with graphs it does not describe. A folder this call created is removed
    again if anything fails.
    """
    created = not model_dir.exists()
    model_dir.mkdir(exist_ok=True)
    try:
        (model_dir / MANIFEST_NAME).unlink(missing_ok=True)  # the folder is incomplete now
        for name in ORT_FORMAT_FILES:  # an earlier export's, converted from other graphs
            (model_dir / name).unlink(missing_ok=True)
        for name in (ENCODER_NAME, DECODER_NAME, *ORT_FORMAT_FILES):
            if (scratch / name).exists():
                os.replace(scratch / name, model_dir / name)  # scratch is a sibling: a rename
        write_text_atomic(model_dir / MANIFEST_NAME, manifest_text)
    except BaseException:
        if created:
            shutil.rmtree(model_dir, ignore_errors=True)
        raise
