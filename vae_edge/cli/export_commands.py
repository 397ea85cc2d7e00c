"""`vae-edge export`: a trained checkpoint becomes two ONNX graphs and a manifest."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
