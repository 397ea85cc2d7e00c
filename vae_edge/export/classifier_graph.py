"""Add a latent digit classifier to a model folder: classifier.onnx, validated, in the manifest."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from vae_edge.atomic import remove_orphans, temporary_sibling, write_text_atomic
from vae_edge.export.onnx_export import ExportError, export_graph
from vae_edge.export.validate import DEFAULT_ATOL
from vae_edge.runtime.manifest import (
    CLASSIFIER_INPUTS,
    CLASSIFIER_NAME,
    CLASSIFIER_OUTPUTS,
    MANIFEST_NAME,
    GraphEntry,
    Manifest,
    read_manifest,
    sha256_file,
)
from vae_edge.training.classifier import ClassifierProbabilities, LatentClassifier


def add_classifier(
    model_dir: Path,
    classifier: LatentClassifier,
    summary: dict[str, Any],
    check_inputs: np.ndarray,
    atol: float = DEFAULT_ATOL,
) -> Manifest:
    """Export `classifier` into `model_dir` and declare it in the manifest with `summary`.

    The graph is written at the folder's opset and must match PyTorch within `atol` on
    `check_inputs` (latent codes) before anything in the folder changes; then
    classifier.onnx is renamed into place and the manifest rewritten, last.
    """
    manifest = read_manifest(model_dir)
    module = ClassifierProbabilities(classifier).eval()
    remove_orphans(model_dir)  # scratch folders of classifier exports killed with -9
    scratch = temporary_sibling(model_dir / CLASSIFIER_NAME)
    scratch.mkdir()
    try:
        path = scratch / CLASSIFIER_NAME
        example = torch.zeros(2, manifest.config.latent_dim)
        export_graph(module, example, CLASSIFIER_INPUTS, CLASSIFIER_OUTPUTS, path, manifest.opset)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (actual,) = session.run(None, {CLASSIFIER_INPUTS[0]: check_inputs})
        with torch.inference_mode():
            expected = module(torch.from_numpy(check_inputs)).numpy()
        worst = float(np.max(np.abs(actual - expected)))
        if not worst <= atol:
            raise ExportError(
                f"{CLASSIFIER_NAME}: validation FAILED: worst |onnx - torch| {worst:.1e} "
                f"> tolerance {atol:.0e}"
            )
        entry = GraphEntry(
            CLASSIFIER_NAME, sha256_file(path), CLASSIFIER_INPUTS, CLASSIFIER_OUTPUTS
        )
        training = {**manifest.training, "classifier": {**summary, "worst_abs_difference": worst}}
        updated = dataclasses.replace(manifest, classifier=entry, training=training)
        text = updated.to_json()
        os.replace(path, model_dir / CLASSIFIER_NAME)
        write_text_atomic(model_dir / MANIFEST_NAME, text)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return updated
