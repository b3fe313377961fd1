/**
 * Resizing an image to the size a data set asks for, and converting colour to grey.
 *
 * Resampling is separable (rows, then columns). Along an axis that shrinks, each output pixel is the
 * area-weighted mean of the source pixels it covers (a box filter: no aliasing, every source pixel counted
 * once); along an axis that grows, the output is interpolated linearly between the two nearest source pixels
 * (bilinear). The image's aspect ratio is handled by `fit`:
 * - `crop` (default): the largest centred part of the image with the target's aspect ratio is taken, then
 *   resized (torchvision's Resize followed by CenterCrop, in one step);
 * - `pad`: the whole image is resized to fit inside the target and centred, the rest is black;
 * - `stretch`: the whole image is resized to the target, its aspect ratio changed.
 */

export type Fit = "crop" | "pad" | "stretch";
export const FIT_CHOICES: readonly Fit[] = ["crop", "pad", "stretch"];

export interface Size {
  rows: number;
  cols: number;
}

/** One output pixel along an axis: source indices and their weights (summing to 1; none for padding). */
type Taps = { index: number[]; weight: number[] }[];

/**
 * Taps of `outLen` output pixels, of which [outStart, outStart + outSpan) show the source interval
 * [srcStart, srcStart + srcSpan) of an axis of `srcLen` pixels.
 */
function axisTaps(srcLen: number, srcStart: number, srcSpan: number, outLen: number, outStart: number, outSpan: number): Taps {
  const scale = srcSpan / outSpan;
  const taps: Taps = [];
  for (let d = 0; d < outLen; d++) {
    const index: number[] = [];
    const weight: number[] = [];
    if (d >= outStart && d < outStart + outSpan) {
      if (scale >= 1) {
        // Box: the source interval [a, b) this pixel covers, each source pixel weighted by its overlap.
        const a = srcStart + (d - outStart) * scale;
        const b = a + scale;
        for (let j = Math.floor(a); j < Math.ceil(b - 1e-9); j++) {
          const w = Math.min(b, j + 1) - Math.max(a, j);
          if (w > 1e-12) {
            index.push(Math.min(srcLen - 1, Math.max(0, j)));
            weight.push(w / scale);
          }
        }
      } else {
        // Bilinear: between the two source pixels around this pixel's centre.
        const u = Math.min(srcLen - 1, Math.max(0, srcStart + (d - outStart + 0.5) * scale - 0.5));
        const j = Math.floor(u);
        const t = u - j;
        index.push(j);
        weight.push(1 - t);
        if (t > 0 && j + 1 < srcLen) {
          index.push(j + 1);
          weight.push(t);
        }
      }
    }
    taps.push({ index, weight });
  }
  return taps;
}

/** Source and output intervals of one axis for `fit`. */
function placement(srcH: number, srcW: number, out: Size, fit: Fit): { y: [number, number, number, number]; x: [number, number, number, number] } {
  if (fit === "stretch") return { y: [0, srcH, 0, out.rows], x: [0, srcW, 0, out.cols] };
  if (fit === "crop") {
    // The centred part of the source with the output's aspect ratio.
    const aspect = out.cols / out.rows;
    if (srcW / srcH > aspect) {
      const w = srcH * aspect;
      return { y: [0, srcH, 0, out.rows], x: [(srcW - w) / 2, w, 0, out.cols] };
    }
    const h = srcW / aspect;
    return { y: [(srcH - h) / 2, h, 0, out.rows], x: [0, srcW, 0, out.cols] };
  }
  // pad: the whole source inside the output, centred, whole output pixels.
  const s = Math.min(out.rows / srcH, out.cols / srcW);
  const h = Math.max(1, Math.min(out.rows, Math.round(srcH * s)));
  const w = Math.max(1, Math.min(out.cols, Math.round(srcW * s)));
  return { y: [0, srcH, Math.floor((out.rows - h) / 2), h], x: [0, srcW, Math.floor((out.cols - w) / 2), w] };
}

/**
 * Resize an image of `srcH` × `srcW` pixels with `channels` interleaved values each (bytes 0–255 or floats;
 * multiplied by `scale`) into `out` at `offset`, as out.rows × out.cols × channels floats.
 */
export function resizeInto(
  src: ArrayLike<number>,
  srcH: number,
  srcW: number,
  channels: number,
  size: Size,
  fit: Fit,
  out: Float32Array,
  offset: number,
  scale = 1,
): void {
  const c = channels;
  if (srcH === size.rows && srcW === size.cols) {
    for (let i = 0; i < srcH * srcW * c; i++) out[offset + i] = src[i] * scale;
    return;
  }
  const p = placement(srcH, srcW, size, fit);
  const ty = axisTaps(srcH, p.y[0], p.y[1], size.rows, p.y[2], p.y[3]);
  const tx = axisTaps(srcW, p.x[0], p.x[1], size.cols, p.x[2], p.x[3]);
  // Rows first: every source row needed, resampled to the output's width.
  const needed = new Map<number, Float32Array>();
  const rowOf = (j: number): Float32Array => {
    let row = needed.get(j);
    if (!row) {
      row = new Float32Array(size.cols * c);
      for (let x = 0; x < size.cols; x++) {
        const { index, weight } = tx[x];
        for (let k = 0; k < index.length; k++) {
          const base = (j * srcW + index[k]) * c;
          for (let ch = 0; ch < c; ch++) row[x * c + ch] += src[base + ch] * weight[k];
        }
      }
      needed.set(j, row);
    }
    return row;
  };
  for (let y = 0; y < size.rows; y++) {
    const { index, weight } = ty[y];
    const o = offset + y * size.cols * c;
    out.fill(0, o, o + size.cols * c);
    for (let k = 0; k < index.length; k++) {
      const row = rowOf(index[k]);
      for (let i = 0; i < row.length; i++) out[o + i] += row[i] * weight[k] * scale;
    }
    // Rows above the next output row's first tap are not needed again.
    const next = ty[y + 1]?.index[0];
    if (next !== undefined) for (const j of needed.keys()) if (j < next) needed.delete(j);
  }
}

/**
 * Grey levels from RGB values (`n` pixels, interleaved), with ITU-R 601-2 luma weights as PIL's
 * convert("L") uses: 0.299 R + 0.587 G + 0.114 B.
 */
export function rgbToGrey(rgb: ArrayLike<number>, n: number, out: Float32Array | Uint8Array = new Float32Array(n)): typeof out {
  for (let i = 0; i < n; i++) {
    const v = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
    out[i] = out instanceof Uint8Array ? Math.round(v) : v;
  }
  return out;
}

/** "28x28", "32" (square) or "16×20" as a size; undefined if it is not one. */
export function parseSize(text: string): Size | undefined {
  const m = /^\s*([0-9]+)\s*(?:[x×X]\s*([0-9]+))?\s*$/.exec(text);
  if (!m) return undefined;
  const rows = Number(m[1]);
  const cols = m[2] === undefined ? rows : Number(m[2]);
  return rows > 0 && cols > 0 && Number.isSafeInteger(rows) && Number.isSafeInteger(cols) ? { rows, cols } : undefined;
}
