"""The page in headless Chromium beside the Python runtime: first grid and call latency.

Builds the site for a model folder (onnxruntime-web copied from node_modules), serves it
on 127.0.0.1 and measures, in one run:

- first grid: from navigation to the first 64-digit grid drawn, each visit in a fresh
  browser context (empty cache), and a reload in the same context (warm cache); beside
  it, a fresh Python process that loads the runtime and generates 64 digits;
- latency of `vaeEdge.decode` / `encode` against `VAEModel.decode` / `encode` on the same
  inputs: rounds of many calls (Chromium's clock is coarse), browser and Python rounds
  in shuffled order, after a warm-up that lets Chromium optimise the WebAssembly code;
- a plain JavaScript loop in the same page, without onnxruntime-web, in rounds among the
  others: its spread is the machine's, since its work never changes.

Each measure is reported as its best round and its median round. The best round is
timeit's convention for the cost itself: a round of 1,000 calls cannot run faster than
the code allows, only slower when the machine is busy elsewhere.

Writes a screenshot of the page with a drawn digit to docs/web.png.

    python -m benchmarks.web_latency                  # the bundled default model
    python -m benchmarks.web_latency --model tiny --name web_latency_tiny \
        --screenshot /tmp/tiny.png    # almost no arithmetic: the per-call cost itself
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from benchmarks.chromium import (
    CHROMIUM_PATH,
    DIGIT_STROKES,
    NPM_ORT_DIST,
    draw_strokes,
    launch_chromium,
    missing_browser,
)
from benchmarks.report import write_report
from vae_edge import runtime
from vae_edge.atomic import atomic_path
from vae_edge.runtime.bench import alternate
from vae_edge.runtime.manifest import DECODER_INPUTS, DECODER_OUTPUTS
from vae_edge.web import ORT_VERSION, build_site, make_server
from vae_edge.web.site import MODEL_FOLDER

PROJECT = Path(__file__).resolve().parents[1]
Z, PROBS = DECODER_INPUTS[0], DECODER_OUTPUTS[0]
SCREENSHOT = PROJECT / "docs" / "web.png"
FIRST_GRID = "window.vaeEdge?.firstGridAt > 0"
MEASURED = "window.vaeEdge?.decodeMicroseconds > 0"  # the page's own timing, done last
# Opens the page's decoder once more as a bare onnxruntime-web session (the same module,
# so the same settings), for calls without the page's wrapper: `window.bareDecode`.
BARE_SESSION = """async (modelFolder) => {
    const ort = await import("onnxruntime-web");
    const entry = vaeEdge.manifest.decoder;
    const response = await fetch(new URL(`${modelFolder}/${entry.file}`, document.baseURI));
    const session = await ort.InferenceSession.create(new Uint8Array(await response.arrayBuffer()));
    const width = vaeEdge.manifest.model.latent_dim;
    window.bareDecode = (z, n) => session.run(
        {[entry.inputs[0]]: new ort.Tensor("float32", z, [n, width])}, [entry.outputs[0]]);
}"""
# Mean microseconds per call over `calls` calls of `part` at batch `n`.
BROWSER_ROUND = """async ([part, n, calls]) => {
    const width = part === "encode"
        ? vaeEdge.manifest.image_shape[0] * vaeEdge.manifest.image_shape[1]
        : vaeEdge.manifest.model.latent_dim;
    const input = new Float32Array(n * width).map((_, i) => (i % 3) / 2);
    const run = {decode: vaeEdge.decode, encode: vaeEdge.encode, "bare decode": bareDecode}[part];
    const started = performance.now();
    for (let i = 0; i < calls; i++) await run(input, n);
    return ((performance.now() - started) * 1000) / calls;
}"""
# Microseconds per pass of a fixed multiply-add loop over 4,096 floats, 3,000 passes.
REFERENCE_LOOP = """() => {
    const values = new Float32Array(4096).map((_, i) => (i % 3) / 2);
    const started = performance.now();
    let sum = 0;
    for (let pass = 0; pass < 3000; pass++) {
        for (let i = 0; i < 4096; i++) sum += values[i] * values[(i * 7) & 4095];
    }
    window.referenceSum = sum;
    return ((performance.now() - started) * 1000) / 3000;
}"""
REFERENCE = "plain JavaScript loop, no onnxruntime (µs per pass)"
PYTHON_FIRST_GRID = (
    "from vae_edge import runtime; import sys; runtime.load(sys.argv[1]).generate(64)"
)
# (part, batch, calls per round). "bare decode": a bare session on each side, without the
# page's or the runtime's wrapper and input checks.
CASES = (
    ("decode", 1, 1000),
    ("bare decode", 1, 1000),
    ("encode", 1, 1000),
    ("decode", 64, 100),
)


def python_round(model: runtime.VAEModel, part: str, n: int, calls: int) -> float:
    """Mean microseconds per call of the runtime on the same inputs as BROWSER_ROUND."""
    width = model.config.input_dim if part == "encode" else model.latent_dim
    values = (np.arange(n * width) % 3 / 2).astype(np.float32).reshape(n, width)
    decoder = model.session("decoder")
    call = {
        "decode": model.decode,
        "encode": model.encode,
        "bare decode": lambda z: decoder.run([PROBS], {Z: z}),
    }[part]
    started = time.perf_counter()
    for _ in range(calls):
        call(values)
    return (time.perf_counter() - started) * 1e6 / calls


def case_label(case: tuple[str, int, int]) -> str:
    """'decode, batch 1' for a CASES entry."""
    part, n, _ = case
    return f"{part}, batch {n}"


def row(measure: str, chromium: list[float], python: list[float] | None = None) -> dict:
    """A table row: best and median round on each side, their ratio, Chromium's range."""
    best, median = min, statistics.median
    return {
        "measure": measure,
        "Chromium best": f"{best(chromium):.1f}",
        "Chromium median": f"{median(chromium):.1f}",
        "Python best": f"{best(python):.1f}" if python else "",
        "Python median": f"{median(python):.1f}" if python else "",
        "Chromium / Python (best)": f"{best(chromium) / best(python):.2f}" if python else "",
        "Chromium rounds": f"{best(chromium):.0f}-{max(chromium):.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model folder or bundled model name")
    parser.add_argument("--visits", type=int, default=7, help="page visits for the first grid")
    parser.add_argument("--rounds", type=int, default=25, help="latency rounds per case")
    parser.add_argument("--screenshot", type=Path, default=SCREENSHOT)
    parser.add_argument("--name", default="web_latency", help="results file name")
    args = parser.parse_args()
    if reason := missing_browser():
        sys.exit(reason)

    model = runtime.load(args.model)
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        site = build_site(Path(scratch) / "site", args.model, ort_dir=PROJECT / NPM_ORT_DIST)
        server = make_server(site)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        browser = launch_chromium(playwright)
        chromium_version = browser.version

        warm_visits: list[float] = []

        def cold_visit() -> float:
            """The first grid in a fresh context; then a reload's, kept in warm_visits."""
            context = browser.new_context()
            page = context.new_page()
            page.goto(url)
            page.wait_for_function(FIRST_GRID, timeout=60_000)
            cold = page.evaluate("vaeEdge.firstGridAt")
            page.wait_for_function(MEASURED, timeout=60_000)
            page.reload()
            page.wait_for_function(FIRST_GRID, timeout=60_000)
            warm_visits.append(page.evaluate("vaeEdge.firstGridAt"))
            context.close()
            return cold

        def python_process() -> float:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", PYTHON_FIRST_GRID, args.model], check=True)
            return (time.perf_counter() - started) * 1000

        first = alternate({"chromium": cold_visit, "python": python_process}, args.visits)

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_function(MEASURED, timeout=60_000)
        page.evaluate(BARE_SESSION, MODEL_FOLDER)
        for part, n, _ in CASES:  # warm-up: Chromium tiers the hot WebAssembly code up
            page.evaluate(BROWSER_ROUND, [part, n, 2000 // n])
            python_round(model, part, n, 200 // n)
        page.evaluate(REFERENCE_LOOP)
        measures = {
            (case_label(case), side): measure
            for case in CASES
            for side, measure in (
                ("chromium", lambda case=case: page.evaluate(BROWSER_ROUND, list(case))),
                ("python", lambda case=case: python_round(model, *case)),
            )
        }
        measures[REFERENCE, "chromium"] = lambda: page.evaluate(REFERENCE_LOOP)
        latency = alternate(measures, args.rounds)

        draw_strokes(page, "#drawing", DIGIT_STROKES)
        page.wait_for_function(f"vaeEdge.lastDrawing?.strokes === {len(DIGIT_STROKES)}")
        page.click("#a-drawing")
        page.click("#sliders-drawing")
        with atomic_path(args.screenshot) as tmp_path:
            page.screenshot(path=str(tmp_path), full_page=True, type="png")
        browser.close()
        server.shutdown()

    rows = [
        row("first grid of 64 digits, fresh (ms)", first["chromium"], first["python"]),
        row("first grid, reload with warm cache (ms)", warm_visits),
        *(
            row(f"{label} (µs per call)", latency[label, "chromium"], latency[label, "python"])
            for label in map(case_label, CASES)
        ),
        row(REFERENCE, latency[REFERENCE, "chromium"]),
    ]
    write_report(
        args.name,
        f"The page in headless Chromium ({chromium_version}, onnxruntime-web {ORT_VERSION}, "
        "WebAssembly, 1 thread) beside the Python runtime (1 thread)",
        rows,
        {
            "model": args.model,
            "chromium": chromium_version,
            "chromium_path": CHROMIUM_PATH,
            "onnxruntime_web": ORT_VERSION,
            "first_grid_ms": {**first, "chromium_reload": warm_visits},
            "latency_us": {f"{label}, {side}": times for (label, side), times in latency.items()},
            "python_first_grid": "a fresh process: import, runtime.load, generate(64)",
            "load_average_at_end": os.getloadavg(),
        },
    )
    print(
        "load average (1, 5, 15 min) at the end: " + ", ".join(f"{v:.1f}" for v in os.getloadavg())
    )
    print(f"wrote {args.screenshot}")


if __name__ == "__main__":
    main()
