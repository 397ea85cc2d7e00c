"""The MNIST downloader and data-folder resolution, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import threading
from pathlib import Path

import pytest

from vae_edge.download import download_mnist, resolve_data_dir
from vae_edge.mnist import DataError, load_split

LABELS = ["train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def serve(tmp_path):
    """Start HTTP servers on 127.0.0.1 over folders; returns a function giving each's URL."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dead_url() -> str:
    """A URL on a port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def served_copy(tmp_path: Path, mnist_dir: Path, names: list[str]) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    for name in names:
        shutil.copy(mnist_dir / name, folder / name)
    return folder


def test_download_fetches_all_four_files_byte_identical(tmp_path, mnist_dir, serve):
    names = [path.name for path in mnist_dir.glob("*.gz")]
    url = serve(served_copy(tmp_path, mnist_dir, names))
    cache = tmp_path / "cache"
    download_mnist(cache, [url])
    assert sorted(path.name for path in cache.iterdir()) == sorted(names)
    for name in names:
        assert (cache / name).read_bytes() == (mnist_dir / name).read_bytes()
    assert load_split(cache, "validation").shape == (1000, 196)


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_download_rejects_a_damaged_body_and_leaves_nothing(tmp_path, mnist_dir, serve, damage):
    served = served_copy(tmp_path, mnist_dir, LABELS)
    body = bytearray((served / LABELS[0]).read_bytes())
    if damage == "corrupted":
        body[100:110] = bytes(b ^ 0xFF for b in body[100:110])
    else:
        body = body[: len(body) // 2]
    (served / LABELS[0]).write_bytes(bytes(body))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="--data-dir") as error:
        download_mnist(cache, [serve(served)], files=LABELS[:1])
    assert LABELS[0] in str(error.value)
    assert "\n" not in str(error.value)
    assert list(cache.iterdir()) == []


def test_download_falls_through_dead_and_404_mirrors(tmp_path, mnist_dir, serve, dead_url):
    empty = tmp_path / "empty"
    empty.mkdir()
    good = serve(served_copy(tmp_path, mnist_dir, LABELS))
    cache = tmp_path / "cache"
    download_mnist(cache, [dead_url, serve(empty), good], files=LABELS)
    assert sorted(path.name for path in cache.iterdir()) == sorted(LABELS)


def test_a_corrupted_first_mirror_falls_through_to_a_good_one(tmp_path, mnist_dir, serve):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / LABELS[0]).write_bytes(b"\x1f\x8b not really gzip")
    good = serve(served_copy(tmp_path, mnist_dir, LABELS))
    cache = tmp_path / "cache"
    download_mnist(cache, [serve(bad), good], files=LABELS[:1])
    assert (cache / LABELS[0]).read_bytes() == (mnist_dir / LABELS[0]).read_bytes()


def test_all_mirrors_dead_is_one_line_that_mentions_data_dir(tmp_path, dead_url):
    with pytest.raises(DataError, match="--data-dir") as error:
        download_mnist(tmp_path / "cache", [dead_url], files=LABELS[:1])
    assert "\n" not in str(error.value)


def test_resolution_order_explicit_then_env_then_cache(tmp_path, mnist_dir, monkeypatch, serve):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("VAE_EDGE_DATA", str(mnist_dir))
    other = tmp_path / "other"
    shutil.copytree(mnist_dir, other)
    assert resolve_data_dir(other) == other
    assert resolve_data_dir() == mnist_dir

    monkeypatch.delenv("VAE_EDGE_DATA")
    cache = tmp_path / "xdg" / "vae-edge" / "mnist"
    shutil.copytree(mnist_dir, cache)
    empty = tmp_path / "empty"
    empty.mkdir()
    # Everything is cached already, so a server with no files is never needed.
    assert resolve_data_dir(mirrors=[serve(empty)]) == cache


def test_cache_is_filled_from_the_mirrors_when_empty(tmp_path, mnist_dir, monkeypatch, serve):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VAE_EDGE_DATA", raising=False)
    cache = tmp_path / "xdg" / "vae-edge" / "mnist"
    cache.mkdir(parents=True)
    for path in mnist_dir.glob("*images*.gz"):
        shutil.copy(path, cache / path.name)  # only the small label files need fetching
    assert resolve_data_dir(mirrors=[serve(served_copy(tmp_path, mnist_dir, LABELS))]) == cache
    assert all((cache / name).is_file() for name in LABELS)


def test_explicit_folder_missing_a_file_is_named(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.delenv("VAE_EDGE_DATA", raising=False)
    partial = tmp_path / "partial"
    shutil.copytree(mnist_dir, partial)
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz"):
        resolve_data_dir(partial)
    monkeypatch.setenv("VAE_EDGE_DATA", str(partial))
    with pytest.raises(DataError, match="VAE_EDGE_DATA"):
        resolve_data_dir()
