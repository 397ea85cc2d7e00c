"""int8 variants of exported graphs: onnxruntime dynamic quantization of the weights.

The exporter writes Linear layers as Gemm, which onnxruntime's dynamic quantizer skips
(it handles MatMul); each Gemm with a constant weight is therefore first rewritten as
the equivalent MatMul + Add.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

from vae_edge.config import QUANTIZATIONS


def gemm_to_matmul(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of `model` with every Gemm(x, W, b) on a constant W as MatMul + Add."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    initializers = {init.name: init for init in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        simple = (
            node.op_type == "Gemm"
            and node.input[1] in initializers
            and attributes.get("alpha", 1.0) == 1.0
            and attributes.get("beta", 1.0) == 1.0
            and not attributes.get("transA", 0)
        )
        if not simple:
            nodes.append(node)
            continue
        weight_init = initializers[node.input[1]]
        weight = numpy_helper.to_array(weight_init)
        if attributes.get("transB", 0):
            weight = np.ascontiguousarray(weight.T)
        weight_init.CopyFrom(numpy_helper.from_array(weight, weight_init.name))
        product = f"{node.output[0]}_matmul"
        nodes.append(helper.make_node("MatMul", [node.input[0], node.input[1]], [product]))
        if len(node.input) > 2 and node.input[2]:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]]))
        else:
            nodes[-1].output[0] = node.output[0]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.value_info[:]  # recorded shapes of transposed weights are stale now
    onnx.checker.check_model(model)
    return model


def quantize_graph(source: Path, target: Path, quantization: str = "int8") -> None:
    """Write an int8 (dynamically quantized) copy of the ONNX graph `source` to `target`."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}, expected one of {QUANTIZATIONS}")
    with tempfile.TemporaryDirectory() as scratch:
        matmul_path = Path(scratch) / "matmul.onnx"
        onnx.save(gemm_to_matmul(onnx.load(source)), matmul_path)
        root_logger = logging.getLogger()
        level = root_logger.level
        root_logger.setLevel(logging.ERROR)  # the quantizer logs advice to the root logger
        try:
            quantize_dynamic(matmul_path, target, weight_type=QuantType.QInt8)
        finally:
            root_logger.setLevel(level)
