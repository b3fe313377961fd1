/**
 * A folder of PNG and JPEG images as a data set (src/data/image-folder.ts, image-file.ts, resize.ts): the
 * layouts torchvision's ImageFolder reads, resizing, grey conversion, the held-out split, and every kind of
 * bad data refused in one message naming the file, before anything is decoded.
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./harness/scratch";
import { classFolder, flat, handMadePng, refusal, writeJpeg, writePng } from "./harness/image-data";
import { loadImageFolder, scanImageFolder } from "../src/data/image-folder";
import { decodeImageFile, MAX_SOURCE_PIXELS, readImageHeader } from "../src/data/image-file";
import { parseSize, resizeInto, rgbToGrey } from "../src/data/resize";
import { heldOutSplit } from "../src/data/image-set";
import { loadDataset, describeDataset } from "../src/data/dataset";
import { MAX_SET_PIXELS } from "../src/data/mnist";

const tmp = () => scratchDir("vae-lab-images-");


describe("layouts", () => {
  it("class folders: the labels index the folders' names, sorted (ImageFolder's order), whatever order they were made in", () => {
    const dir = classFolder(tmp(), ["zebra", "Ant", "cat"], 4, 6, 5);
    const { train, test, layout } = loadImageFolder(dir, { testFraction: 0.25 });
    expect(layout.classNames).toEqual(["Ant", "cat", "zebra"]);
    expect(train.classNames).toEqual(["Ant", "cat", "zebra"]);
    expect(train.count + test.count).toBe(12);
    expect(test.count).toBe(3);
    expect([train.rows, train.cols, train.channels, train.pixels]).toEqual([6, 5, 1, 30]);
    // Class "zebra" was written with k = 0: grey levels 0…3; "Ant" k = 1: 40…43; "cat" k = 2: 80…83.
    const byLabel = new Map<number, number[]>();
    for (const set of [train, test]) for (let i = 0; i < set.count; i++) byLabel.set(set.labels[i], [...(byLabel.get(set.labels[i]) ?? []), Math.round(set.images[i * set.pixels] * 255)]);
    expect(byLabel.get(0)!.sort((a, b) => a - b)).toEqual([40, 41, 42, 43]);
    expect(byLabel.get(1)!.sort((a, b) => a - b)).toEqual([80, 81, 82, 83]);
    expect(byLabel.get(2)!.sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });

  it("images without class folders have no labels (−1, no class names); hidden files are skipped", () => {
    const dir = tmp();
    for (let i = 0; i < 5; i++) writePng(path.join(dir, `${i}.png`), flat(4, 4, 10 * i));
    fs.writeFileSync(path.join(dir, ".DS_Store"), "not an image");
    const { train, test } = loadImageFolder(dir, { testFraction: 0.2 });
    expect(train.count + test.count).toBe(5);
    expect(train.classNames).toEqual([]);
    expect([...train.labels, ...test.labels].every((y) => y === -1)).toBe(true);
  });

  it("train/ and test/ folders are the split; a test class gets the training class of the same name's label", () => {
    const dir = tmp();
    classFolder(path.join(dir, "train"), ["a", "b", "c"], 2, 3, 3);
    classFolder(path.join(dir, "test"), ["c"], 2, 3, 3);
    const { train, test, layout } = loadImageFolder(dir);
    expect(layout.split).toBe("split");
    expect([train.count, test.count]).toEqual([6, 2]);
    expect(Array.from(test.labels)).toEqual([2, 2]);
    expect(refusal(() => loadImageFolder(dir, { testFraction: 0.5 }), dir)).toMatch(/has its own train\/ and test\/ folders/);
    classFolder(path.join(dir, "test"), ["d"], 1, 3, 3);
    expect(refusal(() => loadImageFolder(dir), path.join(dir, "test", "d"))).toMatch(/class "d" is not among the training classes \(a, b, c\)/);
  });

  it("the held-out split is seeded: the same seed gives the same test images, another seed others; the parts keep the folder's order", () => {
    const a = heldOutSplit(100, 0.2, 0);
    expect(a).toEqual(heldOutSplit(100, 0.2, 0));
    expect(a.test).toHaveLength(20);
    expect(heldOutSplit(100, 0.2, 1).test).not.toEqual(a.test);
    expect([...a.train, ...a.test].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(a.test).toEqual([...a.test].sort((x, y) => x - y));
    // Never an empty part: one test image of two, however small the fraction.
    expect(heldOutSplit(2, 0.01, 0).test).toHaveLength(1);
    const dir = classFolder(tmp(), ["x"], 10, 2, 2);
    const s1 = scanImageFolder(dir, { testFraction: 0.3, splitSeed: 5 });
    expect(scanImageFolder(dir, { testFraction: 0.3, splitSeed: 5 }).test).toEqual(s1.test);
    expect(s1.test).toHaveLength(3);
  });

  it("--train-size's limit keeps the first training images", () => {
    const dir = classFolder(tmp(), ["a", "b"], 5, 2, 2);
    const { train } = loadImageFolder(dir, { limit: 3, testFraction: 0.2 });
    expect(train.count).toBe(3);
  });
});

describe("decoding", () => {
  it("PNG grey and RGB, JPEG: header and pixels; colour as luma with --grey", () => {
    const dir = tmp();
    const grey = writePng(path.join(dir, "g.png"), { rows: 2, cols: 3, at: (y, x) => 10 * y + x });
    const rgb = writePng(path.join(dir, "c.png"), flat(2, 2, [200, 100, 50]));
    const jpg = writeJpeg(path.join(dir, "j.jpg"), flat(8, 8, 128));
    expect(readImageHeader(grey)).toEqual({ format: "png", width: 3, height: 2, colour: false });
    expect(readImageHeader(rgb)).toEqual({ format: "png", width: 2, height: 2, colour: true });
    expect(readImageHeader(jpg)).toMatchObject({ format: "jpeg", width: 8, height: 8 });
    expect(Array.from(decodeImageFile(grey).rgb.filter((_, i) => i % 3 === 0))).toEqual([0, 1, 2, 10, 11, 12]);
    expect(Array.from(decodeImageFile(rgb).rgb.subarray(0, 3))).toEqual([200, 100, 50]);
    const j = decodeImageFile(jpg).rgb;
    for (const v of j) expect(Math.abs(v - 128)).toBeLessThanOrEqual(2);
    expect(rgbToGrey([200, 100, 50], 1)[0]).toBeCloseTo(0.299 * 200 + 0.587 * 100 + 0.114 * 50, 4);
  });

  it("a folder of colour images loads with 3 channels, channels last, or as grey with grey: true", () => {
    const dir = tmp();
    for (let i = 0; i < 3; i++) writePng(path.join(dir, `${i}.png`), flat(2, 2, [255, 0, 0]));
    const { train } = loadImageFolder(dir, { testFraction: 0.34 });
    expect([train.channels, train.pixels]).toEqual([3, 12]);
    expect(Array.from(train.images.subarray(0, 6))).toEqual([1, 0, 0, 1, 0, 0]);
    const grey = loadImageFolder(dir, { testFraction: 0.34, grey: true }).train;
    expect([grey.channels, grey.pixels]).toEqual([1, 4]);
    expect(grey.images[0]).toBeCloseTo(0.299, 5);
  });
});

describe("resizing", () => {
  it("shrinking averages areas: 4×4 to 2×2 is the mean of each 2×2 block; 3 to 2 weighs a shared pixel by half", () => {
    const src = Array.from({ length: 16 }, (_, i) => i);
    const out = new Float32Array(4);
    resizeInto(src, 4, 4, 1, { rows: 2, cols: 2 }, "stretch", out, 0);
    expect(Array.from(out)).toEqual([(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4, (8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]);
    const row = new Float32Array(2);
    resizeInto([0, 3, 6], 1, 3, 1, { rows: 1, cols: 2 }, "stretch", row, 0);
    expect(row[0]).toBeCloseTo((0 + 0.5 * 3) / 1.5, 5);
    expect(row[1]).toBeCloseTo((0.5 * 3 + 6) / 1.5, 5);
  });

  it("growing interpolates linearly; a flat image stays flat at any size and fit", () => {
    const out = new Float32Array(4);
    resizeInto([0, 8], 1, 2, 1, { rows: 1, cols: 4 }, "stretch", out, 0);
    expect(Array.from(out)).toEqual([0, 2, 6, 8]);
    for (const fit of ["crop", "stretch"] as const) {
      const o = new Float32Array(35);
      resizeInto(new Array(6 * 9).fill(100), 6, 9, 1, { rows: 5, cols: 7 }, fit, o, 0, 1 / 100);
      for (const v of o) expect(v).toBeCloseTo(1, 5);
    }
  });

  it("crop takes the centred part of the target's shape; pad keeps the whole image with black borders", () => {
    // A 2×4 image whose two middle columns are 1: cropped to a square, only they remain.
    const src = [0, 1, 1, 0, 0, 1, 1, 0];
    const crop = new Float32Array(4);
    resizeInto(src, 2, 4, 1, { rows: 2, cols: 2 }, "crop", crop, 0);
    expect(Array.from(crop)).toEqual([1, 1, 1, 1]);
    const pad = new Float32Array(16);
    resizeInto(new Array(8).fill(1), 2, 4, 1, { rows: 4, cols: 4 }, "pad", pad, 0);
    expect(Array.from(pad)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  });

  it("a folder of mixed sizes loads at one size given; --size parses N and HxW", () => {
    const dir = tmp();
    writePng(path.join(dir, "a", "big.png"), flat(40, 30, 200));
    writePng(path.join(dir, "a", "small.png"), flat(8, 8, 200));
    writePng(path.join(dir, "b", "wide.png"), flat(10, 50, 100));
    const { train, test } = loadImageFolder(dir, { size: { rows: 16, cols: 12 }, testFraction: 0.34 });
    for (const set of [train, test]) {
      expect([set.rows, set.cols, set.pixels]).toEqual([16, 12, 192]);
      for (let i = 0; i < set.count; i++) expect(set.images[i * 192 + 100]).toBeCloseTo(set.labels[i] === 0 ? 200 / 255 : 100 / 255, 4);
    }
    expect(parseSize("28")).toEqual({ rows: 28, cols: 28 });
    expect(parseSize("16x24")).toEqual({ rows: 16, cols: 24 });
    for (const bad of ["", "0", "16x", "x16", "1e3", "-4"]) expect(parseSize(bad)).toBeUndefined();
  });
});

describe("bad data: one message naming the file, before anything is decoded", () => {
  it("a file that is not an image (by content, whatever its name) is named", () => {
    const dir = classFolder(tmp(), ["a"], 2, 4, 4);
    const bad = path.join(dir, "a", "notes.txt");
    fs.writeFileSync(bad, "hello");
    expect(refusal(() => loadImageFolder(dir), bad)).toMatch(/not a PNG or JPEG image \(it starts with 68 65 6c 6c\)/);
    fs.writeFileSync(bad, "");
    expect(refusal(() => loadImageFolder(dir), bad)).toMatch(/not a PNG or JPEG image \(it is empty\)/);
  });

  it("a corrupt PNG (a damaged CRC, data cut short) and a truncated JPEG are named", () => {
    const dir = classFolder(tmp(), ["a"], 2, 4, 4);
    const file = path.join(dir, "a", "000.png");
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 20] ^= 0xff;
    fs.writeFileSync(file, bytes);
    expect(refusal(() => loadImageFolder(dir), file)).toMatch(/^.*: corrupt PNG \(/);
    fs.writeFileSync(file, bytes.subarray(0, 40));
    expect(refusal(() => loadImageFolder(dir), file)).toMatch(/corrupt PNG/);
    const jdir = tmp();
    const jpg = writeJpeg(path.join(jdir, "x.jpg"), { rows: 32, cols: 32, at: (y, x) => (x * y) % 256 });
    writeJpeg(path.join(jdir, "y.jpg"), flat(32, 32, 9));
    fs.writeFileSync(jpg, fs.readFileSync(jpg).subarray(0, 400));
    expect(refusal(() => loadImageFolder(jdir), jpg)).toMatch(/corrupt JPEG/);
  });

  it("images of different sizes without a size: both files named, and the flag that resizes", () => {
    const dir = tmp();
    writePng(path.join(dir, "a.png"), flat(4, 4, 1));
    const b = writePng(path.join(dir, "b.png"), flat(5, 4, 1));
    const m = refusal(() => loadImageFolder(dir), b);
    expect(m).toContain(`is 5×4 pixels but ${path.join(dir, "a.png")} is 4×4`);
    expect(m).toContain("--size");
  });

  it("an empty class folder, and a folder with nothing in it", () => {
    const dir = classFolder(tmp(), ["a"], 2, 4, 4);
    fs.mkdirSync(path.join(dir, "b"));
    expect(refusal(() => loadImageFolder(dir), path.join(dir, "b"))).toMatch(/class folder "b" holds no images/);
    const empty = tmp();
    expect(refusal(() => loadImageFolder(empty), empty)).toMatch(/holds no images/);
  });

  it("grey and colour images mixed: refused without grey, read as grey with it", () => {
    const dir = tmp();
    writePng(path.join(dir, "a.png"), flat(4, 4, 50));
    const c = writePng(path.join(dir, "b.png"), flat(4, 4, [50, 50, 50]));
    expect(refusal(() => loadImageFolder(dir), c)).toMatch(/is a colour image but .*a\.png is grey: the folder mixes grey and colour images; convert them all to grey \(--grey\)/);
    const { train, test } = loadImageFolder(dir, { grey: true });
    expect([train.channels, train.count + test.count]).toEqual([1, 2]);
  });

  it("a 50 000 × 50 000 PNG is refused from its header (a file of a few bytes that no decoder could read anyway)", () => {
    const dir = classFolder(tmp(), ["a"], 2, 4, 4);
    const huge = path.join(dir, "a", "huge.png");
    fs.writeFileSync(huge, handMadePng(50_000, 50_000));
    expect(refusal(() => loadImageFolder(dir), huge)).toMatch(/a 50000×50000 image \(2500000000 pixels, from its header\): more than the 33554432 pixels vae-lab decodes/);
    // Also a JPEG's frame header: 60 000 × 60 000 in its SOF segment.
    const sof = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0xea, 0x60, 0xea, 0x60, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xff, 0xd9]);
    fs.writeFileSync(huge, sof);
    expect(refusal(() => loadImageFolder(dir), huge)).toMatch(/a 60000×60000 image .*from its header/);
    expect(MAX_SOURCE_PIXELS).toBe(1 << 25);
  });

  it("an interlaced PNG whose data inflate far past its header's size is refused, not inflated", () => {
    const dir = tmp();
    const bomb = path.join(dir, "bomb.png");
    fs.writeFileSync(bomb, handMadePng(8, 8, zlib.deflateSync(Buffer.alloc(50 << 20)), 1));
    writePng(path.join(dir, "ok.png"), flat(8, 8, 1));
    expect(refusal(() => loadImageFolder(dir), bomb)).toMatch(/corrupt PNG: its data inflate to more than a 8×8 image holds/);
  });

  it("a symbolic link loop: a link to itself, and a folder link back to an ancestor", () => {
    const dir = classFolder(tmp(), ["a"], 2, 4, 4);
    const self = path.join(dir, "a", "self.png");
    fs.symlinkSync(self, self);
    expect(refusal(() => loadImageFolder(dir), self)).toMatch(/a symbolic link loop$/);
    fs.unlinkSync(self);
    const back = path.join(dir, "a", "up");
    fs.symlinkSync(dir, back);
    expect(refusal(() => loadImageFolder(dir), back)).toMatch(/a symbolic link loop \(leads back to /);
    fs.unlinkSync(back);
    const dangling = path.join(dir, "a", "gone.png");
    fs.symlinkSync(path.join(dir, "nowhere.png"), dangling);
    expect(refusal(() => loadImageFolder(dir), dangling)).toMatch(/a symbolic link to nothing/);
  });

  it("a FIFO is refused as not a regular file, not waited on", () => {
    const dir = classFolder(tmp(), ["a"], 2, 4, 4);
    const fifo = path.join(dir, "a", "pipe.png");
    require("child_process").execFileSync("mkfifo", [fifo]);
    expect(refusal(() => loadImageFolder(dir), fifo)).toMatch(/not a regular file \(a FIFO\)/);
  });

  it("images beside class folders, and a set too large to hold, are refused before decoding", () => {
    const dir = classFolder(tmp(), ["a"], 2, 4, 4);
    writePng(path.join(dir, "loose.png"), flat(4, 4, 1));
    expect(refusal(() => loadImageFolder(dir), dir)).toMatch(/holds both images \(loose\.png\) and class folders \(a\/\)/);
    const big = classFolder(tmp(), ["a"], 2, 4, 4);
    // 2 images at 1024×1024 are far inside the bound; the bound itself is what is checked.
    expect(() => loadImageFolder(big, { size: { rows: 1024, cols: 1024 } })).not.toThrow();
    expect(refusal(() => loadImageFolder(big, { size: { rows: 1025, cols: 1024 } }), big)).toMatch(/more than the 1048576 pixels/);
    expect(MAX_SET_PIXELS).toBe(1 << 28);
    // 300 images of 1×1 pixel, to be read at 1024×1024: 270 training images of 2²⁰ pixels pass 2²⁸; refused
    // from the listing and the headers, before 1 GiB of floats is made.
    const many = tmp();
    for (let i = 0; i < 300; i++) writePng(path.join(many, `${String(i).padStart(3, "0")}.png`), flat(1, 1, 7));
    expect(refusal(() => loadImageFolder(many, { size: { rows: 1024, cols: 1024 } }), many)).toMatch(/270 images of 1024×1024×1 are 283115520 values, more than the 268435456 \(1 GiB as floats\)/);
  });
});

describe("loadDataset and describeDataset pick the reader from what they are given", () => {
  it("an image folder: described from headers (sizes, kinds, classes), loaded with the spec's size", () => {
    const dir = tmp();
    classFolder(dir, ["b", "a"], 3, 10, 12);
    writePng(path.join(dir, "a", "odd.png"), flat(20, 6, 3));
    const d = describeDataset({ path: dir });
    expect(d.source.kind).toBe("image-folder");
    expect(d.classNames).toEqual(["a", "b"]);
    expect(d.trainCount + d.testCount).toBe(7);
    expect(d.rows).toBeUndefined();
    expect(d.sizeRange).toEqual({ min: { rows: 10, cols: 6 }, max: { rows: 20, cols: 12 } });
    expect(() => loadDataset({ path: dir })).toThrow(/differ in size/);
    const { train } = loadDataset({ path: dir, size: { rows: 8, cols: 8 } });
    expect([train.rows, train.cols]).toEqual([8, 8]);
  });

  it("a folder of MNIST-named IDX files missing one is an IDX folder with a missing file, not a folder of images", () => {
    const dir = tmp();
    fs.cpSync(path.resolve(__dirname, "../data/mnist-tiny"), dir, { recursive: true });
    const images = fs.readdirSync(dir).find((f) => f.startsWith("train-images"))!;
    fs.rmSync(path.join(dir, images));
    expect(() => loadDataset({ path: dir })).toThrow(/train-images-idx3-ubyte: file not found \(also tried \.gz and the \.idx spelling\)$/);
  });

  it("options that mean nothing for the data are refused, not ignored", () => {
    const dir = classFolder(tmp(), ["a"], 2, 4, 4);
    expect(() => loadDataset({ path: dir, labels: "y.npy" })).toThrow(/labels in a separate file are for a \.npy file of images only/);
    expect(() => loadDataset({ path: path.resolve(__dirname, "../data/mnist-tiny"), testFraction: 0.2 })).toThrow(/comes with its own test split/);
  });

  it("colour data are refused with the caller's message before any image is decoded", () => {
    const dir = tmp();
    writePng(path.join(dir, "a.png"), flat(4, 4, [1, 2, 3]));
    // A corrupt second image: were anything decoded, this would be the error.
    fs.writeFileSync(path.join(dir, "b.png"), Buffer.concat([handMadePng(4, 4).subarray(0, 8), fs.readFileSync(path.join(dir, "a.png")).subarray(8, 40)]));
    expect(() => loadDataset({ path: dir, colourRefusal: "no colour here" })).toThrow(`${dir}: no colour here`);
  });
});
