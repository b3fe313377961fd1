import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { messageOf } from "./harness/errors";
import { scratchDir } from "./harness/scratch";
import { initBackend } from "../src/engine/backend";
import { encodeIdx } from "../src/data/idx";
import {
  batchTensor,
  defaultMnistDir,
  firstOfEachDigit,
  imageRows,
  imagesTensor,
  labelCounts,
  loadMnist,
  meanOverSet,
  staticBinarize,
  thresholdBinarize,
} from "../src/data/mnist";
import { Rng } from "../src/engine/random";

const tiny = path.resolve(__dirname, "../data/mnist-tiny");
const md5 = (f: string) => crypto.createHash("md5").update(fs.readFileSync(f)).digest("hex");

beforeAll(async () => {
  await initBackend("cpu");
});

describe("MNIST files", () => {
  it("are the original files (checksums in data/README.md)", () => {
    const dir = defaultMnistDir();
    expect(md5(path.join(dir, "train-images-idx3-ubyte"))).toBe("6bbc9ace898e44ae57da46a324031adb");
    expect(md5(path.join(dir, "train-labels-idx1-ubyte"))).toBe("a25bea736e30d166cdddb491f175f624");
    expect(md5(path.join(dir, "t10k-images-idx3-ubyte"))).toBe("2646ac647ad5339dbf082846283269ea");
    expect(md5(path.join(dir, "t10k-labels-idx1-ubyte"))).toBe("27ae3e4e09519cfbb04c329615203637");
  });

  it("load with the known counts, shapes, range and label balance", () => {
    const train = loadMnist({ split: "train" });
    const test = loadMnist({ split: "test" });
    expect([train.count, train.rows, train.cols, train.pixels]).toEqual([60000, 28, 28, 784]);
    expect(test.count).toBe(10000);
    expect(train.images.length).toBe(60000 * 784);
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of test.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect([min, max]).toEqual([0, 1]);
    const counts = labelCounts(train);
    // The well-known class counts of the MNIST training set.
    expect(counts).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  });
});

describe("loadMnist options", () => {
  it("the tiny fixture equals the first examples of the full set (gzip path)", () => {
    const t = loadMnist({ dir: tiny, split: "train" });
    const full = loadMnist({ split: "train", limit: 100 });
    expect(t.count).toBe(100);
    expect(t.files.images.endsWith(".gz")).toBe(true);
    expect(Array.from(t.labels)).toEqual(Array.from(full.labels));
    expect(t.images).toEqual(full.images);
    expect(loadMnist({ dir: tiny, split: "test" }).count).toBe(50);
  });

  it("limit keeps the first examples", () => {
    const s = loadMnist({ dir: tiny, limit: 7 });
    expect(s.count).toBe(7);
    expect(s.images.length).toBe(7 * 784);
    expect(() => loadMnist({ dir: tiny, limit: 0 })).toThrow(/limit: expected a positive integer/);
  });

  it("static binarisation is a fixed, seeded Bernoulli draw with the grey level as mean", () => {
    const raw = loadMnist({ dir: tiny });
    const a = loadMnist({ dir: tiny, binarize: "static", seed: 3 });
    const b = loadMnist({ dir: tiny, binarize: "static", seed: 3 });
    const c = loadMnist({ dir: tiny, binarize: "static", seed: 4 });
    expect(a.images).toEqual(b.images);
    expect(a.images).not.toEqual(c.images);
    expect(new Set(a.images)).toEqual(new Set([0, 1]));
    // Mean ink is preserved in expectation: compare totals (78 400 Bernoulli draws, sd ≈ 0.001 of the total).
    const sum = (x: Float32Array) => x.reduce((s, v) => s + v, 0);
    expect(Math.abs(sum(a.images) - sum(raw.images)) / sum(raw.images)).toBeLessThan(0.02);
    // Pixels that are exactly 0 or 1 stay so.
    for (let i = 0; i < raw.images.length; i++) {
      if (raw.images[i] === 0) expect(a.images[i]).toBe(0);
      if (raw.images[i] === 1) expect(a.images[i]).toBe(1);
    }
  });

  it("dynamic binarisation draws anew for each batch, from the Rng", () => {
    const d = loadMnist({ dir: tiny, binarize: "dynamic" });
    expect(d.images).toEqual(loadMnist({ dir: tiny }).images); // grey levels are kept
    const rng = new Rng(1);
    const x1 = batchTensor(d, [0, 1, 2], rng);
    const x2 = batchTensor(d, [0, 1, 2], rng);
    const y1 = batchTensor(d, [0, 1, 2], new Rng(1));
    expect(Array.from(x1.dataSync())).not.toEqual(Array.from(x2.dataSync()));
    expect(Array.from(x1.dataSync())).toEqual(Array.from(y1.dataSync()));
    expect(new Set(x1.dataSync())).toEqual(new Set([0, 1]));
    tf.dispose([x1, x2, y1]);
    expect(() => batchTensor(d, [0])).toThrow(/needs an Rng/);
  });

  it("threshold binarisation sets exactly the pixels above 0.5 to 1", () => {
    const raw = loadMnist({ dir: tiny });
    const t = loadMnist({ dir: tiny, binarize: "threshold" });
    expect(t.binarize).toBe("threshold");
    expect(new Set(t.images)).toEqual(new Set([0, 1]));
    let ones = 0;
    let wrong = 0;
    for (let i = 0; i < raw.images.length; i++) {
      if (t.images[i] !== (raw.images[i] > 0.5 ? 1 : 0)) wrong++;
      ones += t.images[i];
    }
    expect(wrong).toBe(0);
    // Grey level 128/255 > 0.5 but 127/255 is not: the boundary is strict and the result is not trivial.
    expect(ones).toBeGreaterThan(0);
    expect(ones).toBeLessThan(raw.images.filter((v) => v > 0).length);
  });

  it("rejects an unknown binarisation mode, listing the known ones", () => {
    expect(messageOf(() => loadMnist({ dir: tiny, binarize: "maybe" as never }))).toBe('binarize: unknown mode "maybe" (expected none, static, dynamic, threshold)');
  });
});

describe("loadMnist errors name the file", () => {
  const dir = scratchDir("vae-lab-mnist-");
  const put = (name: string, bytes: Uint8Array) => fs.writeFileSync(path.join(dir, name), bytes);

  it("missing folder and missing file", () => {
    expect(() => loadMnist({ dir: path.join(dir, "nowhere") })).toThrow(/nowhere: MNIST folder not found/);
    expect(() => loadMnist({ dir })).toThrow(/train-images-idx3-ubyte: file not found/);
  });

  it("count mismatch between images and labels", () => {
    put("train-images-idx3-ubyte", encodeIdx([3, 2, 2], new Uint8Array(12)));
    put("train-labels-idx1-ubyte", encodeIdx([4], new Uint8Array(4)));
    expect(() => loadMnist({ dir })).toThrow(/train-images-idx3-ubyte: count mismatch: 3 images but 4 labels/);
  });

  it("labels that are not digits", () => {
    put("train-images-idx3-ubyte", encodeIdx([2, 2, 2], new Uint8Array(8)));
    put("train-labels-idx1-ubyte", encodeIdx([2], new Uint8Array([3, 12])));
    expect(() => loadMnist({ dir })).toThrow(/train-labels-idx1-ubyte: label 12 at index 1 is not a digit/);
  });

  it("a truncated gzipped image file", () => {
    fs.rmSync(path.join(dir, "train-images-idx3-ubyte"));
    put("train-images-idx3-ubyte.gz", zlib.gzipSync(encodeIdx([2, 2, 2], new Uint8Array(8)).subarray(0, 20)));
    expect(() => loadMnist({ dir })).toThrow(/train-images-idx3-ubyte.gz: truncated/);
  });
});

describe("tensors from MNIST", () => {
  it("batchTensor picks the rows asked for and leaks nothing", () => {
    const s = loadMnist({ dir: tiny });
    const before = tf.memory().numTensors;
    const x = batchTensor(s, [5, 0]);
    expect(x.shape).toEqual([2, 784]);
    const row = x.slice([1, 0], [1, 784]);
    expect(Array.from(row.dataSync())).toEqual(Array.from(s.images.subarray(0, 784)));
    tf.dispose(row);
    tf.dispose(x);
    const all = imagesTensor(s, 10);
    expect(all.shape).toEqual([10, 784]);
    all.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => batchTensor(s, [100])).toThrow(RangeError);
  });

  it("firstOfEachDigit finds one example per digit", () => {
    const s = loadMnist({ dir: tiny });
    const first = firstOfEachDigit(s);
    first.forEach((i, digit) => expect(s.labels[i]).toBe(digit));
  });
});

describe("a small split, every example checked", () => {
  /** The grey byte of pixel k (counted over the whole image file) of the small splits. */
  const byte = (k: number) => (15 * k) % 256;
  const grey = (k: number) => Math.fround(byte(k) / 255);
  /** A folder holding a train split of `labels.length` images of 2×3 pixels, pixel k having the grey byte byte(k). */
  function smallSplit(labels: number[]): string {
    const dir = scratchDir("vae-lab-mnist-small-");
    const n = labels.length;
    fs.writeFileSync(path.join(dir, "train-images-idx3-ubyte"), encodeIdx([n, 2, 3], Array.from({ length: n * 6 }, (_, k) => byte(k))));
    fs.writeFileSync(path.join(dir, "train-labels-idx1-ubyte"), encodeIdx([n], labels));
    return dir;
  }
  const three = () => loadMnist({ dir: smallSplit([4, 9, 0]) });

  it("loads every image and label, the last ones included", () => {
    const s = three();
    expect([s.count, s.rows, s.cols, s.pixels]).toEqual([3, 2, 3, 6]);
    expect(Array.from(s.labels)).toEqual([4, 9, 0]);
    expect(Array.from(s.images)).toEqual(Array.from({ length: 18 }, (_, k) => grey(k)));
  });

  it("checks the labels of the examples kept, up to the last, and no further", () => {
    const dir = smallSplit([4, 9, 10]);
    expect(messageOf(() => loadMnist({ dir }))).toBe(`${path.join(dir, "train-labels-idx1-ubyte")}: label 10 at index 2 is not a digit 0–9`);
    expect(Array.from(loadMnist({ dir, limit: 2 }).labels)).toEqual([4, 9]);
  });

  it("imageRows gives image i as its rows of pixels", () => {
    const s = three();
    const rows = (first: number) => [0, 1].map((r) => [0, 1, 2].map((c) => grey(first + 3 * r + c)));
    expect(imageRows(s, 0)).toEqual(rows(0));
    expect(imageRows(s, 1)).toEqual(rows(6));
    expect(imageRows(s, 2)).toEqual(rows(12));
  });

  it("imagesTensor takes the first n examples in order, at most all", () => {
    const s = three();
    for (const [n, want] of [[2, 2], [undefined, 3], [10, 3]] as const) {
      const x = imagesTensor(s, n);
      expect(x.shape).toEqual([want, 6]);
      expect(Array.from(x.dataSync())).toEqual(Array.from(s.images.subarray(0, want * 6)));
      x.dispose();
    }
  });

  it("batchTensor accepts the indices 0..count−1 and names any other with the range", () => {
    const s = three();
    const x = batchTensor(s, [2, 0]);
    expect(Array.from(x.dataSync())).toEqual([...s.images.subarray(12, 18), ...s.images.subarray(0, 6)]);
    x.dispose();
    expect(() => batchTensor(s, [3])).toThrow(RangeError);
    expect(messageOf(() => batchTensor(s, [3]))).toBe("batchTensor: index 3 outside 0..2");
    expect(messageOf(() => batchTensor(s, [0, -1]))).toBe("batchTensor: index -1 outside 0..2");
  });

  it("firstOfEachDigit gives the first index of each digit, −1 where a digit is absent", () => {
    const s = loadMnist({ dir: smallSplit([3, 0, 3, 5, 0]) });
    expect(firstOfEachDigit(s)).toEqual([1, -1, -1, 0, -1, 3, -1, -1, -1, -1]);
  });

  it("meanOverSet weights the batch means by batch size, a short last batch included", () => {
    const s = loadMnist({ dir: smallSplit([1, 2, 3, 4, 5]) });
    const mean = s.images.reduce((a, v) => a + v, 0) / s.images.length;
    for (const [batchSize, sizes] of [[2, [2, 2, 1]], [5, [5]], [undefined, [5]]] as const) {
      const seen: number[] = [];
      const result = meanOverSet(
        s,
        (x) => {
          seen.push(x.shape[0]);
          return [x.mean().dataSync()[0], 1];
        },
        { batchSize },
      );
      expect(seen).toEqual(sizes);
      expect(result).toHaveLength(2);
      expect(result[0]).toBeCloseTo(mean, 6);
      expect(result[1]).toBeCloseTo(1, 12);
    }
  });

  it("meanOverSet hands measure an Rng seeded 12345 unless told otherwise", () => {
    const s = three();
    const draw = (_: tf.Tensor2D, rng: Rng) => [rng.uniform()];
    expect(meanOverSet(s, draw)[0]).toBeCloseTo(new Rng(12345).uniform(), 12);
    expect(meanOverSet(s, draw, { seed: 7 })[0]).toBeCloseTo(new Rng(7).uniform(), 12);
  });
});

describe("binarisation rules", () => {
  it("thresholdBinarize sets 1 strictly above 0.5, in place", () => {
    const x = Float32Array.of(0, 0.5, 127 / 255, 128 / 255, 1);
    expect(thresholdBinarize(x)).toBe(x);
    expect(Array.from(x)).toEqual([0, 0, 0, 1, 1]);
  });

  it("staticBinarize sets 1 exactly where the draw is below the grey level, one draw per pixel", () => {
    const draws = [0, 0.5, 0.25, 0.5, 0.999];
    let calls = 0;
    const rng = { uniform: () => draws[calls++] } as unknown as Rng;
    // A grey level of 0 never gives 1 (not even for a draw of 0), a draw equal to the grey level gives 0, and 1 always gives 1.
    const x = Float32Array.of(0, 0.5, 0.5, 0.75, 1);
    expect(staticBinarize(x, rng)).toBe(x);
    expect(Array.from(x)).toEqual([0, 0, 1, 1, 1]);
    expect(calls).toBe(5);
  });
});
