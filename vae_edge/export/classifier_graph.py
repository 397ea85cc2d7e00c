"""Add M2's graphs to a model folder: classifier.onnx and conditional.onnx, validated, declared.

The folder is rebuilt beside itself (its files copied, the new graphs and manifest
written) and swapped into place in one step, so at every instant it holds the complete
old set of files or the complete new one.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from vae_edge.atomic import building_folder, remove_orphans
from vae_edge.config import DEFAULT_ATOL
from vae_edge.errors import OutputError
from vae_edge.export.onnx_export import ExportError, export_graph
from vae_edge.runtime.manifest import (
    CLASSIFIER_INPUTS,
    CLASSIFIER_NAME,
    CLASSIFIER_OUTPUTS,
    CONDITIONAL_INPUTS,
    CONDITIONAL_NAME,
    CONDITIONAL_OUTPUTS,
    MANIFEST_NAME,
    N_CLASSES,
    GraphEntry,
    Manifest,
    read_manifest,
    sha256_file,
)
from vae_edge.training.m2 import M2, ClassifierProbabilities, ConditionalGenerator


def add_m2_graphs(
    model_dir: Path,
    m2: M2,
    summary: dict[str, Any],
    check_codes: np.ndarray,
    atol: float = DEFAULT_ATOL,
) -> Manifest:
    """Export `m2`'s classifier and conditional generator into `model_dir`, with `summary`.

    Both graphs are written at the folder's opset and must match PyTorch within `atol`
    (on `check_codes` [B, latent] for the classifier; on every digit with seeded z2 for
    the generator) before the folder changes. Raises `ExportError` on a failed check and
    `OutputError` when the new folder cannot be written or moved into place.
    """
    manifest = read_manifest(model_dir)
    z2_dim = m2.shape.z2_dim
    rng = np.random.default_rng(0)
    digits = np.eye(N_CLASSES, dtype=np.float32)[np.arange(len(check_codes)) % N_CLASSES]
    z2 = rng.standard_normal((len(check_codes), z2_dim), dtype=np.float32)
    graphs = {
        CLASSIFIER_NAME: (
            ClassifierProbabilities(m2),
            CLASSIFIER_INPUTS,
            CLASSIFIER_OUTPUTS,
            (check_codes,),
        ),
        CONDITIONAL_NAME: (
            ConditionalGenerator(m2),
            CONDITIONAL_INPUTS,
            CONDITIONAL_OUTPUTS,
            (digits, z2),
        ),
    }
    try:
        with building_folder(model_dir) as scratch:
            remove_orphans(model_dir)  # scratch files of runs killed with -9
            for path in model_dir.iterdir():  # everything else travels unchanged
                if path.name in (*graphs, MANIFEST_NAME):
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.copytree(path, scratch / path.name, symlinks=True)
                else:
                    shutil.copy2(path, scratch / path.name, follow_symlinks=False)
            entries, worst = {}, {}
            for name, (module, inputs, outputs, check) in graphs.items():
                worst[name] = _export_checked(
                    scratch / name, module.eval(), inputs, outputs, check, manifest.opset, atol
                )
                entries[name] = GraphEntry(name, sha256_file(scratch / name), inputs, outputs)
            training = {
                **manifest.training,
                "classifier": {**summary, "worst_abs_difference": worst},
            }
            updated = dataclasses.replace(
                manifest,
                classifier=entries[CLASSIFIER_NAME],
                conditional=entries[CONDITIONAL_NAME],
                z2_dim=z2_dim,
                training=training,
            )
            (scratch / MANIFEST_NAME).write_text(updated.to_json(), encoding="utf-8")
    except OSError as error:
        raise OutputError(
            f"{model_dir}: cannot write the new graphs ({error.strerror or error}); "
            "the folder is unchanged"
        ) from None
    return updated


def _export_checked(
    path: Path,
    module: nn.Module,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    check: tuple[np.ndarray, ...],
    opset: int,
    atol: float,
) -> float:
    """Export `module` to `path`; the worst |onnx - torch| on `check`, at most `atol`."""
    example = tuple(torch.from_numpy(array[:2]) for array in check)
    export_graph(module, example, inputs, outputs, path, opset)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, dict(zip(inputs, check, strict=True)))
    with torch.inference_mode():
        expected = module(*(torch.from_numpy(array) for array in check)).numpy()
    worst = float(np.max(np.abs(actual - expected)))
    if not worst <= atol:
        raise ExportError(
            f"{path.name}: validation FAILED: worst |onnx - torch| {worst:.1e} "
            f"> tolerance {atol:.0e}"
        )
    return worst
