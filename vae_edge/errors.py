"""The one base class of the errors a user can cause and fix: the CLI prints them as one line.

Programming errors are anything else and keep their tracebacks.
"""

from __future__ import annotations

# Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_STATUS = 130


class VaeEdgeError(Exception):
    """A problem with the user's data, files, model folder, checkpoint or arguments."""


class InputError(VaeEdgeError, ValueError):
    """An argument or array handed to vae-edge is not what it expects."""


class OutputError(VaeEdgeError, OSError):
    """A file vae-edge writes cannot be written (no space, no permission, a folder in the way)."""


def install_hint(extra: str) -> str:
    """How to install an optional extra. vae-edge is on no package index, so pip installs
    it from the project folder (a checkout, or a copy of it), under its constraints."""
    return f'in the vae-edge project folder: pip install -c constraints.txt -e ".[{extra}]"'


class OutOfMemoryError(VaeEdgeError, MemoryError):
    """A call needs more memory than the machine gives (a smaller batch may fit)."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or its type's name when the message is empty."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def os_reason(error: OSError) -> str:
    """The system's words for a failed file operation ("No space left on device").

    An `OutputError` that wraps the system's error gives that error's words, so a
    message can name the file the user chose instead of a temporary one.
    """
    while isinstance(error, OutputError) and isinstance(error.__cause__, OSError):
        error = error.__cause__
    return error.strerror or first_line(error)
