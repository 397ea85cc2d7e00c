"""Headless Chromium for the browser benchmarks and tests: Debian's package via Playwright.

Playwright's own browser download does not run everywhere; the Python `playwright`
package drives the system's `chromium` (`apt-get install -y chromium`) instead. The site
itself never needs this module, so it lives here, beside `web_latency` which draws with
it, and not in the package (tests/test_web.py imports it from here too).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import Any

# onnxruntime-web as `npm ci` installs it from package.json, relative to the project folder.
NPM_ORT_DIST = "node_modules/onnxruntime-web/dist"
NPM_HINT = "run `npm ci` in the project folder (package.json pins onnxruntime-web)"
CHROMIUM_PATH = os.environ.get("VAE_EDGE_CHROMIUM", "/usr/bin/chromium")
# Flags that let Chromium run headless as root in a container, without background traffic.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
INSTALL_HINT = (
    "install Debian's chromium (apt-get update && apt-get install -y chromium) and the "
    "Python playwright package (pip install -e '.[test]'), or set VAE_EDGE_CHROMIUM"
)

Point = tuple[float, float]
# A handwritten 3 in two strokes, as fractions of the drawing canvas.
DIGIT_STROKES: tuple[tuple[Point, ...], ...] = (
    ((0.3, 0.25), (0.45, 0.15), (0.65, 0.18), (0.7, 0.32), (0.5, 0.47)),
    ((0.5, 0.47), (0.7, 0.58), (0.72, 0.75), (0.55, 0.85), (0.3, 0.8)),
)


def missing_browser() -> str | None:
    """Why Chromium cannot be driven here (with how to fix it), or None when it can."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return f"the Python playwright package is missing: {INSTALL_HINT}"
    if shutil.which(CHROMIUM_PATH) is None:
        return f"{CHROMIUM_PATH} not found: {INSTALL_HINT}"
    return None


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=list(CHROMIUM_ARGS))


def page_points(page: Any, selector: str, stroke: Sequence[Point]) -> list[Point]:
    """The stroke's points (fractions, 0-1, of the element's width and height) in the
    viewport, after scrolling the element into view."""
    element = page.locator(selector)
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    return [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]


def draw_strokes(page: Any, selector: str, strokes: Sequence[Sequence[Point]]) -> None:
    """Draw with the mouse on the element: each stroke is a press, moves, a release."""
    for stroke in strokes:
        points = page_points(page, selector, stroke)
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=4)
        page.mouse.up()


def draw_strokes_by_touch(page: Any, selector: str, strokes: Sequence[Sequence[Point]]) -> None:
    """Draw with a finger on the element (a page in a context with `has_touch=True`)."""
    session = page.context.new_cdp_session(page)
    for stroke in strokes:
        points = page_points(page, selector, stroke)
        for kind, (x, y) in [("touchStart", points[0])] + [("touchMove", p) for p in points[1:]]:
            session.send(
                "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]}
            )
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()
