"""Where the MNIST files come from: --data-dir, $VAE_EDGE_DATA, or a verified download cache."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from vae_edge.mnist import IMAGE_FILES, LABEL_FILES, DataError

DATA_ENV = "VAE_EDGE_DATA"
# SHA-256 of the four official files (gzip-compressed, as the mirrors serve them).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
STEMS = (*IMAGE_FILES.values(), *LABEL_FILES.values())


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/vae-edge/mnist`, else `~/.cache/vae-edge/mnist`."""
    cache_root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_root) / "vae-edge" / "mnist"


def missing_files(folder: Path) -> list[str]:
    """Names (.gz) of the MNIST files that `folder` holds neither compressed nor raw."""
    return [
        f"{stem}.gz"
        for stem in STEMS
        if not (folder / f"{stem}.gz").is_file() and not (folder / stem).is_file()
    ]


def resolve_data_dir(
    data_dir: str | Path | None = None, mirrors: Sequence[str] = DEFAULT_MIRRORS
) -> Path:
    """The folder holding the four MNIST files, downloading into the cache if needed.

    Order: `data_dir`, then `$VAE_EDGE_DATA` (both must already hold the files), then
    the user cache, which is filled from `mirrors` when files are missing.
    """
    for folder, origin in ((data_dir, "--data-dir"), (os.environ.get(DATA_ENV), DATA_ENV)):
        if folder:
            folder = Path(folder)
            missing = missing_files(folder)
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
    """Download the missing MNIST `files` (default: all four) into `target_dir`.

    Each file is tried on every mirror in turn; it is moved into place only once its
    SHA-256 matches, so the folder never holds a partial or corrupted file.
    """
    try:
        import pooch
    except ModuleNotFoundError:
        raise DataError(
            f"MNIST is not in {target_dir} and downloading needs pooch: "
            'pip install "vae-edge[data]", or pass --data-dir DIR'
        ) from None
    logging.getLogger("pooch").setLevel(logging.ERROR)
    wanted = set(MNIST_SHA256 if files is None else files)
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in [name for name in missing_files(target_dir) if name in wanted]:
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
            except Exception as error:  # network errors, HTTP errors, checksum mismatch
                failures.append(f"{url}: {str(error).splitlines()[0][:120]}")
        else:
            raise DataError(
                f"could not download {name} from any mirror ({'; '.join(failures)}); "
                f"download MNIST yourself and pass --data-dir DIR or set {DATA_ENV}"
            )
