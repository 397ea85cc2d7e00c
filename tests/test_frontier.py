"""benchmarks.frontier end to end on a small slice: train, export both variants, choose, plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from vae_edge.training.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def test_frontier_trains_exports_evaluates_and_chooses_within_the_budgets(tmp_path, mnist_dir):
    runs = tmp_path / "runs"
    command = [
        *(sys.executable, "-m", "benchmarks.frontier"),
        *("--only", "tiny-h256-e100", "tiny-h256-e100-iwae10"),
        *("--epochs", "1", "--train-images", "500", "--test-images", "30", "--k", "3"),
        *("--data-dir", str(mnist_dir), "--runs-dir", str(runs)),
        *("--results-dir", str(tmp_path), "--name", "smoke", "--figure", str(tmp_path / "f.png")),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "smoke.json").read_text())
    rows = {(row["candidate"], row["variant"]): row for row in report["rows"]}
    assert set(rows) == {
        (name, variant)
        for name in ("tiny-h256-e100", "tiny-h256-e100-iwae10")
        for variant in ("float32", "int8")
    }
    for name in ("tiny-h256-e100", "tiny-h256-e100-iwae10"):
        float_row, int8_row = rows[name, "float32"], rows[name, "int8"]
        assert int8_row["decoder bytes"] < float_row["decoder bytes"] / 3
        assert float_row["decoder"] == "16-256-196"
    # Only the int8 decoders fit 64 KiB, all four 1 MiB: each budget's choice is the best
    # of those that fit it by validation.
    validation = "validation NLL bound"
    fitting = [row for row in rows.values() if row["decoder bytes"] <= 64 * 1024]
    assert {row["variant"] for row in fitting} == {"int8"}
    assert "tiny" in min(fitting, key=lambda row: row[validation])["chosen for"]
    assert "default" in min(rows.values(), key=lambda row: row[validation])["chosen for"]
    assert "--init-from" in report["recipes"]["tiny-h256-e100-iwae10"]
    tuned = load_checkpoint(runs / "tiny-h256-e100-iwae10")
    assert tuned.started_from["epochs"] == 1 and tuned.train_options().iwae_samples == 10
    with Image.open(tmp_path / "f.png") as image:
        assert image.format == "PNG" and min(image.size) > 200
