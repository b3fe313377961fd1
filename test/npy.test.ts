/**
 * NumPy .npy files as a data set (src/data/npy.ts): what np.save writes for uint8 and float32 images and
 * integer labels, a file with a held-out fraction or a folder of x_train/x_test(/y_*) arrays, and bad files
 * refused from their headers, in one message naming the file.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./harness/scratch";
import { refusal } from "./harness/image-data";
import { encodeNpy, loadNpy, parseNpyHeader, readNpyImages } from "../src/data/npy";
import { describeDataset, loadDataset } from "../src/data/dataset";

const tmp = () => scratchDir("vae-lab-npy-");

function write(dir: string, name: string, descr: string, shape: number[], data: ArrayBufferView): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, encodeNpy(descr, shape, data));
  return file;
}


describe(".npy images", () => {
  it("a header as numpy 1.x writes it (this one from np.save(f, np.zeros((2, 3, 4), np.uint8))) is read", () => {
    const header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }";
    const padded = header.padEnd(128 - 10 - 1, " ") + "\n";
    const bytes = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length, 0]), Buffer.from(padded, "latin1"), Buffer.alloc(24)]);
    expect(parseNpyHeader(bytes, "f.npy", bytes.length)).toEqual({ descr: "|u1", shape: [2, 3, 4], offset: 128, itemSize: 1 });
    // encodeNpy, which the other tests use, writes the same bytes.
    expect(Buffer.from(encodeNpy("|u1", [2, 3, 4], new Uint8Array(24)))).toEqual(bytes);
  });

  it("uint8 N×H×W: grey levels / 255, a seeded held-out fraction, integer labels of any width", () => {
    const dir = tmp();
    const n = 20;
    const x = write(dir, "x.npy", "|u1", [n, 2, 3], Uint8Array.from({ length: n * 6 }, (_, i) => Math.floor(i / 6) * 10));
    const y = write(dir, "y.npy", "<i8", [n], BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 4)));
    const { train, test } = loadNpy(x, { labels: y, testFraction: 0.25 });
    expect([train.count, test.count, train.rows, train.cols, train.channels]).toEqual([15, 5, 2, 3, 1]);
    expect(train.classNames).toEqual(["0", "1", "2", "3"]);
    for (const set of [train, test]) {
      for (let i = 0; i < set.count; i++) {
        // Image k has grey level 10k and label k mod 4: each image keeps its own label.
        const k = Math.round((set.images[i * 6] * 255) / 10);
        expect(set.labels[i]).toBe(k % 4);
      }
    }
    expect(loadNpy(x, { labels: y, testFraction: 0.25 }).test.labels).toEqual(test.labels);
  });

  it("float32 N×H×W×3 is RGB (channels last), grey with grey: true; N×H×W×1 is grey", () => {
    const dir = tmp();
    const x = write(dir, "x.npy", "<f4", [4, 1, 2, 3], Float32Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 1 : 0)));
    const { train } = loadNpy(x, { testFraction: 0.25 });
    expect([train.channels, train.pixels]).toEqual([3, 6]);
    expect(Array.from(train.images.subarray(0, 6))).toEqual([1, 0, 0, 1, 0, 0]);
    expect(train.classNames).toEqual([]);
    expect(Array.from(train.labels)).toEqual([-1, -1, -1]);
    const grey = loadNpy(x, { testFraction: 0.25, grey: true }).train;
    expect(grey.channels).toBe(1);
    expect(grey.images[0]).toBeCloseTo(0.299, 5);
    const one = write(dir, "one.npy", "<f4", [3, 2, 2, 1], new Float32Array(12).fill(0.5));
    expect(loadNpy(one).train.channels).toBe(1);
  });

  it("a folder of x_train.npy, x_test.npy, y_train.npy, y_test.npy (keras.datasets' names) is the split; resized with size", () => {
    const dir = tmp();
    write(dir, "x_train.npy", "|u1", [6, 4, 4], new Uint8Array(96).fill(255));
    write(dir, "x_test.npy", "|u1", [2, 4, 4], new Uint8Array(32).fill(0));
    write(dir, "y_train.npy", "<i4", [6], Int32Array.from([0, 1, 2, 0, 1, 2]));
    write(dir, "y_test.npy", "|u1", [2], Uint8Array.from([1, 5]));
    const { train, test, source } = loadDataset({ path: dir, size: { rows: 2, cols: 2 } });
    expect(source.kind).toBe("npy-folder");
    expect([train.count, test.count, train.rows, train.pixels]).toEqual([6, 2, 2, 4]);
    expect(train.classNames).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(Array.from(test.labels)).toEqual([1, 5]);
    expect(train.images[0]).toBeCloseTo(1, 6);
    const d = describeDataset({ path: dir });
    expect([d.trainCount, d.testCount, d.rows, d.cols, d.colour, d.testSplit]).toEqual([6, 2, 4, 4, "grey", "given"]);
    expect(d.trainPerClass).toEqual([2, 2, 2, 0, 0, 0]);
  });
});

describe("bad .npy files: one message naming the file, from the header, before the data are read", () => {
  it("not a .npy file; truncated; extra bytes", () => {
    const dir = tmp();
    const f = path.join(dir, "x.npy");
    fs.writeFileSync(f, "PK\x03\x04 a zip, e.g. an .npz");
    expect(refusal(() => readNpyImages(f), f)).toMatch(/not a \.npy file/);
    const good = encodeNpy("|u1", [3, 4, 4], new Uint8Array(48));
    fs.writeFileSync(f, good.subarray(0, good.length - 1));
    expect(refusal(() => readNpyImages(f), f)).toMatch(/truncated: its header promises 3×4×4 values of 1 bytes \(48 bytes of data\), the file has 47/);
    fs.writeFileSync(f, Buffer.concat([good, Buffer.alloc(5)]));
    expect(refusal(() => readNpyImages(f), f)).toMatch(/5 unexpected bytes after the 3×4×4 values/);
  });

  it("a header describing 10⁹ images is refused from the header (the file holds a few bytes)", () => {
    const dir = tmp();
    const f = path.join(dir, "x.npy");
    const head = encodeNpy("|u1", [1_000_000_000, 28, 28], new Uint8Array(0));
    fs.writeFileSync(f, head);
    expect(refusal(() => readNpyImages(f), f)).toMatch(/truncated: its header promises/);
  });

  it("dtypes other than uint8 and float32, Fortran order, channels first, 4 channels, and floats outside [0, 1]", () => {
    const dir = tmp();
    const f64 = write(dir, "a.npy", "<f8", [2, 2, 2], new Float64Array(8));
    expect(refusal(() => readNpyImages(f64), f64)).toMatch(/dtype '<f8' \(float64: x\.astype\(np\.float32\)\); images must be uint8 \(0–255\) or float32 \(0–1\)/);
    const fortran = path.join(dir, "b.npy");
    fs.writeFileSync(fortran, Buffer.from(encodeNpy("|u1", [2, 2, 2], new Uint8Array(8))).toString("latin1").replace("'fortran_order': False", "'fortran_order': True "), "latin1");
    expect(refusal(() => readNpyImages(fortran), fortran)).toMatch(/Fortran-ordered/);
    const chw = write(dir, "c.npy", "|u1", [2, 3, 8, 8], new Uint8Array(384));
    expect(refusal(() => readNpyImages(chw), chw)).toMatch(/8 channels; .*\(channels last: x\.transpose\(0, 2, 3, 1\)\)/);
    const rgba = write(dir, "d.npy", "|u1", [2, 8, 8, 4], new Uint8Array(512));
    expect(refusal(() => readNpyImages(rgba), rgba)).toMatch(/4 channels/);
    const flat = write(dir, "e.npy", "|u1", [64], new Uint8Array(64));
    expect(refusal(() => readNpyImages(flat), flat)).toMatch(/shape \(64\): images must be N×H×W/);
    const over = write(dir, "f.npy", "<f4", [2, 2, 2], Float32Array.from([0, 0.5, 1, 0, 0, 255, 0, 0]));
    expect(refusal(() => readNpyImages(over), over)).toMatch(/value 255 at image 1: float32 images must be in \[0, 1\]/);
  });

  it("labels: not integers, the wrong count, negative", () => {
    const dir = tmp();
    const x = write(dir, "x.npy", "|u1", [4, 2, 2], new Uint8Array(16));
    const yf = write(dir, "yf.npy", "<f4", [4], new Float32Array(4));
    expect(refusal(() => loadNpy(x, { labels: yf }), yf)).toMatch(/labels must be integers/);
    const y3 = write(dir, "y3.npy", "<i4", [3], new Int32Array(3));
    expect(refusal(() => loadNpy(x, { labels: y3 }), y3)).toMatch(/3 labels for 4 images/);
    const yn = write(dir, "yn.npy", "<i2", [4], Int16Array.from([0, 1, -1, 2]));
    expect(refusal(() => loadNpy(x, { labels: yn }), yn)).toMatch(/label -1 at index 2/);
  });

  it("a folder with labels for one split only, or x_train.npy without x_test.npy", () => {
    const dir = tmp();
    write(dir, "x_train.npy", "|u1", [2, 2, 2], new Uint8Array(8));
    expect(refusal(() => loadDataset({ path: dir }), path.join(dir, "x_test.npy"))).toMatch(/not found beside x_train\.npy/);
    write(dir, "x_test.npy", "|u1", [2, 2, 2], new Uint8Array(8));
    const y = write(dir, "y_train.npy", "|u1", [2], new Uint8Array(2));
    expect(refusal(() => loadDataset({ path: dir }), y)).toMatch(/labels for one split only: y_test\.npy is missing/);
  });
});
