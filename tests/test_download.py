"""The MNIST downloader and data-folder resolution, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import socket
import sys
import threading
from pathlib import Path

import pytest

from vae_edge.mnist import DataError, load_split
from vae_edge.training.download import (
    MNIST_SHA256,
    default_cache_dir,
    download_mnist,
    resolve_data_dir,
)

ALL = sorted(MNIST_SHA256)
LABELS = ["t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging every request to stderr."""

    def log_message(self, *args: object) -> None:
        pass


class CuttingHandler(QuietHandler):
    """Promises the whole file (Content-Length) but hangs up halfway through the body."""

    def copyfile(self, source, outputfile) -> None:
        body = source.read()
        outputfile.write(body[: len(body) // 2])


@pytest.fixture
def serve():
    """Start HTTP servers on 127.0.0.1 over folders; returns a function giving each's URL."""
    servers = []

    def start(folder: Path, handler: type[QuietHandler] = QuietHandler) -> str:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
        )
        # A short poll interval keeps shutdown() at teardown fast.
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
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


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def copy_files(source: Path, folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(source / name, folder / name)
    return folder


def test_download_fetches_all_four_files_byte_identical_and_quietly(
    tmp_path, mnist_dir, serve, capfd
):
    cache = tmp_path / "cache"
    lines: list[str] = []
    download_mnist(cache, [serve(mnist_dir)], log=lines.append)
    assert sorted(path.name for path in cache.iterdir()) == ALL
    for name in ALL:
        assert (cache / name).read_bytes() == (mnist_dir / name).read_bytes()
    assert load_split(cache, "train").shape == (60000, 196)
    assert load_split(cache, "test").shape == (10000, 196)
    assert sorted(line.split()[1] for line in lines) == ALL  # one line per file
    assert capfd.readouterr() == ("", "")  # pooch's own logging is silenced


@pytest.mark.parametrize("damage", ["flipped bytes", "short file", "connection cut"])
def test_a_damaged_download_is_rejected_and_leaves_nothing(tmp_path, mnist_dir, serve, damage):
    name = LABELS[0]
    served = copy_files(mnist_dir, tmp_path / "served", [name])
    body = bytearray((served / name).read_bytes())
    if damage == "flipped bytes":
        body[100:110] = bytes(byte ^ 0xFF for byte in body[100:110])
    elif damage == "short file":
        body = body[: len(body) // 2]
    (served / name).write_bytes(bytes(body))
    url = serve(served, CuttingHandler if damage == "connection cut" else QuietHandler)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="--data-dir") as error:
        download_mnist(cache, [url], files=[name])
    message = str(error.value)
    assert name in message and url in message and "\n" not in message
    assert list(cache.iterdir()) == []  # neither the file nor a temporary one


def test_dead_and_404_mirrors_fall_through_to_a_good_one(
    tmp_path, mnist_dir, serve, dead_url, empty_dir
):
    cache = tmp_path / "cache"
    lines: list[str] = []
    download_mnist(cache, [dead_url, serve(empty_dir), serve(mnist_dir)], LABELS, lines.append)
    assert sorted(path.name for path in cache.iterdir()) == LABELS
    assert len(lines) == 3 * len(LABELS)


def test_a_corrupted_first_mirror_falls_through_to_a_good_one(tmp_path, mnist_dir, serve):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / LABELS[0]).write_bytes(b"\x1f\x8b not really gzip")
    cache = tmp_path / "cache"
    download_mnist(cache, [serve(bad), serve(mnist_dir)], files=LABELS[:1])
    assert (cache / LABELS[0]).read_bytes() == (mnist_dir / LABELS[0]).read_bytes()


def test_all_mirrors_failing_is_one_line_naming_file_mirrors_and_the_way_out(
    tmp_path, serve, dead_url, empty_dir
):
    not_found = serve(empty_dir)
    with pytest.raises(DataError) as error:
        download_mnist(tmp_path / "cache", [dead_url, not_found], files=LABELS[:1])
    message = str(error.value)
    assert "\n" not in message
    assert LABELS[0] in message and dead_url in message and f"{not_found} (HTTP 404)" in message
    assert "--data-dir" in message and "VAE_EDGE_DATA" in message


def test_download_refuses_names_that_are_not_mnist_files(tmp_path, dead_url):
    with pytest.raises(ValueError, match="not MNIST files"):
        download_mnist(tmp_path, [dead_url], files=["train-images-idx3-ubyte"])


def test_default_cache_dir_honours_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "vae-edge" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "vae-edge" / "mnist"


def test_resolution_order_is_explicit_then_env_then_cache(
    tmp_path, mnist_dir, monkeypatch, serve, empty_dir
):
    explicit = copy_files(mnist_dir, tmp_path / "explicit", ALL)
    from_env = copy_files(mnist_dir, tmp_path / "from-env", ALL)
    cache = copy_files(mnist_dir, tmp_path / "xdg" / "vae-edge" / "mnist", ALL)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("VAE_EDGE_DATA", str(from_env))
    offline = [serve(empty_dir)]  # any download attempt would fail
    assert resolve_data_dir(str(explicit), offline) == explicit
    assert resolve_data_dir(None, offline) == from_env
    monkeypatch.delenv("VAE_EDGE_DATA")
    assert resolve_data_dir(None, offline) == cache


def test_an_empty_cache_is_filled_from_the_mirrors(tmp_path, mnist_dir, monkeypatch, serve, capfd):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VAE_EDGE_DATA", raising=False)
    cache = tmp_path / "xdg" / "vae-edge" / "mnist"
    # The large image files are already cached, so only the small label files are fetched.
    copy_files(mnist_dir, cache, [name for name in ALL if name not in LABELS])
    assert resolve_data_dir(mirrors=[serve(mnist_dir)]) == cache
    assert sorted(path.name for path in cache.iterdir()) == ALL
    assert capfd.readouterr().err.count("downloading ") == len(LABELS)


def test_a_raw_uncompressed_file_counts_as_present(tmp_path, mnist_dir, serve, empty_dir):
    cache = copy_files(mnist_dir, tmp_path / "cache", LABELS[1:])
    raw = cache / LABELS[0].removesuffix(".gz")
    raw.write_bytes(gzip.decompress((mnist_dir / LABELS[0]).read_bytes()))
    download_mnist(cache, [serve(empty_dir)], files=LABELS)
    assert sorted(path.name for path in cache.iterdir()) == sorted([raw.name, LABELS[1]])


def test_an_explicit_folder_missing_a_file_is_an_error_naming_it(tmp_path, mnist_dir, monkeypatch):
    partial = copy_files(mnist_dir, tmp_path / "partial", ALL[1:])
    monkeypatch.setenv("VAE_EDGE_DATA", str(mnist_dir))  # a valid fallback is not used
    with pytest.raises(DataError, match="--data-dir") as error:
        resolve_data_dir(partial)
    assert str(partial / ALL[0]) in str(error.value)
    with pytest.raises(DataError, match="no such folder"):
        resolve_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv("VAE_EDGE_DATA", str(partial))
    with pytest.raises(DataError, match="VAE_EDGE_DATA") as error:
        resolve_data_dir()
    assert str(partial / ALL[0]) in str(error.value)


def test_an_unwritable_cache_is_a_data_error(tmp_path, monkeypatch, dead_url):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv("VAE_EDGE_DATA", raising=False)
    with pytest.raises(DataError, match="cannot create the MNIST cache"):
        resolve_data_dir(mirrors=[dead_url])


def test_without_pooch_the_error_says_how_to_install_it(tmp_path, monkeypatch, dead_url):
    monkeypatch.setitem(sys.modules, "pooch", None)  # makes `import pooch` fail
    hint = r'pip install -c constraints.txt -e "\.\[data\]".*--data-dir'
    with pytest.raises(DataError, match=hint):
        download_mnist(tmp_path, [dead_url])


def test_a_filled_cache_needs_neither_pooch_nor_a_mirror(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)  # a core install, without the data extra
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VAE_EDGE_DATA", raising=False)
    cache = copy_files(mnist_dir, tmp_path / "xdg" / "vae-edge" / "mnist", ALL)
    assert resolve_data_dir(mirrors=[]) == cache
