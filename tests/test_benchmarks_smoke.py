"""Every benchmark runs, end to end, on the tiny model and a slice of MNIST.

Benchmarks never assert a time; these runs only show that each script still works with
the code it measures (they have broken silently before) and writes a table with rows.
Each runs in this process with its command line, writing into a temporary results folder
instead of benchmarks/results/; `benchmarks.ort_versions` has tests/test_ort_versions.py.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks import report
from vae_edge import runtime
from vae_edge.export import export_model
from vae_edge.models import bundled_model_dir
from vae_edge.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

TINY = bundled_model_dir("tiny")


@pytest.fixture
def run_main(monkeypatch):
    """Run `python -m benchmarks.NAME ARGS...` in this process."""

    def run(name: str, *args: object) -> None:
        module = importlib.import_module(f"benchmarks.{name}")
        monkeypatch.setattr(sys, "argv", [name, *map(str, args)])
        module.main()

    return run


@pytest.fixture
def run_benchmark(tmp_path, monkeypatch, run_main):
    """Run a benchmark that writes tables; what it wrote, by results file name."""
    results = tmp_path / "results"
    monkeypatch.setattr(report, "RESULTS_DIR", results)

    def run(name: str, *args: object) -> dict[str, dict]:
        run_main(name, *args)
        written = {path.stem: json.loads(path.read_text()) for path in results.glob("*.json")}
        assert written, f"benchmarks.{name} wrote no results"
        for payload in written.values():
            assert payload["rows"] and payload["machine"]["cpu"]
        return written

    return run


def test_frontier_trains_exports_evaluates_and_chooses_within_the_budgets(
    run_main, tmp_path, small_mnist_dir
):
    runs = tmp_path / "runs"
    run_main(
        "frontier",
        *("--only", "tiny-h256-e100", "tiny-h256-e100-iwae10"),
        *("--epochs", 1, "--train-images", 500, "--test-images", 30, "--k", 3),
        *("--data-dir", small_mnist_dir, "--runs-dir", runs),
        *("--results-dir", tmp_path, "--name", "smoke", "--figure", tmp_path / "f.png"),
    )
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


def test_latency(run_benchmark, small_model_dir):
    # A float32 model: latency compares with its PyTorch twin, which int8 tiny has not.
    rows = run_benchmark("latency", "--model", small_model_dir, "--seconds", 0)["latency"]["rows"]
    assert {row["part"] for row in rows} == {"decode", "encode", "reconstruct"}


def test_c_decoder(run_benchmark):
    (row,) = run_benchmark("c_decoder", "tiny", "--seconds", 0)["c_decoder"]["rows"]
    assert row["model"] == "tiny" and row["static RAM: data+bss (bytes)"] == 0


def test_firmware(run_benchmark, small_model_dir):
    args = [small_model_dir, "tiny", "--int8", "--seconds", 0]
    rows = run_benchmark("firmware", *args)["firmware"]["rows"]
    # The small float model, its int8 variant, and the bundled tiny model (int8 already).
    assert [row["weights"] for row in rows] == ["float32", "int8", "int8"]
    assert all(row["instructions per code (QEMU)"] > row["multiply-adds per code"] for row in rows)


def test_compare_models(run_benchmark, small_mnist_dir):
    args = [TINY, "--k", 2, "--split", "validation", "--data-dir", small_mnist_dir]
    (row,) = run_benchmark("compare_models", *args)["compare_models"]["rows"]
    assert row["decoder (KiB)"] == round((TINY / "decoder.onnx").stat().st_size / 1024, 1)


def test_port_model_rewrites_a_model_with_the_same_outputs(
    run_benchmark, tmp_path, small_mnist_dir
):
    model = shutil.copytree(TINY, tmp_path / "tiny")
    rows = run_benchmark("port_model", model, "--data-dir", small_mnist_dir)["port_tiny"]["rows"]
    assert all(row["max |new - old|"] == 0.0 for row in rows)
    z = np.random.default_rng(0).standard_normal((8, 16), dtype=np.float32)
    assert np.array_equal(runtime.load(model).decode(z), runtime.load(TINY).decode(z))


def test_reference_vae_trains_a_relu_model_that_exports(run_main, tmp_path, small_mnist_dir):
    out = tmp_path / "reference"
    run_main("reference_vae", "--data-dir", small_mnist_dir, "--out", out, "--epochs", 1)
    manifest, results = export_model(load_checkpoint(out), tmp_path / "model")
    assert manifest.config.activation == "relu" and results[0].passed


def test_tiny_candidates(run_benchmark, small_run):
    (row,) = run_benchmark("tiny_candidates", small_run)["tiny_candidates"]["rows"]
    assert row["run"] == small_run.name


def test_torch_generate(run_main, small_run, tmp_path):
    grid = tmp_path / "grid.png"
    run_main("torch_generate", small_run / CHECKPOINT_NAME, "-n", 4, "-o", grid)
    assert grid.read_bytes().startswith(b"\x89PNG")


def test_train_loop(run_benchmark, small_mnist_dir):
    args = ["--data-dir", small_mnist_dir, "--epochs", 1]
    rows = run_benchmark("train_loop", *args)["train_loop"]["rows"]
    assert [row["loop"] for row in rows] == ["tensor slices (vae-edge)", "DataLoader"]


@pytest.mark.slow
def test_cold_start(run_benchmark, small_model_dir):
    args = ["--model", small_model_dir, "--runs", 1]  # float32: it times a PyTorch twin too
    rows = run_benchmark("cold_start", *args)["cold_start"]["rows"]
    assert rows[0]["command"] == "vae-edge generate"


def test_recognition_grid_denoising_and_generation(
    run_benchmark, small_mnist_dir, tmp_path, monkeypatch
):
    # One label count below the slice's 2,000 training images (M2 trained and chosen, one
    # epoch) and all of them (the folder's own classifier.onnx).
    recognition = importlib.import_module("benchmarks.recognition")
    monkeypatch.setattr(recognition, "DOCS", tmp_path)
    args = [TINY, "--labels", 100, 2000, "--epochs", 1, "--data-dir", small_mnist_dir]
    written = run_benchmark("recognition", *args)
    grid = written["recognition_tiny"]["rows"]
    assert [row["labels"] for row in grid] == [100] * 3 + [2000] * 3
    assert grid[0]["classifier"].startswith("M2 on the latent means (hidden-")
    assert all(0 <= row["10% flipped"] <= 1 for row in grid)
    assert [row["flipped"] for row in written["denoising_tiny"]["rows"]] == ["5%", "10%", "20%"]
    methods = [row["method"] for row in written["digit_generation"]["rows"]]
    assert methods[0] == "M2: conditional.onnx" and methods[1].startswith("rejection")
    assert written["recognition_kingma"]["rows"]
    assert {path.name for path in tmp_path.glob("*.png")} == {
        "denoising_tiny.png",
        "digits_tiny.png",
    }


@pytest.mark.slow
def test_web_latency(run_benchmark, tmp_path):
    screenshot = tmp_path / "web.png"
    args = ["--model", "tiny", "--visits", 1, "--rounds", 1, "--screenshot", screenshot]
    rows = run_benchmark("web_latency", *args)["web_latency"]["rows"]
    assert rows[0]["measure"].startswith("first grid")
    assert screenshot.read_bytes().startswith(b"\x89PNG")


def test_every_benchmark_script_has_a_smoke_run():
    scripts = {path.stem for path in Path(report.__file__).parent.glob("*.py")}
    helpers = {"__init__", "report", "chromium", "torch_from_onnx", "ort_probe", "docs"}
    elsewhere = {"ort_versions"}  # see the module's docstring
    tests = [name for name in globals() if name.startswith("test_")]
    untested = [
        script
        for script in sorted(scripts - helpers - elsewhere)
        if not any(name.startswith(f"test_{script}") for name in tests)
    ]
    assert untested == []
