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
  const graphs = ["encoder", "decoder"].map((part) => fetchBytes(new URL(manifest[part].file, manifestLocation)));
  ort.env.wasm.wasmBinary = await wasm;
  const [encoderBytes, decoderBytes] = await Promise.all(graphs);
  const encoder = await openSession(encoderBytes, manifest.encoder);
  const decoder = await openSession(decoderBytes, manifest.decoder);
  return new VaeModel(manifest, encoder, decoder, {
    encoder: encoderBytes.byteLength,
    decoder: decoderBytes.byteLength,
  });
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

export class VaeModel {
  constructor(manifest, encoder, decoder, graphBytes) {
    this.manifest = manifest;
    this.latentDim = manifest.model.latent_dim;
    this.imageSide = manifest.image_shape[0];
    this.pixels = manifest.image_shape[0] * manifest.image_shape[1];
    this.graphBytes = graphBytes;
    this.encoder = encoder;
    this.decoder = decoder;
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
    const results = await this.decoder.run(feeds, [this.names.probs]);
    return results[this.names.probs].data;
  }

  /** Binarized images [n * pixels] -> {mu, logvar}, each [n * latentDim]. */
  async encode(images, n) {
    const feeds = { [this.names.image]: this.#tensor(images, n, this.pixels, "images") };
    const results = await this.encoder.run(feeds);
    return { mu: results[this.names.mu].data, logvar: results[this.names.logvar].data };
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
