"""The one base class of the errors a user can cause and fix: the CLI prints them as one line.

Programming errors are anything else and keep their tracebacks.
"""

from __future__ import annotations


class VaeEdgeError(Exception):
    """A problem with the user's data, files, model folder, checkpoint or arguments."""


class InputError(VaeEdgeError, ValueError):
    """An argument or array handed to vae-edge is not what it expects."""
