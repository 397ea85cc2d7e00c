"""Finding a model folder: a path, or a bundled model's name.

Kept apart from `vae_edge.runtime.model` so that the site builder and `export-c` can find
a folder without loading onnxruntime.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vae_edge.models import DEFAULT_MODEL, bundled_model_dir, bundled_model_names
from vae_edge.runtime.manifest import ModelFileError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

DEFAULT_MODEL_DIR = bundled_model_dir(DEFAULT_MODEL)


def resolve_model_dir(model: str | Path | None) -> Path | Traversable:
    """A model folder: `model` itself if it is a folder, else the bundled model of that name.

    None means the bundled default model. Anything else is a `ModelFileError`. A bundled
    model is a `Traversable` of the package's resources: a folder, or a place inside a zip.
    """
    name = DEFAULT_MODEL if model is None else str(model)
    if model is not None and Path(model).is_dir():
        return Path(model)
    if name in bundled_model_names():
        return bundled_model_dir(name)
    if model is None:
        raise ModelFileError(
            f"{DEFAULT_MODEL_DIR}: this vae-edge install has no bundled model; "
            "pass a model folder written by `vae-edge export`"
        )
    raise ModelFileError(
        f"{model}: model folder not found, and no bundled model has that name "
        f"(bundled: {', '.join(bundled_model_names()) or 'none'})"
    )
