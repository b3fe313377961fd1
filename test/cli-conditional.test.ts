/**
 * The conditional VAE on the command line (compiled, dist/): `train --conditional`, its checkpoint and
 * `--resume`, `sample --label`, `encode` with the labels, `export` with the class as a second input, and what
 * each refuses.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { CheckpointError, loadModel, loadVae } from "../src/vae/checkpoint";
import { ConditionalVae, oneHot } from "../src/vae/conditional";
import { batchTensor, loadMnist } from "../src/data/mnist";
import { parseTrainFlags, UsageError } from "../src/cli/main";
import { TINY_MNIST } from "./harness/mnist-tiny";
import { flat, writePng } from "./harness/image-data";
import { scratchDir } from "./harness/scratch";

const cli = path.resolve(__dirname, "../dist/cli/main.js");
function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
/** A refusal: exit 1 or 2, one line on stderr (after the backend's, where the model is checked once it is loaded), no stack trace. */
function refused(r: { code: number | null; err: string }): string {
  expect(r.code === 1 || r.code === 2, r.err).toBe(true);
  const lines = r.err.trim().split("\n").filter((l) => !l.startsWith("backend: "));
  expect(lines).toHaveLength(1);
  expect(r.err).not.toMatch(/\n\s+at /);
  return lines[0];
}

const tmp = scratchDir("vae-lab-cli-cvae-");
const small = ["--hidden-dim", "32", "--latent-dim", "3", "--iwae-k", "0", "--data", TINY_MNIST, "--backend", "cpu", "--seed", "5", "--lr", "0.003"];
const model = path.join(tmp, "two", "model.json");

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

beforeAll(async () => {
  await initBackend("cpu");
  const r = run("train", "--conditional", "--epochs", "2", ...small, "--out", path.join(tmp, "two"));
  expect(r.code, r.err).toBe(0);
}, 600_000);

describe("train --conditional", () => {
  it("the flag: off by default, on as a switch; refused with --arch conv and --latent categorical, naming the flag", () => {
    expect(parseTrainFlags([]).conditional).toBeUndefined();
    expect(parseTrainFlags(["--conditional"]).conditional).toBe(true);
    expect(() => parseTrainFlags(["--conditional", "--arch", "conv"])).toThrow(/^--conditional: the conditional VAE has the MLP architecture only/);
    expect(() => parseTrainFlags(["--conditional", "--latent", "categorical"])).toThrow(/^--conditional: only with a Gaussian latent/);
    expect(() => parseTrainFlags(["--conditional=yes"])).toThrow(UsageError);
  });

  it("writes a conditional model: its checkpoint loads as a ConditionalVae on the data's 10 classes; metrics and report say what it is", () => {
    const { model: vae, metadata } = loadModel(model);
    try {
      expect(vae).toBeInstanceOf(ConditionalVae);
      expect((vae as ConditionalVae).config).toMatchObject({ inputDim: 784, conditionDim: 10, latentDim: 3, hiddenDims: [32] });
      expect(metadata).toMatchObject({ condition: { on: "class" }, classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], image: { rows: 28, cols: 28 } });
    } finally {
      vae.dispose();
    }
    const metrics = JSON.parse(fs.readFileSync(path.join(tmp, "two", "metrics.json"), "utf8"));
    expect(metrics.config.conditional).toBe(true);
    // (784 + 10)·32 + 32 + 2·(32·3 + 3) + (3 + 10)·32 + 32 + 32·784 + 784 weights.
    expect(metrics.config.parameters).toBe(794 * 32 + 32 + 2 * (32 * 3 + 3) + 13 * 32 + 32 + 32 * 784 + 784);
    const report = fs.readFileSync(path.join(tmp, "two", "report.html"), "utf8");
    expect(report).toContain("conditional MLP VAE");
    expect(report).toContain("Samples by class");
    expect(report).toContain("E[z|x, class] of");
    expect(report).toContain("−log p(x|class)");
    // A library call cannot mistake it for a plain VAE.
    expect(() => loadVae(model)).toThrow(/holds a conditional VAE \(read it with loadModel\)/);
  });

  it("--resume: 1 + 1 epochs give the same weights as 2 in one run; the switch cannot be changed or dropped on resume", () => {
    const one = path.join(tmp, "one");
    expect(run("train", "--conditional", "--epochs", "1", ...small, "--out", one).code).toBe(0);
    const r = run("train", "--resume", one, "--epochs", "1", "--out", path.join(tmp, "resumed"));
    expect(r.code, r.err).toBe(0);
    const a = JSON.parse(fs.readFileSync(model, "utf8"));
    const b = JSON.parse(fs.readFileSync(path.join(tmp, "resumed", "model.json"), "utf8"));
    expect(b.config).toEqual(a.config);
    expect(b.weights).toEqual(a.weights);
    expect(refused(run("train", "--resume", one, "--conditional"))).toMatch(/^vae-lab: --conditional: cannot be changed when resuming/);
    // A training state whose job says "not conditional" beside a conditional model is named, not trained on.
    const lied = path.join(tmp, "lied");
    fs.mkdirSync(lied);
    fs.copyFileSync(path.join(one, "model.json"), path.join(lied, "model.json"));
    const state = JSON.parse(fs.readFileSync(path.join(one, "training-state.json"), "utf8"));
    delete state.extra.job.conditional;
    fs.writeFileSync(path.join(lied, "training-state.json"), JSON.stringify(state));
    expect(refused(run("train", "--resume", lied, "--epochs", "1"))).toMatch(/training-state\.json.*job\.conditional is false but model\.json's model has true/);
  }, 120_000);

  it("refuses data without labels, or with one class, in one line naming the folder", () => {
    const unlabelled = path.join(tmp, "unlabelled");
    for (let i = 0; i < 6; i++) writePng(path.join(unlabelled, `${i}.png`), flat(8, 8, 30 * i));
    const one = path.join(tmp, "one-class");
    for (let i = 0; i < 6; i++) writePng(path.join(one, "cats", `${i}.png`), flat(8, 8, 30 * i));
    for (const [dir, what] of [[unlabelled, "no labels"], [one, "one class only"]]) {
      const line = refused(run("train", "--conditional", "--epochs", "1", "--data", dir, "--backend", "cpu", "--test-fraction", "0.5", "--out", path.join(tmp, "never")));
      expect(line).toContain(`--conditional: the conditional VAE is conditioned on the image's class, but ${dir} has ${what}`);
    }
    expect(fs.existsSync(path.join(tmp, "never", "model.json"))).toBe(false);
  });
});

describe("sample --label", () => {
  it("draws a chosen class: --label 3 gives the class-3 row of the every-class grid (same seed, same codes); classes differ; JSON says each image's class", () => {
    const all = path.join(tmp, "all.json");
    expect(run("sample", "--model", model, "--n", "4", "--seed", "2", "--out", all, "--backend", "cpu").code).toBe(0);
    const s = JSON.parse(fs.readFileSync(all, "utf8"));
    expect(s.images).toHaveLength(40);
    expect(s.labels).toEqual(Array.from({ length: 40 }, (_, i) => Math.floor(i / 4)));
    expect(s.classNames).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    for (const label of ["3", "9"]) {
      const one = path.join(tmp, `label-${label}.json`);
      const r = run("sample", "--model", model, "--n", "4", "--seed", "2", "--label", label, "--out", one, "--backend", "cpu");
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`4 samples of class ${label}`);
      const t = JSON.parse(fs.readFileSync(one, "utf8"));
      expect(t.labels).toEqual([+label, +label, +label, +label]);
      expect(t.images).toEqual(s.images.slice(4 * +label, 4 * +label + 4));
    }
    // The class changes the picture: the same code under class 3 and class 9.
    expect(maxDiff(s.images[12], s.images[36])).toBeGreaterThan(0.05);
    // Pictures by class: one PNG, titled by its rows.
    const html = path.join(tmp, "by-class.html");
    expect(run("sample", "--model", model, "--n", "6", "--out", html, "--backend", "cpu").code).toBe(0);
    const page = fs.readFileSync(html, "utf8");
    expect(page).toContain("Samples by class (rows: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)");
    expect(page.match(/<img [^>]*src="data:image\/png;base64,/g)).toHaveLength(1);
  });

  it("refuses an unknown class, an empty --label, and --label for a model that takes none, in one line", () => {
    expect(refused(run("sample", "--model", model, "--label", "cat", "--out", path.join(tmp, "x.json"), "--backend", "cpu"))).toContain(`${model}: has no class "cat" for --label (its 10 classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9; or an index from 0 to 9)`);
    expect(refused(run("sample", "--model", model, "--label", "10", "--out", path.join(tmp, "x.json"), "--backend", "cpu"))).toContain('has no class "10"');
    expect(refused(run("sample", "--model", model, "--label", "", "--out", path.join(tmp, "x.json")))).toContain("--label: expected a class name or index");
    // --n bounds the images written: 1 001 draws under each of 10 classes are too many, under one class not.
    expect(refused(run("sample", "--model", model, "--n", "1001", "--out", path.join(tmp, "x.json"), "--backend", "cpu"))).toContain("--n: 1001 draws under each of the 10 classes make 10010 images, more than the 10000 sample writes");
    const plain = path.join(tmp, "plain");
    expect(run("train", "--epochs", "1", ...small, "--out", plain).code).toBe(0);
    expect(refused(run("sample", "--model", path.join(plain, "model.json"), "--label", "3", "--out", path.join(tmp, "x.json"), "--backend", "cpu"))).toContain("is not a conditional VAE, so --label has no class to choose");
    expect(fs.existsSync(path.join(tmp, "x.json"))).toBe(false);
  }, 120_000);
});

describe("encode and export of a conditional model", () => {
  it("encode writes q(z|x, c), c the image's own class: equal to encode(x, one-hot(label)), not to another class's", () => {
    const out = path.join(tmp, "codes.json");
    const r = run("encode", "--model", model, "--data", TINY_MNIST, "--limit", "30", "--out", out, "--backend", "cpu");
    expect(r.code, r.err).toBe(0);
    const e = JSON.parse(fs.readFileSync(out, "utf8"));
    expect(e.conditionedOn).toBe("class");
    const vae = loadModel(model).model as ConditionalVae;
    const set = loadMnist({ dir: TINY_MNIST, split: "test", limit: 30 });
    const x = batchTensor(set, Array.from({ length: 30 }, (_, i) => i));
    const c = oneHot(set.labels, 10);
    const wrong = oneHot(Array.from(set.labels, (l) => (l + 1) % 10), 10);
    const q = vae.encode(x, c);
    const p = vae.encode(x, wrong);
    expect(maxDiff(e.mu.flat(), q.mu.dataSync())).toBeLessThan(1e-5);
    expect(maxDiff(e.logVar.flat(), q.logVar.dataSync())).toBeLessThan(1e-5);
    expect(maxDiff(e.mu.flat(), p.mu.dataSync())).toBeGreaterThan(1e-3);
    tf.dispose([x, c, wrong, q.mu, q.logVar, p.mu, p.logVar]);
    vae.dispose();
  });

  it("export: encoder [x, c] → μ, log σ² and decoder [z, c] → pixel means, as the model computes them (to 1e-6)", async () => {
    const dir = path.join(tmp, "exported");
    const r = run("export", "--model", model, "--out", dir, "--backend", "cpu");
    expect(r.code, r.err).toBe(0);
    const load = (part: string) => {
      const json = JSON.parse(fs.readFileSync(path.join(dir, part, "model.json"), "utf8"));
      const bin = fs.readFileSync(path.join(dir, part, "weights.bin"));
      return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }));
    };
    const [encoder, decoder] = [await load("encoder"), await load("decoder")];
    expect(encoder.inputs.map((i) => i.shape)).toEqual([[null, 784], [null, 10]]);
    expect(decoder.inputs.map((i) => i.shape)).toEqual([[null, 3], [null, 10]]);
    const vae = loadModel(model).model as ConditionalVae;
    const labels = Array.from({ length: 20 }, (_, i) => i % 10);
    const c = oneHot(labels, 10);
    const z = tf.randomNormal([20, 3], 0, 1.5, "float32", 11) as tf.Tensor2D;
    const x = tf.randomUniform([20, 784], 0, 1, "float32", 12) as tf.Tensor2D;
    const means = decoder.predict([z, c]) as tf.Tensor;
    const want = vae.decodeMean(z, c);
    expect(maxDiff(means.dataSync(), want.dataSync())).toBeLessThan(1e-6);
    const [mu, logVar] = encoder.predict([x, c]) as tf.Tensor[];
    const q = vae.encode(x, c);
    expect(maxDiff(mu.dataSync(), q.mu.dataSync())).toBeLessThan(1e-6);
    expect(maxDiff(logVar.dataSync(), q.logVar.dataSync())).toBeLessThan(1e-6);
    tf.dispose([c, z, x, means, want, mu, logVar, q.mu, q.logVar]);
    encoder.dispose();
    decoder.dispose();
    vae.dispose();
  });
});

describe("the conditional checkpoint", () => {
  it("a checkpoint whose conditionDim is not a positive integer, or does not fit its weights, is refused naming the file", () => {
    const text = fs.readFileSync(model, "utf8");
    const bad = (edit: (ckpt: { config: Record<string, unknown> }) => void, name: string): string => {
      const ckpt = JSON.parse(text);
      edit(ckpt);
      const file = path.join(tmp, name);
      fs.writeFileSync(file, JSON.stringify(ckpt));
      try {
        loadModel(file);
      } catch (e) {
        expect(e).toBeInstanceOf(CheckpointError);
        expect((e as CheckpointError).file).toBe(file);
        return (e as Error).message;
      }
      throw new Error(`${name} was read`);
    };
    expect(bad((c) => (c.config.conditionDim = 0), "zero.json")).toMatch(/bad configuration: conditionDim must be a positive integer \(got 0\)/);
    expect(bad((c) => (c.config.conditionDim = "10"), "text.json")).toMatch(/conditionDim must be a positive integer \(got "10"\)/);
    expect(bad((c) => (c.config.conditionDim = 11), "eleven.json")).toMatch(/weight 0 \(enc0\/W\) has shape \[794,32\], expected \[795,32\]/);
    // The decoder's first layer reads [z | c]: its shape is checked too.
    expect(bad((c) => ((c as unknown as { weights: { shape: number[] }[] }).weights[6].shape = [3, 32]), "dec.json")).toMatch(/weight 6 \(dec0\/W\) has shape \[3,32\], expected \[13,32\]/);
    expect(bad((c) => delete c.config.conditionDim, "plain.json")).toMatch(/weight 0 \(enc0\/W\) has shape \[794,32\], expected \[784,32\]/);
  });
});
