"""`vae-edge web`: a static site that runs the model in the browser, and a local server."""

from __future__ import annotations

from pathlib import Path

import click

from vae_edge.cli.options import MODEL_DIR_OPTION


@click.command()
@MODEL_DIR_OPTION
@click.option(
    "-o",
    "--output",
    "site_dir",
    type=click.Path(path_type=Path),
    default=Path("site"),
    show_default=True,
    help="Folder to write the site into: index.html, its scripts and the model folder.",
)
@click.option(
    "--ort-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="onnxruntime-web's dist folder (node_modules/onnxruntime-web/dist): copy its files "
    "into the site so it works offline. Default: load them from the pinned CDN URL.",
)
@click.option("--force", is_flag=True, help="Replace the folder's contents.")
@click.option("--serve", is_flag=True, help="Then serve the site on 127.0.0.1 until Ctrl-C.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port for --serve (0: any free one).",
)
def web(
    model_dir: Path | None,
    site_dir: Path,
    ort_dir: Path | None,
    force: bool,
    serve: bool,
    port: int,
) -> None:
    """Write a static site that generates, encodes and decodes digits in the browser."""
    from vae_edge.errors import VaeEdgeError, first_line
    from vae_edge.web import build_site, make_server

    # The port is taken before anything is written: a busy one leaves no site behind.
    try:
        server = make_server(site_dir, port, verbose=True) if serve else None
    except OSError as error:
        raise click.ClickException(
            f"--port {port}: cannot serve there ({error.strerror})"
        ) from None
    try:
        build_site(site_dir, model_dir, ort_dir=ort_dir, force=force)
        source = "copied from " + str(ort_dir) if ort_dir else "from the CDN"
        click.echo(f"wrote the site to {site_dir} (onnxruntime-web {source})")
        if server is None:
            return
        host, bound_port = server.server_address[:2]
        click.echo(f"serving {site_dir} at http://{host}:{bound_port}/ (Ctrl-C to stop)")
        server.serve_forever()
    except VaeEdgeError as error:
        raise click.ClickException(first_line(error)) from None
    finally:  # Ctrl-C ends the command (status 130) through here
        if server is not None:
            server.server_close()


COMMANDS: list[click.Command] = [web]
