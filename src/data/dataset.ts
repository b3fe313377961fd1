/**
 * One entry point for every kind of data vae-lab trains on: `loadDataset(spec)` looks at what it is given
 * and loads a training and a test set, `describeDataset(spec)` says what it would load from headers and
 * listings alone (for `vae-lab info`).
 *
 * - nothing, or `dataset: "mnist"`: MNIST as installed with vae-lab (mnist.ts);
 * - `dataset: "fashion-mnist"`: Fashion-MNIST where it is installed, or in `path` (fashion-mnist.ts);
 * - `path` to a folder of MNIST-named IDX files: those (mnist.ts), labels read as digits;
 * - `path` to a .npy file of images (labels in `labels`), or a folder of x_train.npy, x_test.npy
 *   (y_train.npy, y_test.npy): NumPy arrays (npy.ts);
 * - `path` to any other folder: PNG and JPEG images, one subfolder per class or none (image-folder.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { IdxError, readIdx } from "./idx";
import { applyBinarize, countLabels, defaultMnistDir, describeMnist, hasAnyMnistFile, hasMnistFiles, loadMnist } from "./mnist";
import { defaultFashionMnistDir, FASHION_MNIST_CLASSES, FASHION_MNIST_INSTALL } from "./fashion-mnist";
import { ImageFolderOptions, loadImageFolder, readFolderHeaders } from "./image-folder";
import { loadNpy, loadNpyFolder, npyClassNames, npyImageShape, readNpyHeader, readNpyLabels } from "./npy";
import { Binarize, BINARIZE_CHOICES, DataError, DEFAULT_TEST_FRACTION, DIGIT_CLASSES, heldOutSplit, ImageSet } from "./image-set";
import { Fit, FIT_CHOICES, resizeInto, Size } from "./resize";

import { DatasetName, DATASET_CHOICES } from "./dataset-names";
export { DatasetName, DATASET_CHOICES } from "./dataset-names";

/** What to load: a named data set or a path, and how to read images (ImageFolderOptions: size, fit, grey, split, binarisation, limit). */
export interface DatasetSpec extends ImageFolderOptions {
  /** A named data set [mnist, unless `path` is given]. */
  dataset?: DatasetName;
  /** A folder (IDX files, images, .npy files) or a .npy file of images. */
  path?: string;
  /** The labels of a .npy file of images: a .npy file of integers. */
  labels?: string;
}

export type DataKind = "idx" | "image-folder" | "npy" | "npy-folder";

/**
 * How a model's data were read, as vae-lab train records it in a checkpoint (`metadata.data`): the source
 * (a named data set, a path, a labels file; paths absolute) and the reading flags (size, fit, grey, held-out
 * share, binarisation and its seed). `vae-lab encode` reads new images the same way.
 */
export interface DataRecord {
  dataset?: DatasetName;
  path?: string;
  labels?: string;
  size?: Size;
  fit?: Fit;
  grey?: boolean;
  testFraction?: number;
  binarize: Binarize;
  seed?: number;
}

/**
 * A DataRecord read back from JSON, every field checked; an Error saying which field is wrong otherwise.
 * Unknown fields are refused too: a record this version cannot follow must not be half-followed.
 */
export function parseDataRecord(value: unknown): DataRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`metadata.data is ${JSON.stringify(value)}, not an object`);
  const v = value as Record<string, unknown>;
  const bad = (field: string, expected: string) => new Error(`metadata.data.${field} is ${JSON.stringify(v[field])}, not ${expected}`);
  const known = ["dataset", "path", "labels", "size", "fit", "grey", "testFraction", "binarize", "seed"];
  const unknown = Object.keys(v).find((k) => !known.includes(k));
  if (unknown !== undefined) throw new Error(`metadata.data has a field "${unknown}" this version does not know`);
  if (!(BINARIZE_CHOICES as readonly unknown[]).includes(v.binarize)) throw bad("binarize", BINARIZE_CHOICES.join(" | "));
  const record: DataRecord = { binarize: v.binarize as Binarize };
  if (v.dataset !== undefined) {
    if (!(DATASET_CHOICES as readonly unknown[]).includes(v.dataset)) throw bad("dataset", DATASET_CHOICES.join(" | "));
    record.dataset = v.dataset as DatasetName;
  }
  for (const field of ["path", "labels"] as const) {
    if (v[field] === undefined) continue;
    if (!(typeof v[field] === "string" && (v[field] as string).length > 0)) throw bad(field, "a path");
    record[field] = v[field] as string;
  }
  if (v.size !== undefined) {
    const { rows, cols } = (v.size ?? {}) as { rows?: unknown; cols?: unknown };
    const side = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 1 && (n as number) <= 1024;
    if (!(typeof v.size === "object" && side(rows) && side(cols) && Object.keys(v.size as object).length === 2)) throw bad("size", "{ rows, cols } of 1 to 1024 each");
    record.size = { rows: rows as number, cols: cols as number };
  }
  if (v.fit !== undefined) {
    if (!(FIT_CHOICES as readonly unknown[]).includes(v.fit)) throw bad("fit", FIT_CHOICES.join(" | "));
    record.fit = v.fit as Fit;
  }
  if (v.grey !== undefined) {
    if (typeof v.grey !== "boolean") throw bad("grey", "true or false");
    record.grey = v.grey;
  }
  if (v.testFraction !== undefined) {
    if (!(typeof v.testFraction === "number" && v.testFraction > 0 && v.testFraction < 1)) throw bad("testFraction", "a number between 0 and 1");
    record.testFraction = v.testFraction;
  }
  if (v.seed !== undefined) {
    if (!(Number.isSafeInteger(v.seed) && (v.seed as number) >= 0)) throw bad("seed", "a whole number ≥ 0");
    record.seed = v.seed as number;
  }
  return record;
}

/** What `spec` points at, and the files or folder to read. */
export interface DataSource {
  kind: DataKind;
  /** The folder or file the data come from. */
  where: string;
  /** The named data set (MNIST-named IDX files are "mnist" unless fashion-mnist was asked for). */
  dataset?: DatasetName;
  classNames?: readonly string[];
  npy?: { xTrain: string; xTest: string; yTrain?: string; yTest?: string };
}

const NPY_NAMES = { xTrain: "x_train.npy", xTest: "x_test.npy", yTrain: "y_train.npy", yTest: "y_test.npy" } as const;

/** Decide what `spec` points at (no image data are read). */
export function dataSource(spec: DatasetSpec): DataSource {
  if (spec.dataset !== undefined && !(["mnist", "fashion-mnist"] as const).includes(spec.dataset)) throw new Error(`dataset: expected mnist or fashion-mnist, got ${JSON.stringify(spec.dataset)}`);
  const where = spec.path;
  if (spec.dataset === "fashion-mnist") {
    if (where !== undefined && !hasMnistFiles(where)) {
      throw new IdxError(where, fs.existsSync(where) ? `holds no Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz] …); install them with: ${FASHION_MNIST_INSTALL}` : `Fashion-MNIST folder not found; install it with: ${FASHION_MNIST_INSTALL}`);
    }
    return { kind: "idx", where: where ?? defaultFashionMnistDir(), dataset: "fashion-mnist", classNames: FASHION_MNIST_CLASSES };
  }
  if (where === undefined) return { kind: "idx", where: defaultMnistDir(), dataset: "mnist", classNames: DIGIT_CLASSES };
  const st = fs.statSync(where, { throwIfNoEntry: false });
  if (st?.isFile() || (!st && where.toLowerCase().endsWith(".npy"))) {
    if (spec.dataset === "mnist") throw new DataError(where, "--dataset mnist reads a folder of IDX files, not a file");
    return { kind: "npy", where };
  }
  // A missing folder: as before, the MNIST folder that was not found.
  if (!st || (st.isDirectory() && hasAnyMnistFile(where))) return { kind: "idx", where, dataset: "mnist", classNames: DIGIT_CLASSES };
  if (spec.dataset === "mnist") throw new IdxError(where, "holds no MNIST IDX files (train-images-idx3-ubyte[.gz] …)");
  if (!st.isDirectory()) throw new DataError(where, "not a folder or a .npy file");
  if (fs.existsSync(path.join(where, NPY_NAMES.xTrain))) {
    const file = (name: string) => (fs.existsSync(path.join(where, name)) ? path.join(where, name) : undefined);
    if (!file(NPY_NAMES.xTest)) throw new DataError(path.join(where, NPY_NAMES.xTest), `not found beside ${NPY_NAMES.xTrain}`);
    return { kind: "npy-folder", where, npy: { xTrain: file(NPY_NAMES.xTrain)!, xTest: file(NPY_NAMES.xTest)!, yTrain: file(NPY_NAMES.yTrain), yTest: file(NPY_NAMES.yTest) } };
  }
  return { kind: "image-folder", where };
}

/** Options that only some kinds of data take: refused where they mean nothing, not ignored. */
function checkSpecFor(source: DataSource, spec: DatasetSpec): void {
  if (spec.labels !== undefined && source.kind !== "npy") throw new DataError(spec.labels, "labels in a separate file are for a .npy file of images only");
  if (spec.testFraction !== undefined && source.kind !== "image-folder" && source.kind !== "npy") {
    throw new DataError(source.where, "comes with its own test split; a test fraction is for data without one");
  }
}

/** A copy of `set` with every image resized (MNIST-sized sets in memory; see resize.ts). */
export function resizeSet(set: ImageSet, size: Size, fit: Fit = "crop"): ImageSet {
  if (set.rows === size.rows && set.cols === size.cols) return set;
  const pixels = size.rows * size.cols * set.channels;
  const images = new Float32Array(set.count * pixels);
  for (let i = 0; i < set.count; i++) resizeInto(set.images.subarray(i * set.pixels, (i + 1) * set.pixels), set.rows, set.cols, set.channels, size, fit, images, i * pixels);
  return { ...set, images, rows: size.rows, cols: size.cols, pixels };
}

/** A training and a test set from what `spec` points at (see the module's comment). */
export function loadDataset(spec: DatasetSpec = {}): { train: ImageSet; test: ImageSet; source: DataSource } {
  const source = dataSource(spec);
  checkSpecFor(source, spec);
  const { binarize = "none", seed, limit } = spec;
  const testSeed = seed === undefined ? undefined : seed + 1;
  switch (source.kind) {
    case "idx": {
      // Static binarisation happens after resizing, on the resized grey levels.
      const opts = { dir: source.where, classNames: source.classNames, binarize: spec.size ? ("none" as const) : binarize };
      let train = loadMnist({ ...opts, split: "train", limit, seed });
      let test = loadMnist({ ...opts, split: "test", seed: testSeed });
      if (spec.size) {
        train = rebinarize(resizeSet(train, spec.size, spec.fit), binarize, seed);
        test = rebinarize(resizeSet(test, spec.size, spec.fit), binarize, testSeed);
      }
      return { train, test, source };
    }
    case "npy":
      return { ...loadNpy(source.where, { ...spec }), source };
    case "npy-folder":
      return { ...loadNpyFolder(source.npy!, spec), source };
    case "image-folder":
      return { ...loadImageFolder(source.where, spec), source };
  }
}

/** loadMnist's binarisation, applied after a resize. */
function rebinarize(set: ImageSet, binarize: Binarize, seed: number | undefined): ImageSet {
  applyBinarize(set.images, binarize, seed);
  return { ...set, binarize };
}

/** What describeDataset finds. */
export interface DatasetDescription {
  source: DataSource;
  /** "folder of images", "IDX files", … */
  kindText: string;
  trainCount: number;
  testCount: number;
  /** How the test images are chosen: "given" (the data's own split) or the held-out fraction. */
  testSplit: "given" | number;
  /** The images' size as stored, or undefined where it differs between images (`sizeRange` then). */
  rows?: number;
  cols?: number;
  sizeRange?: { min: Size; max: Size };
  /** "grey", "colour" or "mixed" (a folder with both). */
  colour: "grey" | "colour" | "mixed";
  classNames: string[];
  /** Training images per class (in the order of classNames). */
  trainPerClass: number[];
}

/** What `spec` holds, from file headers, listings and labels only: no image is decoded or its data read. */
export function describeDataset(spec: DatasetSpec = {}): DatasetDescription {
  const source = dataSource(spec);
  checkSpecFor(source, spec);
  switch (source.kind) {
    case "idx": {
      const train = describeMnist(source.where, "train");
      const test = describeMnist(source.where, "test");
      const classNames = [...(source.classNames ?? DIGIT_CLASSES)];
      return {
        source,
        kindText: source.dataset === "fashion-mnist" ? "Fashion-MNIST, IDX files" : "IDX files",
        trainCount: train.count,
        testCount: test.count,
        testSplit: "given",
        rows: train.rows,
        cols: train.cols,
        colour: "grey",
        classNames,
        trainPerClass: countLabels(readIdx(train.files.labels, 1).data, classNames.length),
      };
    }
    case "image-folder": {
      const h = readFolderHeaders(source.where, spec);
      const all = [...h.train, ...h.test];
      const min = { rows: Math.min(...all.map((x) => x.height)), cols: Math.min(...all.map((x) => x.width)) };
      const max = { rows: Math.max(...all.map((x) => x.height)), cols: Math.max(...all.map((x) => x.width)) };
      return {
        source,
        kindText: "folder of images",
        trainCount: h.layout.train.length,
        testCount: h.layout.test.length,
        testSplit: h.layout.split === "split" ? "given" : spec.testFraction ?? DEFAULT_TEST_FRACTION,
        rows: h.commonSize?.rows,
        cols: h.commonSize?.cols,
        sizeRange: h.commonSize ? undefined : { min, max },
        colour: h.kindMismatch ? "mixed" : h.colour ? "colour" : "grey",
        classNames: h.layout.classNames,
        trainPerClass: countLabels(h.layout.train.map((e) => e.label), h.layout.classNames.length),
      };
    }
    case "npy": {
      const shape = npyImageShape(readNpyHeader(source.where), source.where);
      const fraction = spec.testFraction ?? DEFAULT_TEST_FRACTION;
      if (shape.count < 2) throw new DataError(source.where, `holds ${shape.count} image; at least 2 are needed to hold some out for testing`);
      const split = heldOutSplit(shape.count, fraction, spec.splitSeed ?? 0);
      const labels = spec.labels === undefined ? undefined : readNpyLabels(spec.labels, shape.count);
      const classNames = npyClassNames(labels);
      return {
        source,
        kindText: `.npy file (${shape.dtype})`,
        trainCount: split.train.length,
        testCount: split.test.length,
        testSplit: fraction,
        rows: shape.rows,
        cols: shape.cols,
        colour: shape.channels === 3 ? "colour" : "grey",
        classNames,
        trainPerClass: labels ? countLabels(split.train.map((i) => labels[i]), classNames.length) : [],
      };
    }
    case "npy-folder": {
      const files = source.npy!;
      const train = npyImageShape(readNpyHeader(files.xTrain), files.xTrain);
      const test = npyImageShape(readNpyHeader(files.xTest), files.xTest);
      const labels = files.yTrain ? readNpyLabels(files.yTrain, train.count) : undefined;
      const classNames = npyClassNames(labels, files.yTest ? readNpyLabels(files.yTest, test.count) : undefined);
      return {
        source,
        kindText: `.npy files (${train.dtype})`,
        trainCount: train.count,
        testCount: test.count,
        testSplit: "given",
        rows: train.rows,
        cols: train.cols,
        colour: train.channels === 3 ? "colour" : "grey",
        classNames,
        trainPerClass: labels ? countLabels(labels, classNames.length) : [],
      };
    }
  }
}
