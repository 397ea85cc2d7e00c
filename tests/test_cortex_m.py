"""The Cortex-M4F image of `export-c`: built with arm-none-eabi-gcc, run under QEMU.

CI installs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (.ci/run);
without them these tests fail, never skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.firmware import int8_variant
from vae_edge import runtime
from vae_edge.c_board import run_board
from vae_edge.c_source import C_TOLERANCES
from vae_edge.cli import main
from vae_edge.runtime.folders import resolve_model_dir

TOOLS = ("make", "arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm", "qemu-system-arm")


def need_tools() -> None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found on PATH: the Cortex-M4 tests need it (see .ci/run)")


def arm_tool(tool: str, path: Path) -> str:
    """What `tool path` prints (arm-none-eabi-size or -nm)."""
    return subprocess.run([tool, path], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module", params=["tiny", "default", "robust", "small int8", "default int8"])
def board(request, tmp_path_factory):
    """(model folder, exported folder) with `make cortex-m4` built in it.

    "small int8" is the small run exported by `vae-edge export --quantize int8`; "default
    int8" the bundled default model's graphs quantized the same way."""
    need_tools()
    if request.param == "small int8":
        model_dir = request.getfixturevalue("small_int8_dir")
    elif request.param == "default int8":
        model_dir = int8_variant(
            resolve_model_dir("default"), tmp_path_factory.mktemp("int8") / "m"
        )
    else:
        model_dir = resolve_model_dir(request.param)
    out_dir = tmp_path_factory.mktemp("board") / "c"
    result = CliRunner().invoke(main, ["export-c", "--model", str(model_dir), "-o", str(out_dir)])
    assert result.exit_code == 0, result.output
    built = subprocess.run(
        ["make", "-C", str(out_dir), "cortex-m4"], capture_output=True, text=True, timeout=300
    )
    assert built.returncode == 0, built.stdout + built.stderr
    for flag in ("-mcpu=cortex-m4", "-mfloat-abi=hard", "-Wdouble-promotion", "-Werror"):
        assert flag in built.stdout
    return model_dir, out_dir


def test_image_decodes_like_onnxruntime(board):
    model_dir, out_dir = board
    run = run_board(out_dir, timeout_s=300)
    model = runtime.load(model_dir)
    assert run.codes.shape == (4, model.latent_dim)
    assert np.abs(run.codes).max() > 1  # codes spread over [-2, 2), not all zeros
    # One code per call, as on the chip: int8 quantizes with the range of the whole batch.
    expected = np.concatenate([model.decode(code[None]) for code in run.codes])
    expected = expected.reshape(run.probs.shape)
    tolerance = C_TOLERANCES[model.manifest.variant]
    np.testing.assert_allclose(run.probs, expected, rtol=0, atol=tolerance)
    assert all(ticks > 0 for ticks in run.ticks)


def test_weights_sit_in_flash_and_the_decoder_needs_no_static_ram(board):
    _, out_dir = board
    board_dir = out_dir / "cortex-m4"
    sizes = arm_tool("arm-none-eabi-size", board_dir / "vae_decoder.o")
    text, data, bss = map(int, sizes.splitlines()[1].split()[:3])
    assert data + bss == 0 and text > 0
    symbols = arm_tool("arm-none-eabi-nm", board_dir / "decoder.elf").splitlines()
    weights = [line.split() for line in symbols if "_weight" in line]
    assert weights and all(int(address, 16) < 0x20000000 for address, _, _ in weights)


def test_make_cortex_m4_without_the_cross_compiler_names_the_package(tmp_path):
    need_tools()
    result = CliRunner().invoke(main, ["export-c", "--model", "tiny", "-o", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    made = subprocess.run(
        ["make", "-C", str(tmp_path / "c"), "cortex-m4", "ARM_CC=vae-edge-no-such-gcc"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode != 0
    lines = made.stderr.strip().splitlines()
    assert len(lines) == 1 and "gcc-arm-none-eabi" in lines[0], lines
    assert not Path(tmp_path / "c" / "cortex-m4" / "decoder.elf").exists()
