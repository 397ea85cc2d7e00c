"""The `vae-edge` command line: one click group, its commands in one module per area.

`runtime_commands` and `web_commands` work on a core install (no torch); the training,
classifier and export commands import torch only inside the commands that need it, and
`embedded_commands` imports onnx and emx-onnx-cgen only when export-c runs. A command's
module is imported only when that command runs (or `--help` lists them all), so
`vae-edge generate` does not pay for the training and export commands' imports.
"""

from __future__ import annotations

import importlib
import signal
from typing import Any

import click

from vae_edge import __version__
from vae_edge.errors import INTERRUPTED_STATUS

# Each command and the module (in vae_edge.cli) whose COMMANDS list defines it;
# tests/test_runtime_isolation.py checks this against the modules' lists.
COMMAND_MODULES = {
    "train": "training_commands",
    "train-classifier": "classifier_commands",
    "export": "export_commands",
    "export-c": "embedded_commands",
    "generate": "runtime_commands",
    "classify": "runtime_commands",
    "reconstruct": "runtime_commands",
    "encode": "runtime_commands",
    "interpolate": "runtime_commands",
    "info": "runtime_commands",
    "evaluate": "runtime_commands",
    "bench": "runtime_commands",
    "web": "web_commands",
}


class VaeEdgeGroup(click.Group):
    """The command group: commands load on demand and report every error in one line.

    Click prints a usage block before a bad option value's error; dropping the error's
    context keeps just `Error: Invalid value for '--epochs': 0 is not in the range x>=1.`
    Ctrl-C anywhere ends with one line and status 130 (click itself would say "Aborted!", 1).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMAND_MODULES:
            return None
        module = importlib.import_module(f"{__name__}.{COMMAND_MODULES[cmd_name]}")
        return next(command for command in module.COMMANDS if command.name == cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Remember a Ctrl-C: one that lands while a C extension initialises can come out
        # as an ImportError that no longer carries the KeyboardInterrupt (Cython's modules).
        signal.signal(signal.SIGINT, _remember_interrupt)
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            error.ctx = None
            raise
        except (KeyboardInterrupt, ImportError) as error:
            if not interrupted(error):
                raise
            click.echo("interrupted", err=True)
            ctx.exit(INTERRUPTED_STATUS)


_interrupt_seen = False


def _remember_interrupt(signum: int, frame: object) -> None:
    """Python's own SIGINT handler (raise KeyboardInterrupt), remembering that it ran."""
    global _interrupt_seen
    _interrupt_seen = True
    signal.default_int_handler(signum, frame)


def interrupted(error: BaseException | None) -> bool:
    """Whether Ctrl-C lies behind `error`.

    A Ctrl-C while a C extension initialises (onnxruntime, imported when a command first
    needs it) comes out as `ImportError: initialization failed` caused by the
    `KeyboardInterrupt`, or (a Cython module's) as an ImportError that lost it: then the
    SIGINT handler `main` installs has seen it.
    """
    if _interrupt_seen:
        return True
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


@click.group(cls=VaeEdgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vae-edge")
def main() -> None:
    """Train a small VAE on 14x14 MNIST and run it anywhere with onnxruntime."""
