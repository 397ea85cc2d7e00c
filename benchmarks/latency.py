"""Encoder and decoder latency: the vae-edge runtime (onnxruntime) against PyTorch eager.

All run in this process on the same inputs, alternating call by call so machine drift
hits each, at batch 1, 64 and 1024, with one thread and with all cores. PyTorch runs
under `inference_mode`; the runtime is called through its public API (input checks
included) and, to show what those checks cost, as the bare onnxruntime session;
onnxruntime's spinning is off so it does not steal PyTorch's cores.

    python -m benchmarks.latency --run runs/vae --model model
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from benchmarks.report import write_report
from vae_edge import runtime
from vae_edge.checkpoint import load_checkpoint
from vae_edge.model import VAE

BATCH_SIZES = (1, 64, 1024)


def time_alternating(calls: list[Callable[[], object]], seconds: float) -> list[list[float]]:
    """Call each of `calls` in turn for about `seconds`; the per-call times of each.

    The order is shuffled every round, so no call always runs right after the same other
    one (a call just after PyTorch finds colder caches than one after onnxruntime).
    """
    for _ in range(5):  # warm-up: allocations, lazy initialisation
        for call in calls:
            call()
    times: list[list[float]] = [[] for _ in calls]
    order = list(range(len(calls)))
    shuffler = random.Random(0)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times[0]) < 20:
        shuffler.shuffle(order)
        for index in order:
            started = time.perf_counter()
            calls[index]()
            times[index].append(time.perf_counter() - started)
    return times


def torch_decode(vae: VAE, z: np.ndarray) -> np.ndarray:
    """What a PyTorch user writes: numpy in, sigmoid(decoder(z)) out."""
    with torch.inference_mode():
        return vae.decoder.probs(torch.from_numpy(z)).numpy()


def torch_encode(vae: VAE, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy in, (mu, logvar) out."""
    with torch.inference_mode():
        mu, logvar = vae.encoder(torch.from_numpy(images))
        return mu.numpy(), logvar.numpy()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder or checkpoint.pt")
    parser.add_argument("--model", type=Path, required=True, help="exported model folder")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per measurement")
    parser.add_argument("--name", default="latency", help="results file name")
    args = parser.parse_args()

    checkpoint = load_checkpoint(args.run)
    vae = VAE(checkpoint.config)
    vae.load_state_dict(checkpoint.model_state)
    vae.eval()
    rng = np.random.default_rng(0)
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        model = runtime.load(args.model, threads=threads)
        for batch in BATCH_SIZES:
            z = rng.standard_normal((batch, model.latent_dim), dtype=np.float32)
            images = (rng.random((batch, model.config.input_dim)) < 0.2).astype(np.float32)

            # The bare session shows what the runtime's input checks cost.
            decoder, encoder = model._decoder, model._encoder
            raw_decode = partial(decoder.run, ["probs"], {"z": z})
            raw_encode = partial(encoder.run, None, {"image": images})
            for part, ours, bare, theirs in (
                ("decoder", partial(model.decode, z), raw_decode, partial(torch_decode, vae, z)),
                (
                    "encoder",
                    partial(model.encode, images),
                    raw_encode,
                    partial(torch_encode, vae, images),
                ),
            ):
                ort_times, bare_times, torch_times = time_alternating(
                    [ours, bare, theirs], args.seconds
                )
                ort_median = statistics.median(ort_times)
                bare_median = statistics.median(bare_times)
                torch_median = statistics.median(torch_times)
                rows.append(
                    {
                        "part": part,
                        "threads": threads,
                        "batch": batch,
                        "runtime median (µs)": round(ort_median * 1e6, 1),
                        "runtime p99 (µs)": round(percentile(ort_times, 99) * 1e6, 1),
                        "bare session median (µs)": round(bare_median * 1e6, 1),
                        "PyTorch median (µs)": round(torch_median * 1e6, 1),
                        "PyTorch p99 (µs)": round(percentile(torch_times, 99) * 1e6, 1),
                        "runtime / PyTorch": round(ort_median / torch_median, 2),
                        "bare / PyTorch": round(bare_median / torch_median, 2),
                        "runtime images/s": round(batch / ort_median),
                        "PyTorch images/s": round(batch / torch_median),
                    }
                )
    write_report(
        args.name,
        f"Latency, {args.model} ({model.manifest.variant}) against PyTorch eager",
        rows,
        {"model": str(args.model)},
    )


if __name__ == "__main__":
    main()
