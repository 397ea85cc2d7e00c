"""Serve a site on 127.0.0.1 with the MIME types onnxruntime-web needs.

Browsers refuse a module script or a WebAssembly stream served with another type, and
onnxruntime-web then reports "no available backend found".
"""

from __future__ import annotations

import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

HOST = "127.0.0.1"
MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
}


class SiteServer(ThreadingHTTPServer):
    """A threading HTTP server that logs requests only when `verbose`."""

    daemon_threads = True

    def __init__(self, site_dir: str | os.PathLike[str], port: int, verbose: bool) -> None:
        self.verbose = verbose
        handler = functools.partial(SiteRequestHandler, directory=os.fspath(site_dir))
        super().__init__((HOST, port), handler)


class SiteRequestHandler(SimpleHTTPRequestHandler):
    """Static files with fixed MIME types."""

    server: SiteServer
    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        **MIME_TYPES,
    }

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


def make_server(
    site_dir: str | os.PathLike[str], port: int = 0, *, verbose: bool = False
) -> SiteServer:
    """A server for `site_dir` on 127.0.0.1:`port` (0: any free port); call serve_forever().

    The bound port is `server.server_address[1]`. An unavailable port raises `OSError`.
    """
    return SiteServer(site_dir, port, verbose)
