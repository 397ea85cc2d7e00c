"""Models bundled with vae-edge, each a model folder found by name (`--model NAME`).

`default` is what `--model` means when it is not given. The folders are package
resources, found through `importlib.resources`, so they load from a zipped or frozen
package as well as from a folder.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

DEFAULT_MODEL = "default"


def bundled_model_names() -> list[str]:
    """Names of the model folders shipped inside the package."""
    return sorted(
        entry.name
        for entry in resources.files(__name__).iterdir()
        if entry.is_dir() and (entry / "manifest.json").is_file()
    )


def bundled_model_dir(name: str) -> Traversable:
    """The folder of the bundled model `name` (whether or not it exists)."""
    return resources.files(__name__) / name
