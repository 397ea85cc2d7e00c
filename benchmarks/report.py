"""Shared output of the benchmarks: the machine, a Markdown table, and JSON beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vae_edge.runtime.bench import machine_info, markdown_table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_report(
    name: str,
    title: str,
    rows: list[dict[str, Any]],
    extra: dict[str, Any],
    results_dir: Path | None = None,
) -> None:
    """Print the machine and the table; write results/NAME.md and results/NAME.json.

    `results_dir` defaults to RESULTS_DIR as it is at the call, not at import (the smoke
    tests point RESULTS_DIR at a temporary folder)."""
    results_dir = RESULTS_DIR if results_dir is None else results_dir
    machine = machine_info()
    machine_line = ", ".join(f"{key} {value}" for key, value in machine.items())
    text = f"### {title}\n\n{machine_line}\n\n{markdown_table(rows)}\n"
    print(text)
    results_dir.mkdir(exist_ok=True)
    (results_dir / f"{name}.md").write_text(text)
    payload = {"title": title, "machine": machine, "rows": rows, **extra}
    (results_dir / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
