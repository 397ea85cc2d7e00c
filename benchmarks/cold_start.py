"""Cold start and memory of the whole command a user runs, each as a fresh process.

`vae-edge generate -n 64 -o grid.png` against: the bare imports it cannot do without
(`python -c "import onnxruntime, numpy, PIL"`); those imports and, one at a time, the
larger modules the command adds to them (click, numpy.random, hashlib); the onnxruntime
floor, the least any program that decodes 64 codes with onnxruntime pays (import, open
the decoder's session, one run); and
`benchmarks/torch_generate.py`, which loads a PyTorch checkpoint and writes the same kind
of grid. All run in a freshly shuffled order every round; wall time and peak RSS (from
wait4) are reported as medians, with ratios. Also: model size on disk.

pip compiles a package's bytecode when it installs it, so the bare imports read
compiled modules; an editable install (or PYTHONDONTWRITEBYTECODE) would leave vae-edge
compiling its own on every start. The script compiles them first, as pip would.

The checkpoint is `--run`'s, or without one the model folder's weights rebuilt in PyTorch
and saved as a checkpoint (same shape, same size on disk but for the optimizer state).

    python -m benchmarks.cold_start --model vae_edge/models/default --runs 15
"""

from __future__ import annotations

import argparse
import compileall
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import vae_edge
from benchmarks.report import write_report
from benchmarks.torch_from_onnx import vae_from_model_dir, write_checkpoint
from vae_edge.runtime.bench import alternate
from vae_edge.runtime.manifest import DECODER_INPUTS, DECODER_OUTPUTS, read_manifest
from vae_edge.training.checkpoint import checkpoint_path

Z, PROBS = DECODER_INPUTS[0], DECODER_OUTPUTS[0]

BARE_IMPORTS = "import onnxruntime, numpy, PIL"
# What `vae-edge generate` imports beyond them, each measured on its own above them: the
# command line's library, the sampler of latent codes, the graphs' SHA-256 (OpenSSL).
PARTS = ("click", "numpy.random", "hashlib")
PACKAGE_DIR = Path(vae_edge.__file__).parent  # the vae-edge that `vae-edge` runs
TORCH_SCRIPT = Path(__file__).resolve().parent / "torch_generate.py"
# Import onnxruntime and numpy, open the decoder (argv[1]) as the runtime does (one
# thread), decode 64 codes: what any program that generates with onnxruntime must pay.
ONNXRUNTIME_FLOOR = f"""
import sys, numpy, onnxruntime
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 1
with open(sys.argv[1], "rb") as graph:
    session = onnxruntime.InferenceSession(graph.read(), options)
session.run([{PROBS!r}], {{{Z!r}: numpy.zeros((64, int(sys.argv[2])), numpy.float32)}})
"""


# Linux carries a process's peak RSS across fork and exec, so a child of this (large)
# process would report at least our own peak. A small launcher interpreter starts each
# command instead and reports the command's own wall time and peak RSS.
LAUNCHER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": code, "wall": wall, "rss_mib": peak_kib / 1024}))
"""


def run_measured(command: list[str]) -> tuple[float, float]:
    """Run `command` to completion; (wall seconds, peak RSS in MiB) of that process."""
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], capture_output=True, text=True, check=True
    )
    result = json.loads(launched.stdout)
    if result["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed with exit code {result['code']}")
    return result["wall"], result["rss_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="exported model folder")
    parser.add_argument("--run", type=Path, help="run folder or checkpoint.pt for PyTorch")
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    args = parser.parse_args()

    command = shutil.which("vae-edge") or sys.exit("vae-edge is not on PATH")
    compileall.compile_dir(PACKAGE_DIR, quiet=1)
    manifest = read_manifest(args.model)
    with tempfile.TemporaryDirectory() as scratch:
        grid = str(Path(scratch) / "grid.png")
        if args.run is None:
            checkpoint = Path(scratch) / "checkpoint.pt"
            write_checkpoint(vae_from_model_dir(args.model), checkpoint)
        else:
            checkpoint = checkpoint_path(args.run)
        commands = {
            "vae-edge generate": [
                command,
                "generate",
                "-n",
                "64",
                "-o",
                grid,
                "--model",
                str(args.model),
                "--seed",
                "0",
            ],
            "bare imports": [sys.executable, "-c", BARE_IMPORTS],
            **{
                f"bare imports and {module}": [sys.executable, "-c", f"{BARE_IMPORTS}, {module}"]
                for module in PARTS
            },
            "onnxruntime floor": [
                sys.executable,
                "-c",
                ONNXRUNTIME_FLOOR,
                str(args.model / manifest.decoder.file),
                str(manifest.config.latent_dim),
            ],
            "PyTorch script": [
                sys.executable,
                str(TORCH_SCRIPT),
                str(checkpoint),
                "-n",
                "64",
                "-o",
                grid,
                "--seed",
                "0",
            ],
        }
        measured = alternate(
            {name: partial(run_measured, argv) for name, argv in commands.items()}, args.runs
        )
        sizes = {
            path.name: path.stat().st_size
            for path in (
                args.model / manifest.encoder.file,
                args.model / manifest.decoder.file,
                checkpoint,
            )
        }

    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(m for _, m in runs))
        for name, runs in measured.items()
    }
    bare_wall, bare_rss = medians["bare imports"]
    torch_wall, torch_rss = medians["PyTorch script"]
    rows = [
        {
            "command": name,
            "median wall (s)": round(wall, 3),
            "median peak RSS (MiB)": round(rss, 1),
            "wall vs bare imports": round(wall / bare_wall, 2),
            "RSS vs bare imports": round(rss / bare_rss, 2),
            "wall vs PyTorch": round(wall / torch_wall, 2),
            "RSS vs PyTorch": round(rss / torch_rss, 2),
        }
        for name, (wall, rss) in medians.items()
    ]
    write_report(
        "cold_start",
        f"Cold start of `generate -n 64`, median of {args.runs} runs each, shuffled",
        rows,
        {"runs": measured, "sizes_bytes": sizes},
    )
    print("| file | size (KiB) |\n|---|---|")
    for name, size in sizes.items():
        print(f"| {name} | {size / 1024:.1f} |")


if __name__ == "__main__":
    main()
