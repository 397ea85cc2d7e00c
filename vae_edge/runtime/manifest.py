"""The manifest that describes an exported model folder and fingerprints its graphs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vae_edge.config import MAX_LAYER_SIZE, POOL_FACTOR, SOURCE_SIDE, THRESHOLD, ModelConfig
from vae_edge.errors import VaeEdgeError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
ENCODER_NAME = "encoder.onnx"
DECODER_NAME = "decoder.onnx"
ENCODER_INPUTS = ("image",)
ENCODER_OUTPUTS = ("mu", "logvar")
DECODER_INPUTS = ("z",)
# `logits` rides along with `probs` so that evaluation can compute log-likelihoods stably.
DECODER_OUTPUTS = ("probs", "logits")
# Optional: a digit classifier on the encoder's mean, latent code -> 10 class probabilities.
CLASSIFIER_NAME = "classifier.onnx"
CLASSIFIER_INPUTS = ("mu",)
CLASSIFIER_OUTPUTS = ("probabilities",)
N_CLASSES = 10
# Optional, beside the classifier (M2 of Kingma et al. 2014 on the latent code): a digit
# as one-hot [B, 10] and a style code z2 ~ N(0, I) [B, z2_dim] -> a latent code z1 [B, latent].
CONDITIONAL_NAME = "conditional.onnx"
CONDITIONAL_INPUTS = ("digit", "z2")
CONDITIONAL_OUTPUTS = ("z1",)
# How this vae-edge turns pictures into model inputs (`vae_edge.mnist.pool_and_binarize`).
# A manifest records the preprocessing its model was trained with; one that differs is
# refused, since the model would be fed inputs unlike those it learned from.
PREPROCESSING = {
    "source_side": SOURCE_SIDE,
    "pool": f"{POOL_FACTOR}x{POOL_FACTOR} mean",
    "threshold": THRESHOLD,
}


class ModelFileError(VaeEdgeError, ValueError):
    """A model folder, manifest or graph is missing, unreadable or not what the manifest says."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class GraphEntry:
    """One ONNX graph of the model: its file name, fingerprint and tensor names."""

    file: str
    sha256: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
        }


@dataclass(frozen=True)
class Manifest:
    """Everything the runtime needs to know about a model folder, as written by export."""

    config: ModelConfig
    encoder: GraphEntry
    decoder: GraphEntry
    opset: int
    package_version: str
    # None only in folders exported before vae-edge recorded it.
    ir_version: int | None = None
    # Optional graphs: absent in folders exported without a classifier, and the
    # conditional generator (with its style size) in those from before M2.
    classifier: GraphEntry | None = None
    conditional: GraphEntry | None = None
    z2_dim: int | None = None
    variant: str = "float32"
    training: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def graphs(self) -> tuple[GraphEntry, ...]:
        """Every graph of the folder: encoder, decoder, then the optional ones it has."""
        optional = (self.classifier, self.conditional)
        return (self.encoder, self.decoder, *(entry for entry in optional if entry))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "package_version": self.package_version,
            "variant": self.variant,
            "model": self.config.to_dict(),
            "image_shape": [self.config.image_side, self.config.image_side],
            "preprocessing": dict(PREPROCESSING),  # from_dict refuses any other
            "opset": self.opset,
            "ir_version": self.ir_version,
            "encoder": self.encoder.to_dict(),
            "decoder": self.decoder.to_dict(),
            **({"classifier": self.classifier.to_dict()} if self.classifier else {}),
            **(
                {"conditional": {**self.conditional.to_dict(), "z2_dim": self.z2_dim}}
                if self.conditional
                else {}
            ),
            "training": self.training,
            "validation": self.validation,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Parse a manifest dict; raises KeyError/TypeError/ValueError on a malformed one.

        The inverse of `to_dict`. The image shape must be the model's and the
        preprocessing this runtime's.
        """
        if data["format_version"] != FORMAT_VERSION:
            raise ValueError(
                f"format_version {data['format_version']} is not supported "
                f"(this vae-edge reads version {FORMAT_VERSION})"
            )
        config = ModelConfig.from_dict(data["model"])
        if list(data["image_shape"]) != [config.image_side, config.image_side]:
            raise ValueError(
                f"image_shape {data['image_shape']} does not match the model's "
                f"image_side {config.image_side}"
            )
        if data["preprocessing"] != PREPROCESSING:
            raise ValueError(
                f"preprocessing {data['preprocessing']} differs from this vae-edge's "
                f"{PREPROCESSING}"
            )

        def graph(entry: dict[str, Any]) -> GraphEntry:
            file = str(entry["file"])
            # Graphs live in the model folder itself: a path elsewhere is not an export.
            if file != Path(file).name or file in ("", ".", ".."):
                raise ValueError(f"graph file {file!r} must be a file name inside the folder")
            return GraphEntry(
                file=file,
                sha256=str(entry["sha256"]),
                inputs=tuple(entry["inputs"]),
                outputs=tuple(entry["outputs"]),
            )

        z2_dim = int(data["conditional"]["z2_dim"]) if "conditional" in data else None
        if z2_dim is not None and not 0 < z2_dim <= MAX_LAYER_SIZE:
            raise ValueError(f"conditional z2_dim must be 1 to {MAX_LAYER_SIZE}, got {z2_dim}")
        return cls(
            config=config,
            encoder=graph(data["encoder"]),
            decoder=graph(data["decoder"]),
            opset=int(data["opset"]),
            ir_version=None if data.get("ir_version") is None else int(data["ir_version"]),
            classifier=graph(data["classifier"]) if "classifier" in data else None,
            conditional=graph(data["conditional"]) if "conditional" in data else None,
            z2_dim=z2_dim,
            package_version=str(data["package_version"]),
            variant=str(data.get("variant", "float32")),
            training=dict(data.get("training", {})),
            validation=dict(data.get("validation", {})),
        )


def read_manifest(model_dir: str | Path | Traversable) -> Manifest:
    """Read and check `model_dir/manifest.json` and the SHA-256 of every graph it names.

    Any problem raises `ModelFileError` with a one-line message naming the file.
    """
    model_dir = Path(model_dir) if isinstance(model_dir, str) else model_dir
    return read_model_files(model_dir)[0]


def read_model_files(model_dir: Path | Traversable) -> tuple[Manifest, dict[str, bytes]]:
    """The checked manifest and the checked bytes of every graph it names, by file name.

    For callers that go on to use the graphs: each file is read once, and what they use
    is what was checked. Problems raise `ModelFileError`, as in `read_manifest`.
    """
    manifest = read_manifest_only(model_dir)
    return manifest, {entry.file: read_graph(model_dir, entry) for entry in manifest.graphs()}


def read_manifest_only(model_dir: Path | Traversable) -> Manifest:
    """The checked `manifest.json` of the folder `model_dir`; its graphs are not read.

    `model_dir` is a folder, or a `Traversable` such as a model folder inside a zipped
    package. Any problem raises `ModelFileError` naming the file.
    """
    if not model_dir.is_dir():
        raise ModelFileError(f"{model_dir}: model folder not found")
    manifest_path = model_dir / MANIFEST_NAME
    try:
        return Manifest.from_dict(json.loads(manifest_path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ModelFileError(f"{manifest_path}: manifest not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{manifest_path}: not a readable JSON manifest ({error})") from None
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{manifest_path}: malformed manifest ({error!r})") from None


def read_graph(model_dir: Path | Traversable, entry: GraphEntry) -> bytes:
    """The bytes of the graph `entry` names, once their SHA-256 matches the manifest's.

    What runs is what was checked: a session is made from these very bytes.
    """
    graph_path = model_dir / entry.file
    if not graph_path.is_file():
        raise ModelFileError(f"{graph_path}: model file not found")
    try:
        graph = graph_path.read_bytes()
    except OSError as error:
        raise ModelFileError(f"{graph_path}: cannot read it ({error.strerror})") from None
    if hashlib.sha256(graph).hexdigest() != entry.sha256:
        raise ModelFileError(
            f"{graph_path}: SHA-256 does not match the manifest; the file is truncated, "
            "modified or from another export"
        )
    return graph
