"""Run model files in whatever environment runs this script, for `benchmarks.ort_versions`.

    python ort_probe.py graphs JOB.json OUT_DIR   # each graph, in plain onnxruntime
    python ort_probe.py runtime JOB.json OUT_DIR  # each model, through vae_edge.runtime

It runs inside throwaway environments holding one onnxruntime release, so it imports only
the standard library, numpy and onnxruntime (and, in `runtime` mode, vae_edge from
PYTHONPATH, which needs pillow). JOB.json, written by `ort_versions.write_job`:
`graphs` maps a key to a graph path and its inputs (name -> .npy path); `models` maps a
key to a model folder; `images` is a .npy of input images; `seed` and `n_samples` drive
`generate`. Every result is saved as OUT_DIR/KEY.OUTPUT.npy; the last line printed is
JSON with the onnxruntime and numpy versions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def run_graphs(job: dict, out_dir: Path) -> None:
    """Every output of every graph in the job, from a plain CPU session."""
    for key, graph in job["graphs"].items():
        session = ort.InferenceSession(graph["path"], providers=["CPUExecutionProvider"])
        feeds = {name: np.load(path) for name, path in graph["inputs"].items()}
        names = [output.name for output in session.get_outputs()]
        for name, value in zip(names, session.run(names, feeds), strict=True):
            np.save(out_dir / f"{key}.{name}.npy", value)


def run_runtime(job: dict, out_dir: Path) -> None:
    """The runtime's API on every model in the job: generate, encode, reconstruct, classify."""
    from vae_edge import runtime

    images = np.load(job["images"])
    for key, model_dir in job["models"].items():
        model = runtime.load(model_dir)
        mu, logvar = model.encode(images)
        results = {
            "generate": model.generate(job["n_samples"], seed=job["seed"]),
            "mu": mu,
            "logvar": logvar,
            "reconstruct": model.reconstruct(images),
        }
        if model.has_classifier:
            results["classify"] = model.classify(images)[1]
        for name, value in results.items():
            np.save(out_dir / f"{key}.{name}.npy", value)


def main() -> None:
    mode, job_path, out_dir = sys.argv[1:]
    job = json.loads(Path(job_path).read_text())
    {"graphs": run_graphs, "runtime": run_runtime}[mode](job, Path(out_dir))
    print(json.dumps({"onnxruntime": ort.__version__, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
