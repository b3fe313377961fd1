/**
 * `vae-lab train` and `vae-lab info` on data of one's own (issue: "A VAE on your own images"), through the
 * compiled CLI (`npm run build` first): a folder of 16×16 grey images trains end to end and the outputs
 * carry its shape and class names, and so does a folder of colour images (3 channels); bad data end in one
 * line, a non-zero exit and nothing written, before any training.
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
    expect(model.metadata.image).toEqual({ rows: 16, cols: 16, channels: 1 });
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
    expect(JSON.parse(fs.readFileSync(samples, "utf8"))).toMatchObject({ rows: 16, cols: 16, channels: 1 });
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
    expect([wrongSize.code, wrongSize.lines.filter((l) => !l.startsWith("backend:"))]).toEqual([1, [`vae-lab: ${path.join(out, "model.json")}: the model reads 16×16 grey images (256 values each), the data are 24×24 grey images (576 values each)`]]);
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

  it("a folder of colour PNGs trains in colour: report, sample, encode, export and info all take the 3 channels", () => {
    // Two classes of 12×12 colour pictures: a red disc on blue, a yellow bar on green, shifted about.
    const data = tmp();
    for (let i = 0; i < 20; i++) {
      const d = (i % 5) - 2;
      writePng(path.join(data, "disc", `${i}.png`), { rows: 12, cols: 12, colour: true, at: (y, x, c) => ((x - 6 - d) ** 2 + (y - 6) ** 2 < 12 ? [220, 30, 20][c] : [20, 40, 160][c]) });
      writePng(path.join(data, "bar", `${i}.png`), { rows: 12, cols: 12, colour: true, at: (_y, x, c) => (Math.abs(x - 6 - d) < 2 ? [230, 220, 40][c] : [30, 140, 50][c]) });
    }
    const info = run(["info", "--data", data]);
    expect(info.out).toMatch(/train 36 × 12×12 colour \(RGB\), test 4 \(a random 10% held out\)/);
    const one = tmp();
    for (let i = 0; i < 3; i++) writePng(path.join(one, "only", `${i}.png`), flat(12, 12, [9, 9, 9]));
    expect(run(["info", "--data", one]).out).toContain("; 1 class (training images: only 2)");
    expect(info.out).toContain("trained in colour (3 values a pixel; --grey for grey levels)");
    const out = path.join(tmp(), "run");
    const r = run(["train", "--data", data, "--epochs", "5", "--batch-size", "6", "--hidden-dim", "32", "--iwae-k", "4", "--iwae-images", "4", "--out", out, "--seed", "2"]);
    expect(r.code, r.err).toBe(0);
    const model = JSON.parse(fs.readFileSync(path.join(out, "model.json"), "utf8"));
    expect(model.config.inputDim).toBe(432);
    expect(model.metadata.image).toEqual({ rows: 12, cols: 12, channels: 3 });
    const metrics = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
    expect(metrics.data).toMatchObject({ trainImages: 36, testImages: 4, rows: 12, cols: 12, channels: 3, classNames: ["bar", "disc"] });
    // A Bernoulli for each of the 432 values: below the cross-entropy of predicting 1/2 everywhere.
    expect(metrics.test.elbo).toBeGreaterThan(0);
    expect(metrics.test.elbo).toBeLessThan(432 * Math.log(2));
    const report = fs.readFileSync(path.join(out, "report.html"), "utf8");
    expect(report.includes("MLP VAE 432-32-2"), "model row").toBe(true);
    expect(report.includes("of 12×12 pixels in colour (red, green, blue: 3 values a pixel), 2 classes (bar, disc)"), "data row").toBe(true);
    // Every picture in the report (manifold, reconstructions, samples) is an RGB PNG; the explorer draws 3 channels.
    const pngs = [...report.matchAll(/data:image\/png;base64,([A-Za-z0-9+/=]+)/g)].map((m) => Buffer.from(m[1], "base64"));
    expect(pngs.length).toBe(3);
    for (const png of pngs) expect(png[25]).toBe(2);
    expect(report).toMatch(/var spec = \{"rows":12,"cols":12,"channels":3,/);
    // sample: an RGB picture, and 432 means an image in JSON.
    const page = path.join(tmp(), "s.html");
    expect(run(["sample", "--model", path.join(out, "model.json"), "--n", "4", "--out", page]).code).toBe(0);
    expect(Buffer.from(/base64,([^"]+)"/.exec(fs.readFileSync(page, "utf8"))![1], "base64")[25]).toBe(2);
    const json = path.join(tmp(), "s.json");
    expect(run(["sample", "--model", path.join(out, "model.json"), "--n", "2", "--out", json]).code).toBe(0);
    const drawn = JSON.parse(fs.readFileSync(json, "utf8"));
    expect(drawn).toMatchObject({ rows: 12, cols: 12, channels: 3 });
    expect(drawn.images[0]).toHaveLength(432);
    // encode reads the folder in colour as the model was trained; the same folder read as grey does not fit it.
    const codes = path.join(tmp(), "codes.json");
    expect(run(["encode", "--model", path.join(out, "model.json"), "--out", codes]).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(codes, "utf8"))).toMatchObject({ count: 4, classNames: ["bar", "disc"] });
    const grey = run(["encode", "--model", path.join(out, "model.json"), "--grey", "--out", path.join(tmp(), "no.json")]);
    expect([grey.code, grey.lines.filter((l) => !l.startsWith("backend:"))]).toEqual([1, [`vae-lab: ${path.join(out, "model.json")}: the model reads 12×12 colour images (432 values each), the data are 12×12 grey images (144 values each) (a model of colour images encodes colour images only)`]]);
    // export: the decoder's output is the 432 values of a colour image.
    const web = path.join(tmp(), "web");
    expect(run(["export", "--model", path.join(out, "model.json"), "--out", web]).code).toBe(0);
    expect(fs.readFileSync(path.join(web, "decoder", "model.json"), "utf8")).toMatch(/"units":432/);
    expect(JSON.parse(fs.readFileSync(path.join(web, "decoder", "model.json"), "utf8")).userDefinedMetadata.vaeLab.image).toEqual({ rows: 12, cols: 12, channels: 3, layout: "row-major, channels last" });
    // A model of grey images refuses colour ones, saying how to read them as grey (one trained on colour images
    // read with --grey reads new ones as grey, as it recorded).
    const greyData = tmp();
    for (let i = 0; i < 10; i++) writePng(path.join(greyData, `${i}.png`), flat(12, 12, 20 * i));
    const greyRun = path.join(tmp(), "grey");
    expect(run(["train", "--data", greyData, "--epochs", "1", "--hidden-dim", "8", "--iwae-k", "0", "--out", greyRun]).code).toBe(0);
    const asGrey = path.join(tmp(), "as-grey");
    expect(run(["train", "--data", data, "--grey", "--epochs", "1", "--hidden-dim", "8", "--iwae-k", "0", "--out", asGrey]).code).toBe(0);
    expect(run(["encode", "--model", path.join(asGrey, "model.json"), "--data", data, "--out", codes]).code).toBe(0);
    const refused = run(["encode", "--model", path.join(greyRun, "model.json"), "--data", data, "--out", path.join(tmp(), "no.json")]);
    expect(refused.code).toBe(1);
    expect(refused.lines.at(-1)).toBe(`vae-lab: ${data}: colour images (3 channels): the model reads grey images; pass --grey to read their grey levels`);
  });

  it("a resumed run whose folder now holds images of another kind stops naming model.json, before training", () => {
    const data = tmp();
    for (let i = 0; i < 10; i++) writePng(path.join(data, `${i}.png`), flat(8, 8, [30 * (i % 3), 100, 200]));
    const out = path.join(tmp(), "run");
    expect(run(["train", "--data", data, "--epochs", "1", "--hidden-dim", "8", "--iwae-k", "0", "--out", out]).code).toBe(0);
    // The same files, now grey: 64 values an image where the model reads 192.
    for (let i = 0; i < 10; i++) writePng(path.join(data, `${i}.png`), flat(8, 8, 25 * i));
    const more = path.join(tmp(), "more");
    const r = run(["train", "--resume", out, "--epochs", "1", "--out", more]);
    expect([r.code, r.lines.filter((l) => !l.startsWith("backend:"))]).toEqual([1, [`vae-lab: ${path.join(out, "model.json")}: reads 192 values per image, but the data now hold 8×8 grey images (64 values each)`]]);
    expect(fs.existsSync(path.join(more, "model.json"))).toBe(false);
  });

  it("colour arrays (.npy N×H×W×3) train in colour; 32×32 colour images train the convolutional VAE (3 channels), which resumes and exports", () => {
    const dir = tmp();
    const n = 24;
    const x = path.join(dir, "x.npy");
    fs.writeFileSync(x, encodeNpy("|u1", [n, 6, 6, 3], Uint8Array.from({ length: n * 108 }, (_, i) => (i % 3 === Math.floor(i / 108) % 3 ? 220 : 30))));
    const out = path.join(dir, "run");
    const r = run(["train", "--data", x, "--epochs", "1", "--hidden-dim", "8", "--iwae-k", "0", "--out", out]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, "model.json"), "utf8"))).toMatchObject({ config: { inputDim: 108 }, metadata: { image: { rows: 6, cols: 6, channels: 3 } } });
    // The conv model: 32×32 colour squares, three colours, on wasm (its conv kernels).
    const folder = tmp();
    const colours = [[200, 40, 40], [40, 200, 40], [40, 40, 200]];
    for (let i = 0; i < 12; i++) writePng(path.join(folder, `${i}.png`), { rows: 32, cols: 32, colour: true, at: (y, xx, c) => (Math.abs(y - 16) < 6 && Math.abs(xx - 16 + (i % 4)) < 6 ? colours[i % 3][c] : 0) });
    const conv = ["--arch", "conv", "--data", folder, "--batch-size", "4", "--iwae-k", "0", "--backend", "wasm", "--seed", "3"];
    const convOut = path.join(dir, "conv");
    const c = run(["train", ...conv, "--epochs", "1", "--out", convOut]);
    expect(c.code, c.err).toBe(0);
    const metrics = JSON.parse(fs.readFileSync(path.join(convOut, "metrics.json"), "utf8"));
    // The 28 × 28 grey model's 69 989 parameters, with 3 channels in and out (conv1, deconv3), and the encoder's
    // dense layer from 7 × 7 × 64 (not 6 × 6 × 64) and the decoder's to 8 × 8 × 32 (not 7 × 7 × 32) values.
    expect(metrics.config.parameters).toBe(69989 - 320 - 289 + 896 + 867 + (7 * 7 - 6 * 6) * 64 * 4 + (8 * 8 - 7 * 7) * 32 * 3);
    expect(metrics.data).toMatchObject({ rows: 32, cols: 32, channels: 3 });
    expect(fs.readFileSync(path.join(convOut, "report.html"), "utf8").includes("tutorial's, 3 input and output channels")).toBe(true);
    const more = run(["train", "--resume", convOut, "--epochs", "1", "--out", path.join(dir, "conv2")]);
    expect(more.code, more.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "conv2", "metrics.json"), "utf8")).epochs).toHaveLength(2);
    const web = path.join(dir, "web");
    expect(run(["export", "--model", path.join(convOut, "model.json"), "--out", web]).code).toBe(0);
    expect(fs.readFileSync(path.join(web, "decoder", "model.json"), "utf8")).toMatch(/"filters":3,/);
  });

  it.skipIf(!fashionMnistInstalled())("a model trained on Fashion-MNIST encodes Fashion-MNIST's test images by default, with their class names", () => {
    const out = path.join(tmp(), "run");
    // On wasm: the run evaluates all 10 000 test images twice, which tfjs's cpu backend takes seconds for.
    const r = run(["train", "--dataset", "fashion-mnist", "--train-size", "256", "--epochs", "1", "--hidden-dim", "16", "--iwae-k", "0", "--out", out, "--backend", "wasm"]);
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

describe("bad data: one line naming the file, exit 1, nothing written, before training", () => {
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
