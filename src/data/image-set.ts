/**
 * The data set every trainer, evaluator and figure takes: MNIST (mnist.ts), Fashion-MNIST
 * (fashion-mnist.ts), a folder of PNG and JPEG images (image-folder.ts) or NumPy arrays (npy.ts) all load
 * into an `ImageSet`. `MnistSet` (mnist.ts) is the same type: an MNIST split is an ImageSet with one
 * channel and the class names "0" … "9".
 */
import { FileError } from "../files/file-error";
import { Rng } from "../engine/random";

export type Split = "train" | "test";

/**
 * - `none`: grey levels scaled to [0, 1].
 * - `static`: each pixel replaced once by a Bernoulli draw with its grey level as probability (a fixed
 *   binarised copy of the data set, repeatable through `seed`).
 * - `dynamic`: grey levels are kept and a fresh Bernoulli draw is made every time a batch is taken
 *   (`batchTensor`), the usual regulariser when training on binarised MNIST.
 * - `threshold`: each pixel set to 1 where its grey level is above 0.5, else 0 (deterministic; the
 *   TensorFlow convolutional-VAE tutorial's binarisation).
 */
export type Binarize = "none" | "static" | "dynamic" | "threshold";
export const BINARIZE_CHOICES: readonly Binarize[] = ["none", "static", "dynamic", "threshold"];

export interface ImageSet {
  split: Split;
  /**
   * count × rows × cols × channels values in [0, 1] (or {0, 1} for static and threshold binarisation):
   * image after image, each row-major with its channels last (R, G, B of a pixel side by side).
   */
  images: Float32Array;
  /** Each image's class: an index into `classNames`, or −1 in a set without labels (`classNames` empty). */
  labels: Int32Array;
  count: number;
  rows: number;
  cols: number;
  /** 1 (grey) or 3 (RGB). */
  channels: number;
  /** rows · cols · channels: the values of one image. */
  pixels: number;
  /** The name of each class ("0" … "9" for MNIST; the class folders' names for an image folder); empty without labels. */
  classNames: string[];
  binarize: Binarize;
  /** Where the images and labels came from (a file, or a folder for an image folder); used in messages. */
  files: { images: string; labels: string };
}

/** The class names "0" … "n − 1" (MNIST's digits, the labels of a .npy file). */
export function numberedClasses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}

/** The names of MNIST's ten classes. */
export const DIGIT_CLASSES: readonly string[] = numberedClasses(10);

/** A problem with a data file or folder: one line naming it, like IdxError for the IDX files. */
export class DataError extends FileError {
  constructor(file: string, problem: string) {
    super(file, problem);
    this.name = "DataError";
  }
}

/** The name of label `y` in `set`: its class name, "unlabelled" for −1. */
export function className(set: Pick<ImageSet, "classNames">, y: number): string {
  return y >= 0 && y < set.classNames.length ? set.classNames[y] : y < 0 ? "unlabelled" : String(y);
}

/** The share of a data set's images held out for testing where it comes without a test split. */
export const DEFAULT_TEST_FRACTION = 0.1;

/**
 * A seeded random split of `n` items into training and held-out test items, round(fraction · n) of them
 * (at least one each); both lists are in increasing order. Throws when n < 2 or the fraction is not in (0, 1).
 */
export function heldOutSplit(n: number, fraction: number, seed = 0): { train: number[]; test: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`test fraction: expected a number between 0 and 1 (exclusive), got ${fraction}`);
  const nTest = Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
  // Fisher–Yates with the seed's stream; the first nTest of the permutation are held out.
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const held = new Set(order.slice(0, nTest));
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < n; i++) (held.has(i) ? test : train).push(i);
  return { train, test };
}
