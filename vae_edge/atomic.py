"""Write files that other steps read so that readers never see a half-written one."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path

from vae_edge.errors import OutputError

# Temporaries (files and folders, `.NAME.PID.TOKEN.tmp`) carry the writing process's id,
# so a later run can tell those of a process that died (kill -9) from those of one still
# writing. A folder set aside while another takes its place is `.NAME.PID.TOKEN.old`.
_ORPHAN_NAME = re.compile(r"^\.(.+)\.(\d+)\.[0-9a-f]{8}\.(tmp|old)$")
_TEMPORARY, _SET_ASIDE = "tmp", "old"


def temporary_sibling(target: Path, kind: str = _TEMPORARY) -> Path:
    """A hidden, unique name beside `target` (`.NAME.PID.RANDOM.tmp`) to build it under."""
    return target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.{kind}")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only on success.

    The caller writes the temporary file. On any exception (Ctrl-C included) it is
    removed and `target` is left as it was. An `OSError` (no space, no permission, a
    folder in the way) becomes an `OutputError` naming `target`.
    """
    target = Path(target)
    tmp_path = temporary_sibling(target)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException as error:
        tmp_path.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise OutputError(f"{target}: cannot write it ({error.strerror or error})") from error
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as tmp_path:
        tmp_path.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 `text` to `target` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def is_current_folder_or_above(folder: str | os.PathLike[str]) -> bool:
    """Whether `folder` is the current folder or one that holds it: never an output to replace."""
    cwd = Path.cwd()
    return Path(os.path.abspath(folder)) in (cwd, *cwd.parents)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def is_orphan(path: Path) -> bool:
    """Whether `path` is a temporary (or a set-aside folder) of a process that has ended."""
    match = _ORPHAN_NAME.match(path.name)
    return match is not None and not _process_alive(int(match.group(2)))


def remove_orphans(folder: str | os.PathLike[str]) -> None:
    """Delete temporaries in `folder` whose writing process no longer runs.

    A folder that a swap killed between its two renames set aside (`replace_folder`) is
    renamed back to its own name if nothing took that name since: the old folder returns.
    """
    for path in Path(folder).glob(".*"):
        if not is_orphan(path):
            continue
        name, kind = _ORPHAN_NAME.match(path.name).group(1, 3)
        if kind == _SET_ASIDE and not path.with_name(name).exists():
            with contextlib.suppress(OSError):  # another cleanup was first
                os.rename(path, path.with_name(name))
        elif path.is_dir() and not path.is_symlink():
            import shutil  # here: most commands never clean up, and shutil is slow to import

            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def building_folder(target: Path) -> Iterator[Path]:
    """Yield a new empty hidden folder beside `target` to build it in.

    When the block ends without an exception the folder replaces `target`
    (`replace_folder`); whatever is left (the unfinished folder, or after the swap the
    old `target`) is removed in every case. Leftovers of builds killed with -9 beside
    `target` are removed first. An `OSError` (the folder cannot be made, written or
    moved) propagates for the caller to word.
    """
    import shutil  # here: most commands never build a folder, and shutil is slow to import

    remove_orphans(target.parent)
    scratch = temporary_sibling(target)
    try:
        scratch.mkdir()  # inside the try: a Ctrl-C just after it still removes the folder
        yield scratch
        replace_folder(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# renameat2(2): swap two paths in one step (Linux 3.15+; ext4, xfs, btrfs, tmpfs, ...).
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def replace_folder(new: Path, target: Path) -> None:
    """Put folder `new` at `target`, a sibling; afterwards `new` holds the old `target`.

    Where the kernel and file system can swap two paths in one step, `target` holds the
    complete old or the complete new folder at every instant. Elsewhere the old folder
    is renamed aside first, leaving `target` absent (never partial) for the instant
    between two renames, and renamed back if the second rename fails; a process killed
    in that instant leaves it set aside for `remove_orphans` to put back.
    """
    if not target.exists():
        os.rename(new, target)
    elif not _exchange(new, target):
        aside = temporary_sibling(target, _SET_ASIDE)
        os.rename(target, aside)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(aside, target)
            raise
        os.rename(aside, new)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with renameat2; False where that is not supported."""
    import ctypes  # here: only folder swaps need it, and every command imports this module

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a C library without renameat2
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    status = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if status == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))
