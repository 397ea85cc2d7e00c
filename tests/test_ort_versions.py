"""The runtime works under the oldest onnxruntime the core dependency allows.

A throwaway virtual environment gets that onnxruntime release and pillow from pip, with
numpy as pip resolves it (what a user's `pip install vae-edge` would get), and runs the
runtime from this checkout; its results must match this environment's within the
tolerance export holds onnxruntime to against PyTorch.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.ort_versions import core_floor, make_env, max_difference, run_probe, write_job
from vae_edge.export.validate import DEFAULT_ATOL
from vae_edge.mnist import load_split


@pytest.mark.slow
def test_runtime_under_the_oldest_allowed_onnxruntime_matches_this_one(tmp_path, mnist_dir):
    floor = core_floor("onnxruntime")
    job_path = write_job(tmp_path, load_split(mnist_dir, "test")[:256])
    reference = run_probe(Path(sys.executable), "runtime", job_path, tmp_path / "here")
    assert reference.error is None, reference.error

    try:
        python = make_env(tmp_path / "env", f"onnxruntime=={floor}", "pillow")
    except subprocess.CalledProcessError as error:
        pytest.fail(f"pip cannot install onnxruntime {floor}: {error.stderr}")
    result = run_probe(python, "runtime", job_path, tmp_path / "floor")

    assert result.error is None, f"onnxruntime {floor}: {result.error}"
    assert result.versions["onnxruntime"] == floor
    assert max_difference(tmp_path / "here", tmp_path / "floor") <= DEFAULT_ATOL
