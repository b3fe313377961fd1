/**
 * A folder of PNG and JPEG images as a data set, laid out as torchvision's ImageFolder reads it:
 *
 *   DIR/cat/001.png, DIR/cat/002.jpg, DIR/dog/…   one folder per class; the class names are the folders'
 *                                                 names, sorted; a class folder may have subfolders
 *   DIR/001.png, DIR/002.png, …                   images without labels
 *   DIR/train/…, DIR/test/…                       each laid out as above: the held-out split is given
 *
 * Without train/ and test/, a seeded random `testFraction` of the images is held out for testing.
 * Hidden entries (names starting with ".") are skipped; anything else must be a PNG or JPEG file (by
 * content, whatever its name) or a folder.
 *
 * Everything is checked before any image is decoded, from the listing and the images' headers: a file that
 * is not an image, an empty class folder, a symbolic link loop, images of different sizes without `size`,
 * grey and colour images mixed without `grey`, an image or a set too large to hold. Every problem is a
 * DataError naming the file or folder.
 */
import * as fs from "fs";
import * as path from "path";
import { fileKind } from "../files/bounded-read";
import { decodeImageFile, ImageHeader, readImageHeader } from "./image-file";
import { Binarize, BINARIZE_CHOICES, DataError, DEFAULT_TEST_FRACTION, heldOutSplit, ImageSet, Split } from "./image-set";
import { applyBinarize, MAX_IMAGE_PIXELS, MAX_SET_PIXELS } from "./mnist";
import { Fit, FIT_CHOICES, resizeInto, rgbToGrey, Size } from "./resize";

export interface ImageFolderOptions {
  /** Resize every image to rows × cols (see resize.ts); without it, all images must have one size. */
  size?: Size;
  /** How a resized image keeps its aspect ratio [crop]. */
  fit?: Fit;
  /** Convert colour images to grey (luma) [false: a folder of colour images gives a 3-channel set]. */
  grey?: boolean;
  /** The share held out for testing, for a folder without train/ and test/ [0.1]. */
  testFraction?: number;
  /** Seed of the random choice of held-out images [0]. */
  splitSeed?: number;
  binarize?: Binarize;
  /** Seed for static binarisation (the test set uses seed + 1). */
  seed?: number;
  /** Keep only the first `limit` training images. */
  limit?: number;
  /** Where set, colour images (without `grey`) are refused with this message, before any is decoded. */
  colourRefusal?: string;
}

interface Entry {
  file: string;
  label: number;
}

interface Collection {
  dir: string;
  /** Class names (sorted), empty for a folder of images without labels. */
  classNames: string[];
  entries: Entry[];
}

/** Folder listing in name order (code-point order, as Python's sorted()), hidden entries left out. */
function list(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new DataError(dir, `cannot list (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return names.filter((n) => !n.startsWith(".")).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** What `p` is, following symbolic links: a folder, a regular file, or an error naming it. */
function kindOf(p: string): "dir" | "file" {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new DataError(p, "a symbolic link loop");
    if (code === "ENOENT") throw new DataError(p, fs.lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() ? "a symbolic link to nothing" : "not found");
    throw new DataError(p, `cannot read (${code ?? String(e)})`);
  }
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  throw new DataError(p, `not a regular file (${fileKind(st)})`);
}

/** Every file under `dir` (recursively, in name order); a folder reached again through a link is a loop. */
function walk(dir: string, ancestors: Set<string>, out: string[]): void {
  for (const name of list(dir)) {
    const p = path.join(dir, name);
    if (kindOf(p) === "file") out.push(p);
    else {
      const real = fs.realpathSync(p);
      if (ancestors.has(real)) throw new DataError(p, `a symbolic link loop (leads back to ${real})`);
      ancestors.add(real);
      walk(p, ancestors, out);
      ancestors.delete(real);
    }
  }
}

/** A folder of class folders, or of images. */
function scanCollection(dir: string): Collection {
  const names = list(dir);
  const kinds = names.map((n) => kindOf(path.join(dir, n)));
  const folders = names.filter((_, i) => kinds[i] === "dir");
  const files = names.filter((_, i) => kinds[i] === "file");
  if (folders.length > 0 && files.length > 0) {
    throw new DataError(dir, `holds both images (${files[0]}) and class folders (${folders[0]}/); put every image in a class folder, or none`);
  }
  if (files.length > 0) return { dir, classNames: [], entries: files.map((f) => ({ file: path.join(dir, f), label: -1 })) };
  if (folders.length === 0) throw new DataError(dir, "holds no images (an image folder holds .png and .jpg files, or one folder of them per class)");
  const entries: Entry[] = [];
  const root = fs.realpathSync(dir);
  folders.forEach((name, label) => {
    const classDir = path.join(dir, name);
    const found: string[] = [];
    walk(classDir, new Set([root, fs.realpathSync(classDir)]), found);
    if (found.length === 0) throw new DataError(classDir, `class folder "${name}" holds no images`);
    for (const file of found) entries.push({ file, label });
  });
  return { dir, classNames: folders, entries };
}

export interface FolderLayout {
  dir: string;
  /** "split": the folder's own train/ and test/; "fraction": a random share held out. */
  split: "split" | "fraction";
  classNames: string[];
  train: Entry[];
  test: Entry[];
}

/** Whether `dir` holds its own train/ and test/ folders. */
function hasSplitFolders(dir: string): boolean {
  const names = list(dir);
  return names.includes("train") && names.includes("test") && kindOf(path.join(dir, "train")) === "dir" && kindOf(path.join(dir, "test")) === "dir";
}

/** The images of `dir`, their labels and the train/test split, from the listing alone. */
export function scanImageFolder(dir: string, options: Pick<ImageFolderOptions, "testFraction" | "splitSeed"> = {}): FolderLayout {
  const kind = kindOf(dir);
  if (kind !== "dir") throw new DataError(dir, "not a folder");
  if (hasSplitFolders(dir)) {
    if (options.testFraction !== undefined) throw new DataError(dir, "has its own train/ and test/ folders; a test fraction is for a folder without them");
    const others = list(dir).filter((n) => n !== "train" && n !== "test");
    if (others.length > 0) throw new DataError(path.join(dir, others[0]), "is beside train/ and test/; a folder split into train/ and test/ holds nothing else");
    const train = scanCollection(path.join(dir, "train"));
    const test = scanCollection(path.join(dir, "test"));
    if (train.classNames.length === 0 !== (test.classNames.length === 0)) {
      const [labelled, not] = train.classNames.length > 0 ? [train, test] : [test, train];
      throw new DataError(not.dir, `holds images without classes, but ${labelled.dir} has class folders; give both class folders, or neither`);
    }
    // The test images' labels are the training set's class of the same name.
    const missing = test.classNames.find((n) => !train.classNames.includes(n));
    if (missing !== undefined) throw new DataError(path.join(test.dir, missing), `class "${missing}" is not among the training classes (${train.classNames.join(", ")})`);
    const testEntries = test.entries.map((e) => ({ file: e.file, label: train.classNames.indexOf(test.classNames[e.label]) }));
    return { dir, split: "split", classNames: train.classNames, train: train.entries, test: testEntries };
  }
  const all = scanCollection(dir);
  if (all.entries.length < 2) throw new DataError(dir, `holds ${all.entries.length} image; at least 2 are needed to hold some out for testing`);
  const { train, test } = heldOutSplit(all.entries.length, options.testFraction ?? DEFAULT_TEST_FRACTION, options.splitSeed ?? 0);
  return { dir, split: "fraction", classNames: all.classNames, train: train.map((i) => all.entries[i]), test: test.map((i) => all.entries[i]) };
}

export interface FolderHeaders {
  layout: FolderLayout;
  /** The headers of the training images, then the test images'. */
  train: ImageHeader[];
  test: ImageHeader[];
  /** The size every image has, or undefined where they differ. */
  commonSize?: Size;
  /** Two images of different sizes, where they differ. */
  sizeMismatch?: { a: string; aSize: Size; b: string; bSize: Size };
  /** A grey and a colour image, where the folder mixes them. */
  kindMismatch?: { grey: string; colour: string };
  colour: boolean;
}

/** The layout and every image's header (no image is decoded). */
export function readFolderHeaders(dir: string, options: Pick<ImageFolderOptions, "testFraction" | "splitSeed"> = {}): FolderHeaders {
  const layout = scanImageFolder(dir, options);
  // Read in the folder's order (training images first where train/ and test/ split it), so that a problem is
  // reported against the first image in that order.
  const order = layout.split === "split" ? [...layout.train, ...layout.test] : [...layout.train, ...layout.test].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const byFile = new Map(order.map((e) => [e.file, readImageHeader(e.file)]));
  const train = layout.train.map((e) => byFile.get(e.file)!);
  const test = layout.test.map((e) => byFile.get(e.file)!);
  const files = order.map((e) => e.file);
  const headers = files.map((f) => byFile.get(f)!);
  const first = headers[0];
  const different = headers.findIndex((h) => h.width !== first.width || h.height !== first.height);
  const colourAt = headers.findIndex((h) => h.colour);
  const greyAt = headers.findIndex((h) => !h.colour);
  return {
    layout,
    train,
    test,
    commonSize: different < 0 ? { rows: first.height, cols: first.width } : undefined,
    sizeMismatch: different < 0 ? undefined : { a: files[0], aSize: { rows: first.height, cols: first.width }, b: files[different], bSize: { rows: headers[different].height, cols: headers[different].width } },
    kindMismatch: colourAt >= 0 && greyAt >= 0 ? { grey: files[greyAt], colour: files[colourAt] } : undefined,
    colour: colourAt >= 0,
  };
}

/** The shape the folder's images load as, with every check made before decoding (see the module's comment). */
export function planImageFolder(dir: string, options: ImageFolderOptions = {}): { headers: FolderHeaders; size: Size; channels: number; trainCount: number; testCount: number } {
  const headers = readFolderHeaders(dir, options);
  const { size: wanted, grey = false } = options;
  if (headers.kindMismatch && !grey) {
    const { grey: g, colour: c } = headers.kindMismatch;
    throw new DataError(c, `is a colour image but ${g} is grey: the folder mixes grey and colour images; convert them all to grey (--grey) or give one kind`);
  }
  if (!wanted && headers.sizeMismatch) {
    const { a, aSize, b, bSize } = headers.sizeMismatch;
    throw new DataError(b, `is ${bSize.rows}×${bSize.cols} pixels but ${a} is ${aSize.rows}×${aSize.cols}: the images differ in size; resize them all to one (--size HxW)`);
  }
  const size = wanted ?? headers.commonSize!;
  if (size.rows * size.cols > MAX_IMAGE_PIXELS) {
    const too = `more than the ${MAX_IMAGE_PIXELS} pixels (1024×1024) vae-lab takes`;
    if (wanted) throw new DataError(dir, `resized to ${size.rows}×${size.cols} = ${size.rows * size.cols} pixels, ${too}; give a smaller --size`);
    throw new DataError(headers.layout.train[0].file, `images of ${size.rows}×${size.cols} = ${size.rows * size.cols} pixels, ${too}; resize them (--size HxW)`);
  }
  const channels = headers.colour && !grey ? 3 : 1;
  if (channels === 3 && options.colourRefusal) throw new DataError(dir, options.colourRefusal);
  const trainCount = Math.min(headers.layout.train.length, options.limit ?? Infinity);
  const testCount = headers.layout.test.length;
  const values = Math.max(trainCount, testCount) * size.rows * size.cols * channels;
  if (values > MAX_SET_PIXELS) {
    throw new DataError(dir, `${Math.max(trainCount, testCount)} images of ${size.rows}×${size.cols}×${channels} are ${values} values, more than the ${MAX_SET_PIXELS} (1 GiB as floats) vae-lab loads at once; use fewer or smaller images (--train-size, --size)`);
  }
  return { headers, size, channels, trainCount, testCount };
}

function loadEntries(entries: Entry[], split: Split, size: Size, channels: number, fit: Fit, classNames: string[], dir: string, binarize: Binarize, seed: number | undefined): ImageSet {
  const count = entries.length;
  const pixels = size.rows * size.cols * channels;
  const images = new Float32Array(count * pixels);
  const labels = new Int32Array(count);
  entries.forEach((e, i) => {
    const img = decodeImageFile(e.file);
    const n = img.width * img.height;
    let src: ArrayLike<number>;
    if (channels === 3) src = img.rgb;
    else if (img.colour) src = rgbToGrey(img.rgb, n);
    else {
      const g = new Uint8Array(n);
      for (let p = 0; p < n; p++) g[p] = img.rgb[3 * p];
      src = g;
    }
    resizeInto(src, img.height, img.width, channels, size, fit, images, i * pixels, 1 / 255);
    labels[i] = e.label;
  });
  applyBinarize(images, binarize, seed);
  return { split, images, labels, count, rows: size.rows, cols: size.cols, channels, pixels, classNames: [...classNames], binarize, files: { images: dir, labels: dir } };
}

/** Load a folder of images as a training and a test set (see the module's comment). */
export function loadImageFolder(dir: string, options: ImageFolderOptions = {}): { train: ImageSet; test: ImageSet; layout: FolderLayout } {
  const { fit = "crop", binarize = "none", seed, limit } = options;
  if (!FIT_CHOICES.includes(fit)) throw new Error(`fit: unknown mode "${fit}" (expected ${FIT_CHOICES.join(", ")})`);
  if (!BINARIZE_CHOICES.includes(binarize)) throw new Error(`binarize: unknown mode "${binarize}" (expected ${BINARIZE_CHOICES.join(", ")})`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new Error(`limit: expected a positive integer, got ${limit}`);
  const { headers, size, channels, trainCount } = planImageFolder(dir, options);
  const { layout } = headers;
  const trainDir = layout.split === "split" ? path.join(dir, "train") : dir;
  const testDir = layout.split === "split" ? path.join(dir, "test") : dir;
  const train = loadEntries(layout.train.slice(0, trainCount), "train", size, channels, fit, layout.classNames, trainDir, binarize, seed);
  const test = loadEntries(layout.test, "test", size, channels, fit, layout.classNames, testDir, binarize, seed === undefined ? undefined : seed + 1);
  return { train, test, layout };
}
