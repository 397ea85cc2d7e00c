"""Export: a training checkpoint becomes a validated model folder for the runtime.

`export_model` builds the complete new folder (graphs, then manifest) as a scratch
sibling of the target, validates the graphs against PyTorch, optionally quantizes them,
and only then swaps the scratch folder in for the target (`replace_folder`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vae_edge.atomic import remove_orphans, replace_folder, temporary_sibling, write_text_atomic
from vae_edge.errors import OutputError
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
    DECODER_NAME,
    ENCODER_NAME,
    MANIFEST_NAME,
    Manifest,
)
from vae_edge.training.checkpoint import Checkpoint, vae_from_checkpoint

__all__ = ["DEFAULT_ATOL", "ORT_FORMAT_FILES", "QUANTIZATIONS", "ExportError", "export_model"]

# What a model folder may hold; a folder with anything else is not replaced wholesale.
MODEL_FILES = frozenset(
    {MANIFEST_NAME, ENCODER_NAME, DECODER_NAME, CLASSIFIER_NAME, *ORT_FORMAT_FILES}
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
    remove_orphans(model_dir)  # e.g. the scratch folder of a train-classifier killed with -9
    check_replaceable(model_dir)
    remove_orphans(model_dir.parent)  # scratch folders of exports killed with -9
    scratch = temporary_sibling(model_dir)
    try:
        scratch.mkdir()  # a plain mkdir: the folder gets the user's usual permissions
    except OSError as error:
        raise OutputError(f"-o {model_dir}: cannot write there ({error.strerror})") from None
    try:
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
        write_text_atomic(scratch / MANIFEST_NAME, manifest.to_json())
        try:
            replace_folder(scratch, model_dir)
        except OSError as error:
            raise ExportError(
                f"-o {model_dir}: cannot move the new model into place "
                f"({error.strerror or error}); the folder is unchanged"
            ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # after a swap: the old model
    return manifest, results


def check_replaceable(model_dir: Path) -> None:
    """Refuse to replace a folder that holds anything besides a model's own files."""
    if not model_dir.is_dir():
        return
    others = sorted(p.name for p in model_dir.iterdir() if p.name not in MODEL_FILES)
    if others:
        raise ExportError(
            f"-o {model_dir} holds files that are not part of a model ({others[0]}, ...); "
            "export into a new folder or one holding only a model"
        )
