// Drives the page: grid, sliders, drawing, interpolation, model facts. Exposes window.vaeEdge
// ({ready, decode, encode, ...}) for apps and tests.
import { preprocessPixels } from "./images.js";
import { loadModel, ortVersion } from "./vae-model.js";

const GRID_COUNT = 64;
const STRIP_STEPS = 10;
const SLIDER_RANGE = 3; // latent codes are drawn from N(0, 1): +-3 covers nearly all of them
const STROKE_WIDTH = 22; // in canvas pixels of the 280-pixel drawing: about MNIST's stroke
const TIMING_WARM_UP = 2000;
const TIMING_ROUNDS = 15;
const TIMING_CALLS = 200;

const config = JSON.parse(document.getElementById("vae-edge-config").textContent);
const $ = (id) => document.getElementById(id);
const status = $("status");
let model = null;

const api = {
  /** The loaded VaeModel's manifest, once `ready` has resolved. */
  manifest: null,
  /** performance.now() (ms since navigation) when the first grid was drawn. */
  firstGridAt: null,
  /** Time of one batch-1 decode call in microseconds (the best round), measured once `ready`. */
  decodeMicroseconds: null,
  /** Every timing round's mean time per call, in microseconds, fastest first. */
  decodeRounds: null,
  /** The last drawing's {strokes, input, reconstruction, mu}, or null after Clear. */
  lastDrawing: null,
  decode: (z, n) => model.decode(z, n),
  encode: (images, n) => model.encode(images, n),
  /** Images [n * pixels] -> {digits [n], probabilities [n * 10]} (the folder's classifier). */
  classify: (images, n) => model.classify(images, n),
  generate,
  preprocessCanvas,
};
window.vaeEdge = api;
api.ready = start();
api.ready.then(
  async () => {
    api.decodeRounds = await timeDecode();
    [api.decodeMicroseconds] = api.decodeRounds;
    showModelInfo();
  },
  (error) => {
    status.textContent = `The model could not be loaded: ${error.message}`;
    status.className = "error";
    console.error(error);
  },
);

async function start() {
  model = await loadModel(config.manifestUrl, { dist: config.ortDist, wasm: config.ortWasm });
  api.manifest = model.manifest;
  // Older model folders have no conditional generator: the grid then offers any digit only.
  $("digit-choice").hidden = !model.hasConditional;
  await regenerate();
  api.firstGridAt = performance.now();
  status.textContent = "Ready.";
  showModelInfo();
  setUpSliders();
  setUpDrawing();
  await setUpInterpolation();
  for (const control of document.querySelectorAll("button, select")) control.disabled = false;
}

// ---------- pictures ----------

/** Draw images [n * side * side] of probabilities as light-on-dark tiles, `columns` a row. */
function drawTiles(canvas, images, n, columns) {
  const side = model.imageSide;
  const rows = Math.ceil(n / columns);
  canvas.width = columns * (side + 1) + 1;
  canvas.height = rows * (side + 1) + 1;
  const context = canvas.getContext("2d");
  const picture = context.createImageData(canvas.width, canvas.height);
  picture.data.fill(0);
  for (let i = 0; i < n; i++) {
    const left = 1 + (i % columns) * (side + 1);
    const top = 1 + Math.floor(i / columns) * (side + 1);
    for (let p = 0; p < side * side; p++) {
      const offset = 4 * ((top + Math.floor(p / side)) * canvas.width + left + (p % side));
      const value = Math.round(255 * images[i * side * side + p]);
      picture.data.set([value, value, value, 255], offset);
    }
  }
  context.putImageData(picture, 0, 0);
}

function standardNormal(count) {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    // Box-Muller: one standard normal number from two uniform ones.
    values[i] = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  }
  return values;
}

const randomCodes = (n) => standardNormal(n * model.latentDim);

/**
 * `n` new digits [n * pixels] (probabilities), as vae_edge.runtime's generate: with `digit`
 * null, decoded from z ~ N(0, I); with a digit 0-9, z2 ~ N(0, I) (or the given `z2`
 * [n * z2Dim]) is mapped with the digit to latent codes by the conditional generator.
 */
async function generate(n, digit = null, z2 = null) {
  if (digit === null) return model.decode(randomCodes(n), n);
  const codes = await model.conditionalCodes(digit, z2 ?? standardNormal(n * model.z2Dim), n);
  return model.decode(codes, n);
}

// ---------- grid and facts ----------

async function regenerate() {
  const choice = $("digit-choice").value;
  const digit = choice === "any" ? null : Number(choice);
  const started = performance.now();
  const probs = await generate(GRID_COUNT, digit);
  const elapsed = performance.now() - started;
  drawTiles($("grid"), probs, GRID_COUNT, Math.ceil(Math.sqrt(GRID_COUNT)));
  const which = digit === null ? "digits" : `${digit}s`;
  $("grid-time").textContent = `${GRID_COUNT} ${which} made in ${elapsed.toFixed(1)} ms`;
}
$("regenerate").addEventListener("click", regenerate);
$("digit-choice").addEventListener("change", regenerate);

/**
 * Rounds of batch-1 decode calls (the clock is coarse): each round's mean time per call in
 * microseconds, fastest first. The fastest round is the cost of a call; slower ones are the
 * device busy elsewhere. Warm-up calls first let the browser optimise the hot WebAssembly
 * code; the rounds yield to the page in between so that it stays responsive.
 */
async function timeDecode() {
  const z = randomCodes(1);
  for (let call = 0; call < TIMING_WARM_UP; call++) await model.decode(z, 1);
  const means = [];
  for (let round = 0; round < TIMING_ROUNDS; round++) {
    await new Promise((resolve) => setTimeout(resolve));
    const started = performance.now();
    for (let call = 0; call < TIMING_CALLS; call++) await model.decode(z, 1);
    means.push(((performance.now() - started) * 1000) / TIMING_CALLS);
  }
  return means.sort((a, b) => a - b);
}

function showModelInfo() {
  const { model: shape, variant, opset } = model.manifest;
  const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
  const facts = [
    ["model", `${config.modelName} (${variant}, opset ${opset})`],
    ["latent size", String(shape.latent_dim)],
    [
      "hidden sizes",
      // Manifests from before the decoder could differ have no decoder_hidden_sizes.
      `encoder ${shape.hidden_sizes.join(", ")}, decoder ` +
        `${(shape.decoder_hidden_sizes ?? [...shape.hidden_sizes].reverse()).join(", ")} ` +
        `(${shape.activation})`,
    ],
    ["image", `${model.imageSide}x${model.imageSide}`],
    ["graphs", Object.entries(model.graphBytes).map(([part, bytes]) => `${part} ${kib(bytes)}`).join(", ")],
    ["runtime", `onnxruntime-web ${ortVersion}, WebAssembly, 1 thread`],
    [
      "decode, batch 1",
      api.decodeMicroseconds === null
        ? "measuring…"
        : `${api.decodeMicroseconds.toFixed(1)} µs per call (the best of ${TIMING_ROUNDS} rounds ` +
          `of ${TIMING_CALLS} calls, median ${api.decodeRounds[TIMING_ROUNDS >> 1].toFixed(1)} µs, ` +
          `after ${TIMING_WARM_UP} warm-up calls)`,
    ],
  ];
  const list = $("model-info");
  list.replaceChildren(
    ...facts.flatMap(([term, value]) => [
      Object.assign(document.createElement("dt"), { textContent: term }),
      Object.assign(document.createElement("dd"), { textContent: value }),
    ]),
  );
}

// ---------- sliders ----------

const sliders = [];
let sliderBusy = false;
let sliderPending = false;

function setUpSliders() {
  const container = $("sliders");
  for (let i = 0; i < model.latentDim; i++) {
    const slider = Object.assign(document.createElement("input"), {
      type: "range",
      min: -SLIDER_RANGE,
      max: SLIDER_RANGE,
      step: 0.01,
      value: 0,
    });
    slider.setAttribute("aria-label", `latent ${i + 1}`);
    slider.addEventListener("input", decodeSliders);
    container.append(Object.assign(document.createElement("label"), { textContent: `z${i + 1}` }), slider);
    sliders.push(slider);
  }
  $("sliders-random").addEventListener("click", () => setSliders(randomCodes(1)));
  $("sliders-zero").addEventListener("click", () => setSliders(new Float32Array(model.latentDim)));
  $("sliders-drawing").addEventListener("click", () => api.lastDrawing && setSliders(api.lastDrawing.mu));
  decodeSliders();
}

function setSliders(z) {
  sliders.forEach((slider, i) => (slider.value = z[i]));
  decodeSliders();
}

/** Decode the sliders' code; while a decode runs, later moves collapse into one more. */
async function decodeSliders() {
  if (sliderBusy) {
    sliderPending = true;
    return;
  }
  sliderBusy = true;
  do {
    sliderPending = false;
    const z = Float32Array.from(sliders, (slider) => Number(slider.value));
    drawTiles($("slider-digit"), await model.decode(z, 1), 1, 1);
  } while (sliderPending);
  sliderBusy = false;
}

// ---------- drawing ----------

const drawing = $("drawing");
const pen = drawing.getContext("2d", { willReadFrequently: true });
let strokes = 0;
let lastPoint = null;

function clearDrawing() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, drawing.width, drawing.height);
  strokes = 0;
  api.lastDrawing = null;
  $("drawing-digit").textContent = "";
  drawTiles($("drawing-input"), new Float32Array(model.pixels), 1, 1);
  drawTiles($("drawing-reconstruction"), new Float32Array(model.pixels), 1, 1);
}

/** The drawing canvas -> the model's binarized input, as vae_edge.runtime.preprocess does. */
function preprocessCanvas() {
  const { data } = pen.getImageData(0, 0, drawing.width, drawing.height);
  return preprocessPixels(data, drawing.width, drawing.height, model.manifest.preprocessing, model.imageSide);
}

function canvasPoint(event) {
  const box = drawing.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * drawing.width) / box.width,
    y: ((event.clientY - box.top) * drawing.height) / box.height,
  };
}

function drawTo(point) {
  pen.beginPath();
  pen.moveTo(lastPoint.x, lastPoint.y);
  pen.lineTo(point.x, point.y);
  pen.stroke();
  lastPoint = point;
}

function setUpDrawing() {
  Object.assign(pen, { strokeStyle: "#fff", lineWidth: STROKE_WIDTH, lineCap: "round", lineJoin: "round" });
  drawing.addEventListener("pointerdown", (event) => {
    drawing.setPointerCapture(event.pointerId);
    lastPoint = canvasPoint(event);
    drawTo(lastPoint);
  });
  drawing.addEventListener("pointermove", (event) => lastPoint && drawTo(canvasPoint(event)));
  const finish = async () => {
    if (!lastPoint) return;
    lastPoint = null;
    strokes += 1;
    await encodeDrawing(strokes);
  };
  drawing.addEventListener("pointerup", finish);
  drawing.addEventListener("pointercancel", finish);
  $("clear-drawing").addEventListener("click", clearDrawing);
  clearDrawing();
}

async function encodeDrawing(strokeCount) {
  const input = preprocessCanvas();
  const { mu } = await model.encode(input, 1);
  const reconstruction = await model.decode(mu, 1);
  const read = model.hasClassifier ? await model.classify(input, 1) : null;
  if (strokeCount !== strokes) return; // a later stroke's encoding supersedes this one
  drawTiles($("drawing-input"), input, 1, 1);
  drawTiles($("drawing-reconstruction"), reconstruction, 1, 1);
  const digit = read && read.digits[0];
  $("drawing-digit").textContent = read
    ? `The model reads a ${digit} (probability ${read.probabilities[digit].toFixed(2)})`
    : "";
  api.lastDrawing = { strokes: strokeCount, input, reconstruction, mu, digit, probabilities: read?.probabilities };
}

// ---------- interpolation ----------

const ends = { a: null, b: null };

async function setUpInterpolation() {
  for (const end of ["a", "b"]) {
    $(`${end}-random`).addEventListener("click", () => setEnd(end, randomCodes(1)));
    $(`${end}-drawing`).addEventListener("click", () => api.lastDrawing && setEnd(end, api.lastDrawing.mu));
    ends[end] = randomCodes(1);
  }
  await drawStrip();
}

async function setEnd(end, z) {
  ends[end] = z;
  await drawStrip();
}

async function drawStrip() {
  const latent = model.latentDim;
  const z = new Float32Array(STRIP_STEPS * latent);
  for (let step = 0; step < STRIP_STEPS; step++) {
    const weight = step / (STRIP_STEPS - 1);
    for (let i = 0; i < latent; i++) {
      z[step * latent + i] = (1 - weight) * ends.a[i] + weight * ends.b[i];
    }
  }
  drawTiles($("strip"), await model.decode(z, STRIP_STEPS), STRIP_STEPS, STRIP_STEPS);
}
