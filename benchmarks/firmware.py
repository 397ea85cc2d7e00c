"""Firmware figures of the C decoder on a Cortex-M4F, per model and weight type.

    python -m benchmarks.firmware default tiny --int8

For each model (a folder or a bundled model's name), and with --int8 also for its int8
variant (the decoder quantized as `vae-edge export --quantize int8` does), the folder
of `export-c` is built with `make cortex-m4` (arm-none-eabi-gcc, the Makefile's flags)
and run under `qemu-system-arm -M mps2-an386` with semihosting:

- flash: `arm-none-eabi-size` text + data of the decoder object (text holds the const
  weights) and of the whole image (start-up, newlib's semihosting I/O and maths);
- static RAM: data + bss; stack: the decoder's frame from `-fstack-usage`;
- multiply-adds per code: the sum of in x out over the decoder's layers;
- instructions per code: QEMU gives no cycle counts. Under `-icount shift=0` each
  instruction advances the virtual clock by 1 ns, and the image reads the SysTick
  (25 MHz of virtual time) around each call, so ticks x 40 = instructions executed,
  +-40 (median of the image's codes); on a real chip the same SysTick counts cycles;
- worst difference from onnxruntime on the image's codes;
- x86-64: the C decoder's time per code against a bare onnxruntime session
  (`benchmarks/c_decoder.py`, shuffled rounds, batch 1, one thread).

The table goes to benchmarks/results/firmware.md and .json; `python -m benchmarks.docs`
puts it into docs/microcontrollers.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import subprocess
import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np

from benchmarks import c_decoder
from benchmarks.report import write_report
from vae_edge import runtime
from vae_edge.c_board import INSTRUCTIONS_PER_TICK, run_board
from vae_edge.c_source import BOARD_DIR, C_TOLERANCES, export_c
from vae_edge.export.quantize import quantize_graph
from vae_edge.runtime.folders import resolve_model_dir
from vae_edge.runtime.manifest import MANIFEST_NAME, read_manifest, sha256_file


def int8_variant(model_dir: Path, target: Path) -> Path:
    """A copy of the model folder's encoder, decoder and manifest, with int8 graphs (no heads)."""
    manifest = read_manifest(model_dir)
    target.mkdir()
    entries = {}
    for entry in (manifest.encoder, manifest.decoder):
        quantize_graph(model_dir / entry.file, target / entry.file)
        entries[entry.file] = dataclasses.replace(entry, sha256=sha256_file(target / entry.file))
    int8 = dataclasses.replace(
        manifest,
        variant="int8",
        encoder=entries[manifest.encoder.file],
        decoder=entries[manifest.decoder.file],
        classifier=None,
        conditional=None,
        z2_dim=None,
        validation={},
    )
    (target / MANIFEST_NAME).write_text(int8.to_json(), encoding="utf-8")
    return target


def measure(label: str, model_dir: Path, seconds: float) -> dict[str, object]:
    """One row: the Cortex-M4 build's sizes and work per code, and the x86-64 times."""
    manifest = read_manifest(model_dir)
    model = runtime.load(model_dir)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / "c"
        export_c(model_dir, out_dir)
        subprocess.run(["make", "-s", "-C", out_dir, "cortex-m4"], check=True, capture_output=True)
        board = out_dir / BOARD_DIR
        decoder = c_decoder.size_of(board / "vae_decoder.o", "arm-none-eabi-size")
        image = c_decoder.size_of(board / "decoder.elf", "arm-none-eabi-size")
        stack = c_decoder.stack_of(board / "vae_decoder.su")
        run = run_board(out_dir)
    # One code per call, as on the chip: int8 quantizes with the range of the whole batch.
    expected = np.concatenate([model.decode(code[None]) for code in run.codes])
    worst = float(np.abs(run.probs - expected.reshape(run.probs.shape)).max())
    x86 = c_decoder.measure(str(model_dir), seconds)
    sizes = manifest.config.decoder_sizes
    macs = sum(n_in * n_out for n_in, n_out in pairwise(sizes))
    instructions = statistics.median(run.ticks) * INSTRUCTIONS_PER_TICK
    return {
        "model": label,
        "weights": manifest.variant,
        "decoder": "-".join(map(str, sizes)),
        "decoder flash (bytes)": decoder["text"] + decoder["data"],
        "image flash (bytes)": image["text"] + image["data"],
        "decoder static RAM (bytes)": decoder["data"] + decoder["bss"],
        "image static RAM (bytes)": image["data"] + image["bss"],
        "stack (bytes)": stack,
        "multiply-adds per code": macs,
        "instructions per code (QEMU)": round(instructions),
        "instructions per multiply-add": round(instructions / macs, 2),
        "worst difference from onnxruntime": float(f"{worst:.2g}"),
        "held to": C_TOLERANCES[manifest.variant],
        "x86-64 C (µs)": x86["C via ctypes (µs)"],
        "x86-64 onnxruntime (µs)": x86["onnxruntime session (µs)"],
        "x86-64 C / onnxruntime": x86["C via ctypes / session"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders or bundled model names")
    parser.add_argument("--int8", action="store_true", help="also each float model's int8")
    parser.add_argument("--seconds", type=float, default=3.0, help="x86-64 timing per model")
    args = parser.parse_args()
    for tool in ("make", "arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found on PATH (see docs/microcontrollers.md)")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            model_dir = resolve_model_dir(name)
            rows.append(measure(name, model_dir, args.seconds))
            print(rows[-1], flush=True)
            if args.int8 and read_manifest(model_dir).variant == "float32":
                int8_dir = int8_variant(model_dir, Path(tmp) / f"{len(rows)}-int8")
                rows.append(measure(name, int8_dir, args.seconds))
                print(rows[-1], flush=True)
    write_report(
        "firmware",
        "C decoder on a Cortex-M4F (arm-none-eabi-gcc, QEMU mps2-an386) and on x86-64",
        rows,
        {"seconds": args.seconds},
    )


if __name__ == "__main__":
    main()
