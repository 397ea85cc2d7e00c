"""onnxruntime sessions for the two small graphs, checked against what the manifest promises."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from vae_edge.runtime.manifest import GraphEntry, ModelFileError


def session_options(threads: int) -> ort.SessionOptions:
    """Options for a graph of a few hundred thousand weights run on a CPU beside an app."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # two or three ops in a chain: nothing runs in parallel
    options.log_severity_level = 3  # errors only: warnings would clutter the CLI's output
    # Idle worker threads sleep instead of spinning, so no core burns between calls; the
    # few microseconds of wake-up are small next to a call's cost.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def open_session(
    path: Path, entry: GraphEntry, threads: int, widths: dict[str, int]
) -> ort.InferenceSession:
    """A CPU session for `path` whose tensors are those of `entry`, each [batch, width].

    `widths` maps every input and output name to its expected last dimension. Any graph
    onnxruntime cannot load, or whose tensors differ, is a `ModelFileError` naming `path`.
    """
    try:
        session = ort.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own types, with no common base
        detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else "no detail"
        raise ModelFileError(f"{path}: onnxruntime cannot load it ({detail})") from None
    inputs = tuple(node.name for node in session.get_inputs())
    outputs = tuple(node.name for node in session.get_outputs())
    if inputs != entry.inputs or set(outputs) != set(entry.outputs):
        raise ModelFileError(
            f"{path}: graph has inputs {inputs} and outputs {outputs}, "
            f"the manifest says {entry.inputs} and {entry.outputs}"
        )
    for node in (*session.get_inputs(), *session.get_outputs()):
        _check_tensor(path, node, widths[node.name])
    return session


def _check_tensor(path: Path, node: ort.NodeArg, width: int) -> None:
    """A float tensor [batch, width] whose batch axis is dynamic (unknown sizes pass)."""
    if node.type != "tensor(float)":
        raise ModelFileError(f"{path}: tensor {node.name!r} is {node.type}, expected float32")
    shape = node.shape
    if shape is None:  # no shape recorded: the run itself will tell
        return
    if len(shape) != 2:
        raise ModelFileError(f"{path}: tensor {node.name!r} has shape {shape}, expected 2 axes")
    if isinstance(shape[0], int):
        raise ModelFileError(
            f"{path}: tensor {node.name!r} has a fixed batch size {shape[0]}; "
            "the runtime needs graphs exported with a dynamic batch axis"
        )
    if isinstance(shape[1], int) and shape[1] != width:
        raise ModelFileError(
            f"{path}: tensor {node.name!r} has width {shape[1]}, but the manifest's model "
            f"(latent size, image size) needs {width}"
        )
