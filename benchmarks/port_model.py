"""Rewrite a model folder's graphs the portable way, and show their outputs did not change.

    python -m benchmarks.port_model vae_edge/models/default

For folders exported before `vae-edge export` wrote portable graphs (the bundled default
model among them): each graph is stripped of the exporter's doc strings and metadata and
converted to the lowest opset that holds its operators, with the matching IR version
(`vae_edge.export.onnx_export.make_portable`, the code export runs). Then the old and
new graphs run in onnxruntime on all 10,000 test images (encoder) and on their latent
means (decoder); the largest difference of each output is printed, and the folder is
rewritten (new graphs, then the manifest with their SHA-256, opset and IR version) only
if every output is unchanged.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from benchmarks.report import write_report
from vae_edge.atomic import write_text_atomic
from vae_edge.export.onnx_export import default_opset, make_portable
from vae_edge.mnist import load_split
from vae_edge.runtime.manifest import (
    DECODER_INPUTS,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    MANIFEST_NAME,
    read_manifest,
    sha256_file,
)
from vae_edge.training.download import resolve_data_dir

IMAGE, MU, Z = ENCODER_INPUTS[0], ENCODER_OUTPUTS[0], DECODER_INPUTS[0]


def run_graph(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output of the graph at `path` for `feeds`, by name."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="model folder to rewrite in place")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()

    manifest = read_manifest(args.model_dir)
    images = load_split(resolve_data_dir(args.data_dir), "test")
    with tempfile.TemporaryDirectory(dir=args.model_dir, prefix=".port-") as scratch:
        rows, ported = [], {}
        for role, entry in (("encoder", manifest.encoder), ("decoder", manifest.decoder)):
            old_path, new_path = args.model_dir / entry.file, Path(scratch) / entry.file
            original = onnx.load(str(old_path))
            portable = make_portable(onnx.load(str(old_path)), opset=None)
            onnx.checker.check_model(portable, full_check=True)
            onnx.save(portable, str(new_path))
            encoder_feeds = {IMAGE: images}
            feeds = (
                encoder_feeds
                if role == "encoder"
                else {Z: run_graph(args.model_dir / manifest.encoder.file, encoder_feeds)[MU]}
            )
            before, after = run_graph(old_path, feeds), run_graph(new_path, feeds)
            for name in before:
                rows.append(
                    {
                        "graph": entry.file,
                        "output": name,
                        "rows": len(images),
                        "max |new - old|": float(np.max(np.abs(after[name] - before[name]))),
                        "opset": f"{default_opset(original)} -> {default_opset(portable)}",
                        "IR version": f"{original.ir_version} -> {portable.ir_version}",
                        "bytes": f"{old_path.stat().st_size} -> {new_path.stat().st_size}",
                    }
                )
            ported[role] = (new_path, portable)
        write_report(
            f"port_{args.model_dir.name}",
            f"{args.model_dir.name}: portable graphs against the originals, 10,000 test images",
            rows,
            {},
        )
        if any(row["max |new - old|"] != 0.0 for row in rows):
            raise SystemExit("outputs changed: the model folder was left as it was")
        new_manifest = dataclasses.replace(
            manifest,
            encoder=dataclasses.replace(manifest.encoder, sha256=sha256_file(ported["encoder"][0])),
            decoder=dataclasses.replace(manifest.decoder, sha256=sha256_file(ported["decoder"][0])),
            opset=default_opset(ported["decoder"][1]),
            ir_version=ported["decoder"][1].ir_version,
        )
        # Graphs first, manifest last (as export does); each move is a rename.
        for new_path, _ in ported.values():
            os.replace(new_path, args.model_dir / new_path.name)
        write_text_atomic(args.model_dir / MANIFEST_NAME, new_manifest.to_json())
    read_manifest(args.model_dir)
    print(f"rewrote {args.model_dir}: opset {new_manifest.opset}, IR {new_manifest.ir_version}")


if __name__ == "__main__":
    main()
