"""`vae-edge train` and `vae-edge export`: the commands that need PyTorch."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
