"""Shared output of the benchmarks: the machine, a Markdown table, and JSON beside it."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """The CPU's marketing name where Linux tells it, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU, cores and the versions of the libraries that were measured."""
    versions = {}
    for package in ("vae-edge", "numpy", "onnxruntime", "torch", "onnx"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **versions,
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of equal keys as a Markdown table."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)


def write_report(name: str, title: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    """Print the machine and the table; write results/NAME.md and results/NAME.json."""
    machine = machine_info()
    machine_line = ", ".join(f"{key} {value}" for key, value in machine.items())
    text = f"### {title}\n\n{machine_line}\n\n{markdown_table(rows)}\n"
    print(text)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.md").write_text(text)
    payload = {"title": title, "machine": machine, "rows": rows, **extra}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
