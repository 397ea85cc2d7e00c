"""Cold start and memory of the whole command a user runs, each as a fresh process.

`vae-edge generate -n 64 -o grid.png` against `benchmarks/torch_generate.py`, which loads
the PyTorch checkpoint and writes the same kind of grid. The two alternate run by run;
wall time and peak RSS (from wait4) are reported as medians. Also: model size on disk.

    python -m benchmarks.cold_start --run runs/vae --model model --runs 7
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import write_report
from vae_edge.checkpoint import checkpoint_path

TORCH_SCRIPT = Path(__file__).resolve().parent / "torch_generate.py"


def run_measured(command: list[str]) -> tuple[float, float]:
    """Run `command` to completion; (wall seconds, peak RSS in MiB) of that process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder or checkpoint.pt")
    parser.add_argument("--model", type=Path, required=True, help="exported model folder")
    parser.add_argument("--runs", type=int, default=7, help="runs of each command")
    args = parser.parse_args()

    checkpoint = checkpoint_path(args.run)
    vae_edge = shutil.which("vae-edge") or sys.exit("vae-edge is not on PATH")
    with tempfile.TemporaryDirectory() as scratch:
        grid = str(Path(scratch) / "grid.png")
        commands = {
            "vae-edge generate": [
                vae_edge,
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
        measured: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                measured[name].append(run_measured(command))

    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(m for _, m in runs))
        for name, runs in measured.items()
    }
    torch_wall, torch_rss = medians["PyTorch script"]
    rows = [
        {
            "command": name,
            "median wall (s)": round(wall, 3),
            "median peak RSS (MiB)": round(rss, 1),
            "wall vs PyTorch": round(wall / torch_wall, 3),
            "RSS vs PyTorch": round(rss / torch_rss, 3),
        }
        for name, (wall, rss) in medians.items()
    ]
    sizes = {
        path.name: path.stat().st_size
        for path in (args.model / "encoder.onnx", args.model / "decoder.onnx", checkpoint)
    }
    write_report(
        "cold_start",
        f"Cold start of `generate -n 64`, median of {args.runs} runs each, alternating",
        rows,
        {"runs": measured, "sizes_bytes": sizes},
    )
    print("| file | size (KiB) |\n|---|---|")
    for name, size in sizes.items():
        print(f"| {name} | {size / 1024:.1f} |")


if __name__ == "__main__":
    main()
