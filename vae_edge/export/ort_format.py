"""ORT format: the graphs converted for onnxruntime's minimal and mobile builds.

onnxruntime's own converter (`python -m onnxruntime.tools.convert_onnx_models_to_ort`)
turns each graph into an .ort file and lists the operators they use in
`required_operators.config`, the input of a reduced-operator build
(`./build.sh --minimal_build --include_ops_by_config required_operators.config`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vae_edge.export.onnx_export import ExportError
from vae_edge.runtime.manifest import DECODER_NAME, ENCODER_NAME

GRAPH_NAMES = (ENCODER_NAME, DECODER_NAME)
ORT_NAMES = tuple(str(Path(name).with_suffix(".ort")) for name in GRAPH_NAMES)
OPERATORS_CONFIG_NAME = "required_operators.config"
ORT_FORMAT_FILES = (*ORT_NAMES, OPERATORS_CONFIG_NAME)
CONVERTER = "onnxruntime.tools.convert_onnx_models_to_ort"


def write_ort_format(folder: Path) -> None:
    """Write encoder.ort, decoder.ort and required_operators.config beside the graphs.

    The converter turns every .onnx file of the folder it is given, so it gets a
    folder holding only the two graphs. Raises `ExportError` if it fails.
    """
    with tempfile.TemporaryDirectory(dir=folder, prefix=".ort-") as tmp:
        work = Path(tmp)
        for name in GRAPH_NAMES:
            shutil.copyfile(folder / name, work / name)
        # "Fixed": optimizations are applied before saving, the style meant for the CPU
        # provider (as opposed to NNAPI/CoreML, which compile the graph themselves).
        result = subprocess.run(
            [sys.executable, "-m", CONVERTER, str(work), "--optimization_style", "Fixed"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            last_line = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:]
            raise ExportError(f"ORT-format conversion failed: {''.join(last_line)}")
        for name in ORT_NAMES:
            os.replace(work / name, folder / name)
        config = (work / OPERATORS_CONFIG_NAME).read_text(encoding="utf-8")
        (folder / OPERATORS_CONFIG_NAME).write_text(_without_paths(config), encoding="utf-8")


def _without_paths(config: str) -> str:
    """The config with the converter's "# - /abs/path/decoder.ort" lines cut to file names."""
    return "".join(
        f"# - {Path(line[4:].strip()).name}\n" if line.startswith("# - ") else line
        for line in config.splitlines(keepends=True)
    )
