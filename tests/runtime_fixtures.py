"""Build real model folders for runtime tests from random numpy weights, without training.

The graphs are written with the `onnx` package (a test/training-time dependency only)
and follow `vae_edge.training.model` layer for layer, so the runtime can be compared with a
plain numpy forward pass of the same weights.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vae_edge import __version__
from vae_edge.config import ModelConfig

# The graphs are written at the opset torch's exporter writes (export then lowers it).
from vae_edge.export.onnx_export import EXPORTER_OPSET as OPSET
from vae_edge.runtime.manifest import (
    DECODER_INPUTS,
    DECODER_NAME,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_NAME,
    ENCODER_OUTPUTS,
    MANIFEST_NAME,
    GraphEntry,
    Manifest,
    sha256_file,
)

ACTIVATION_OPS = {"tanh": "Tanh", "relu": "Relu"}
NUMPY_ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0)}

# Small enough to build in milliseconds, large enough to have a hidden layer.
SMALL_CONFIG = ModelConfig(latent_dim=4, hidden_sizes=(8,))

Weights = dict[str, np.ndarray]


def random_weights(config: ModelConfig, seed: int = 0) -> Weights:
    """Random float32 weights named like the PyTorch state dict ([out, in] matrices)."""
    rng = np.random.default_rng(seed)
    weights: Weights = {}

    def linear(name: str, n_in: int, n_out: int) -> None:
        # Scaled like PyTorch's default init, so activations stay in tanh's useful range.
        weights[f"{name}.weight"] = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)).astype(
            np.float32
        )
        weights[f"{name}.bias"] = rng.normal(0, 0.1, n_out).astype(np.float32)

    encoder_sizes = [config.input_dim, *config.hidden_sizes]
    for index, (n_in, n_out) in enumerate(itertools.pairwise(encoder_sizes)):
        linear(f"encoder.body.{2 * index}", n_in, n_out)
    linear("encoder.mu", config.hidden_sizes[-1], config.latent_dim)
    linear("encoder.logvar", config.hidden_sizes[-1], config.latent_dim)
    *decoder_body, pixels = config.decoder_sizes
    for index, (n_in, n_out) in enumerate(itertools.pairwise(decoder_body)):
        linear(f"decoder.body.{2 * index}", n_in, n_out)
    linear("decoder.out", decoder_body[-1], pixels)
    return weights


def _body_layers(weights: Weights, prefix: str) -> list[str]:
    """Names of the body's Linear layers in order: 'encoder.body.0', 'encoder.body.2', ..."""
    return sorted(
        {key.rsplit(".", 1)[0] for key in weights if key.startswith(f"{prefix}.body.")},
        key=lambda name: int(name.rsplit(".", 1)[1]),
    )


def numpy_encode(
    weights: Weights, config: ModelConfig, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, logvar) of images [B, 196] computed in float64 numpy."""
    hidden = images.astype(np.float64)
    activation = NUMPY_ACTIVATIONS[config.activation]
    for layer in _body_layers(weights, "encoder"):
        hidden = activation(hidden @ weights[f"{layer}.weight"].T + weights[f"{layer}.bias"])
    mu = hidden @ weights["encoder.mu.weight"].T + weights["encoder.mu.bias"]
    logvar = hidden @ weights["encoder.logvar.weight"].T + weights["encoder.logvar.bias"]
    return mu, logvar


def numpy_decode_logits(weights: Weights, config: ModelConfig, z: np.ndarray) -> np.ndarray:
    """Pixel logits [B, 196] of latent codes z [B, latent] computed in float64 numpy."""
    hidden = z.astype(np.float64)
    activation = NUMPY_ACTIVATIONS[config.activation]
    for layer in _body_layers(weights, "decoder"):
        hidden = activation(hidden @ weights[f"{layer}.weight"].T + weights[f"{layer}.bias"])
    return hidden @ weights["decoder.out.weight"].T + weights["decoder.out.bias"]


def _mlp_graph(
    name: str,
    weights: Weights,
    layers: list[str],
    activation: str,
    input_name: str,
    input_width: int,
    heads: dict[str, str],
    outputs: dict[str, int],
    sigmoid: tuple[str, str] | None = None,
) -> onnx.ModelProto:
    """Gemm (+ activation) per body layer, then one Gemm per head; batch axis 'batch'."""
    nodes, initializers = [], []
    current = input_name

    def gemm(layer: str, source: str, target: str) -> None:
        for part in ("weight", "bias"):
            name = f"{layer}.{part}"
            initializers.append(numpy_helper.from_array(weights[name], name))
        nodes.append(
            helper.make_node(
                "Gemm", [source, f"{layer}.weight", f"{layer}.bias"], [target], transB=1
            )
        )

    for layer in layers:
        gemm(layer, current, f"{layer}.linear")
        nodes.append(
            helper.make_node(ACTIVATION_OPS[activation], [f"{layer}.linear"], [f"{layer}.out"])
        )
        current = f"{layer}.out"
    for output, layer in heads.items():
        gemm(layer, current, output)
    if sigmoid is not None:
        nodes.append(helper.make_node("Sigmoid", [sigmoid[0]], [sigmoid[1]]))

    def tensor(tensor_name: str, width: int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(tensor_name, TensorProto.FLOAT, ["batch", width])

    graph = helper.make_graph(
        nodes,
        name,
        [tensor(input_name, input_width)],
        [tensor(output, width) for output, width in outputs.items()],
        initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    model = helper.make_model(
        graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets)
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def build_model_dir(
    path: str | Path, config: ModelConfig = SMALL_CONFIG, seed: int = 0
) -> tuple[Path, Weights]:
    """Write encoder.onnx, decoder.onnx and manifest.json for random weights into `path`.

    Returns the folder and the weights, for comparison with `numpy_encode` and
    `numpy_decode_logits`.
    """
    model_dir = Path(path)
    model_dir.mkdir(parents=True, exist_ok=True)
    weights = random_weights(config, seed)
    latent, pixels = config.latent_dim, config.input_dim
    encoder = _mlp_graph(
        "encoder",
        weights,
        _body_layers(weights, "encoder"),
        config.activation,
        ENCODER_INPUTS[0],
        pixels,
        heads={"mu": "encoder.mu", "logvar": "encoder.logvar"},
        outputs={"mu": latent, "logvar": latent},
    )
    decoder = _mlp_graph(
        "decoder",
        weights,
        _body_layers(weights, "decoder"),
        config.activation,
        DECODER_INPUTS[0],
        latent,
        heads={"logits": "decoder.out"},
        outputs={"probs": pixels, "logits": pixels},
        sigmoid=("logits", "probs"),
    )
    onnx.save(encoder, model_dir / ENCODER_NAME)
    onnx.save(decoder, model_dir / DECODER_NAME)

    def entry(file: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> GraphEntry:
        return GraphEntry(file, sha256_file(model_dir / file), inputs, outputs)

    manifest = Manifest(
        config=config,
        encoder=entry(ENCODER_NAME, ENCODER_INPUTS, ENCODER_OUTPUTS),
        decoder=entry(DECODER_NAME, DECODER_INPUTS, DECODER_OUTPUTS),
        opset=OPSET,
        package_version=__version__,
        variant="float32",
        training={"note": "random weights built by tests/runtime_fixtures.py", "epochs": 0},
    )
    (model_dir / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return model_dir, weights


def refresh_hashes(model_dir: Path) -> None:
    """Rewrite the manifest with the graphs' current SHA-256, as if exported that way.

    Lets a test damage a graph in ways the hash check alone would not reveal.
    """
    manifest_path = model_dir / MANIFEST_NAME
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    for part in ("encoder", "decoder", "classifier"):
        if part in data:
            data[part]["sha256"] = sha256_file(model_dir / data[part]["file"])
    manifest_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
