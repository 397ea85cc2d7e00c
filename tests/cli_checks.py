"""Checks shared by the command-line tests."""

from __future__ import annotations

import sys

from click.testing import Result


def cli_process_command(*args: object) -> list[str]:
    """`vae-edge ARGS` as a command line for a fresh interpreter (signals, rlimits)."""
    return [sys.executable, "-c", "from vae_edge.cli import main; main()", *map(str, args)]


def one_line_error(result: Result, *fragments: str) -> str:
    """Assert `result` failed with one line of output, `Error: ...` holding `fragments`."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def error_after_progress(result: Result, *fragments: str) -> str:
    """Assert `result` failed, its last line `Error: ...` holding `fragments`, no traceback.

    For commands that print progress lines (training) before they fail.
    """
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in last, last
    return last
