"""The runtime and its commands work in a fresh interpreter where torch cannot be imported."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest
from blocked_imports import HEAVY, run_blocked
from runtime_fixtures import build_model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_model_dir(tmp_path_factory.mktemp("isolation") / "model")[0]


def test_the_blocker_blocks():
    result = run_blocked("import torch")
    assert result.returncode != 0 and "No module named 'torch'" in result.stderr


def test_importing_the_package_and_the_runtime_stays_light():
    result = run_blocked(
        f"""
        import sys
        import vae_edge
        loaded = [m for m in {HEAVY!r} + ["onnxruntime", "click"] if m in sys.modules]
        assert not loaded, ("vae_edge", loaded)
        import vae_edge.runtime
        loaded = [m for m in {HEAVY!r} + ["click"] if m in sys.modules]
        assert not loaded, ("vae_edge.runtime", loaded)
        """
    )
    assert result.returncode == 0, result.stderr


def test_whole_runtime_api_and_commands_work_without_torch(tmp_path, model_dir, mnist_dir):
    result = run_blocked(
        f"""
        import sys
        from pathlib import Path

        import numpy as np
        from PIL import Image

        from vae_edge import runtime
        from vae_edge.cli import main
        from vae_edge.runtime.evaluate import evaluate

        out = Path({str(tmp_path)!r})
        model_dir = {str(model_dir)!r}
        model = runtime.load(model_dir)
        digits = model.generate(8, seed=1)
        runtime.save_grid(digits, out / "api.png")
        for index, digit in enumerate(digits[:2]):
            Image.fromarray((digit * 255).astype(np.uint8)).resize((28, 28)).save(
                out / f"d{{index}}.png"
            )
        images = np.stack([runtime.preprocess(out / f"d{{index}}.png") for index in range(2)])
        mu, logvar = model.encode(images)
        model.decode(mu)
        model.decode_logits(mu)
        model.reconstruct(images)
        evaluate(model, images, k=4)

        model_arg = ["--model", model_dir]
        d0, d1 = str(out / "d0.png"), str(out / "d1.png")
        for args in (
            ["generate", "-n", "4", "-o", str(out / "cli.png")],
            ["reconstruct", d0, d1, "-o", str(out / "r.png")],
            ["encode", d0, d1, "-o", str(out / "z.npy")],
            ["encode", d0, d1, "-o", str(out / "z.json")],
            ["interpolate", d0, d1, "-o", str(out / "i.png")],
            ["info"],
            ["evaluate", "--split", "validation", "--k", "1", "--data-dir", {str(mnist_dir)!r}],
            ["bench", "--seconds", "0.05"],
        ):
            main(args + model_arg, standalone_mode=False)
        loaded = [m for m in {HEAVY!r} if m in sys.modules]
        assert not loaded, loaded
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
    for name in ("api.png", "cli.png", "r.png", "z.npy", "z.json", "i.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_training_commands_ask_for_the_train_extra_without_torch(tmp_path):
    result = run_blocked(
        f"""
        from vae_edge.cli import main
        main(["train", "--out", {str(tmp_path / "run")!r}])
        """
    )
    assert result.returncode == 1
    assert 'pip install -c constraints.txt -e ".[train]"' in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["generate", "--help"]])
def test_help_imports_neither_onnxruntime_nor_torch(args):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from vae_edge.cli import main
                try:
                    main({args!r})
                except SystemExit:
                    pass
                heavy = ("onnxruntime", "torch", "numpy", "PIL", "onnx")
                print("loaded:", [name for name in heavy if name in sys.modules])
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "loaded: []"


# Modules `vae-edge generate` does without: Pillow (PNGs are written with zlib), the
# training stack, and importlib.resources (bundled models are plain folders when installed).
NOT_FOR_GENERATE = ("PIL", "torch", "onnx", "importlib.resources", "tempfile")


def test_generate_writes_its_png_without_importing_what_it_does_not_need(tmp_path):
    grid = tmp_path / "grid.png"
    code = f"""
        import sys
        from vae_edge.cli import main
        main(["generate", "-n", "4", "-o", {str(grid)!r}, "--seed", "0"], standalone_mode=False)
        print("loaded:", [name for name in {NOT_FOR_GENERATE!r} if name in sys.modules])
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "loaded: []"
    assert grid.read_bytes().startswith(b"\x89PNG")


def test_the_command_map_names_each_modules_commands():
    import vae_edge.cli as cli

    found = {}
    for module_name in set(cli.COMMAND_MODULES.values()):
        module = importlib.import_module(f"vae_edge.cli.{module_name}")
        found.update({command.name: module_name for command in module.COMMANDS})
    assert found == cli.COMMAND_MODULES


def test_generate_imports_no_other_commands_module(tmp_path):
    code = f"""
        import sys
        from vae_edge.cli import main
        main(["generate", "-n", "2", "-o", {str(tmp_path / "g.png")!r}], standalone_mode=False)
        print("loaded:", sorted(m for m in sys.modules if m.endswith("_commands")))
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "loaded: ['vae_edge.cli.runtime_commands']"
