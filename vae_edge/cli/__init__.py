"""The `vae-edge` command line: one click group, its commands in one module per area.

`runtime_commands` and `web_commands` work on a core install (no torch); the training,
classifier and export commands import torch only inside the commands that need it, and
`embedded_commands` imports onnx and emx-onnx-cgen only when export-c runs.
"""

from __future__ import annotations

import click

from vae_edge import __version__
from vae_edge.cli import (
    classifier_commands,
    embedded_commands,
    export_commands,
    runtime_commands,
    training_commands,
    web_commands,
)
from vae_edge.errors import INTERRUPTED_STATUS


class OneLineErrorGroup(click.Group):
    """A group whose commands report a bad option value in one line, like other errors.

    Click prints a usage block before such an error; dropping the error's context keeps
    just `Error: Invalid value for '--epochs': 0 is not in the range x>=1.` Ctrl-C
    anywhere ends with one line and status 130 (click itself would say "Aborted!", 1).
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            error.ctx = None
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(INTERRUPTED_STATUS)


@click.group(cls=OneLineErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vae-edge")
def main() -> None:
    """Train a small VAE on 14x14 MNIST and run it anywhere with onnxruntime."""


for _module in (
    training_commands,
    classifier_commands,
    export_commands,
    embedded_commands,
    runtime_commands,
    web_commands,
):
    for _command in _module.COMMANDS:
        main.add_command(_command)
