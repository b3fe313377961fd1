/**
 * The convolutional VAE (src/vae/conv.ts): the same function as the PyTorch reference model given the same
 * weights (test/reference/pytorch_conv_vae.py --forward, where PyTorch is installed), the same gradients on
 * the wasm backend (its conv kernels) as on the cpu backend, training through the shared trainVae,
 * evaluation and figures through LatentModel, checkpoints, and the CLI's --arch flag.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as tf from "../src/engine/tf";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { setNativeThreads } from "../src/engine/native-kernels";
import { convKernelStatus } from "../src/engine/wasm-conv";
import { nativeExpected } from "./harness/native";
import { ConvVae } from "../src/vae/conv";
import { bernoulliNll, klStandardNormalTensor, negativeElbo } from "../src/vae/model";
import { evaluateElbo, trainVae } from "../src/vae/train";
import { iwaeNll } from "../src/vae/evaluate";
import { latentScatter, manifoldFigure, samplesFigure } from "../src/vae/figures";
import { CheckpointError, loadModel, loadVae, saveVae } from "../src/vae/checkpoint";
import { loadMnist } from "../src/data/mnist";
import { parseTrainFlags, UsageError } from "../src/cli/main";
import { Rng } from "../src/engine/random";
import { scratchDir } from "./harness/scratch";

const tiny = path.resolve(__dirname, "../data/mnist-tiny");
const script = path.resolve(__dirname, "reference/pytorch_conv_vae.py");
const torchPython = [process.env.PYTHON, "/usr/bin/python3"].filter((p): p is string => !!p).find((p) => spawnSync(p, ["-c", "import torch"], { stdio: "ignore" }).status === 0);

/** Each variable's values, keyed by its name without the model's unique prefix ("conv1/W", …). */
function weightsOf(model: ConvVae): Record<string, { shape: number[]; data: number[] }> {
  return Object.fromEntries(model.variables().map((v) => [v.name.split("/").slice(1).join("/"), { shape: v.shape, data: Array.from(v.dataSync()) }]));
}

describe("the convolutional VAE", { timeout: 300_000 }, () => {
  beforeAll(async () => {
    await initBackend("cpu");
    await initBackend("wasm");
  });

  it("has the TensorFlow convolutional-VAE tutorial's layers: shapes and parameter count", () => {
    const m = new ConvVae({ latentDim: 2, seed: 1 });
    // conv 3·3·1·32+32, conv 3·3·32·64+64, dense 2304·4+4, dense 2·1568+1568, convT 3·3·64·32+64, convT 3·3·32·64+32, convT 3·3·32·1+1
    expect(m.parameterCount()).toBe(320 + 18496 + 9220 + 4704 + 18496 + 18464 + 289);
    const [mu, lv, out] = tf.tidy(() => {
      const e = m.encode(tf.zeros([3, 784]));
      return [e.mu.shape, e.logVar.shape, m.decode(e.mu).shape];
    });
    expect(mu).toEqual([3, 2]);
    expect(lv).toEqual([3, 2]);
    expect(out).toEqual([3, 784]);
    m.dispose();
  });

  it("initialises as Keras does: Glorot uniform weights, zero biases", () => {
    const m = new ConvVae({ latentDim: 4, seed: 3 });
    const w = weightsOf(m);
    const bound = Math.sqrt(6 / (9 * 32 + 9 * 64));
    const c2 = w["conv2/W"].data;
    expect(Math.max(...c2.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...c2.map(Math.abs))).toBeGreaterThan(0.99 * bound);
    // Uniform on ±b has variance b²/3.
    const variance = c2.reduce((s, v) => s + v * v, 0) / c2.length;
    expect(Math.abs(variance / (bound * bound / 3) - 1)).toBeLessThan(0.05);
    expect(w["deconv1/b"].data.every((v) => v === 0)).toBe(true);
    m.dispose();
  });

  const withTorch = torchPython ? it : it.skip;
  withTorch.each([
    [1, 28, 28],
    [3, 28, 28],
    [3, 32, 24],
  ])("computes the same μ, log σ², logits, loss and gradients (autodiff through the wasm conv kernels) as the PyTorch reference model with the same weights (%i channels, %i×%i)", async (channels, rows, cols) => {
    await tf.setBackend("wasm");
    const m = new ConvVae({ latentDim: 2, channels, rows, cols, seed: 5 });
    const D = rows * cols * channels;
    // Non-zero biases (their layout is checked too) and weights large enough that the logits vary by tens of
    // nats, so that a misplaced row or column of the transposed convolutions shows.
    const rng = new Rng(11);
    tf.tidy(() => m.variables().forEach((v) => v.assign(tf.add(tf.mul(v, 2), tf.randomUniform(v.shape, -0.3, 0.3, "float32", rng.nextSeed())))));
    const set = loadMnist({ dir: tiny, limit: 3 * channels, binarize: "threshold" });
    // Colour: three digits make an image's red, green and blue (pixel p of image i: digits 3i, 3i + 1, 3i + 2);
    // another size: random binary pixels.
    const x =
      rows !== 28 || cols !== 28
        ? Array.from({ length: 3 * D }, () => (rng.uniform() < 0.3 ? 1 : 0))
        : channels === 1
          ? Array.from(set.images)
          : Array.from({ length: 3 * D }, (_, k) => set.images[(3 * Math.floor(k / D) + (k % 3)) * 784 + Math.floor((k % D) / 3)]);
    const eps = [0.3, -1.2, 0.7, 0.1, -0.4, 2.0];
    const ours = tf.tidy(() => {
      const xt = tf.tensor2d(x, [3, D]);
      const { mu, logVar } = m.encode(xt);
      const z = mu.add(tf.exp(logVar.mul(0.5)).mul(tf.tensor2d(eps, [3, 2]))) as tf.Tensor2D;
      const logits = m.decode(z);
      const loss = bernoulliNll(logits, xt).add(klStandardNormalTensor(mu, logVar)).mean();
      return { mu: Array.from(mu.dataSync()), logVar: Array.from(logVar.dataSync()), logits: Array.from(logits.dataSync()), loss: loss.dataSync()[0] };
    });
    const grads = tf.tidy(() => {
      const xt = tf.tensor2d(x, [3, D]);
      const { grads: g } = tf.variableGrads(() => {
        const { mu, logVar } = m.encode(xt);
        const z = mu.add(tf.exp(logVar.mul(0.5)).mul(tf.tensor2d(eps, [3, 2]))) as tf.Tensor2D;
        return bernoulliNll(m.decode(z), xt).add(klStandardNormalTensor(mu, logVar)).mean() as tf.Scalar;
      }, m.variables());
      return Object.fromEntries(m.variables().map((v) => [v.name.split("/").slice(1).join("/"), Array.from(g[v.name].dataSync())]));
    });
    const file = path.join(scratchDir("conv-vae-"), "forward.json");
    fs.writeFileSync(file, JSON.stringify({ weights: weightsOf(m), x, eps, rows, cols }));
    const r = spawnSync(torchPython!, [script, "--forward", file, "--threads", "1"], { encoding: "utf8", maxBuffer: 1 << 26 });
    expect(r.status, `${r.error ?? ""} ${r.signal ?? ""} ${r.stderr}`).toBe(0);
    const theirs = JSON.parse(r.stdout.trim().split("\n").pop()!);
    // Float32 rounding only: within 1e-5 of each output's largest magnitude.
    const close = (a: number[], b: number[]) => {
      expect(a.length).toBe(b.length);
      const scale = b.reduce((s, v) => Math.max(s, Math.abs(v)), 1);
      let worst = 0;
      a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]) / scale)));
      expect(worst).toBeLessThan(1e-5);
    };
    close(ours.mu, theirs.mu);
    close(ours.logVar, theirs.logVar);
    close(ours.logits, theirs.logits);
    close([ours.loss], [theirs.loss]);
    expect(Object.keys(theirs.grads).sort()).toEqual(Object.keys(grads).sort());
    for (const name of Object.keys(grads)) close(grads[name], theirs.grads[name]);
    m.dispose();
  });

  withTorch("trains like PyTorch given the same initial weights, minibatch order and ε (parity-conv.js, 2 short epochs)", () => {
    const parity = path.resolve(__dirname, "reference/parity-conv.js");
    const r = spawnSync(process.execPath, [parity, "--epochs", "2", "--train-size", "512", "--test-size", "500", "--seeds", "3", "--json"], { encoding: "utf8", maxBuffer: 1 << 26 });
    expect(r.status, r.stderr).toBe(0);
    const [run] = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(run.torch).toHaveLength(2);
    // Both learn (the loss falls by tens of nats from epoch 1 to 2) and agree to rounding on the way.
    expect(run.ours[0].testLoss - run.ours[1].testLoss).toBeGreaterThan(10);
    run.ours.forEach((o: { trainLoss: number; testLoss: number }, i: number) => {
      expect(Math.abs(o.testLoss - run.torch[i].testLoss)).toBeLessThan(0.01);
      expect(Math.abs(o.trainLoss - run.torch[i].trainLoss)).toBeLessThan(0.01);
    });
  });

  it.each([
    [1, 28, 28],
    [3, 32, 24],
  ])("gradients of the negative ELBO on wasm (its conv kernels) equal those on the cpu backend (%i channels, %i×%i)", async (channels, rows, cols) => {
    // Two digits; or, for colour images of another size, random binary values.
    const rng = new Rng(3);
    const images = channels === 1 ? loadMnist({ dir: tiny, limit: 2, binarize: "threshold" }).images : Float32Array.from({ length: 2 * rows * cols * channels }, () => (rng.uniform() < 0.3 ? 1 : 0));
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const m = new ConvVae({ latentDim: 2, rows, cols, channels, seed: 2 });
      const out = tf.tidy(() => {
        const x = tf.tensor2d(images, [2, rows * cols * channels]);
        const { grads: g } = tf.variableGrads(() => negativeElbo(m, x, { seed: 9 }).loss, m.variables());
        return m.variables().map((v) => Array.from(g[v.name].dataSync()));
      });
      m.dispose();
      return out;
    };
    const ref = await grads("cpu");
    const got = await grads("wasm");
    ref.forEach((r, i) => {
      const scale = r.reduce((s, v) => Math.max(s, Math.abs(v)), 1e-3);
      expect(scale).toBeGreaterThan(1e-3); // every variable gets a gradient
      got[i].forEach((v, j) => expect(Math.abs(v - r[j]) / scale).toBeLessThan(1e-3));
    });
  });

  (nativeExpected ? it : it.skip)("on two and three threads (each convolution and bias/ReLU pass in parts of the batch) the gradient of 9 images is the one-thread gradient to float32 rounding", async () => {
    await tf.setBackend("wasm");
    expect(convKernelStatus()).toEqual({ conv2d: "native", backpropInput: "native", backpropFilter: "native" });
    const images = loadMnist({ dir: tiny, limit: 9, binarize: "threshold" }).images;
    const m = new ConvVae({ latentDim: 2, seed: 2 });
    const grads = (threads: number) => {
      setNativeThreads(threads);
      return tf.tidy(() => {
        const x = tf.tensor2d(images, [9, 784]);
        const { grads: g } = tf.variableGrads(() => negativeElbo(m, x, { seed: 9 }).loss, m.variables());
        return m.variables().map((v) => Array.from(g[v.name].dataSync()));
      });
    };
    try {
      const one = grads(1);
      for (const threads of [2, 3]) {
        const many = grads(threads);
        one.forEach((r, i) => {
          const scale = r.reduce((s, v) => Math.max(s, Math.abs(v)), 1e-3);
          expect(scale).toBeGreaterThan(1e-3);
          let worst = 0;
          many[i].forEach((v, j) => (worst = Math.max(worst, Math.abs(v - r[j]) / scale)));
          expect(worst).toBeLessThan(1e-5);
        });
      }
    } finally {
      setNativeThreads(1);
      m.dispose();
    }
  });

  it("trains with trainVae (loss falls), and evaluation, IWAE and figures take it; no tensors leak", async () => {
    await tf.setBackend("wasm");
    const train = loadMnist({ dir: tiny, limit: 64, binarize: "threshold" });
    const test = loadMnist({ dir: tiny, split: "test", limit: 16, binarize: "threshold" });
    const m = new ConvVae({ latentDim: 2, seed: 1 });
    const before = tf.memory().numTensors;
    const start = evaluateElbo(m, train, { seed: 1 }).loss;
    const history = trainVae(m, train, test, { epochs: 3, batchSize: 16, lr: 3e-3, seed: 1 });
    const end = evaluateElbo(m, train, { seed: 1 }).loss;
    expect(end).toBeLessThan(start - 20);
    expect(history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(() => trainVae(m, train, test, { epochs: 1, encoderEstimator: "score" })).toThrow(/MLP VAE only/);
    const iwae = iwaeNll(m, test, { k: 8, limit: 4 });
    expect(Number.isFinite(iwae)).toBe(true);
    expect(latentScatter(m, test).data.length).toBeGreaterThan(0);
    expect(manifoldFigure(m, { n: 4 }).data.length).toBeGreaterThan(0);
    expect(samplesFigure(m, { n: 4 }).data.length).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it("checkpoints: save and load give the same weights and outputs; loadVae says it is not an MLP", async () => {
    await tf.setBackend("wasm");
    const m = new ConvVae({ latentDim: 3, seed: 4 });
    const file = path.join(scratchDir("conv-vae-"), "model.json");
    saveVae(m, file, { note: "round trip" });
    const { model, metadata } = loadModel(file);
    expect(model).toBeInstanceOf(ConvVae);
    expect(model.config).toEqual(m.config);
    expect(metadata).toEqual({ note: "round trip" });
    const z = tf.tensor2d([0.5, -1, 2, 0, 0.1, -0.3], [2, 3]);
    const [a, b] = tf.tidy(() => [Array.from(m.decode(z).dataSync()), Array.from(model.decode(z).dataSync())]);
    expect(b).toEqual(a);
    z.dispose();
    expect(() => loadVae(file)).toThrow(CheckpointError);
    expect(() => loadVae(file)).toThrow(/convolutional VAE/);
    // A checkpoint whose weights do not fit the architecture is refused, naming the weight.
    const ckpt = JSON.parse(fs.readFileSync(file, "utf8"));
    ckpt.weights[0].shape = [3, 3, 1, 16];
    fs.writeFileSync(file, JSON.stringify(ckpt));
    expect(() => loadModel(file)).toThrow(/weight 0 .*conv1\/W.* has shape \[3,3,1,16\]/);
    // Short data, a non-finite value, a configuration the architecture cannot take: refused before a model is
    // built, naming the file and the layer.
    const good = JSON.parse(JSON.stringify(ckpt));
    good.weights[0].shape = [3, 3, 1, 32];
    const tryWith = (edit: (c: typeof good) => void) => {
      const c = JSON.parse(JSON.stringify(good));
      edit(c);
      fs.writeFileSync(file, JSON.stringify(c));
      return () => loadModel(file);
    };
    expect(tryWith(() => {})).not.toThrow();
    expect(tryWith((c) => (c.weights[7].data = c.weights[7].data.slice(0, 40)))).toThrow(/weight 7 \(dec\/b\) holds fewer than/);
    const nan = Buffer.from(new Float32Array([NaN]).buffer).toString("base64");
    expect(tryWith((c) => (c.weights[13].data = nan))).toThrow(/weight 13 \(deconv3\/b\) holds NaN/);
    expect(tryWith((c) => (c.config.inputDim = 100))).toThrow(/bad configuration: the convolutional VAE of 28×28 images of 1 channel takes inputDim 784 \(got 100\)/);
    expect(tryWith((c) => (c.config.rows = 30))).toThrow(/bad configuration: the convolutional VAE takes images whose height and width are multiples of 4 from 8 to 1024 .*, not 30×28/);
    expect(tryWith((c) => (c.config.latentDim = "2"))).toThrow(/bad configuration: latentDim must be a number/);
    expect(tryWith((c) => c.weights.pop())).toThrow(/holds 13 weight arrays, the configuration needs 14/);
    m.dispose();
    model.dispose();
  });

  it("vae-lab train --arch conv trains and writes metrics.json, report.html and a loadable model.json (built CLI)", () => {
    const out = scratchDir("conv-vae-cli-");
    const cli = path.resolve(__dirname, "../dist/cli/main.js");
    const args = ["train", "--arch", "conv", "--epochs", "1", "--batch-size", "32", "--binarize", "threshold", "--iwae-k", "4", "--iwae-images", "5"];
    const r = spawnSync(process.execPath, [cli, ...args, "--data", tiny, "--out", out, "--backend", "wasm"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const metrics = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
    expect(metrics.config.arch).toBe("conv");
    expect(metrics.config.parameters).toBe(69989);
    expect(Number.isFinite(metrics.test.elbo)).toBe(true);
    expect(Number.isFinite(metrics.test.iwae.nll)).toBe(true);
    expect(fs.readFileSync(path.join(out, "report.html"), "utf8")).toMatch(/convolutional VAE/);
    const { model } = loadModel(path.join(out, "model.json"));
    expect(model).toBeInstanceOf(ConvVae);
    model.dispose();
    const bad = spawnSync(process.execPath, [cli, "train", "--arch", "conv", "--likelihood", "gaussian", "--data", tiny, "--out", out], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/--likelihood: the conv model has a Bernoulli likelihood only/);
    // 10 × 10 images (the MLP trains on them): refused in one line naming the flag and the size.
    const small = scratchDir("conv-vae-10x10-");
    const idx = (count: number, rows: number) => {
      const b = Buffer.alloc(16 + count * rows * rows);
      b.writeUInt32BE(0x803, 0);
      [count, rows, rows].forEach((v, i) => b.writeUInt32BE(v, 4 + 4 * i));
      return b;
    };
    const labels = (count: number) => Buffer.concat([Buffer.from([0, 0, 8, 1]), Buffer.from(new Uint32Array([0]).buffer), Buffer.alloc(count)]).fill(0, 8);
    for (const [split, n] of [["train", 20], ["t10k", 10]] as const) {
      fs.writeFileSync(path.join(small, `${split}-images-idx3-ubyte`), idx(n, 10));
      const l = labels(n);
      l.writeUInt32BE(n, 4);
      fs.writeFileSync(path.join(small, `${split}-labels-idx1-ubyte`), l);
    }
    const tenByTen = spawnSync(process.execPath, [cli, "train", "--arch", "conv", "--data", small, "--out", out], { encoding: "utf8" });
    expect(tenByTen.status, tenByTen.stderr).toBe(1);
    expect(tenByTen.stderr.trim().split("\n")).toHaveLength(1);
    expect(tenByTen.stderr).toMatch(/--arch conv: the convolutional VAE takes images whose height and width are multiples of 4 from 8 to 1024 \(28×28, 32×32, 64×48, …\), not 10×10, the size of the images in .*; resize them with --size \(e\.g\. --size 32\)$/m);
    const sized = spawnSync(process.execPath, [cli, "train", "--arch", "conv", "--data", tiny, "--size", "30", "--out", out], { encoding: "utf8" });
    expect(sized.stderr.trim()).toMatch(/not 30×30, the size --size gives; resize them with --size \(e\.g\. --size 32\)$/);
  });

  it("vae-lab train --arch conv | mlp; anything else is a usage error naming the flag", () => {
    expect(parseTrainFlags(["--arch", "conv"]).arch).toBe("conv");
    expect(parseTrainFlags([]).arch).toBe("mlp");
    expect(parseTrainFlags(["--binarize", "threshold"]).binarize).toBe("threshold");
    expect(() => parseTrainFlags(["--arch", "cnn"])).toThrow(UsageError);
    expect(() => parseTrainFlags(["--arch", "cnn"])).toThrow(/--arch: expected one of mlp, conv/);
    expect(() => parseTrainFlags(["--arch", "conv", "--hidden-dim", "200"])).toThrow(/^--hidden-dim: the conv model's layers are fixed/);
    expect(() => parseTrainFlags(["--arch", "conv", "--activation", "tanh"])).toThrow(/^--activation: the conv model's layers are fixed/);
    expect(() => parseTrainFlags(["--arch", "conv", "--likelihood", "gaussian"])).toThrow(/^--likelihood: the conv model has a Bernoulli likelihood only/);
    expect(parseTrainFlags(["--arch", "conv", "--likelihood", "bernoulli"]).likelihood).toBe("bernoulli");
  });
});
