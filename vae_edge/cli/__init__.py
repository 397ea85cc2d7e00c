"""The `vae-edge` command line: one click group, its commands in three modules.

`runtime_commands` works on a core install (no torch); `training_commands` and
`export_commands` import torch only inside the commands that need it.
"""

from __future__ import annotations

import click

from vae_edge import __version__
from vae_edge.cli import export_commands, runtime_commands, training_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vae-edge")
def main() -> None:
    """Train a small VAE on 14x14 MNIST and run it anywhere with onnxruntime."""


for _module in (training_commands, export_commands, runtime_commands):
    for _command in _module.COMMANDS:
        main.add_command(_command)
