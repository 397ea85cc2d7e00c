"""Commands that run on a core install: onnxruntime, numpy and pillow, never torch."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
