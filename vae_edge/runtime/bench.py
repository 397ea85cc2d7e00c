"""On-device benchmark of the runtime alone (no torch): load time and latency per batch size.

`vae-edge bench` prints its table so a user can judge a device before deploying to it.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from vae_edge.runtime.model import load

BATCH_SIZES = (1, 64, 1024)
Key = TypeVar("Key")
Result = TypeVar("Result")


def cpu_model() -> str:
    """The CPU's name where Linux tells it, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU, cores, Python and the versions of the installed libraries that matter here."""
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


def alternate(
    measures: Mapping[Key, Callable[[], Result]],
    rounds: int,
    seconds: float = 0.0,
    warmup: int = 0,
) -> dict[Key, list[Result]]:
    """Run each measure once per round, in a freshly shuffled order every round.

    At least `rounds` rounds, more until `seconds` have passed; `warmup` rounds before
    them are not kept. No measure always runs right after the same other one (a call
    just after PyTorch finds colder caches than one after onnxruntime), and a slow spell
    of the machine falls on every measure alike. The one timing loop of vae-edge: `vae-edge
    bench` and every script in benchmarks/ measure through it.
    """
    names = list(measures)
    for _ in range(warmup):
        for name in names:
            measures[name]()
    results: dict[Key, list[Result]] = {name: [] for name in names}
    shuffler = random.Random(0)
    deadline = time.perf_counter() + seconds
    done = 0
    while done < rounds or time.perf_counter() < deadline:
        shuffler.shuffle(names)
        for name in names:
            results[name].append(measures[name]())
        done += 1
    return results


def timed(call: Callable[[], object]) -> Callable[[], float]:
    """A measure for `alternate`: runs `call` once and returns its wall time in seconds."""

    def measure() -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    return measure


def time_calls(call: Callable[[], object], seconds: float, min_calls: int = 20) -> list[float]:
    """Per-call wall times of `call`, repeated for about `seconds` after a short warm-up."""
    return alternate({"call": timed(call)}, min_calls, seconds, warmup=3)["call"]


def run_bench(
    model_dir: str | Path | None = None,
    thread_counts: tuple[int, ...] | None = None,
    seconds: float = 1.0,
) -> list[dict[str, Any]]:
    """Latency of decode and encode per batch size and thread count, plus load time.

    Returns one row per (part, threads, batch): median and p99 microseconds and
    images per second.
    """
    thread_counts = thread_counts or tuple(sorted({1, os.cpu_count() or 1}))
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    for threads in thread_counts:
        load_times = time_calls(partial(load, model_dir, threads=threads), seconds, 5)
        model = load(model_dir, threads=threads)
        rows.append(_row("load", threads, 1, load_times))
        for batch in BATCH_SIZES:
            z = rng.standard_normal((batch, model.latent_dim), dtype=np.float32)
            images = (rng.random((batch, model.config.input_dim)) < 0.2).astype(np.float32)
            for part, call in (
                ("decode", partial(model.decode, z)),
                ("encode", partial(model.encode, images)),
            ):
                rows.append(_row(part, threads, batch, time_calls(call, seconds)))
    return rows


def _row(part: str, threads: int, batch: int, times: list[float]) -> dict[str, Any]:
    median = statistics.median(times)
    return {
        "part": part,
        "threads": threads,
        "batch": batch,
        "median (µs)": round(median * 1e6, 1),
        "p99 (µs)": round(float(np.percentile(times, 99)) * 1e6, 1),
        "images/s": round(batch / median),
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of equal keys as a Markdown table."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)
