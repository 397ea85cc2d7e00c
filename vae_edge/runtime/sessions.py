"""onnxruntime sessions for the small graphs, checked against what the manifest promises."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state

from vae_edge.errors import InputError, OutOfMemoryError, first_line
from vae_edge.runtime.manifest import GraphEntry, ModelFileError

# What `load` passes as `providers` when the app gives none.
DEFAULT_PROVIDERS = ("CPUExecutionProvider",)
Providers = Sequence[str | tuple[str, dict[str, Any]]]
# What onnxruntime raises when a run fails: its own types, with no common base but Exception.
ONNXRUNTIME_ERRORS = tuple(
    value
    for value in vars(onnxruntime_pybind11_state).values()
    if isinstance(value, type) and issubclass(value, Exception)
)
# onnxruntime's words when memory for a tensor cannot be had (its arena, or the system's).
OUT_OF_MEMORY_WORDS = ("Failed to allocate memory", "bad_alloc")
# How far a row of class probabilities may sum from 1 (float32 softmax is within 1e-6).
PROBABILITY_SUM_TOLERANCE = 1e-3


def default_session_options(threads: int) -> ort.SessionOptions:
    """Options for a graph of a few hundred thousand weights run on a CPU beside an app."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # two or three ops in a chain: nothing runs in parallel
    # Fatal only: a failed run raises an exception that says why; onnxruntime's own log
    # lines (warnings, the error again) would clutter the CLI's one-line messages.
    options.log_severity_level = 4
    # Idle worker threads sleep instead of spinning, so no core burns between calls; the
    # few microseconds of wake-up are small next to a call's cost.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def check_providers(providers: Providers) -> list[str | tuple[str, dict[str, Any]]]:
    """`providers` as a list, if each names an execution provider this onnxruntime has."""
    available = ort.get_available_providers()
    if isinstance(providers, str) or not isinstance(providers, Sequence) or not providers:
        raise InputError(f"providers must be a non-empty list of names, got {providers!r}")
    for provider in providers:
        name = provider[0] if isinstance(provider, tuple) else provider
        if name not in available:
            raise InputError(
                f"providers: {name!r} is not available in this onnxruntime "
                f"(available: {', '.join(available)})"
            )
    return list(providers)


def _blamed(source: str, what: str, error: Exception) -> ModelFileError:
    """onnxruntime's `error` as a one-line `ModelFileError` about the graph file `source`."""
    return ModelFileError(f"{source}: onnxruntime {what} ({first_line(error)[:200]})")


class GraphSession:
    """One onnxruntime session whose failures and wrong outputs are blamed on its graph.

    `read_graph` gives the graph's checked bytes; `source` names the file in messages.
    `widths` maps every input and output name to its last dimension: the declared
    tensors are checked against them, then one run on zeros, and after it every run,
    must return each output as [batch, width], and each output named in `distributions`
    as rows of probabilities (in [0, 1], summing to 1). The graph is read and its
    session opened and checked at once, or with `lazy` on its first run (once, whichever
    thread comes first); a graph that fails either way raises `ModelFileError`.
    """

    def __init__(
        self,
        read_graph: Callable[[], bytes],
        source: str,
        entry: GraphEntry,
        widths: dict[str, int],
        options: ort.SessionOptions,
        providers: Providers,
        *,
        distributions: tuple[str, ...] = (),
        lazy: bool = False,
    ) -> None:
        self.source = source
        self._widths = widths
        self._distributions = distributions
        providers = list(providers)

        def open_checked() -> ort.InferenceSession:
            session = _open_checked(read_graph(), source, entry, widths, options, providers)
            names = [node.name for node in session.get_outputs()]
            feeds = {  # batch 2, not 1: a graph that fixed its batch size inside fails here
                node.name: np.zeros((2, widths[node.name]), np.float32)
                for node in session.get_inputs()
            }
            self._checked_run(session.run, names, feeds)
            return session

        self._opener: Callable[[], ort.InferenceSession] | None = open_checked
        self._lock = threading.Lock()
        self._session: ort.InferenceSession | None = None
        self._run: Callable[..., list[np.ndarray]] | None = None
        if not lazy:
            self._open()

    @property
    def session(self) -> ort.InferenceSession:
        """The onnxruntime session (opened now if it was not yet)."""
        self._open()
        return self._session

    def run(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The named outputs for `feeds`, whose arrays the caller has checked."""
        return self._checked_run(self._run or self._open(), outputs, feeds)

    def _checked_run(
        self, run: Callable[..., list[np.ndarray]], outputs: list[str], feeds: dict[str, np.ndarray]
    ) -> list[np.ndarray]:
        """`run(outputs, feeds, None)`, its failures worded and its outputs checked."""
        rows = next(iter(feeds.values())).shape[0]
        try:
            results = run(outputs, feeds, None)
        except MemoryError:
            raise self._out_of_memory(rows, "no memory for the outputs") from None
        except ONNXRUNTIME_ERRORS as error:  # the inputs were checked: the graph failed
            if any(words in str(error) for words in OUT_OF_MEMORY_WORDS):
                raise self._out_of_memory(rows, first_line(error)[:200]) from None
            raise _blamed(self.source, "failed running it", error) from None
        for name, result in zip(outputs, results, strict=True):
            expected = (rows, self._widths[name])
            if result.shape != expected:
                raise ModelFileError(
                    f"{self.source}: output {name!r} comes back with shape {result.shape} "
                    f"for a batch of {rows}, expected {expected}"
                )
            if name in self._distributions:
                _check_distribution(self.source, name, result)
        return results

    def _out_of_memory(self, rows: int, detail: str) -> OutOfMemoryError:
        return OutOfMemoryError(
            f"{self.source}: not enough memory to run it on a batch of {rows:,}; "
            f"pass fewer rows per call ({detail})"
        )

    def _open(self) -> Callable[..., list[np.ndarray]]:
        """Open and check the session if no thread has yet; its run method."""
        with self._lock:
            if self._opener is not None:
                session = self._opener()
                self._session, self._run, self._opener = session, _fastest_run(session), None
        return self._run


def _check_distribution(source: str, name: str, rows: np.ndarray) -> None:
    """Each row of `rows` must be probabilities: values in [0, 1] that sum to 1."""
    sums = rows.sum(axis=1)
    if not (
        np.all((rows >= 0) & (rows <= 1)) and np.all(np.abs(sums - 1) <= PROBABILITY_SUM_TOLERANCE)
    ):
        raise ModelFileError(
            f"{source}: output {name!r} holds no probabilities (values {rows.min():.3g} to "
            f"{rows.max():.3g}, rows summing to {sums.min():.3g} to {sums.max():.3g}); "
            "expected values in [0, 1] that sum to 1 in each row"
        )


def _fastest_run(session: ort.InferenceSession) -> Callable[..., list[np.ndarray]]:
    """The session's run(output names, feeds, run options) with the least per-call work.

    On the CPU alone that is the compiled binding under `InferenceSession.run`: the
    Python wrapper only checks again what the runtime checked when it opened the graph
    (input names, no foreign OrtValues), a measurable share of a batch-1 call. Other
    providers keep the wrapper, which falls back to the CPU when a provider fails.
    """
    if session.get_providers() == list(DEFAULT_PROVIDERS):
        return session._sess.run  # private; the floor test runs it on onnxruntime 1.18.1
    return session.run


def _open_checked(
    graph: bytes,
    source: str,
    entry: GraphEntry,
    widths: dict[str, int],
    options: ort.SessionOptions,
    providers: list[str | tuple[str, dict[str, Any]]],
) -> ort.InferenceSession:
    """A session for `graph` whose tensors and outputs match the manifest's `entry`."""
    try:
        session = ort.InferenceSession(graph, options, providers=providers)
    except Exception as error:  # onnxruntime raises its own types, with no common base
        raise _blamed(source, "cannot load it", error) from None
    inputs = tuple(node.name for node in session.get_inputs())
    outputs = tuple(node.name for node in session.get_outputs())
    if inputs != entry.inputs or set(outputs) != set(entry.outputs):
        raise ModelFileError(
            f"{source}: graph has inputs {inputs} and outputs {outputs}, "
            f"the manifest says {entry.inputs} and {entry.outputs}"
        )
    for node in (*session.get_inputs(), *session.get_outputs()):
        _check_tensor(source, node, widths[node.name])
    return session


def _check_tensor(source: str, node: ort.NodeArg, width: int) -> None:
    """A float tensor [batch, width] whose batch axis is dynamic (unknown sizes pass)."""
    if node.type != "tensor(float)":
        raise ModelFileError(f"{source}: tensor {node.name!r} is {node.type}, expected float32")
    shape = node.shape
    if shape is None:  # no shape recorded: the run itself will tell
        return
    if len(shape) != 2:
        raise ModelFileError(f"{source}: tensor {node.name!r} has shape {shape}, expected 2 axes")
    if isinstance(shape[0], int):
        raise ModelFileError(
            f"{source}: tensor {node.name!r} has a fixed batch size {shape[0]}; "
            "the runtime needs graphs exported with a dynamic batch axis"
        )
    if isinstance(shape[1], int) and shape[1] != width:
        raise ModelFileError(
            f"{source}: tensor {node.name!r} has width {shape[1]}, but the manifest's model "
            f"(latent size, image size) needs {width}"
        )
