/**
 * `vae-lab train` and `vae-lab info` on data of one's own (issue: "A VAE on your own images"), through the
 * compiled CLI (`npm run build` first): a folder of 16×16 grey images trains end to end and the outputs
 * carry its shape and class names; bad data and colour data end in one line, a non-zero exit and nothing
 * written, before any training.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./harness/scratch";
import { flat, handMadePng, writePng } from "./harness/image-data";
import { encodeNpy } from "../src/data/npy";
import { fashionMnistInstalled } from "../src/data/fashion-mnist";

const cli = process.env.VAE_LAB_TEST_CLI ?? path.resolve(__dirname, "../dist/cli/main.js");
const tmp = () => scratchDir("vae-lab-data-cli-");

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 300_000, env: { ...process.env, VAE_LAB_BACKEND: "cpu" } });
  return { code: r.status, out: r.stdout, err: r.stderr, lines: r.stderr.split("\n").filter(Boolean) };
}

/** Three classes of 24×24 shapes (a disc, a bar, a cross), shifted about: learnable, and told apart in the latent plane. */
function shapesFolder(perClass = 20): string {
  const dir = tmp();
  const shapes: Record<string, (x: number, y: number) => boolean> = {
    disc: (x, y) => (x - 12) ** 2 + (y - 12) ** 2 < 50,
    bar: (x) => Math.abs(x - 12) < 3,
    cross: (x, y) => Math.abs(x - y) < 2 || Math.abs(x + y - 24) < 2,
  };
  for (const [name, inside] of Object.entries(shapes)) {
    for (let i = 0; i < perClass; i++) {
      const dx = (i % 5) - 2;
      const dy = (Math.floor(i / 5) % 5) - 2;
      writePng(path.join(dir, name, `${i}.png`), { rows: 24, cols: 24, at: (y, x) => (inside(x - dx, y - dy) ? 255 : 0) });
    }
  }
  return dir;
}

describe("train on a folder of one's own images", () => {
  it("16×16 grey images (read from 24×24 with --size 16): trains, and the checkpoint, metrics and report carry the shape and class names", () => {
    const data = shapesFolder();
    const out = path.join(tmp(), "run");
    const r = run(["train", "--data", data, "--size", "16", "--epochs", "2", "--hidden-dim", "32", "--iwae-k", "0", "--out", out, "--seed", "2"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^test −ELBO \d+\.\d\d nats/m);
    const model = JSON.parse(fs.readFileSync(path.join(out, "model.json"), "utf8"));
    expect(model.config.inputDim).toBe(256);
    expect(model.metadata.image).toEqual({ rows: 16, cols: 16 });
    expect(model.metadata.classNames).toEqual(["bar", "cross", "disc"]);
    const metrics = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
    expect(metrics.data).toMatchObject({ trainImages: 54, testImages: 6, rows: 16, cols: 16, channels: 1, classNames: ["bar", "cross", "disc"] });
    expect(metrics.test.elbo).toBeGreaterThan(0);
    expect(metrics.test.elbo).toBeLessThan(256 * Math.log(2) * 2);
    // The latent scatter's legend names the classes; the summary says what the data were.
    const report = fs.readFileSync(path.join(out, "report.html"), "utf8");
    // (toBe(true), not toContain: a failure would print the whole 3 MB report.)
    for (const text of ['"name":"bar"', '"name":"cross"', '"name":"disc"', "of 16×16 pixels, 3 classes (bar, cross, disc)", "Test images (top) and their reconstructions"]) {
      expect(report.includes(text), text).toBe(true);
    }
    // sample draws the data's shape; a resume reads the data as the first run did (--size stored).
    const samples = path.join(tmp(), "s.json");
    expect(run(["sample", "--model", path.join(out, "model.json"), "--n", "2", "--out", samples]).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(samples, "utf8"))).toMatchObject({ rows: 16, cols: 16 });
    const resumed = run(["train", "--resume", out, "--epochs", "1", "--out", path.join(tmp(), "more"), "--iwae-k", "0"]);
    expect(resumed.code, resumed.err).toBe(0);
    // The checkpoint records how the images were read, and encode reads them so: the same held-out 6, at 16×16.
    expect(model.metadata.data).toEqual({ path: path.resolve(data), size: { rows: 16, cols: 16 }, binarize: "none", seed: 2 });
    const codes = path.join(tmp(), "codes.json");
    const enc = run(["encode", "--model", path.join(out, "model.json"), "--out", codes]);
    expect(enc.code, enc.err).toBe(0);
    expect(enc.out).toContain("(q(z|x) of 6 test images, 2 latent dimensions)");
    const written = JSON.parse(fs.readFileSync(codes, "utf8"));
    expect(written).toMatchObject({ split: "test", count: 6, latentDim: 2, classNames: ["bar", "cross", "disc"] });
    expect(written.labels).toHaveLength(6);
    expect(written.mu).toHaveLength(6);
    // Its training images, the first 5 of them; and the folder read at another size, which the model cannot take.
    expect(JSON.parse((run(["encode", "--model", path.join(out, "model.json"), "--split", "train", "--limit", "5", "--out", codes]), fs.readFileSync(codes, "utf8"))).count).toBe(5);
    const wrongSize = run(["encode", "--model", path.join(out, "model.json"), "--size", "24", "--out", path.join(tmp(), "no.json")]);
    expect([wrongSize.code, wrongSize.lines.filter((l) => !l.startsWith("backend:"))]).toEqual([1, [`vae-lab: ${path.join(out, "model.json")}: the model expects 256 pixels per image, the data have 576`]]);
  });

  it("info describes a folder from its headers: counts, size, classes, the held-out share, what train will need", () => {
    const data = shapesFolder(5);
    writePng(path.join(data, "disc", "big.png"), flat(30, 30, 0));
    const r = run(["info", "--data", data]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`data:    ${data} (folder of images)`);
    expect(r.out).toMatch(/train 14 × 24×24 to 30×30, test 2 \(a random 10% held out\); 3 classes \(training images: bar \d, cross \d, disc \d\)/);
    expect(r.out).toContain("the images differ in size: train needs --size");
    expect(run(["info", "--data", data, "--size", "16x12", "--test-fraction", "0.5"]).out).toMatch(/test 8 \(a random 50% held out\).*\n.*read at 16×12/);
  });

  it("a .npy file of images with --labels trains", () => {
    const dir = tmp();
    const n = 40;
    const x = path.join(dir, "x.npy");
    const y = path.join(dir, "y.npy");
    fs.writeFileSync(x, encodeNpy("|u1", [n, 8, 8], Uint8Array.from({ length: n * 64 }, (_, i) => ((Math.floor(i / 64) % 2) * 200 + (i % 64)) % 256)));
    fs.writeFileSync(y, encodeNpy("<i8", [n], BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 2))));
    const out = path.join(dir, "run");
    const r = run(["train", "--data", x, "--labels", y, "--epochs", "1", "--hidden-dim", "8", "--iwae-k", "0", "--out", out]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, "model.json"), "utf8")).metadata).toMatchObject({ image: { rows: 8, cols: 8 }, classNames: ["0", "1"] });
    // encode reads the recorded file and labels (4 of the 40 held out), or another file given with --data.
    const codes = path.join(dir, "codes.json");
    expect(run(["encode", "--model", path.join(out, "model.json"), "--out", codes]).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(codes, "utf8"))).toMatchObject({ count: 4, classNames: ["0", "1"] });
    const other = path.join(dir, "other.npy");
    fs.writeFileSync(other, encodeNpy("|u1", [3, 8, 8], new Uint8Array(3 * 64).fill(9)));
    expect(run(["encode", "--model", path.join(out, "model.json"), "--data", other, "--split", "train", "--out", codes]).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(codes, "utf8"))).toMatchObject({ split: "train", count: 2, classNames: [], labels: [-1, -1] });
    // A checkpoint whose record is broken: one line naming it, nothing written.
    const broken = path.join(dir, "broken.json");
    const ckpt = JSON.parse(fs.readFileSync(path.join(out, "model.json"), "utf8"));
    fs.writeFileSync(broken, JSON.stringify({ ...ckpt, metadata: { ...ckpt.metadata, data: { ...ckpt.metadata.data, fit: "zoom" } } }));
    const r2 = run(["encode", "--model", broken, "--out", path.join(dir, "none.json")]);
    expect([r2.code, r2.lines.filter((l) => !l.startsWith("backend:"))]).toEqual([1, [`vae-lab: ${broken}: metadata.data.fit is "zoom", not crop | pad | stretch`]]);
    expect(fs.existsSync(path.join(dir, "none.json"))).toBe(false);
  });

  it.skipIf(!fashionMnistInstalled())("a model trained on Fashion-MNIST encodes Fashion-MNIST's test images by default, with their class names", () => {
    const out = path.join(tmp(), "run");
    const r = run(["train", "--dataset", "fashion-mnist", "--train-size", "256", "--epochs", "1", "--hidden-dim", "16", "--iwae-k", "0", "--out", out]);
    expect(r.code, r.err).toBe(0);
    const codes = path.join(tmp(), "codes.json");
    expect(run(["encode", "--model", path.join(out, "model.json"), "--limit", "20", "--out", codes]).code).toBe(0);
    const written = JSON.parse(fs.readFileSync(codes, "utf8"));
    expect(written.classNames[9]).toBe("Ankle boot");
    expect(written.labels.slice(0, 3)).toEqual([9, 2, 1]); // Fashion-MNIST's first test images: an ankle boot, a pullover, a trouser
    // --dataset mnist: the digits, read the same way.
    expect(run(["encode", "--model", path.join(out, "model.json"), "--dataset", "mnist", "--limit", "3", "--out", codes]).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(codes, "utf8"))).toMatchObject({ classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], labels: [7, 2, 1] });
  });
});

describe("bad data and colour data: one line naming the file, exit 1, nothing written, before training", () => {
  /** train on `data` (a folder made by `make`), expecting one line matching `message`, exit code `code` and no --out. */
  function refused(args: string[], message: RegExp, code = 1) {
    const out = path.join(tmp(), "run");
    const r = run(["train", ...args, "--epochs", "1", "--out", out]);
    expect(r.code, r.err).toBe(code);
    expect(r.lines, r.err).toHaveLength(1);
    expect(r.lines[0]).toMatch(message);
    expect(r.lines[0]).not.toMatch(/^backend:|epoch/);
    expect(fs.existsSync(out)).toBe(false);
    expect(r.out).toBe("");
  }

  it("colour images without --grey: colour training is not supported yet, pass --grey", () => {
    const dir = tmp();
    for (let i = 0; i < 4; i++) writePng(path.join(dir, `${i}.png`), flat(8, 8, [200, 10 * i, 0]));
    refused(["--data", dir], new RegExp(`^vae-lab: ${dir}: colour images \\(3 channels\\): training on colour is not supported yet; pass --grey to train on their grey levels$`));
    const npy = path.join(dir, "..", `${path.basename(dir)}-rgb.npy`);
    fs.writeFileSync(npy, encodeNpy("|u1", [4, 8, 8, 3], new Uint8Array(4 * 192)));
    refused(["--data", npy], /colour images \(3 channels\): training on colour is not supported yet; pass --grey/);
  });

  it("an unreadable image, a non-image, mixed sizes, an empty class, mixed grey and colour, a 50 000 × 50 000 PNG, a symbolic link loop", () => {
    const base = () => {
      const dir = tmp();
      for (const c of ["a", "b"]) for (let i = 0; i < 3; i++) writePng(path.join(dir, c, `${i}.png`), flat(8, 8, 40 * i));
      return dir;
    };
    let dir = base();
    fs.writeFileSync(path.join(dir, "a", "1.png"), fs.readFileSync(path.join(dir, "a", "1.png")).subarray(0, 50));
    refused(["--data", dir], new RegExp(`^vae-lab: ${path.join(dir, "a", "1.png")}: corrupt PNG`));
    dir = base();
    fs.writeFileSync(path.join(dir, "b", "README.txt"), "about these images");
    refused(["--data", dir], new RegExp(`^vae-lab: ${path.join(dir, "b", "README.txt")}: not a PNG or JPEG image`));
    dir = base();
    writePng(path.join(dir, "b", "9.png"), flat(9, 8, 0));
    refused(["--data", dir], /b\/9\.png: is 9×8 pixels but .*: the images differ in size; resize them all to one \(--size HxW\)$/);
    dir = base();
    fs.mkdirSync(path.join(dir, "c"));
    refused(["--data", dir], /\/c: class folder "c" holds no images$/);
    dir = base();
    writePng(path.join(dir, "b", "9.png"), flat(8, 8, [1, 2, 3]));
    refused(["--data", dir], /b\/9\.png: is a colour image but .* is grey/);
    dir = base();
    fs.writeFileSync(path.join(dir, "a", "huge.png"), handMadePng(50_000, 50_000));
    refused(["--data", dir, "--size", "16"], /a\/huge\.png: a 50000×50000 image \(2500000000 pixels, from its header\)/);
    dir = base();
    fs.symlinkSync(path.join(dir, "a", "loop.png"), path.join(dir, "a", "loop.png"));
    refused(["--data", dir], /a\/loop\.png: a symbolic link loop$/);
  });

  it("flags: a bad --size, --fit without --size, --labels for a folder, --test-fraction for data with a split, an unknown --dataset", () => {
    const dir = tmp();
    for (let i = 0; i < 3; i++) writePng(path.join(dir, `${i}.png`), flat(8, 8, 9));
    refused(["--data", dir, "--size", "0x4"], /^vae-lab: --size: expected N or HxW with each side from 1 to 1024 \(e\.g\. 28 or 16x24\), got "0x4" \(see vae-lab --help\)$/, 2);
    refused(["--data", dir, "--fit", "pad"], /^vae-lab: --fit: only with --size/, 2);
    refused(["--data", dir, "--labels", path.join(dir, "y.npy")], /y\.npy: labels in a separate file are for a \.npy file of images only$/);
    refused(["--data", path.resolve(__dirname, "../data/mnist-tiny"), "--test-fraction", "0.2"], /mnist-tiny: comes with its own test split; a test fraction is for data without one$/);
    refused(["--dataset", "cifar"], /^vae-lab: --dataset: expected one of mnist, fashion-mnist, got "cifar"/, 2);
    refused(["--dataset", "fashion-mnist", "--data", dir], /holds no Fashion-MNIST IDX files .*; install them with: apt-get install dataset-fashion-mnist$/);
  });
});
