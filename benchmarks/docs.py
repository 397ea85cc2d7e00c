"""Benchmark figures in README.md and docs/*.md, rewritten from benchmarks/results/*.json.

Each measuring script writes its table to `benchmarks/results/NAME.json` (and `.md`,
through `benchmarks.report`). A page never holds a hand-copied figure; it marks a block

    <!-- results: NAME -->
    (rewritten: the table's title, the machine it ran on, the table)
    <!-- /results -->

and the README's headline figures sit in a `<!-- figures -->` block built from `FIGURES`
below. `python -m benchmarks.docs` rewrites every block from the JSON files;
tests/test_benchmarks_docs.py fails while a page differs from them, so a figure cannot
drift from its source. After re-running a benchmark, run this and commit both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import RESULTS_DIR
from vae_edge.runtime.bench import markdown_table

PROJECT = RESULTS_DIR.parents[1]
PAGES = (PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md")))
BLOCK = re.compile(
    r"(?P<open><!-- (?:results: (?P<name>[\w-]+)|(?P<figures>figures)) -->\n)"
    r".*?(?P<close><!-- /(?:results|figures) -->)",
    re.DOTALL,
)
Row = dict[str, Any]


@dataclass(frozen=True)
class Figure:
    """One headline figure: the first row of a results file that matches, shown by `show`."""

    label: str
    results: str
    match: dict[str, Any]
    show: Callable[[Row], str]
    command: str


def _thousands(value: float) -> str:
    return f"{value:,}"


FRONTIER_TEST_COMMAND = (
    "python -m benchmarks.frontier --only tiny-h256-e100 tiny-h256-e100-iwae10 "
    "tiny-h256-e100-iwae10-iwae20 default-e200-iwae5 default-e200-iwae5-iwae20 "
    "default-e200-iwae5-iwae20-iwae50 default-e200-iwae5-iwae20-iwae50-iwae100 "
    "--name frontier_test --figure docs/frontier_test.png"
)

RECOGNITION_COMMAND = (
    "python -m benchmarks.recognition vae_edge/models/default "
    "--generation vae_edge/models/robust vae_edge/models/tiny"
)

# The README's "main figures" table, one row each. Add a row here, then run
# `python -m benchmarks.docs`.
FIGURES = (
    Figure(
        "`vae-edge generate -n 64`, whole command (fresh process)",
        "cold_start",
        {"command": "vae-edge generate"},
        lambda row: (
            f"{row['median wall (s)']} s, {row['median peak RSS (MiB)']} MiB peak RSS "
            f"({row['wall vs PyTorch']}x the time of a PyTorch script)"
        ),
        "python -m benchmarks.cold_start --model vae_edge/models/default",
    ),
    Figure(
        "decode, batch 1, default model, one thread",
        "latency",
        {"part": "decode", "threads": 1, "batch": 1},
        lambda row: f"{row['runtime (µs)']} µs ({row['runtime / PyTorch']}x PyTorch eager)",
        "python -m benchmarks.latency --model vae_edge/models/default --seconds 1",
    ),
    Figure(
        "test NLL bound (K=1000, 10,000 images), default model",
        "frontier_test",
        {"chosen for": "default"},
        lambda row: f"{row['test NLL bound']} nats per image",
        FRONTIER_TEST_COMMAND,
    ),
    Figure(
        "test NLL bound (K=1000, 10,000 images), tiny model (int8, 58 KB decoder)",
        "frontier_test",
        {"chosen for": "tiny"},
        lambda row: f"{row['test NLL bound']} nats per image",
        FRONTIER_TEST_COMMAND,
    ),
    Figure(
        "browser: first grid of 64 digits, fresh visit (best visit)",
        "web_latency",
        {"measure": "first grid of 64 digits, fresh (ms)"},
        lambda row: f"{row['Chromium best']} ms",
        "python -m benchmarks.web_latency",
    ),
    Figure(
        "browser: decode, batch 1 (best round)",
        "web_latency",
        {"measure": "decode, batch 1 (µs per call)"},
        lambda row: f"{row['Chromium best']} µs ({row['Chromium / Python (best)']}x Python)",
        "python -m benchmarks.web_latency",
    ),
    Figure(
        "C decoder, tiny model: flash, static RAM, stack",
        "c_decoder",
        {"model": "tiny"},
        lambda row: (
            f"{_thousands(row['flash: text+data (bytes)'])} B, "
            f"{row['static RAM: data+bss (bytes)']} B, {row['stack (bytes)']} B"
        ),
        "python -m benchmarks.c_decoder default tiny",
    ),
    Figure(
        "C decoder, tiny model: time per code (x86-64)",
        "c_decoder",
        {"model": "tiny"},
        lambda row: (
            f"{row['C, timed in C (µs)']} µs timed in C; through ctypes "
            f"{row['C via ctypes / session']}x an onnxruntime session's time"
        ),
        "python -m benchmarks.c_decoder default tiny",
    ),
    Figure(
        "C decoder, default model, int8, Cortex-M4F (QEMU): image flash, instructions per code",
        "firmware",
        {"model": "default", "weights": "int8"},
        lambda row: (
            f"{_thousands(row['image flash (bytes)'])} B, "
            f"{_thousands(row['instructions per code (QEMU)'])} instructions"
        ),
        "python -m benchmarks.firmware default tiny --int8",
    ),
    Figure(
        "digit recognition, robust model, M2 with all labels: test images clean / 10 % / "
        "20 % of pixels flipped",
        "recognition_robust",
        {"labels": 60000, "classifier": "M2 on the latent means"},
        lambda row: (
            f"{row['0% flipped']:.1%} / {row['10% flipped']:.1%} / {row['20% flipped']:.1%}"
        ),
        "python -m benchmarks.recognition vae_edge/models/robust",
    ),
    Figure(
        "generate --digit, robust model: M2's one pass (share a pixel judge reads as asked)",
        "digit_generation",
        {"model": "robust", "method": "M2: conditional.onnx"},
        lambda row: f"{row['judged right']:.1%}, {row['ms per digit']} ms per digit",
        RECOGNITION_COMMAND,
    ),
    Figure(
        "training, one epoch of the default model (60,000 images, CPU)",
        "train_loop",
        {"loop": "tensor slices (vae-edge)"},
        lambda row: f"{row['median epoch (s)']} s",
        "python -m benchmarks.train_loop",
    ),
)


def load_results(name: str) -> dict[str, Any]:
    """benchmarks/results/NAME.json as its script wrote it."""
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the benchmark that writes it")
    return json.loads(path.read_text(encoding="utf-8"))


def machine_line(machine: dict[str, Any]) -> str:
    """The machine as `benchmarks.report` prints it."""
    return ", ".join(f"{key} {value}" for key, value in machine.items())


def render_results(name: str) -> str:
    """The block for results NAME: title and source, the machine, the table."""
    results = load_results(name)
    return (
        f"*{results['title']}* (`benchmarks/results/{name}.json`)\n\n"
        f"Measured on: {machine_line(results['machine'])}\n\n"
        f"{markdown_table(results['rows'])}\n"
    )


def figure_row(figure: Figure) -> dict[str, str]:
    """One row of the headline table, from the first matching row of its results."""
    results = load_results(figure.results)
    rows = [
        row
        for row in results["rows"]
        if all(row.get(key) == value for key, value in figure.match.items())
    ]
    if not rows:
        raise LookupError(f"{figure.results}.json has no row with {figure.match}")
    machine = results["machine"]
    return {
        "figure": figure.label,
        "value": figure.show(rows[0]),
        "measured on": f"{machine['cpu']}, {machine['cores']} cores",
        "printed by": f"`{figure.command}`",
    }


def render_figures() -> str:
    return markdown_table([figure_row(figure) for figure in FIGURES]) + "\n"


def rewrite(text: str) -> str:
    """`text` with every results and figures block rendered afresh."""

    def block(match: re.Match[str]) -> str:
        body = render_figures() if match["figures"] else render_results(match["name"])
        return match["open"] + body + match["close"]

    return BLOCK.sub(block, text)


def stale_pages() -> list[Path]:
    """Pages whose blocks differ from what the results files say now."""
    return [
        page
        for page in PAGES
        if rewrite(page.read_text(encoding="utf-8")) != page.read_text(encoding="utf-8")
    ]


def main() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"rewrote {page.relative_to(PROJECT)}")


if __name__ == "__main__":
    main()
