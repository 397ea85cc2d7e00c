"""Models bundled with vae-edge, each a model folder found by name (`--model NAME`).

`default` is what `--model` means when it is not given. The folders are package data:
in an installed package, plain folders beside this file; in a zipped or frozen package,
resources found through `importlib.resources`. That module is imported only then: it
slows every command's start-up (it imports tempfile and zipfile).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

DEFAULT_MODEL = "default"


def _models_folder() -> Path | Traversable:
    """The folder holding the bundled models: a real folder, or one inside a zip."""
    folder = Path(__file__).parent
    if folder.is_dir():
        return folder
    from importlib import resources

    return resources.files(__name__)


def bundled_model_names() -> list[str]:
    """Names of the model folders shipped inside the package."""
    return sorted(
        entry.name
        for entry in _models_folder().iterdir()
        if entry.is_dir() and (entry / "manifest.json").is_file()
    )


def bundled_model_dir(name: str) -> Path | Traversable:
    """The folder of the bundled model `name` (whether or not it exists)."""
    return _models_folder() / name
