"""Shared output of the benchmarks: the machine, a Markdown table, and JSON beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vae_edge.runtime.bench import machine_info, markdown_table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


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
