"""The Cortex-M4F image that `export-c` writes (`make cortex-m4`), run under QEMU.

`run_board` runs `make run-cortex-m4` in an exported folder and reads back what the
image wrote through semihosting (see `cortex-m4/main.c`): the latent codes it decoded,
the pixel probabilities, and the SysTick ticks of each call. The tests hold the output
to onnxruntime's; `benchmarks/firmware.py` turns the ticks into instructions.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae_edge.c_source import CSourceError

# QEMU's mps2-an386 clocks the SysTick at 25 MHz of virtual time, and under `-icount
# shift=0` (the Makefile's QEMU line) each instruction advances virtual time by 1 ns.
INSTRUCTIONS_PER_TICK = 1e9 / 25e6


@dataclass(frozen=True)
class BoardRun:
    """What one run of the image printed: codes (n, latent_dim), probs (n, pixels)."""

    codes: np.ndarray
    probs: np.ndarray
    ticks: list[int]


def _floats(words: list[str]) -> np.ndarray:
    return np.array([int(word, 16) for word in words], dtype=np.uint32).view(np.float32)


def parse_board_output(text: str) -> BoardRun:
    """The `z`, `systick` and `p` lines of the image's output, grouped per code."""
    values: dict[str, list[str]] = {"z": [], "systick": [], "p": []}
    for line in text.splitlines():
        tag, _, value = line.partition(" ")
        if tag not in values:
            raise CSourceError(f"the Cortex-M4 image printed an unexpected line: {line!r}")
        values[tag].append(value)
    n_codes = len(values["systick"])
    if n_codes == 0:
        raise CSourceError("the Cortex-M4 image decoded no code")
    return BoardRun(
        codes=_floats(values["z"]).reshape(n_codes, -1),
        probs=_floats(values["p"]).reshape(n_codes, -1),
        ticks=[int(value) for value in values["systick"]],
    )


def run_board(out_dir: Path, timeout_s: float = 300.0) -> BoardRun:
    """Build the image in `out_dir` if needed, run it under QEMU, and read its output.

    Make, the compiler and QEMU run in a process group of their own, killed as a whole
    when the run takes longer than `timeout_s`.
    """
    process = subprocess.Popen(
        ["make", "-s", "-C", str(out_dir), "run-cortex-m4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise CSourceError(f"the Cortex-M4 image ran past {timeout_s:g} s") from None
    if process.returncode != 0:
        raise CSourceError(f"make run-cortex-m4 failed ({process.returncode}): {stderr.strip()}")
    return parse_board_output(stdout)
