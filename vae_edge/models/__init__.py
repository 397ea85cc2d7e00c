"""Models bundled with vae-edge, each a model folder found by name (`--model NAME`).

`default` is what `--model` means when it is not given.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_MODEL = "default"


def bundled_model_names() -> list[str]:
    """Names of the model folders shipped inside the package."""
    return sorted(
        entry.name
        for entry in resources.files(__name__).iterdir()
        if entry.is_dir() and (entry / "manifest.json").is_file()
    )


def bundled_model_dir(name: str) -> Path:
    """The folder of the bundled model `name` (whether or not it exists)."""
    return Path(str(resources.files(__name__) / name))
