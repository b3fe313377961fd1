/**
 * NumPy's .npy files as a data set, the way a Python user hands images over: `np.save("x.npy", x)` with x
 * of shape N×H×W (grey) or N×H×W×C (C = 1 grey, 3 RGB; channels last), dtype uint8 (0–255) or float32
 * (in [0, 1]); labels, optional, as a second file of N non-negative integers (any integer dtype).
 *
 * Format (numpy.lib.format): the magic "\x93NUMPY", a version, the length of a header that is a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W), }, then the data in C order.
 * The header is read first (never more than HEADER_PROBE bytes); the sizes it describes are checked against
 * the file's length and vae-lab's bounds before the data are read. Every problem is a DataError naming the file.
 */
import * as fs from "fs";
import { readFileBounded } from "../files/bounded-read";
import { FileError } from "../files/file-error";
import { Binarize, BINARIZE_CHOICES, DataError, DEFAULT_TEST_FRACTION, heldOutSplit, ImageSet, numberedClasses, Split } from "./image-set";
import { applyBinarize, MAX_IMAGE_PIXELS, MAX_SET_PIXELS } from "./mnist";
import { Fit, FIT_CHOICES, resizeInto, rgbToGrey, Size } from "./resize";

/** The largest .npy file read: the largest set vae-lab holds, as float32 (1 GiB), and its header. */
export const MAX_NPY_BYTES = MAX_SET_PIXELS * 4 + (1 << 16);
const HEADER_PROBE = 1 << 16;

export interface NpyHeader {
  /** numpy's dtype string, e.g. "|u1", "<f4", "<i8". */
  descr: string;
  shape: number[];
  /** Bytes before the data. */
  offset: number;
  itemSize: number;
}

function readBounded(file: string, prefix?: number): Buffer {
  try {
    return readFileBounded(file, MAX_NPY_BYTES, "a .npy file", "file not found", prefix);
  } catch (e) {
    throw e instanceof FileError ? new DataError(e.file, e.problem) : e;
  }
}

/** Parse the header at the start of `bytes`; `fileSize` is the whole file's length (checked against the shape). */
export function parseNpyHeader(bytes: Uint8Array, file: string, fileSize: number): NpyHeader {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) throw new DataError(file, "not a .npy file (no \\x93NUMPY magic at its start)");
  const major = bytes[6];
  if (major < 1 || major > 3) throw new DataError(file, `.npy format version ${major}.${bytes[7]}, not one of 1, 2, 3`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) throw new DataError(file, "truncated .npy header");
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (start + headerLen > bytes.length) {
    throw new DataError(file, start + headerLen > fileSize ? `truncated: its header needs ${start + headerLen} bytes, the file has ${fileSize}` : `a .npy header of ${headerLen} bytes, longer than vae-lab reads`);
  }
  const text = Buffer.from(bytes.subarray(start, start + headerLen)).toString("latin1");
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new DataError(file, `corrupt .npy header: ${JSON.stringify(text.trim().slice(0, 120))}`);
  if (fortran === "True") throw new DataError(file, "holds a Fortran-ordered array; save a C-ordered one (np.save(f, np.ascontiguousarray(x)))");
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new DataError(file, `corrupt .npy header: shape (${shapeText})`);
  const itemSize = Number(/[0-9]+$/.exec(descr)?.[0] ?? NaN);
  if (!Number.isInteger(itemSize) || itemSize <= 0) throw new DataError(file, `unsupported dtype '${descr}'`);
  const offset = start + headerLen;
  const size = shape.reduce((a, b) => a * b, 1) * itemSize;
  if (offset + size > fileSize) throw new DataError(file, `truncated: its header promises ${shape.join("×")} values of ${itemSize} bytes (${size} bytes of data), the file has ${fileSize - offset}`);
  if (offset + size < fileSize) throw new DataError(file, `${fileSize - offset - size} unexpected bytes after the ${shape.join("×")} values its header describes`);
  return { descr, shape, offset, itemSize };
}

/** A .npy file's header (its first bytes only). */
export function readNpyHeader(file: string): NpyHeader {
  const head = readBounded(file, HEADER_PROBE);
  // readFileBounded has checked that it is a regular file within bounds.
  return parseNpyHeader(head, file, fs.statSync(file).size);
}

export interface NpyImages {
  /** Images in the file. */
  total: number;
  /** Images read (the first `count`). */
  count: number;
  rows: number;
  cols: number;
  channels: number;
  /** Values per image: rows · cols · channels. */
  pixels: number;
  /** count × pixels values in [0, 1]. */
  values: Float32Array | Uint8Array;
  /** What to multiply `values` by for [0, 1]: 1/255 for uint8, 1 for float32. */
  scale: number;
}

/** The image shape and dtype described by a header, checked (see the module's comment). */
export function npyImageShape(h: NpyHeader, file: string): { count: number; rows: number; cols: number; channels: number; dtype: "uint8" | "float32" } {
  const dtype = h.descr === "|u1" || h.descr === "<u1" || h.descr === "u1" ? "uint8" : h.descr === "<f4" ? "float32" : undefined;
  if (dtype === undefined) {
    const hint = h.descr === "<f8" ? " (float64: x.astype(np.float32))" : h.descr.startsWith(">") ? " (big-endian: x.astype('<f4'))" : "";
    throw new DataError(file, `dtype '${h.descr}'${hint}; images must be uint8 (0–255) or float32 (0–1)`);
  }
  const s = h.shape;
  if (s.length === 4 && s[3] !== 1 && s[3] !== 3) {
    const channelsFirst = s[1] === 1 || s[1] === 3;
    throw new DataError(file, `shape (${s.join(", ")}): ${s[3]} channels; images are N×H×W or N×H×W×C with C = 1 or 3${channelsFirst ? " (channels last: x.transpose(0, 2, 3, 1))" : ""}`);
  }
  if (s.length !== 3 && s.length !== 4) throw new DataError(file, `shape (${s.join(", ")}): images must be N×H×W (grey) or N×H×W×C (C = 1 or 3)`);
  const [count, rows, cols] = s;
  const channels = s.length === 4 ? s[3] : 1;
  if (rows * cols === 0) throw new DataError(file, `shape (${s.join(", ")}): images of ${rows}×${cols} = 0 pixels`);
  if (rows * cols > MAX_IMAGE_PIXELS) throw new DataError(file, `images of ${rows}×${cols} = ${rows * cols} pixels (from its header), more than the ${MAX_IMAGE_PIXELS} (1024×1024) vae-lab takes`);
  return { count, rows, cols, channels, dtype };
}

/** The images of a .npy file, bounded from its header before the data are read (`limit`: the first images only). */
export function readNpyImages(file: string, limit?: number, colourRefusal?: string): NpyImages {
  const h = readNpyHeader(file);
  const { count: total, rows, cols, channels, dtype } = npyImageShape(h, file);
  if (channels === 3 && colourRefusal) throw new DataError(file, colourRefusal);
  const count = Math.min(total, limit ?? total);
  const pixels = rows * cols * channels;
  if (count * pixels > MAX_SET_PIXELS) {
    throw new DataError(file, `${count} images of ${rows}×${cols}×${channels} are ${count * pixels} values, more than the ${MAX_SET_PIXELS} (1 GiB as floats) vae-lab loads at once; use fewer (--train-size)`);
  }
  const bytes = readBounded(file);
  const data = bytes.subarray(h.offset, h.offset + count * pixels * h.itemSize);
  if (dtype === "uint8") return { total, count, rows, cols, channels, pixels, values: new Uint8Array(data), scale: 1 / 255 };
  const values = new Float32Array(count * pixels);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < values.length; i++) {
    const v = view.getFloat32(4 * i, true);
    if (!(v >= 0 && v <= 1)) throw new DataError(file, `value ${v} at image ${Math.floor(i / pixels)}: float32 images must be in [0, 1] (uint8 ones in 0–255)`);
    values[i] = v;
  }
  return { total, count, rows, cols, channels, pixels, values, scale: 1 };
}

/**
 * The first `count` labels of a .npy file of `total` non-negative integers (one per image of a file of
 * `total` images), a 1-D array of any integer dtype.
 */
export function readNpyLabels(file: string, total: number, count = total): Int32Array {
  const h = readNpyHeader(file);
  const m = /^[<|=]?([iu])([1248])$/.exec(h.descr);
  if (!m) throw new DataError(file, `dtype '${h.descr}'; labels must be integers (e.g. np.int64)`);
  if (h.shape.length !== 1) throw new DataError(file, `shape (${h.shape.join(", ")}); labels must be a 1-D array, one per image`);
  if (h.shape[0] !== total) throw new DataError(file, `${h.shape[0]} labels for ${total} images`);
  const bytes = readBounded(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset + h.offset, h.shape[0] * h.itemSize);
  const signed = m[1] === "i";
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * h.itemSize;
    const v =
      h.itemSize === 1 ? (signed ? view.getInt8(o) : view.getUint8(o))
      : h.itemSize === 2 ? (signed ? view.getInt16(o, true) : view.getUint16(o, true))
      : h.itemSize === 4 ? (signed ? view.getInt32(o, true) : view.getUint32(o, true))
      : Number(signed ? view.getBigInt64(o, true) : view.getBigUint64(o, true));
    if (!(v >= 0 && v < 1 << 16)) throw new DataError(file, `label ${v} at index ${i}: labels must be class numbers from 0 to 65535`);
    out[i] = v;
  }
  return out;
}

export interface NpyOptions {
  /** Resize every image to rows × cols (see resize.ts). */
  size?: Size;
  fit?: Fit;
  /** Convert RGB images to grey. */
  grey?: boolean;
  binarize?: Binarize;
  seed?: number;
  /** Where set, colour images (without `grey`) are refused with this message, before the data are read. */
  colourRefusal?: string;
}

/** `n` images (of `src`, at `indices`) as an ImageSet, resized and converted as `options` ask. */
export function npySet(
  src: NpyImages,
  indices: number[],
  labels: Int32Array | undefined,
  classNames: string[],
  split: Split,
  files: { images: string; labels: string },
  options: NpyOptions,
): ImageSet {
  const { fit = "crop", grey = false, binarize = "none" } = options;
  if (!FIT_CHOICES.includes(fit)) throw new Error(`fit: unknown mode "${fit}" (expected ${FIT_CHOICES.join(", ")})`);
  if (!BINARIZE_CHOICES.includes(binarize)) throw new Error(`binarize: unknown mode "${binarize}" (expected ${BINARIZE_CHOICES.join(", ")})`);
  const size = options.size ?? { rows: src.rows, cols: src.cols };
  if (size.rows * size.cols > MAX_IMAGE_PIXELS) throw new DataError(files.images, `resized to ${size.rows}×${size.cols}: more than the ${MAX_IMAGE_PIXELS} pixels (1024×1024) vae-lab takes`);
  const channels = src.channels === 3 && !grey ? 3 : 1;
  const pixels = size.rows * size.cols * channels;
  if (indices.length * pixels > MAX_SET_PIXELS) throw new DataError(files.images, `${indices.length} images resized to ${size.rows}×${size.cols}×${channels} are more than the ${MAX_SET_PIXELS} values vae-lab loads at once`);
  const images = new Float32Array(indices.length * pixels);
  const n = src.rows * src.cols;
  indices.forEach((k, i) => {
    let img: ArrayLike<number> = src.values.subarray(k * src.pixels, (k + 1) * src.pixels);
    if (src.channels === 3 && channels === 1) img = rgbToGrey(img, n);
    resizeInto(img, src.rows, src.cols, channels, size, fit, images, i * pixels, src.scale);
  });
  applyBinarize(images, binarize, options.seed);
  const y = labels ? Int32Array.from(indices, (k) => labels[k]) : new Int32Array(indices.length).fill(-1);
  return { split, images, labels: y, count: indices.length, rows: size.rows, cols: size.cols, channels, pixels, classNames, binarize, files };
}

/** Class names "0" … max label of the given label arrays (empty without labels). */
export function npyClassNames(...labels: (Int32Array | undefined)[]): string[] {
  let max = -1;
  for (const l of labels) if (l) for (const v of l) max = Math.max(max, v);
  return numberedClasses(max + 1);
}

/**
 * One .npy file of images (and optionally one of labels) as a training and a test set: a seeded random
 * `testFraction` of the images is held out for testing.
 */
export function loadNpy(
  imagesFile: string,
  options: NpyOptions & { labels?: string; testFraction?: number; splitSeed?: number; limit?: number } = {},
): { train: ImageSet; test: ImageSet } {
  const src = readNpyImages(imagesFile, undefined, options.grey ? undefined : options.colourRefusal);
  if (src.count < 2) throw new DataError(imagesFile, `holds ${src.count} image; at least 2 are needed to hold some out for testing`);
  const labels = options.labels === undefined ? undefined : readNpyLabels(options.labels, src.count);
  const { train, test } = heldOutSplit(src.count, options.testFraction ?? DEFAULT_TEST_FRACTION, options.splitSeed ?? 0);
  const classNames = npyClassNames(labels);
  const files = { images: imagesFile, labels: options.labels ?? imagesFile };
  return {
    train: npySet(src, train.slice(0, options.limit ?? train.length), labels, classNames, "train", files, options),
    test: npySet(src, test, labels, classNames, "test", files, { ...options, seed: options.seed === undefined ? undefined : options.seed + 1 }),
  };
}

/**
 * A folder holding `x_train.npy`, `x_test.npy` and optionally `y_train.npy`, `y_test.npy` (the names of
 * keras.datasets' arrays: np.save("x_train.npy", x_train) …) as a training and a test set.
 */
export function loadNpyFolder(files: { xTrain: string; xTest: string; yTrain?: string; yTest?: string }, options: NpyOptions & { limit?: number } = {}): { train: ImageSet; test: ImageSet } {
  const refusal = options.grey ? undefined : options.colourRefusal;
  const xTrain = readNpyImages(files.xTrain, options.limit, refusal);
  const xTest = readNpyImages(files.xTest, undefined, refusal);
  if (xTrain.rows !== xTest.rows || xTrain.cols !== xTest.cols || xTrain.channels !== xTest.channels) {
    throw new DataError(files.xTest, `images of ${xTest.rows}×${xTest.cols}×${xTest.channels}, but ${files.xTrain}'s are ${xTrain.rows}×${xTrain.cols}×${xTrain.channels}`);
  }
  if ((files.yTrain === undefined) !== (files.yTest === undefined)) {
    const [has, missing] = files.yTrain ? [files.yTrain, "y_test.npy"] : [files.yTest!, "y_train.npy"];
    throw new DataError(has, `labels for one split only: ${missing} is missing beside it`);
  }
  const yTrain = files.yTrain ? readNpyLabels(files.yTrain, xTrain.total, xTrain.count) : undefined;
  const yTest = files.yTest ? readNpyLabels(files.yTest, xTest.total) : undefined;
  const classNames = npyClassNames(yTrain, yTest);
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  return {
    train: npySet(xTrain, all(xTrain.count), yTrain, classNames, "train", { images: files.xTrain, labels: files.yTrain ?? files.xTrain }, options),
    test: npySet(xTest, all(xTest.count), yTest, classNames, "test", { images: files.xTest, labels: files.yTest ?? files.xTest }, { ...options, seed: options.seed === undefined ? undefined : options.seed + 1 }),
  };
}

/** Encode an array as .npy bytes (version 1.0); used to write test fixtures. */
export function encodeNpy(descr: string, shape: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  // numpy pads the header with spaces and a newline so that the data start on a multiple of 64 bytes.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, "latin1"), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
