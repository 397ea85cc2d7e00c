"""A real full disk for tests: a small tmpfs (CI runs as root, so it can mount one)."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` (e.g. "1m") at the new folder `folder`; unmount it after."""
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def fill(folder: Path, leave_bytes: int) -> None:
    """Take all but about `leave_bytes` of the free space of `folder`'s file system."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    (folder / "filler").write_bytes(b"\0" * max(0, free - leave_bytes))


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """A `preexec_fn` for a real write failure: the child may not write files beyond
    `max_bytes` (EFBIG, as a full disk gives ENOSPC) and ignores the SIGXFSZ that would
    otherwise kill it."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit
