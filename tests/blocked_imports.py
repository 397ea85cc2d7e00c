"""A fresh interpreter in which torch, onnx and the other training packages cannot be imported.

What a core install (onnxruntime, numpy, pillow, click) looks like to vae-edge.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Installed first in the child interpreter: importing any of these fails as if absent.
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
    "onnxscript",
    "matplotlib",
    "vae_edge.training.model",
    "vae_edge.training.train",
    "vae_edge.export",
    "vae_edge.training.checkpoint",
    "vae_edge.training.plots",
]


def run_blocked(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` (dedented) in a fresh interpreter with the blocker installed first."""
    script = BLOCKER + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
