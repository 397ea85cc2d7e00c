"""Where the MNIST files come from: --data-dir, $VAE_EDGE_DATA, or a verified download cache."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from vae_edge.errors import install_hint
from vae_edge.mnist import IMAGE_FILES, LABEL_FILES, DataError

DATA_ENV = "VAE_EDGE_DATA"
# SHA-256 of the four official files (gzip-compressed, as the mirrors serve them).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# Tried in turn. Plain http is safe here: every file is checked against MNIST_SHA256.
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_STEMS = (*IMAGE_FILES.values(), *LABEL_FILES.values())
_DATA_DIR_HINT = f"download MNIST yourself and pass --data-dir DIR or set {DATA_ENV}=DIR"


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/vae-edge/mnist`, else `~/.cache/vae-edge/mnist`."""
    cache_root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_root) / "vae-edge" / "mnist"


def _missing_files(folder: Path) -> list[str]:
    """Names (.gz) of the MNIST files that `folder` holds neither compressed nor raw."""
    return [
        f"{stem}.gz"
        for stem in _STEMS
        if not (folder / f"{stem}.gz").is_file() and not (folder / stem).is_file()
    ]


def resolve_data_dir(
    data_dir: str | Path | None = None, mirrors: Sequence[str] = DEFAULT_MIRRORS
) -> Path:
    """The folder holding the four MNIST files, downloading into the cache if needed.

    Order: `data_dir`, then `$VAE_EDGE_DATA` (both must already hold the files: nothing
    is ever downloaded into a folder the user chose), then the user cache, which is
    filled from `mirrors` when files are missing.
    """
    for folder, origin in ((data_dir, "--data-dir"), (os.environ.get(DATA_ENV), DATA_ENV)):
        if folder:
            folder = Path(folder)
            if not folder.is_dir():
                raise DataError(f"{folder}: no such folder (from {origin})")
            missing = _missing_files(folder)
            if missing:
                raise DataError(f"{folder / missing[0]}: file not found (from {origin})")
            return folder
    cache = default_cache_dir()
    download_mnist(cache, mirrors, log=lambda line: print(line, file=sys.stderr))
    return cache


def download_mnist(
    target_dir: Path,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    files: Iterable[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """Download the missing MNIST `files` (default: all four .gz files) into `target_dir`.

    Each file is tried on every mirror in turn. pooch streams it to a temporary file
    beside the target and renames it into place only once its SHA-256 matches, so the
    folder never holds a partial or corrupted file.
    """
    wanted = set(MNIST_SHA256) if files is None else set(files)
    if unknown := wanted - set(MNIST_SHA256):
        raise ValueError(f"not MNIST files: {', '.join(sorted(unknown))}")
    missing = [name for name in _missing_files(target_dir) if name in wanted]
    if not missing:  # a filled cache needs neither pooch nor a network
        return
    try:
        import pooch
        import requests
    except ModuleNotFoundError:
        raise DataError(
            f"MNIST is not in {target_dir} and downloading it needs pooch "
            f"({install_hint('data')}), or pass --data-dir DIR"
        ) from None
    pooch.get_logger().setLevel(logging.WARNING)  # our `log` says what is downloaded
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"{target_dir}: cannot create the MNIST cache ({error.strerror or error}); "
            + _DATA_DIR_HINT
        ) from None
    for name in missing:
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            if log:
                log(f"downloading {name} from {url}")
            try:
                pooch.retrieve(
                    url,
                    known_hash=f"sha256:{MNIST_SHA256[name]}",
                    fname=name,
                    path=target_dir,
                    progressbar=False,
                )
                break
            except (ValueError, requests.RequestException) as error:
                failures.append(f"{mirror} ({_failure_reason(error)})")
            except OSError as error:  # the local folder, not the mirror: another won't help
                raise DataError(
                    f"{target_dir / name}: cannot write ({error.strerror or error})"
                ) from None
        else:
            tried = ", ".join(failures) or "no mirrors given"
            raise DataError(f"could not download {name}: {tried}; {_DATA_DIR_HINT}")


def _failure_reason(error: Exception) -> str:
    """A few words on why one mirror failed, for a one-line error message."""
    response = getattr(error, "response", None)
    if response is not None:
        return f"HTTP {response.status_code}"
    if isinstance(error, ValueError):  # pooch's hash check, or a URL it cannot fetch
        return "checksum mismatch" if "known hash" in str(error) else " ".join(str(error).split())
    return type(error).__name__  # ConnectionError, Timeout, ChunkedEncodingError, ...
