"""Checks shared by the command-line tests."""

from __future__ import annotations

from click.testing import Result


def one_line_error(result: Result, *fragments: str) -> str:
    """Assert `result` failed with exactly one `Error` line, no traceback, holding `fragments`."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]
