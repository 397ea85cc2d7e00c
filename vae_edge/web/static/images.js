// A picture -> the model's binarized input, the way vae_edge.runtime.preprocess does it
// (vae_edge/runtime/images.py) so that the page and the Python runtime agree pixel for pixel:
// 8-bit grayscale with Pillow's integer luma formula, a BOX resize to the source side with
// Pillow's fixed-point arithmetic (horizontal pass, then vertical, each rounded to 8 bits),
// a mean pool to the model's side, and pixel = 1 where the pooled mean >= the threshold.
// Pictures are opaque and light on dark (the drawing canvas is filled black first).

const PRECISION_BITS = 32 - 8 - 2; // Pillow's Resample.c, 8 bits per pixel
const ROUND_HALF = 2 ** (PRECISION_BITS - 1);
const SCALE = 2 ** PRECISION_BITS;

/** Opaque RGBA bytes [height * width * 4] -> binarized Float32Array [side * side]. */
export function preprocessPixels(rgba, width, height, preprocessing, side) {
  const { source_side: sourceSide, threshold } = preprocessing;
  if (Math.min(width, height) < sourceSide) {
    throw new Error(`a picture must be at least ${sourceSide}x${sourceSide}, got ${width}x${height}`);
  }
  const gray = new Uint8Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    // Pillow's convert("L"): ITU-R 601-2 luma in 16-bit fixed point.
    const luma = rgba[4 * i] * 19595 + rgba[4 * i + 1] * 38470 + rgba[4 * i + 2] * 7471;
    gray[i] = (luma + 0x8000) >>> 16;
  }
  const rows = resizeHorizontal(gray, width, height, sourceSide);
  const source = transpose(resizeHorizontal(transpose(rows, sourceSide, height), height, sourceSide, sourceSide), sourceSide, sourceSide);
  return poolAndBinarize(source, sourceSide, side, threshold);
}

/** Pillow's BOX filter coefficients for inSize -> outSize, normalized to fixed point. */
function boxCoefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 0.5 * filterScale;
  const rows = [];
  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const last = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights = [];
    let total = 0;
    for (let x = first; x < last; x++) {
      const position = (x - center + 0.5) / filterScale;
      const weight = position > -0.5 && position <= 0.5 ? 1 : 0;
      weights.push(weight);
      total += weight;
    }
    const fixed = weights.map((weight) => Math.trunc(0.5 + (total ? weight / total : weight) * SCALE));
    rows.push({ first, fixed });
  }
  return rows;
}

/** Resize each of `height` rows of `width` pixels to `outWidth` pixels. */
function resizeHorizontal(pixels, width, height, outWidth) {
  const coefficients = boxCoefficients(width, outWidth);
  const out = new Uint8Array(outWidth * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      const { first, fixed } = coefficients[x];
      let sum = ROUND_HALF;
      for (let k = 0; k < fixed.length; k++) sum += pixels[y * width + first + k] * fixed[k];
      out[y * outWidth + x] = Math.min(Math.max(Math.floor(sum / SCALE), 0), 255);
    }
  }
  return out;
}

function transpose(pixels, width, height) {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[x * height + y] = pixels[y * width + x];
  }
  return out;
}

/** Mean-pool a [sourceSide, sourceSide] image to [side, side]; 1 where the mean >= threshold. */
function poolAndBinarize(pixels, sourceSide, side, threshold) {
  const pool = sourceSide / side;
  const out = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let sum = 0;
      for (let dy = 0; dy < pool; dy++) {
        for (let dx = 0; dx < pool; dx++) sum += pixels[(y * pool + dy) * sourceSide + x * pool + dx];
      }
      out[y * side + x] = sum >= threshold * pool * pool ? 1 : 0;
    }
  }
  return out;
}
