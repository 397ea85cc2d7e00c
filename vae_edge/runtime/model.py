"""A loaded model folder: onnxruntime sessions behind a small numpy API."""

from __future__ import annotations

import functools
import numbers
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from vae_edge.config import DIGIT_CONFIDENCE, MAX_THREADS, ModelConfig
from vae_edge.errors import InputError
from vae_edge.runtime.arrays import as_batch, non_negative_int, positive_int
from vae_edge.runtime.folders import resolve_model_dir
from vae_edge.runtime.manifest import (
    CLASSIFIER_INPUTS,
    CLASSIFIER_OUTPUTS,
    CONDITIONAL_INPUTS,
    CONDITIONAL_OUTPUTS,
    DECODER_INPUTS,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    MANIFEST_NAME,
    N_CLASSES,
    GraphEntry,
    Manifest,
    ModelFileError,
    read_graph,
    read_manifest_only,
)
from vae_edge.runtime.sessions import (
    DEFAULT_PROVIDERS,
    GraphSession,
    Providers,
    check_providers,
    default_session_options,
)

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

# One onnxruntime thread per graph: `python -m benchmarks.latency` (the bare decoder
# session rows of benchmarks/results/latency.md) shows a second thread gaining nothing at
# batch 1 and paying off only for large batches (1024). An app that embeds the runtime
# mostly decodes one or a few codes per call, where the hand-off to a second thread costs
# more than it saves, and one thread leaves the other cores to that app. Pass `threads=`
# (CLI `--threads`) for large batches; `vae-edge bench` measures a device.
DEFAULT_THREADS = 1

IMAGE, (MU, LOGVAR) = ENCODER_INPUTS[0], ENCODER_OUTPUTS
Z, (PROBS, LOGITS) = DECODER_INPUTS[0], DECODER_OUTPUTS
CODE, CLASS_PROBS = CLASSIFIER_INPUTS[0], CLASSIFIER_OUTPUTS[0]
(ONE_HOT, Z2), (Z1,) = CONDITIONAL_INPUTS, CONDITIONAL_OUTPUTS
# Prior samples are drawn and screened this many at a time, whatever the chunk size, so
# the same seed gives the same digits.
DIGIT_DRAW_BLOCK = 4096
# A digit that no code in this many blocks is confidently given to is refused.
DIGIT_EMPTY_BLOCKS = 64
# Output lists built once: a call should not pay for building them.
_MU, _MU_LOGVAR, _PROBS, _LOGITS = [MU], [MU, LOGVAR], [PROBS], [LOGITS]
_CLASS_PROBS, _Z1 = [CLASS_PROBS], [Z1]


class VAEModel:
    """An exported VAE: `generate`, `encode`, `decode`, `reconstruct` on numpy arrays.

    Made by `load`. Attributes: `manifest` (the folder's `Manifest`), `config` (its
    `ModelConfig`), `latent_dim`, `image_side` (14), `model_dir`, `digit_confidence` (see
    `generate`), `has_classifier`: whether the folder holds the optional digit classifier
    that `classify` needs, and `has_conditional`: whether it also holds the conditional
    generator (`conditional.onnx`) that `generate(digit=...)` prefers.

    Inputs are batches: images [B, 196] or [B, 14, 14] with values in [0, 1], latent codes
    [B, latent_dim]; B >= 1. Any real dtype (bool, int, float) is converted to float32.
    A wrong shape, NaN or infinity raises `InputError` (a `ValueError`) saying what was
    expected; a graph that fails, or answers in the wrong shape (rows included) or with
    class probabilities that are none, raises `ModelFileError`; a batch too large for the
    machine's memory raises `OutOfMemoryError` (a `MemoryError`).
    Outputs are float32. One model may be called from many threads at once (onnxruntime
    sessions allow concurrent runs, and the model keeps no state between calls).
    """

    def __init__(
        self,
        model_dir: Path | Traversable,
        manifest: Manifest,
        options: ort.SessionOptions,
        providers: Providers,
        lazy: bool = False,
    ) -> None:
        self.model_dir = model_dir
        self.manifest = manifest
        self.config: ModelConfig = manifest.config
        self.latent_dim = self.config.latent_dim
        self.image_side = self.config.image_side
        pixels, latent = self.config.input_dim, self.latent_dim

        def session(
            entry: GraphEntry, widths: dict[str, int], distributions: tuple[str, ...] = ()
        ) -> GraphSession:
            source = str(model_dir / entry.file)
            read = functools.partial(read_graph, model_dir, entry)
            return GraphSession(
                read,
                source,
                entry,
                widths,
                options,
                providers,
                distributions=distributions,
                lazy=lazy,
            )

        self._encoder = session(manifest.encoder, {IMAGE: pixels, MU: latent, LOGVAR: latent})
        self._decoder = session(manifest.decoder, {Z: latent, PROBS: pixels, LOGITS: pixels})
        self._classifier = None
        if manifest.classifier is not None:
            widths = {CODE: latent, CLASS_PROBS: N_CLASSES}
            self._classifier = session(manifest.classifier, widths, distributions=(CLASS_PROBS,))
        self.has_classifier = self._classifier is not None
        self._conditional = None
        if manifest.conditional is not None:
            widths = {ONE_HOT: N_CLASSES, Z2: manifest.z2_dim, Z1: latent}
            self._conditional = session(manifest.conditional, widths)
        self.has_conditional = self._conditional is not None
        self.digit_confidence = _digit_confidence(manifest, model_dir / MANIFEST_NAME)

    def __repr__(self) -> str:
        return f"VAEModel({str(self.model_dir)!r}, latent_dim={self.latent_dim})"

    def session(self, graph: str) -> ort.InferenceSession:
        """The onnxruntime session of one graph: "encoder", "decoder", "classifier" or
        "conditional".

        For callers that run a graph bare, past the runtime's checks: benchmarks that
        measure what those checks cost, experiments with onnxruntime's own API. It is the
        session the model itself runs, opened now if the model was loaded lazily.
        """
        graphs = {
            "encoder": self._encoder,
            "decoder": self._decoder,
            "classifier": self._classifier,
            "conditional": self._conditional,
        }
        if graph not in graphs:
            raise InputError(f"graph must be one of {', '.join(graphs)}, got {graph!r}")
        if graph == "classifier":
            self._need_classifier()
        elif graph == "conditional" and self._conditional is None:
            raise ModelFileError(
                f"{self.model_dir}: this model folder has no conditional generator; add one "
                "with `vae-edge train-classifier --model FOLDER`"
            )
        return graphs[graph].session

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Binarized images [B, 196] or [B, 14, 14] -> (mu, logvar), each [B, latent_dim]."""
        mu, logvar = self._encoder.run(_MU_LOGVAR, {IMAGE: self._images(images)})
        return mu, logvar

    def decode_logits(self, z: np.ndarray) -> np.ndarray:
        """Latent codes [B, latent_dim] -> pixel logits [B, 196] (for log-likelihoods)."""
        return self._decoder.run(_LOGITS, {Z: as_batch(z, "z", self.latent_dim)})[0]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latent codes [B, latent_dim] -> pixel probabilities [B, 14, 14]."""
        probs = self._decoder.run(_PROBS, {Z: as_batch(z, "z", self.latent_dim)})[0]
        return probs.reshape(-1, self.image_side, self.image_side)

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Images [B, 196] or [B, 14, 14] -> reconstructions [B, 14, 14], decoded from mu."""
        probs = self._decoder.run(_PROBS, {Z: self._mu(self._images(images))})[0]
        return probs.reshape(-1, self.image_side, self.image_side)

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images [B, 196] or [B, 14, 14] -> (digits [B] int64, probabilities [B, 10]).

        The classifier reads the encoder's mean; a folder without one raises
        `ModelFileError`.
        """
        probabilities = self._classify_codes(self._mu(self._images(images)))
        return probabilities.argmax(axis=1), probabilities

    def generate(
        self, n: int, seed: int | None = None, chunk_size: int = 4096, digit: int | None = None
    ) -> np.ndarray:
        """`n` new digits [n, 14, 14] (probabilities) decoded from z ~ N(0, I).

        z comes from `np.random.default_rng(seed)` (seed None: fresh entropy; else an
        integer >= 0) and is decoded `chunk_size` codes at a time, so memory beyond the
        result stays bounded. The same seed gives the same digits whatever the chunk
        size: each chunk draws the next part of the one generator's stream.

        With `digit` (0-9) and a conditional generator in the model folder (M2, written by
        `vae-edge train-classifier`), z2 ~ N(0, I) [n, z2_dim] is drawn instead of z and
        mapped with the digit to a latent code, which is decoded: one pass per chunk. In
        an older folder with only a classifier, prior samples are drawn until enough are
        given to that digit with probability >= `digit_confidence`, and, decoded and
        encoded again, still are (rejection sampling).
        """
        n = positive_int(n, "n")
        chunk_size = positive_int(chunk_size, "chunk_size")
        rng = np.random.default_rng(None if seed is None else non_negative_int(seed, "seed"))
        side = self.image_side
        if digit is not None:
            digit = _digit(digit)
            if self._conditional is None:
                return self._reject_until_digit(digit, n, rng).reshape(n, side, side)
        digits = np.empty((n, side, side), dtype=np.float32)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            if digit is None:
                z = rng.standard_normal((stop - start, self.latent_dim), dtype=np.float32)
            else:
                z = self._conditional_codes(digit, stop - start, rng)
            probs = self._decoder.run(_PROBS, {Z: z})[0]
            digits[start:stop] = probs.reshape(-1, side, side)
        return digits

    def _conditional_codes(self, digit: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Latent codes [n, latent_dim] of `digit` from n draws of z2 ~ N(0, I)."""
        z2 = rng.standard_normal((n, self.manifest.z2_dim), dtype=np.float32)
        one_hot = np.zeros((n, N_CLASSES), dtype=np.float32)
        one_hot[:, digit] = 1
        return self._conditional.run(_Z1, {ONE_HOT: one_hot, Z2: z2})[0]

    def _reject_until_digit(self, digit: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` decoded images [n, 196] that the classifier confidently reads as `digit`."""
        images = np.empty((n, self.config.input_dim), dtype=np.float32)
        found = blocks = 0
        while found < n:
            if found == 0 and blocks == DIGIT_EMPTY_BLOCKS:
                raise ModelFileError(
                    f"{self.model_dir}: the classifier gives no prior sample to digit {digit} "
                    f"with probability >= {self.digit_confidence} "
                    f"({DIGIT_EMPTY_BLOCKS * DIGIT_DRAW_BLOCK} tried)"
                )
            blocks += 1
            z = rng.standard_normal((DIGIT_DRAW_BLOCK, self.latent_dim), dtype=np.float32)
            z = z[self._classify_codes(z)[:, digit] >= self.digit_confidence]
            if not len(z):
                continue
            decoded = self._decoder.run(_PROBS, {Z: z})[0]
            confidence = self._classify_codes(self._mu(decoded))[:, digit]
            decoded = decoded[confidence >= self.digit_confidence]
            taken = decoded[: n - found]
            images[found : found + len(taken)] = taken
            found += len(taken)
        return images

    def _mu(self, batch: np.ndarray) -> np.ndarray:
        """The encoder's mean alone (logvar is not fetched) for a checked input batch."""
        return self._encoder.run(_MU, {IMAGE: batch})[0]

    def _images(self, images: np.ndarray) -> np.ndarray:
        """`images` checked and shaped as the encoder's input [B, 196] float32."""
        return as_batch(
            images, "images", self.config.input_dim, self.image_side, unit_interval=True
        )

    def _need_classifier(self) -> None:
        """Refuse, in one line, a call that needs the classifier this folder lacks."""
        if self._classifier is None:
            raise ModelFileError(
                f"{self.model_dir}: this model folder has no digit classifier; add one with "
                "`vae-edge train-classifier --model FOLDER`"
            )

    def _classify_codes(self, codes: np.ndarray) -> np.ndarray:
        """Class probabilities [B, 10] of already checked float32 latent codes [B, latent_dim]."""
        self._need_classifier()
        return self._classifier.run(_CLASS_PROBS, {CODE: codes})[0]


def _digit_confidence(manifest: Manifest, source: object) -> float:
    """The manifest's `training.classifier.digit_confidence`, else `DIGIT_CONFIDENCE`."""
    recipe = manifest.training.get("classifier", {})
    value = recipe.get("digit_confidence", DIGIT_CONFIDENCE) if isinstance(recipe, dict) else recipe
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ModelFileError(
            f"{source}: training.classifier.digit_confidence is {value!r:.40}, "
            "expected a probability (a number from 0 to 1)"
        )
    return float(value)


def _digit(digit: object) -> int:
    """`digit` as an int 0-9, or `InputError`."""
    if isinstance(digit, bool) or not isinstance(digit, numbers.Integral):
        raise InputError(f"digit must be an integer 0-{N_CLASSES - 1}, got {digit!r}")
    if not 0 <= digit < N_CLASSES:
        raise InputError(f"digit must be an integer 0-{N_CLASSES - 1}, got {digit}")
    return int(digit)


def load(
    model_dir: str | Path | None = None,
    *,
    threads: int | None = None,
    providers: Providers | None = None,
    session_options: ort.SessionOptions | None = None,
    lazy: bool = False,
) -> VAEModel:
    """Open an exported model folder, or a bundled model by name (None: "default").

    The manifest is checked, then each graph: its SHA-256, its tensor names and sizes
    against the manifest, one run; any problem is a `ModelFileError` naming the file.
    Each session is made from the very bytes whose hash was checked.

    onnxruntime's own settings pass through: `providers` (default CPU only) and
    `session_options` (an `onnxruntime.SessionOptions`, used as given). Without
    `session_options` the runtime's defaults apply: `threads` intra-op threads per graph
    (default `DEFAULT_THREADS`, 1: the fastest for these tiny graphs at small batches; at
    most `MAX_THREADS`), no spinning, none of onnxruntime's own log lines.

    With `lazy`, each graph is read, checked and opened only when a call first needs it,
    so a model that only generates never holds the encoder's or the classifier's session
    (each costs memory: `python -m benchmarks.cold_start` measures it); a broken graph
    then raises `ModelFileError` at that call instead of here. The CLI loads lazily.
    """
    if session_options is not None and threads is not None:
        raise InputError("pass threads or session_options, not both (set threads in the options)")
    if session_options is not None and not isinstance(session_options, ort.SessionOptions):
        raise InputError(
            f"session_options must be an onnxruntime.SessionOptions, got {session_options!r}"
        )
    threads = DEFAULT_THREADS if threads is None else positive_int(threads, "threads")
    if threads > MAX_THREADS:
        raise InputError(f"threads must be 1 to {MAX_THREADS}, got {threads}")
    providers = check_providers(DEFAULT_PROVIDERS if providers is None else providers)
    options = default_session_options(threads) if session_options is None else session_options
    model_dir = resolve_model_dir(model_dir)
    manifest = read_manifest_only(model_dir)
    expected = [
        (manifest.encoder, ENCODER_INPUTS, ENCODER_OUTPUTS),
        (manifest.decoder, DECODER_INPUTS, DECODER_OUTPUTS),
    ]
    if manifest.classifier is not None:
        expected.append((manifest.classifier, CLASSIFIER_INPUTS, CLASSIFIER_OUTPUTS))
    if manifest.conditional is not None:
        expected.append((manifest.conditional, CONDITIONAL_INPUTS, CONDITIONAL_OUTPUTS))
    for entry, inputs, outputs in expected:
        if entry.inputs != inputs or set(entry.outputs) != set(outputs):
            raise ModelFileError(
                f"{model_dir / MANIFEST_NAME}: {entry.file} must map {inputs} to {outputs}, "
                f"the manifest lists {entry.inputs} to {entry.outputs}"
            )
    return VAEModel(model_dir, manifest, options, providers, lazy)
