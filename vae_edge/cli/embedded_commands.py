"""`vae-edge export-c`: a model folder's decoder as dependency-free C99 source."""

from __future__ import annotations

from pathlib import Path

import click

from vae_edge import c_source
from vae_edge.cli.options import MODEL_DIR_OPTION
from vae_edge.errors import VaeEdgeError, first_line
from vae_edge.runtime.folders import resolve_model_dir


@click.command("export-c")
@MODEL_DIR_OPTION
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write: vae_decoder.h, vae_decoder.c, example.c, Makefile.",
)
@click.option("--force", is_flag=True, help="Replace the folder if it is not empty.")
def export_c(model_dir: Path | None, out_dir: Path, force: bool) -> None:
    """Write the decoder as C99 source with an example program (`make -C OUT`)."""
    try:
        written = c_source.export_c(resolve_model_dir(model_dir), out_dir, force=force)
    except VaeEdgeError as error:
        raise click.ClickException(first_line(error)) from None
    for path in written:
        click.echo(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")
    click.echo(f"build the example with: make -C {out_dir}")


COMMANDS: list[click.Command] = [export_c]
