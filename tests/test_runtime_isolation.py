"""The runtime and its commands work in an interpreter where torch cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKER = """
import importlib.abc, sys
BLOCKED = {"torch", "onnx", "onnxscript", "matplotlib"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Blocker())
"""

HEAVY = [
    "torch",
    "onnx",
    "matplotlib",
    "vae_edge.model",
    "vae_edge.train",
    "vae_edge.export",
    "vae_edge.checkpoint",
    "vae_edge.plots",
]


def run_blocked(code: str) -> subprocess.CompletedProcess[str]:
    script = BLOCKER + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )


def test_importing_the_package_and_runtime_stays_light():
    result = run_blocked(
        f"""
        import sys
        import vae_edge
        assert not any(m in sys.modules for m in {HEAVY!r} + ["click"]), "vae_edge"
        import vae_edge.runtime
        loaded = [m for m in {HEAVY!r} + ["click"] if m in sys.modules]
        assert not loaded, loaded
        """
    )
    assert result.returncode == 0, result.stderr


def test_whole_runtime_api_and_commands_work_without_torch(tmp_path, small_model_dir, mnist_dir):
    result = run_blocked(
        f"""
        import sys
        import numpy as np
        from pathlib import Path
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit("torch imported despite the blocker")
        from vae_edge import runtime
        from vae_edge.mnist import load_split, read_idx
        from vae_edge.runtime.evaluate import evaluate
        from vae_edge.cli import main

        out = Path({str(tmp_path)!r})
        model = runtime.load({str(small_model_dir)!r})
        digits = model.generate(8, seed=1)
        runtime.save_grid(digits, out / "api.png")
        raw = read_idx(Path({str(mnist_dir)!r}) / "t10k-images-idx3-ubyte.gz")[:2]
        images = np.stack([runtime.preprocess(image) for image in raw])
        mu, logvar = model.encode(images)
        model.decode(mu)
        model.reconstruct(images)
        evaluate(model, images, k=4)
        from PIL import Image
        for index, image in enumerate(raw):
            Image.fromarray(image).save(out / f"d{{index}}.png")
        model_arg = ["--model", {str(small_model_dir)!r}]
        for args in (
            ["generate", "-n", "4", "-o", str(out / "cli.png")],
            ["reconstruct", str(out / "d0.png"), "-o", str(out / "r.png")],
            ["encode", str(out / "d0.png"), str(out / "d1.png"), "-o", str(out / "z.npy")],
            ["interpolate", str(out / "d0.png"), str(out / "d1.png"), "-o", str(out / "i.png")],
            ["info"],
        ):
            main(args + model_arg, standalone_mode=False)
        loaded = [m for m in {HEAVY!r} if m in sys.modules]
        assert not loaded, loaded
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
    for name in ("api.png", "cli.png", "r.png", "z.npy", "i.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_training_commands_ask_for_the_train_extra_without_torch(tmp_path):
    result = run_blocked(
        f"""
        from vae_edge.cli import main
        main(["train", "--out", {str(tmp_path / "run")!r}])
        """
    )
    assert result.returncode == 1
    assert 'pip install "vae-edge[train]"' in result.stderr
    assert "Traceback" not in result.stderr
