"""Encode, decode and reconstruct latency: the vae-edge runtime against PyTorch eager.

All run in this process on the same inputs, in a freshly shuffled order every round so
machine drift and cache effects hit each alike, at batch 1, 64 and 1024, with one thread
and with all cores. Three ways per part: the runtime's public API (input checks
included), the bare onnxruntime sessions it wraps (what the API's own work costs is the
difference), and PyTorch eager under `inference_mode`. onnxruntime's spinning is off so
it does not steal PyTorch's cores. Runtime and bare sessions are then timed once more
without PyTorch in between, as an app calling the runtime in a loop would see them.

PyTorch runs the checkpoint of `--run`, or without one the weights of the float32 model
folder `--torch-model` (default `--model`), rebuilt from its graphs.

    python -m benchmarks.latency --model vae_edge/models/default
    python -m benchmarks.latency --model model-int8 --torch-model vae_edge/models/default \\
        --name latency_int8
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from benchmarks.report import write_report
from benchmarks.torch_from_onnx import vae_from_model_dir
from vae_edge import runtime
from vae_edge.runtime.bench import BATCH_SIZES, alternate, timed
from vae_edge.runtime.manifest import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS
from vae_edge.training.checkpoint import load_checkpoint, vae_from_checkpoint
from vae_edge.training.model import VAE

MIN_ROUNDS = 20
IMAGE, Z, PROBS = ENCODER_INPUTS[0], DECODER_INPUTS[0], DECODER_OUTPUTS[0]


def time_ways(calls: tuple[Callable[[], object], ...], seconds: float) -> list[list[float]]:
    """Per-call times of each of `calls`, alternated in shuffled rounds for `seconds`."""
    times = alternate(dict(enumerate(map(timed, calls))), MIN_ROUNDS, seconds, warmup=5)
    return list(times.values())


def paired_difference(first: list[float], second: list[float]) -> float:
    """Median over rounds of first's time minus second's in the same round.

    Both ran within microseconds of each other in every round, so a slow spell of the
    machine (frequent on a shared VM) lifts both and cancels out, which a difference of
    two medians would not do.
    """
    return statistics.median(a - b for a, b in zip(first, second, strict=True))


def three_ways(
    model: runtime.VAEModel, vae: VAE, z: np.ndarray, images: np.ndarray
) -> dict[str, tuple[Callable[[], object], ...]]:
    """Per part: (runtime API, bare sessions, PyTorch), each numpy in and numpy out."""
    encoder, decoder = model.session("encoder"), model.session("decoder")
    encoder_outputs = [output.name for output in encoder.get_outputs()]

    def bare_reconstruct() -> np.ndarray:
        mu = encoder.run(encoder_outputs, {IMAGE: images})[0]
        return decoder.run([PROBS], {Z: mu})[0]

    def torch_decode() -> np.ndarray:
        with torch.inference_mode():
            return vae.decoder.probs(torch.from_numpy(z)).numpy()

    def torch_encode() -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            mu, logvar = vae.encoder(torch.from_numpy(images))
            return mu.numpy(), logvar.numpy()

    def torch_reconstruct() -> np.ndarray:
        with torch.inference_mode():
            return vae.decoder.probs(vae.encoder(torch.from_numpy(images))[0]).numpy()

    return {
        "decode": (
            lambda: model.decode(z),
            lambda: decoder.run([PROBS], {Z: z}),
            torch_decode,
        ),
        "encode": (
            lambda: model.encode(images),
            lambda: encoder.run(encoder_outputs, {IMAGE: images}),
            torch_encode,
        ),
        "reconstruct": (lambda: model.reconstruct(images), bare_reconstruct, torch_reconstruct),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="exported model folder")
    parser.add_argument("--run", type=Path, help="run folder or checkpoint.pt for PyTorch")
    parser.add_argument("--torch-model", type=Path, help="float32 model folder for PyTorch")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per measurement")
    parser.add_argument("--name", default="latency", help="results file name")
    args = parser.parse_args()

    if args.run is not None:
        vae = vae_from_checkpoint(load_checkpoint(args.run))
        torch_source = str(args.run)
    else:
        vae = vae_from_model_dir(args.torch_model or args.model)
        torch_source = f"weights of {args.torch_model or args.model}"
    rng = np.random.default_rng(0)
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        model = runtime.load(args.model, threads=threads)
        for batch in BATCH_SIZES:
            z = rng.standard_normal((batch, model.latent_dim), dtype=np.float32)
            images = (rng.random((batch, model.config.input_dim)) < 0.2).astype(np.float32)
            for part, calls in three_ways(model, vae, z, images).items():
                together = time_ways(calls, args.seconds)
                api, bare, eager = (statistics.median(times) for times in together)
                # Again without PyTorch in between, whose calls leave colder caches behind:
                # what the API's own work costs in an app that calls it in a loop.
                alone = time_ways(calls[:2], args.seconds)
                rows.append(
                    {
                        "part": part,
                        "threads": threads,
                        "batch": batch,
                        "runtime (µs)": round(api * 1e6, 1),
                        "bare session (µs)": round(bare * 1e6, 1),
                        "PyTorch (µs)": round(eager * 1e6, 1),
                        "runtime - bare (µs)": round(paired_difference(*together[:2]) * 1e6, 1),
                        "runtime - bare, no PyTorch between (µs)": round(
                            paired_difference(*alone) * 1e6, 1
                        ),
                        "runtime / PyTorch": round(api / eager, 2),
                        "bare / PyTorch": round(bare / eager, 2),
                        "runtime images/s": round(batch / api),
                    }
                )
    write_report(
        args.name,
        f"Latency, {args.model} ({model.manifest.variant}) against PyTorch eager "
        f"({torch_source}); medians",
        rows,
        {"model": str(args.model), "torch": torch_source},
    )


if __name__ == "__main__":
    main()
