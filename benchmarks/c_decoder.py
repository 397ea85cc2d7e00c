"""The C decoder of `vae-edge export-c`: flash, RAM and time per code beside onnxruntime.

    python -m benchmarks.c_decoder default tiny

For each model (a folder or a bundled model's name) the C source is generated and
compiled with the system `cc` and the flags of the generated Makefile (CFLAGS and
HOST_CFLAGS, read from it):

- flash and RAM: `size` of `vae_decoder.o` (Berkeley format: text includes the const
  weights in .rodata, so flash = text + data, static RAM = data + bss) and the decoder's
  stack frame from gcc's `-fstack-usage` (every intermediate buffer lives there);
- time per code at batch 1, one thread: the C decoder called through ctypes, call by
  call in shuffled order with the bare onnxruntime session and the runtime's `decode`
  (both pay the same Python call overhead as ctypes), and the C decoder timed inside C,
  call by call (medians throughout), also built without HOST_CFLAGS (no -march=native:
  the x86-64 baseline instruction set, as `make HOST_CFLAGS=` builds it) and without
  -ffast-math (each sum in the generated code's order, scalar tanhf and expf);
- the worst difference from the onnxruntime session over the 4,096 codes (one code per
  call), for each build: what each flag costs in rounding.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import subprocess
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.latency import time_ways
from benchmarks.report import write_report
from vae_edge import runtime
from vae_edge.c_source import FUNCTION_NAME, HEADER_NAME, SOURCE_NAME, export_c
from vae_edge.runtime.folders import resolve_model_dir
from vae_edge.runtime.manifest import DECODER_INPUTS, DECODER_OUTPUTS

Z, PROBS = DECODER_INPUTS[0], DECODER_OUTPUTS[0]
OBJECT = "vae_decoder.o"  # the decoder compiled once: measured, then linked into the harness
# Decodes the codes of the file argv[1] one call at a time, argv[2] calls in all, and
# prints the median nanoseconds per call (a median, so that the moments the process is
# descheduled on a shared machine do not count, as in the Python timings); then writes
# each code's pixel probabilities to the file argv[3].
HARNESS = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "vae_decoder.h"

#define MAX_CALLS 1000000

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    static float z[4096][VAE_DECODER_LATENT_DIM];
    static double times[MAX_CALLS];
    float probs[1][VAE_DECODER_PIXELS], logits[1][VAE_DECODER_PIXELS];
    volatile float sink = 0.0f;
    FILE *file = argc == 4 ? fopen(argv[1], "rb") : NULL;
    long calls = argc == 4 ? atol(argv[2]) : 0;
    size_t n;
    if (file == NULL || calls < 1 || calls > MAX_CALLS) return 2;
    n = fread(z, sizeof z[0], 4096, file);
    fclose(file);
    if (n == 0) return 2;
    for (long i = 0; i < calls; ++i) {
        double started = now();
        vae_decoder((const float (*)[VAE_DECODER_LATENT_DIM])&z[i % n], probs, logits);
        times[i] = now() - started;
        sink += probs[0][0];
    }
    qsort(times, calls, sizeof times[0], by_value);
    printf("%.1f\n", times[calls / 2] * 1e9);
    size_t n_written = 0;
    file = fopen(argv[3], "wb");
    if (file == NULL) return 2;
    for (size_t i = 0; i < n; ++i) {
        vae_decoder((const float (*)[VAE_DECODER_LATENT_DIM])&z[i], probs, logits);
        n_written += fwrite(probs[0], sizeof(float), VAE_DECODER_PIXELS, file);
    }
    return fclose(file) != 0 || n_written != n * VAE_DECODER_PIXELS ? 2 : 0;
}
"""
N_CODES = 4096
C_CALLS = 20000


def makefile_flags(folder: Path, *names: str) -> list[str]:
    """The C flags the generated Makefile declares in the variables `names`."""
    recipe = "; ".join(f"echo '$({name})'" for name in names)
    printed = subprocess.run(
        ["make", "-s", "-C", folder, "--eval", f"print-flags: ; @{recipe}", "print-flags"],
        check=True,
        capture_output=True,
        text=True,
    )
    return printed.stdout.split()


def size_of(path: Path, size_tool: str = "size") -> dict[str, int]:
    """Berkeley sizes in bytes of an object or image: text, data and bss."""
    size_line = subprocess.run(
        [size_tool, path], check=True, capture_output=True, text=True
    ).stdout.splitlines()[1]
    text, data, bss = (int(value) for value in size_line.split()[:3])
    return {"text": text, "data": data, "bss": bss}


def stack_of(su_path: Path) -> int:
    """The decoder function's stack frame in bytes, from gcc's -fstack-usage file."""
    return next(
        int(line.split("\t")[1])
        for line in su_path.read_text().splitlines()
        if line.split("\t")[0].endswith(f":{FUNCTION_NAME}")
    )


def object_sizes(folder: Path, flags: list[str]) -> dict[str, int]:
    """Sizes in bytes of the compiled decoder: text, data, bss and its stack frame."""
    subprocess.run(
        ["cc", *flags, "-fPIC", "-fstack-usage", "-c", "-o", OBJECT, SOURCE_NAME],
        cwd=folder,
        check=True,
    )
    return {**size_of(folder / OBJECT), "stack": stack_of(folder / "vae_decoder.su")}


def measure(model_name: str, seconds: float) -> dict[str, object]:
    """One row of the table: sizes and batch-1 times of one model's C decoder."""
    model_dir = resolve_model_dir(model_name)
    model = runtime.load(model_dir, threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "c"
        export_c(model_dir, folder)
        (folder / "harness.c").write_text(HARNESS)
        codes = np.random.default_rng(0).standard_normal((N_CODES, model.latent_dim))
        (folder / "codes.f32").write_bytes(codes.astype("<f4").tobytes())
        run = partial(subprocess.run, cwd=folder, check=True, capture_output=True, text=True)
        session = model.session("decoder")  # bare, as in benchmarks/latency.py
        expected = np.concatenate(  # one code per call, as the C decodes them
            [session.run([PROBS], {Z: code[None]})[0] for code in codes.astype(np.float32)]
        )
        flags = makefile_flags(folder, "CFLAGS", "HOST_CFLAGS")
        builds = {  # the Makefile's build ("") last: its object is measured and kept
            " without -ffast-math": [flag for flag in flags if flag != "-ffast-math"],
            " without HOST_CFLAGS": makefile_flags(folder, "CFLAGS"),
            "": flags,
        }
        in_c = {}
        for build, build_flags in builds.items():
            sizes = object_sizes(folder, build_flags)
            run(["cc", "-O2", "-o", "harness", "harness.c", OBJECT, "-lm"])
            nanoseconds = run(["./harness", "codes.f32", str(C_CALLS), "probs.f32"]).stdout
            c_probs = np.fromfile(folder / "probs.f32", "<f4").reshape(expected.shape)
            in_c[build] = (float(nanoseconds) / 1000, float(np.abs(c_probs - expected).max()))
        run(["cc", "-shared", "-o", "libdecoder.so", OBJECT, "-lm"])

        decoder = getattr(ctypes.CDLL(str(folder / "libdecoder.so")), FUNCTION_NAME)
        decoder.argtypes = [ctypes.c_void_p] * 3
        decoder.restype = None
        z = codes[:1].astype(np.float32)
        probs = np.empty((1, model.config.input_dim), np.float32)
        logits = np.empty_like(probs)
        times = time_ways(
            (
                partial(decoder, z.ctypes.data, probs.ctypes.data, logits.ctypes.data),
                partial(session.run, [PROBS], {Z: z}),
                partial(model.decode, z),
            ),
            seconds,
        )
    c_us, session_us, runtime_us = (statistics.median(each) * 1e6 for each in times)
    config = model.config
    flash = sizes["text"] + sizes["data"]
    return {
        "model": model_name,
        "decoder": "-".join(map(str, config.decoder_sizes)),
        "flash: text+data (bytes)": flash,
        "flash (KiB)": round(flash / 1024, 1),
        "static RAM: data+bss (bytes)": sizes["data"] + sizes["bss"],
        "stack (bytes)": sizes["stack"],
        **{f"C{build}, timed in C (µs)": round(us, 2) for build, (us, _) in in_c.items()},
        **{
            f"worst difference, C{build} vs onnxruntime": float(f"{worst:.2g}")
            for build, (_, worst) in in_c.items()
        },
        "C via ctypes (µs)": round(c_us, 2),
        "onnxruntime session (µs)": round(session_us, 2),
        "runtime decode (µs)": round(runtime_us, 2),
        "C via ctypes / session": round(c_us / session_us, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders or bundled model names")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per model")
    parser.add_argument("--name", default="c_decoder", help="results file name")
    args = parser.parse_args()

    rows = []
    for model_name in args.models:
        rows.append(measure(model_name, args.seconds))
        print(rows[-1], flush=True)
    write_report(
        args.name,
        "C decoder (cc, the generated Makefile's flags, x86-64) against onnxruntime, "
        "batch 1, one thread",
        rows,
        {"seconds": args.seconds, "header": HEADER_NAME},
    )


if __name__ == "__main__":
    main()
