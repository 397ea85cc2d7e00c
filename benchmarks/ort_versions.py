"""Which onnxruntime releases load the bundled models, and which run vae-edge beside numpy.

    python -m benchmarks.ort_versions                  # every release in VERSIONS
    python -m benchmarks.ort_versions 1.18.1 1.32.0    # only these

For each release: a throwaway virtual environment, `pip install onnxruntime==V pillow`
(numpy as pip resolves it, as a user's install goes), then `ort_probe.py` runs there:
every graph of every bundled model in plain onnxruntime on fixed inputs (the first 1,000
MNIST test images; 1,000 seeded latent codes; the encoder's means for a classifier), and
the vae-edge runtime itself from this checkout (generate with a seed, encode, reconstruct,
and classify where a model has a classifier). Every output is compared with this
environment's. Where pip chose numpy 2, the same environment is tried again with numpy<2:
that separates "the model files load" from "the wheel works beside the numpy pip
installs". Pip's cache makes reruns quick. Prints the table (also with releases that
behaved alike merged); writes results/ort_versions.md/.json and ort_versions_grouped.*.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import write_report
from vae_edge.mnist import load_split
from vae_edge.models import bundled_model_dir, bundled_model_names
from vae_edge.runtime import load, read_manifest
from vae_edge.runtime.manifest import (
    CLASSIFIER_INPUTS,
    CONDITIONAL_INPUTS,
    DECODER_INPUTS,
    ENCODER_INPUTS,
    N_CLASSES,
)
from vae_edge.training.download import resolve_data_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).resolve().parent / "ort_probe.py"
# The newest patch of every minor release with a Linux x86-64 wheel for Python 3.11
# (`pip index versions onnxruntime`), and 1.18.0: 1.18.1 is the first to tell pip which
# numpy it works with (numpy<2; from 1.19 on the wheels are built for numpy 2).
VERSIONS = (
    "1.15.1",
    "1.16.3",
    "1.17.3",
    "1.18.0",
    "1.18.1",
    "1.19.2",
    "1.20.1",
    "1.21.1",
    "1.22.1",
    "1.23.2",
    "1.24.4",
    "1.25.1",
    "1.26.0",
    "1.27.0",
    "1.28.0",
    "1.29.0",
    "1.30.0",
    "1.31.1",
    "1.32.0",
)
N_ROWS = 1000
SEED = 0
PROBE_TIMEOUT_S = 300
# Per probe mode: the column saying whether it ran, and the one with its largest difference.
MODE_COLUMNS = {
    "graphs": ("model files load", "max abs diff"),
    "runtime": ("vae-edge runtime works", "runtime max abs diff"),
}
COLUMNS = ("onnxruntime", "numpy", *(name for pair in MODE_COLUMNS.values() for name in pair))


def core_floor(package: str = "onnxruntime") -> str:
    """The lowest version of `package` that pyproject.toml's core dependencies allow."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    for requirement in pyproject["project"]["dependencies"]:
        match = re.fullmatch(rf"{re.escape(package)}\s*>=\s*([\w.]+)", requirement.strip())
        if match:
            return match.group(1)
    raise LookupError(f"pyproject.toml has no core dependency {package}>=VERSION")


def write_job(scratch: Path, images: np.ndarray) -> Path:
    """Inputs for every bundled model as .npy files, and the probe's job naming them."""
    inputs_dir = scratch / "inputs"
    inputs_dir.mkdir()
    np.save(inputs_dir / "images.npy", images)
    graphs: dict[str, Any] = {}
    models: dict[str, str] = {}
    for name in bundled_model_names():
        model_dir = bundled_model_dir(name)
        manifest = read_manifest(model_dir)
        rng = np.random.default_rng(SEED)
        z = rng.standard_normal((len(images), manifest.config.latent_dim))
        # M2's conditional generator: a digit for each row and a style code from the prior.
        digits = np.eye(N_CLASSES, dtype=np.float32)[np.arange(len(images)) % N_CLASSES]
        z2 = rng.standard_normal((len(images), manifest.z2_dim or 1)).astype(np.float32)
        feeds = {
            ENCODER_INPUTS[0]: images,
            DECODER_INPUTS[0]: z.astype(np.float32),
            # The classifier reads the encoder's means: this environment's, so every
            # release sees the same input.
            CLASSIFIER_INPUTS[0]: load(model_dir).encode(images)[0],
            CONDITIONAL_INPUTS[0]: digits,
            CONDITIONAL_INPUTS[1]: z2,
        }
        for entry in manifest.graphs():
            paths = {}
            for input_name in entry.inputs:
                paths[input_name] = str(inputs_dir / f"{name}.{input_name}.npy")
                np.save(paths[input_name], feeds[input_name])
            graphs[f"{name}.{Path(entry.file).stem}"] = {
                "path": str(model_dir / entry.file),
                "inputs": paths,
            }
        models[name] = str(model_dir)
    job = {
        "graphs": graphs,
        "models": models,
        "images": str(inputs_dir / "images.npy"),
        "seed": SEED,
        "n_samples": len(images),
    }
    job_path = scratch / "job.json"
    job_path.write_text(json.dumps(job, indent=2))
    return job_path


def make_env(env_dir: Path, *requirements: str) -> Path:
    """A fresh virtual environment with `requirements` installed by pip; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    pip_install(python, *requirements)
    return python


def pip_install(python: Path, *requirements: str) -> None:
    """`pip install` into the environment of `python` (pip runs from this environment).

    No bytecode is compiled ahead: it costs seconds (sympy, a dependency of older
    onnxruntime releases, is large), and a throwaway environment imports little.
    """
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    subprocess.run(
        [*command, "--no-compile", *requirements],
        check=True,
        capture_output=True,
        text=True,
    )


@dataclass(frozen=True)
class ProbeResult:
    """What `ort_probe.py` reported: versions on success, else one line saying what failed."""

    versions: dict[str, str] | None
    error: str | None


def run_probe(python: Path, mode: str, job_path: Path, out_dir: Path) -> ProbeResult:
    """Run the probe with `python`; `runtime` mode sees this checkout on PYTHONPATH only."""
    out_dir.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if mode == "runtime":
        env["PYTHONPATH"] = str(REPO_ROOT)
    try:
        result = subprocess.run(
            [str(python), str(PROBE), mode, str(job_path), str(out_dir)],
            capture_output=True,
            text=True,
            env=env,
            cwd=out_dir,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ProbeResult(None, f"no answer within {PROBE_TIMEOUT_S} s")
    if result.returncode == 0:
        return ProbeResult(json.loads(result.stdout.strip().splitlines()[-1]), None)
    if result.returncode < 0:
        return ProbeResult(None, f"crashed ({signal.Signals(-result.returncode).name})")
    return ProbeResult(None, error_line(result.stderr) or f"exit status {result.returncode}")


def error_line(stderr: str) -> str | None:
    """The last `SomeError: message` line of a traceback, with this checkout's path cut.

    Not simply the last line: onnxruntime's failed import ends in a bare `ImportError`
    after the line that says why (`AttributeError: _ARRAY_API not found`).
    """
    lines = [line.strip() for line in stderr.splitlines()]
    messages = [line for line in lines if re.match(r"[\w.]+: \S", line)]
    chosen = messages[-1] if messages else next((line for line in reversed(lines) if line), None)
    return chosen and chosen.replace(f"{REPO_ROOT}/", "")


def max_difference(reference_dir: Path, out_dir: Path) -> float:
    """The largest |out - reference| over every array the reference run saved."""
    reference_paths = sorted(reference_dir.glob("*.npy"))
    if not reference_paths:
        raise ValueError(f"{reference_dir}: the reference run saved nothing")
    worst = 0.0
    for reference_path in reference_paths:
        reference, value = np.load(reference_path), np.load(out_dir / reference_path.name)
        if reference.shape != value.shape:
            raise ValueError(f"{reference_path.name}: shape {value.shape}, not {reference.shape}")
        worst = max(worst, float(np.max(np.abs(value.astype(np.float64) - reference))))
    return worst


def describe(result: ProbeResult, reference_dir: Path, out_dir: Path) -> tuple[str, str]:
    """Table cells for one probe run: whether it worked, and how far its outputs are."""
    if result.error:
        # onnxruntime's messages put the cause last, after C++ source locations.
        error = result.error
        return (error if len(error) <= 140 else f"{error[:50]} ... {error[-85:]}"), ""
    difference = max_difference(reference_dir, out_dir)
    return "yes", "0 (bit-identical)" if difference == 0 else f"{difference:.1e}"


def installed_numpy(python: Path) -> str:
    """The numpy version installed in the environment of `python` (from its metadata)."""
    code = "from importlib.metadata import version; print(version('numpy'))"
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def probe_release(
    version: str, job_path: Path, references: dict[str, Path], scratch: Path
) -> list[dict[str, str]]:
    """Rows for one onnxruntime release: numpy as pip chose it, then numpy<2 if that was 2."""
    rows: list[dict[str, str]] = []
    try:
        python = make_env(scratch / "env", f"onnxruntime=={version}", "pillow")
    except subprocess.CalledProcessError as error:
        lines = [line for line in error.stderr.splitlines() if line.strip()]
        failure = f"pip install fails: {lines[-1][:120] if lines else error.returncode}"
        loads_column = MODE_COLUMNS["graphs"][0]
        return [dict.fromkeys(COLUMNS, "") | {"onnxruntime": version, loads_column: failure}]
    for numpy_choice in ("as pip resolves", "numpy<2"):
        if numpy_choice == "numpy<2":
            if not rows[0]["numpy"].startswith("2"):
                break
            pip_install(python, "numpy<2")
        row = {"onnxruntime": version, "numpy": f"{installed_numpy(python)} ({numpy_choice})"}
        for mode, (works_column, difference_column) in MODE_COLUMNS.items():
            out_dir = scratch / f"{mode}-{len(rows)}"
            result = run_probe(python, mode, job_path, out_dir)
            row[works_column], row[difference_column] = describe(result, references[mode], out_dir)
        rows.append(row)
    return rows


def grouped(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The table with consecutive releases that behaved alike (every other cell) merged."""
    releases: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        releases.setdefault(row["onnxruntime"], []).append(row)
    groups: list[tuple[list[str], list[dict[str, str]]]] = []
    for version, release_rows in releases.items():
        outcome = [{**row, "onnxruntime": ""} for row in release_rows]
        if groups and groups[-1][1] == outcome:
            groups[-1][0].append(version)
        else:
            groups.append(([version], outcome))
    table = []
    for versions, outcome in groups:
        label = (
            ", ".join(versions)
            if len(versions) <= 2
            else f"{versions[0]} ... {versions[-1]} ({len(versions)} releases)"
        )
        table += [{**outcome[0], "onnxruntime": label}, *outcome[1:]]
    return table


def oldest_working(rows: list[dict[str, str]]) -> str | None:
    """The oldest release from which every newer one runs vae-edge beside pip's numpy."""
    floor = None
    for row in rows:
        if "as pip resolves" not in row["numpy"] and row["numpy"]:
            continue
        works = row[MODE_COLUMNS["runtime"][0]] == "yes"
        floor = (floor or row["onnxruntime"]) if works else None
    return floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", default=list(VERSIONS), help="oldest first")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()

    images = load_split(resolve_data_dir(args.data_dir), "test")[:N_ROWS]
    rows: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="ort-versions-") as scratch_name:
        scratch = Path(scratch_name)
        job_path = write_job(scratch, images)
        references = {mode: scratch / f"reference-{mode}" for mode in ("graphs", "runtime")}
        for mode, reference_dir in references.items():
            result = run_probe(Path(sys.executable), mode, job_path, reference_dir)
            if result.error:
                raise SystemExit(f"the probe fails in this environment: {result.error}")
        for version in args.versions:
            with tempfile.TemporaryDirectory(dir=scratch) as release_scratch:
                new_rows = probe_release(version, job_path, references, Path(release_scratch))
            for row in new_rows:
                print(" | ".join(row.values()), flush=True)
            rows.extend(new_rows)
    write_report(
        "ort_versions_grouped",
        "The same, releases that behaved alike in one row",
        grouped(rows),
        {"versions": args.versions},
    )
    write_report(
        "ort_versions",
        f"onnxruntime releases on the bundled models ({', '.join(bundled_model_names())}), "
        "outputs against this environment's",
        rows,
        {
            "models": bundled_model_names(),
            "rows_per_input": N_ROWS,
            "oldest_working_with_pip_numpy": oldest_working(rows),
            "pyproject_floor": core_floor(),
        },
    )


if __name__ == "__main__":
    main()
