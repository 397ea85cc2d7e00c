// A vae-edge model folder in the browser: onnxruntime-web sessions behind encode/decode on
// Float32Arrays, returning what vae_edge.runtime returns. Sizes and tensor names come from
// the folder's manifest.json, as in the Python runtime.
import * as ort from "onnxruntime-web";

/**
 * Load the model whose manifest is at `manifestUrl`.
 * `ortConfig`: {dist, wasm: {url, integrity}}: where onnxruntime-web's files are, and the
 * WebAssembly binary with its Subresource Integrity hash (fetched here, so it is checked).
 */
export async function loadModel(manifestUrl, ortConfig) {
  const base = document.baseURI;
  // One thread: threads need cross-origin isolation headers and gain nothing at batch 1.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = new URL(ortConfig.dist, base).href;
  const wasm = fetchBytes(new URL(ortConfig.wasm.url, base), { integrity: ortConfig.wasm.integrity });
  const manifestLocation = new URL(manifestUrl, base);
  const manifest = JSON.parse(new TextDecoder().decode(await fetchBytes(manifestLocation)));
  // The classifier and the conditional generator are optional: older folders lack them.
  const parts = ["encoder", "decoder", "classifier", "conditional"].filter((part) => manifest[part]);
  const graphs = parts.map((part) => fetchBytes(new URL(manifest[part].file, manifestLocation)));
  ort.env.wasm.wasmBinary = await wasm;
  const bytes = await Promise.all(graphs);
  const sessions = {};
  const graphBytes = {};
  for (const [i, part] of parts.entries()) {
    sessions[part] = await openSession(bytes[i], manifest[part]);
    graphBytes[part] = bytes[i].byteLength;
  }
  return new VaeModel(manifest, sessions, graphBytes);
}

async function fetchBytes(url, options = {}) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new Error(`${url}: cannot fetch it (${error.message})`);
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function openSession(bytes, entry) {
  let session;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (error) {
    throw new Error(`${entry.file}: onnxruntime-web cannot load it (${error.message})`);
  }
  for (const [kind, names, present] of [
    ["input", entry.inputs, session.inputNames],
    ["output", entry.outputs, session.outputNames],
  ]) {
    const missing = names.filter((name) => !present.includes(name));
    if (missing.length) {
      throw new Error(`${entry.file}: the graph lacks the manifest's ${kind} ${missing.join(", ")}`);
    }
  }
  return session;
}

export const N_CLASSES = 10;

export class VaeModel {
  constructor(manifest, sessions, graphBytes) {
    this.manifest = manifest;
    this.latentDim = manifest.model.latent_dim;
    this.imageSide = manifest.image_shape[0];
    this.pixels = manifest.image_shape[0] * manifest.image_shape[1];
    this.graphBytes = graphBytes;
    this.sessions = sessions;
    this.hasClassifier = Boolean(sessions.classifier);
    this.hasConditional = Boolean(sessions.conditional);
    this.z2Dim = manifest.conditional ? manifest.conditional.z2_dim : 0;
    // The manifest lists the decoder's pixel probabilities first, the encoder's mu, logvar.
    this.names = {
      image: manifest.encoder.inputs[0],
      mu: manifest.encoder.outputs[0],
      logvar: manifest.encoder.outputs[1],
      z: manifest.decoder.inputs[0],
      probs: manifest.decoder.outputs[0],
    };
  }

  /** Latent codes z [n * latentDim] -> pixel probabilities [n * pixels]. */
  async decode(z, n) {
    const feeds = { [this.names.z]: this.#tensor(z, n, this.latentDim, "z") };
    const results = await this.sessions.decoder.run(feeds, [this.names.probs]);
    return results[this.names.probs].data;
  }

  /** Binarized images [n * pixels] -> {mu, logvar}, each [n * latentDim]. */
  async encode(images, n) {
    const feeds = { [this.names.image]: this.#tensor(images, n, this.pixels, "images") };
    const results = await this.sessions.encoder.run(feeds);
    return { mu: results[this.names.mu].data, logvar: results[this.names.logvar].data };
  }

  /** Images [n * pixels] -> {digits [n], probabilities [n * 10]}, from the encoder's mean. */
  async classify(images, n) {
    const entry = this.#optional("classifier");
    const { mu } = await this.encode(images, n);
    const feeds = { [entry.inputs[0]]: this.#tensor(mu, n, this.latentDim, "mu") };
    const results = await this.sessions.classifier.run(feeds);
    const probabilities = results[entry.outputs[0]].data;
    const digits = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const row = probabilities.subarray(i * N_CLASSES, (i + 1) * N_CLASSES);
      digits[i] = row.indexOf(Math.max(...row));
    }
    return { digits, probabilities };
  }

  /** A digit (0-9) and style codes z2 [n * z2Dim] -> latent codes [n * latentDim]. */
  async conditionalCodes(digit, z2, n) {
    const entry = this.#optional("conditional");
    if (!Number.isInteger(digit) || digit < 0 || digit >= N_CLASSES) {
      throw new RangeError(`digit must be an integer 0-${N_CLASSES - 1}, got ${digit}`);
    }
    const oneHot = new Float32Array(n * N_CLASSES);
    for (let i = 0; i < n; i++) oneHot[i * N_CLASSES + digit] = 1;
    const feeds = {
      [entry.inputs[0]]: this.#tensor(oneHot, n, N_CLASSES, "digit"),
      [entry.inputs[1]]: this.#tensor(z2, n, this.z2Dim, "z2"),
    };
    const results = await this.sessions.conditional.run(feeds);
    return results[entry.outputs[0]].data;
  }

  #optional(part) {
    if (!this.sessions[part]) {
      throw new Error(`this model folder has no ${part} graph; add one with vae-edge train-classifier`);
    }
    return this.manifest[part];
  }

  #tensor(values, n, width, what) {
    if (!(values instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array`);
    if (!Number.isInteger(n) || n < 1 || values.length !== n * width) {
      throw new RangeError(`${what} must hold n * ${width} numbers for n >= 1, got ${values.length} for n = ${n}`);
    }
    return new ort.Tensor("float32", values, [n, width]);
  }
}

export const ortVersion = ort.env.versions.web;
