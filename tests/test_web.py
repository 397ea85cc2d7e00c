"""The page in headless Chromium (Debian's, driven by Playwright) against the Python runtime.

Sites are built with onnxruntime-web copied from node_modules (no network) and served on
127.0.0.1. A missing browser or node_modules fails these tests; it never skips them.
"""

from __future__ import annotations

import base64
import contextlib
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from runtime_fixtures import build_model_dir

from benchmarks.chromium import (
    DIGIT_STROKES,
    NPM_HINT,
    NPM_ORT_DIST,
    draw_strokes,
    draw_strokes_by_touch,
    launch_chromium,
    missing_browser,
)
from vae_edge import runtime
from vae_edge.config import DEFAULT_ATOL as ATOL
from vae_edge.config import ModelConfig
from vae_edge.mnist import load_split
from vae_edge.runtime import DEFAULT_MODEL_DIR
from vae_edge.web import build_site, make_server
from vae_edge.web.site import (
    ORT_CDN,
    ORT_FOLDER,
    ORT_INTEGRITY,
    ORT_MODULE,
    ORT_WASM,
    ORT_WASM_MODULE,
)

PROJECT = Path(__file__).resolve().parents[1]
# onnxruntime-web against onnxruntime on the same int8 graph and batch (WebAssembly and
# native kernels round the requantized sums differently): in this test, on the bundled
# tiny model, the largest difference seen was 0.0020 in a probability, 5e-7 in a mean.
INT8_ATOL = 0.01
DECODE = "async ([z, n]) => Array.from(await vaeEdge.decode(new Float32Array(z), n))"
ENCODE = """async ([images, n]) => {
    const {mu, logvar} = await vaeEdge.encode(new Float32Array(images), n);
    return [Array.from(mu), Array.from(logvar)];
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = missing_browser()
    if reason:
        pytest.fail(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def npm_ort_dist() -> Path:
    ort_dist = PROJECT / NPM_ORT_DIST
    if not ort_dist.is_dir():
        pytest.fail(f"{ort_dist} not found: {NPM_HINT}")
    return ort_dist


@contextlib.contextmanager
def served_site(model_dir: Path, folder: Path, offline: bool = True) -> Iterator[str]:
    """Build a site for `model_dir` in `folder` and serve it while in the block; its URL."""
    build_site(folder, model_dir, ort_dir=npm_ort_dist() if offline else None)
    server = make_server(folder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def open_page(browser, url: str, cdn_files: dict[str, bytes] | None = None, **device):
    """A new page at `url`; the list collects its console errors and uncaught exceptions.

    With `cdn_files`, requests to the CDN are answered with these files (by name), as
    the CDN would send them (CORS allowed), without a network. `device`: Playwright's
    page options (viewport, has_touch, ...).
    """
    page = browser.new_page(**device)
    if cdn_files is not None:

        def answer(route) -> None:
            name = route.request.url.rsplit("/", 1)[1]
            content_type = "application/wasm" if name.endswith(".wasm") else "text/javascript"
            route.fulfill(
                body=cdn_files[name],
                headers={"Content-Type": content_type, "Access-Control-Allow-Origin": "*"},
            )

        page.route(ORT_CDN + "*", answer)
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    return page, problems


@pytest.fixture(scope="module")
def default_site(tmp_path_factory) -> Iterator[str]:
    """The URL of the bundled model's site, served."""
    with served_site(DEFAULT_MODEL_DIR, tmp_path_factory.mktemp("web") / "site") as url:
        yield url


@pytest.fixture(scope="module")
def default_page(browser, default_site) -> Iterator[tuple[object, list[str]]]:
    """The bundled model's site, loaded and measured (decodeMicroseconds is set last)."""
    page, problems = open_page(browser, default_site)
    page.wait_for_function("window.vaeEdge?.decodeMicroseconds > 0", timeout=60_000)
    yield page, problems
    page.close()


@pytest.fixture(scope="module")
def default_model():
    return runtime.load(DEFAULT_MODEL_DIR)


def test_page_loads_without_console_errors(default_page):
    page, problems = default_page
    assert problems == []
    assert page.locator("#status").inner_text() == "Ready."
    info = page.locator("#model-info").inner_text()
    assert "latent size\t16" in info.replace("\n", "\t") and "512, 256" in info
    assert page.evaluate("vaeEdge.firstGridAt") > 0
    # The shown decode time is the fastest timing round, the median beside it.
    rounds = page.evaluate("vaeEdge.decodeRounds")
    assert len(rounds) >= 5 and rounds == sorted(rounds)
    assert page.evaluate("vaeEdge.decodeMicroseconds") == rounds[0]
    assert f"{rounds[0]:.1f} µs per call (the best of {len(rounds)} rounds" in info
    assert f"median {rounds[len(rounds) // 2]:.1f} µs" in info
    # The grid is drawn: 64 tiles, not a blank canvas.
    grid = page.evaluate("""() => {
        const canvas = document.getElementById("grid");
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        return [canvas.width, data.filter((value, i) => i % 4 === 0 && value > 128).length];
    }""")
    assert grid[0] == 8 * 15 + 1 and grid[1] > 500


def test_decode_matches_the_python_runtime(default_page, default_model):
    page, problems = default_page
    z = np.random.default_rng(0).standard_normal((64, default_model.latent_dim), dtype=np.float32)
    probs = np.array(page.evaluate(DECODE, [z.ravel().tolist(), 64]), dtype=np.float32)
    expected = default_model.decode(z).reshape(64, -1)
    np.testing.assert_allclose(probs.reshape(64, -1), expected, atol=ATOL, rtol=0)
    assert problems == []


def test_encode_matches_the_python_runtime(default_page, default_model, mnist_dir):
    page, _ = default_page
    images = load_split(mnist_dir, "validation")[:64]
    mu, logvar = page.evaluate(ENCODE, [images.ravel().tolist(), 64])
    expected_mu, expected_logvar = default_model.encode(images)
    np.testing.assert_allclose(np.reshape(mu, (64, -1)), expected_mu, atol=ATOL, rtol=0)
    np.testing.assert_allclose(np.reshape(logvar, (64, -1)), expected_logvar, atol=ATOL, rtol=0)


CLASSIFY = """async ([images, n]) => {
    const {digits, probabilities} = await vaeEdge.classify(new Float32Array(images), n);
    return [Array.from(digits), Array.from(probabilities)];
}"""
GENERATE = """async ([n, digit, z2]) =>
    Array.from(await vaeEdge.generate(n, digit, z2 && new Float32Array(z2)))"""


def test_classify_matches_the_python_runtime(default_page, default_model, mnist_dir):
    page, problems = default_page
    images = load_split(mnist_dir, "validation")[:64]
    digits, probabilities = page.evaluate(CLASSIFY, [images.ravel().tolist(), 64])
    expected_digits, expected_probabilities = default_model.classify(images)
    assert digits == expected_digits.tolist()
    np.testing.assert_allclose(
        np.reshape(probabilities, (64, 10)), expected_probabilities, atol=ATOL, rtol=0
    )
    assert problems == []


@pytest.mark.parametrize("digit", [0, 7])
def test_generate_a_digit_matches_the_python_runtime(default_page, default_model, digit):
    """The page maps z2 with the digit and decodes, as `generate(n, seed=, digit=)` does
    with z2 from its seeded generator."""
    page, problems = default_page
    z2_dim = default_model.manifest.z2_dim
    z2 = np.random.default_rng(3).standard_normal((32, z2_dim), dtype=np.float32)
    probs = page.evaluate(GENERATE, [32, digit, z2.ravel().tolist()])
    expected = default_model.generate(32, seed=3, digit=digit).reshape(32, -1)
    np.testing.assert_allclose(np.reshape(probs, (32, -1)), expected, atol=ATOL, rtol=0)
    # Drawn by the page itself: the Python classifier reads nearly all as the digit.
    drawn = np.reshape(page.evaluate(GENERATE, [64, digit, None]), (64, -1))
    assert np.mean(default_model.classify(drawn)[0] == digit) > 0.9
    assert problems == []


def test_the_digit_choice_draws_a_grid_of_that_digit(default_page, default_model):
    page, problems = default_page
    page.select_option("#digit-choice", "4")
    page.wait_for_function("document.getElementById('grid-time').textContent.includes('4s')")
    grid = np.array(page.evaluate(CANVAS_PIXELS, "grid"), dtype=np.float32).reshape(121, 121)
    tiles = [  # 8 x 8 tiles of 14 x 14 pixels, 1-pixel borders
        grid[1 + 15 * row : 15 + 15 * row, 1 + 15 * column : 15 + 15 * column] / 255
        for row in range(8)
        for column in range(8)
    ]
    assert np.mean(default_model.classify(np.stack(tiles))[0] == 4) > 0.9
    page.select_option("#digit-choice", "any")
    page.wait_for_function("document.getElementById('grid-time').textContent.includes('digits')")
    assert problems == []


def test_drawing_is_preprocessed_and_reconstructed_like_the_python_runtime(
    default_page, default_model
):
    page, problems = default_page
    draw_digit(page, DIGIT_STROKES)
    assert_drawing_matches_the_python_runtime(page, default_model)
    assert problems == []


PHONE = {"width": 390, "height": 844}


def test_page_fits_a_phone_and_takes_a_finger_drawing(browser, default_site, default_model):
    page, problems = open_page(
        browser, default_site, viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page.evaluate("vaeEdge.ready")
    # Nothing is wider than the screen: the page never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    draw_digit(page, DIGIT_STROKES, draw=draw_strokes_by_touch)
    assert_drawing_matches_the_python_runtime(page, default_model)
    assert problems == []
    page.close()


def draw_digit(page, strokes, draw=draw_strokes) -> None:
    """Clear the canvas, draw `strokes` (by mouse, or `draw_strokes_by_touch`), and wait
    until the page has encoded the drawing."""
    page.click("#clear-drawing")
    draw(page, "#drawing", strokes)
    page.wait_for_function(f"vaeEdge.lastDrawing?.strokes === {len(strokes)}")


def assert_drawing_matches_the_python_runtime(page, model: runtime.VAEModel) -> None:
    """The page's input for its drawing is `runtime.preprocess` of the canvas' own PNG (at
    most one pixel differs), and its reconstruction is the runtime's."""
    drawn = page.evaluate("""() => ({
        input: Array.from(vaeEdge.lastDrawing.input),
        reconstruction: Array.from(vaeEdge.lastDrawing.reconstruction),
        png: document.getElementById("drawing").toDataURL("image/png"),
    })""")
    page_input = np.array(drawn["input"], dtype=np.float32)
    png = base64.b64decode(drawn["png"].split(",", 1)[1])
    python_input = runtime.preprocess(Image.open(io.BytesIO(png)))
    assert 20 < python_input.sum() < 120  # a real drawing, not a blank or flooded canvas
    assert np.count_nonzero(page_input != python_input) <= 1
    np.testing.assert_allclose(
        np.reshape(drawn["reconstruction"], (1, -1)),
        model.reconstruct(page_input[None]).reshape(1, -1),
        atol=ATOL,
        rtol=0,
    )
    # Under the drawing: what the model reads, as the Python classifier reads the input.
    (digit,), probabilities = model.classify(page_input[None])
    expected = f"The model reads a {digit} (probability {probabilities[0, digit]:.2f})"
    assert page.locator("#drawing-digit").inner_text() == expected


CANVAS_PIXELS = """(id) => {
    const canvas = document.getElementById(id);
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    return Array.from(data.filter((_, i) => i % 4 === 0));
}"""


def wait_for_canvas(page, canvas_id: str, expected: np.ndarray) -> None:
    """Wait until the canvas' pixels (red channel) are `expected`, within 1 of 255."""
    page.wait_for_function(
        f"""(expected) => ({CANVAS_PIXELS})("{canvas_id}")
            .every((value, i) => Math.abs(value - expected[i]) <= 1)""",
        arg=expected.ravel().tolist(),
        timeout=5_000,
    )


SLIDER_VALUES = "inputs => inputs.map(i => Number(i.value))"


def test_sliders_decode_as_they_move(default_page, default_model):
    page, problems = default_page
    page.locator("#sliders input").nth(0).fill("2.5")
    page.locator("#sliders input").nth(3).fill("-1.75")
    code = page.eval_on_selector_all("#sliders input", SLIDER_VALUES)
    assert code[0] == 2.5 and code[3] == -1.75
    assert_slider_digit_is_the_python_decode(page, default_model, code)
    assert problems == []


def test_sliders_take_the_drawn_code(default_page, default_model):
    page, problems = default_page
    draw_digit(page, DIGIT_STROKES)
    mu = np.array(page.evaluate("Array.from(vaeEdge.lastDrawing.mu)"))
    page.click("#sliders-drawing")
    code = page.eval_on_selector_all("#sliders input", SLIDER_VALUES)
    # Each slider holds its coordinate of mu to its 0.01 step, within its range of +-3.
    np.testing.assert_allclose(code, np.clip(mu, -3, 3), atol=0.005 + 1e-9, rtol=0)
    assert_slider_digit_is_the_python_decode(page, default_model, code)
    assert problems == []


def assert_slider_digit_is_the_python_decode(page, model: runtime.VAEModel, code) -> None:
    """The sliders' digit becomes the Python decode of `code` (within 1 of 255)."""
    probs = model.decode(np.array([code], dtype=np.float32))[0]
    wait_for_canvas(page, "slider-digit", np.pad(np.rint(255 * probs), 1))  # 1-pixel border


SEVEN = (((0.25, 0.2), (0.75, 0.2), (0.45, 0.85)),)


def test_two_drawn_digits_give_the_interpolation_strip(default_page, default_model):
    """A = a drawn 3, B = a drawn 7: the strip is the Python decode of the codes between."""
    page, problems = default_page
    codes = []
    for strokes, end in [(DIGIT_STROKES, "a"), (SEVEN, "b")]:
        draw_digit(page, strokes)
        codes.append(np.array(page.evaluate("Array.from(vaeEdge.lastDrawing.mu)")))
        page.click(f"#{end}-drawing")
    weights = np.linspace(0, 1, 10)[:, None]
    z = ((1 - weights) * codes[0] + weights * codes[1]).astype(np.float32)
    probs = default_model.decode(z).reshape(10, 14, 14)
    expected = np.zeros((16, 10 * 15 + 1))  # tiles in a row, 1-pixel borders
    for step, tile in enumerate(probs):
        expected[1:15, 1 + 15 * step : 15 + 15 * step] = np.rint(255 * tile)
    wait_for_canvas(page, "strip", expected)
    # The ends differ enough that a strip of either end alone would not pass.
    assert np.abs(probs[0] - probs[-1]).max() > 0.5
    assert problems == []


def test_new_digits_button_draws_a_new_grid(default_page):
    page, _ = default_page
    before = page.evaluate(CANVAS_PIXELS, "grid")
    page.click("#regenerate")
    page.wait_for_function(
        f"""(before) => ({CANVAS_PIXELS})("grid").some((value, i) => value !== before[i])""",
        arg=before,
        timeout=5_000,
    )


def test_canvas_preprocessing_equals_the_python_runtime_on_noise(default_page):
    """Colour noise keeps pooled means near the threshold: any rounding slip would show."""
    page, _ = default_page
    rng = np.random.default_rng(2)
    for _ in range(2):
        pixels = rng.integers(0, 256, (280, 280, 3), dtype=np.uint8)
        rgba = np.concatenate([pixels, np.full((280, 280, 1), 255, np.uint8)], axis=2)
        page_input = page.evaluate(
            """(rgba) => {
                const canvas = document.getElementById("drawing");
                const data = Uint8ClampedArray.from(atob(rgba), (char) => char.charCodeAt(0));
                const picture = new ImageData(data, canvas.width, canvas.height);
                canvas.getContext("2d").putImageData(picture, 0, 0);
                return Array.from(vaeEdge.preprocessCanvas());
            }""",
            base64.b64encode(rgba.tobytes()).decode("ascii"),
        )
        expected = runtime.preprocess(pixels)
        assert 20 < expected.sum() < 176
        np.testing.assert_array_equal(np.array(page_input, dtype=np.float32), expected)
    page.click("#clear-drawing")


def test_page_reads_sizes_from_the_manifest(browser, tmp_path):
    config = ModelConfig(latent_dim=5, hidden_sizes=(12, 8), decoder_hidden_sizes=(20,))
    model_dir, _ = build_model_dir(tmp_path / "model", config)
    with served_site(model_dir, tmp_path / "site") as url:
        page, problems = open_page(browser, url)
        page.evaluate("vaeEdge.ready")
        z = np.random.default_rng(1).standard_normal((3, 5), dtype=np.float32)
        probs = np.array(page.evaluate(DECODE, [z.ravel().tolist(), 3]), dtype=np.float32)
        expected = runtime.load(model_dir).decode(z).reshape(3, -1)
        np.testing.assert_allclose(probs.reshape(3, -1), expected, atol=ATOL, rtol=0)
        assert page.locator("#sliders input").count() == 5
        assert "encoder 12, 8, decoder 20" in page.locator("#model-info").inner_text()
        # A folder without M2's graphs: any digit only, and nothing read under a drawing.
        assert page.locator("#digit-choice").is_hidden()
        draw_digit(page, DIGIT_STROKES)
        assert page.locator("#drawing-digit").inner_text() == ""
        assert problems == []


def test_model_that_fails_to_load_shows_a_readable_message(browser, tmp_path):
    with served_site(DEFAULT_MODEL_DIR, tmp_path / "site") as url:
        decoder = tmp_path / "site" / "model" / "decoder.onnx"
        decoder.write_bytes(decoder.read_bytes()[:1000])
        page, _ = open_page(browser, url)
        page.wait_for_selector("#status.error")
        message = page.locator("#status").inner_text()
        assert message.startswith("The model could not be loaded: decoder.onnx")
        assert page.evaluate("vaeEdge.ready.then(() => 'loaded', (error) => 'failed')") == "failed"


def cdn_files() -> dict[str, bytes]:
    return {name: (npm_ort_dist() / name).read_bytes() for name in ORT_INTEGRITY}


def test_cdn_site_runs_on_integrity_checked_files(browser, tmp_path, default_model):
    with served_site(DEFAULT_MODEL_DIR, tmp_path / "site", offline=False) as url:
        page, problems = open_page(browser, url, cdn_files())
        page.evaluate("vaeEdge.ready")
        z = np.zeros((1, default_model.latent_dim), dtype=np.float32)
        probs = np.array(page.evaluate(DECODE, [z.ravel().tolist(), 1]), dtype=np.float32)
        np.testing.assert_allclose(probs, default_model.decode(z).ravel(), atol=ATOL, rtol=0)
        assert problems == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        (ORT_MODULE, "The page could not load its scripts"),
        (ORT_WASM, f"/{ORT_FOLDER}/{ORT_WASM}: cannot fetch it"),
        (ORT_WASM_MODULE, "The model could not be loaded: "),
    ],
)
def test_file_that_fails_its_integrity_check_is_refused(browser, tmp_path, name, fragment):
    """The same hashes guard the CDN's files; here a copied file is changed on disk."""
    with served_site(DEFAULT_MODEL_DIR, tmp_path / "site") as url:
        with open(tmp_path / "site" / ORT_FOLDER / name, "ab") as stream:
            stream.write(b"\n")
        page, problems = open_page(browser, url)
        page.wait_for_selector("#status.error")
        assert fragment in page.locator("#status").inner_text()
        assert any("integrity" in problem for problem in problems), problems


def test_the_bundled_int8_tiny_model_runs_in_the_page_like_the_python_runtime(
    browser, tmp_path, mnist_dir
):
    model = runtime.load("tiny")
    assert model.manifest.variant == "int8"  # MatMulInteger and DynamicQuantizeLinear
    with served_site(model.model_dir, tmp_path / "site") as url:
        page, problems = open_page(browser, url)
        page.evaluate("vaeEdge.ready")
        # The same batch in both: int8 activations are quantized with the batch's range.
        z = np.random.default_rng(2).standard_normal((64, model.latent_dim), dtype=np.float32)
        probs = np.array(page.evaluate(DECODE, [z.ravel().tolist(), 64]), dtype=np.float32)
        np.testing.assert_allclose(
            probs.reshape(64, -1), model.decode(z).reshape(64, -1), atol=INT8_ATOL, rtol=0
        )
        images = load_split(mnist_dir, "validation")[:64]
        mu, _ = page.evaluate(ENCODE, [images.ravel().tolist(), 64])
        np.testing.assert_allclose(
            np.reshape(mu, (64, -1)), model.encode(images)[0], atol=INT8_ATOL, rtol=0
        )
        assert "(int8, opset" in page.locator("#model-info").inner_text()
        assert problems == []
