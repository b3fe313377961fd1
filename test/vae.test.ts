import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import * as math from "mathjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { CheckpointError, loadVae, saveVae } from "../src/vae/checkpoint";
import { activeUnits, decodeLatentGrid, encodeMeans, iwaeNll, normalQuantile, reconstruct, samplePrior } from "../src/vae/evaluate";
import { logNormal1d } from "../src/prob/gaussian";
import { klToStandardNormal, meanAndStderr } from "../src/prob/kl";
import { loadMnist, MnistSet } from "../src/data/mnist";
import { Rng } from "../src/engine/random";
import { betaAt, evaluateElbo, trainVae, TrainingDivergedError } from "../src/vae/train";
import { bernoulliNll, gaussianNll, klStandardNormalTensor, negativeElbo, Vae } from "../src/vae/model";
import { scratchDir } from "./harness/scratch";

const tiny = path.resolve(__dirname, "../data/mnist-tiny");
let train: MnistSet;
let test: MnistSet;

beforeAll(async () => {
  await initBackend("cpu");
  train = loadMnist({ dir: tiny, split: "train" });
  test = loadMnist({ dir: tiny, split: "test" });
});

const read = (t: tf.Tensor) => Array.from(t.dataSync());

describe("loss terms", () => {
  it("Bernoulli NLL on logits equals −[x log σ(l) + (1−x) log(1−σ(l))], and stays finite for huge logits", () => {
    const l = [[-3, 0.5, 2], [10, -10, 0]];
    const x = [[0, 1, 0.3], [1, 0, 0.5]];
    const got = tf.tidy(() => read(bernoulliNll(tf.tensor2d(l), tf.tensor2d(x))));
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    l.forEach((row, i) => {
      const ref = row.reduce((s, li, j) => s - (x[i][j] * Math.log(sig(li)) + (1 - x[i][j]) * Math.log(1 - sig(li))), 0);
      expect(got[i]).toBeCloseTo(ref, 4);
    });
    const big = tf.tidy(() => read(bernoulliNll(tf.tensor2d([[200, -200]]), tf.tensor2d([[0, 1]]))));
    expect(big[0]).toBeCloseTo(400, 3); // −log σ(−200) ≈ 200, twice
  });

  it("Gaussian NLL equals the sum of 1-D Gaussian log-densities", () => {
    const got = tf.tidy(() => read(gaussianNll(tf.tensor2d([[0.2, 0.8]]), tf.tensor2d([[0.5, 0.1]]), Math.log(0.3))));
    expect(got[0]).toBeCloseTo(-(logNormal1d(0.5, 0.2, Math.sqrt(0.3)) + logNormal1d(0.1, 0.8, Math.sqrt(0.3))), 4);
  });

  it("the tensor KL matches the float64 closed form of kl.ts", () => {
    const mu = [0.3, -1, 2];
    const logVar = [0.1, -2, 1.5];
    const got = tf.tidy(() => read(klStandardNormalTensor(tf.tensor2d([mu]), tf.tensor2d([logVar]))));
    expect(got[0]).toBeCloseTo(klToStandardNormal({ mu, sigma: logVar.map((v) => Math.exp(v / 2)) }), 4);
  });
});

/** A float64 forward pass of a one-hidden-layer VAE from its weights: the independent reference. */
function reference(vae: Vae) {
  const w = vae.variables().map((v) => ({ shape: v.shape, data: Array.from(v.dataSync()) }));
  const dense = (x: number[], W: { shape: number[]; data: number[] }, b: { data: number[] }, relu: boolean) => {
    const [nin, nout] = W.shape;
    return Array.from({ length: nout }, (_, j) => {
      let s = b.data[j];
      for (let i = 0; i < nin; i++) s += x[i] * W.data[i * nout + j];
      return relu ? Math.max(0, s) : s;
    });
  };
  const encode = (x: number[]) => {
    const h = dense(x, w[0], w[1], true);
    return { mu: dense(h, w[2], w[3], false), logVar: dense(h, w[4], w[5], false) };
  };
  const decode = (z: number[]) => dense(dense(z, w[6], w[7], true), w[8], w[9], false);
  return { encode, decode };
}

describe("the model", () => {
  it("encode and decode match an independent float64 forward pass", () => {
    const vae = new Vae({ hiddenDims: [16], latentDim: 3, seed: 5 });
    const ref = reference(vae);
    const x = Array.from(train.images.subarray(0, 784));
    const { mu, logVar } = vae.encode(tf.tensor2d([x]));
    const r = ref.encode(x);
    read(mu).forEach((v, i) => expect(v).toBeCloseTo(r.mu[i], 4));
    read(logVar).forEach((v, i) => expect(v).toBeCloseTo(r.logVar[i], 4));
    const logits = read(vae.decode(tf.tensor2d([[0.5, -1, 2]])));
    ref.decode([0.5, -1, 2]).forEach((v, i) => expect(logits[i]).toBeCloseTo(v, 4));
    tf.dispose([mu, logVar]);
    vae.dispose();
  });

  it("the hand-written gradients (dense layers, BCE, KL) equal tfjs's traced ones, for every weight", () => {
    const vae = new Vae({ hiddenDims: [24, 12], latentDim: 3, seed: 8 });
    const x = tf.tensor2d(train.images.subarray(0, 5 * 784), [5, 784]);
    const vars = vae.variables();
    const ours = tf.variableGrads(() => negativeElbo(vae, x, { seed: 4 }).loss, vars);
    // Reference forward pass with plain tf.matMul (default gradients), same ε.
    const ref = tf.variableGrads(() => {
      const lin = (h: tf.Tensor, l: { W: tf.Tensor; b: tf.Tensor }) => tf.add(tf.matMul(h, l.W), l.b);
      let h: tf.Tensor = x;
      for (const l of vae.encoder) h = tf.relu(lin(h, l));
      const mu = lin(h, vae.encMu) as tf.Tensor2D;
      const logVar = lin(h, vae.encLogVar) as tf.Tensor2D;
      const eps = tf.randomNormal([5, 3], 0, 1, "float32", 4);
      let d: tf.Tensor = mu.add(tf.exp(logVar.mul(0.5)).mul(eps));
      for (const l of vae.decoder) d = tf.relu(lin(d, l));
      const l = lin(d, vae.decOut) as tf.Tensor2D;
      // BCE and KL written with plain ops, so tfjs traces their gradients (the library's are hand-written).
      const bce = tf.relu(l).sub(l.mul(x)).add(tf.log1p(tf.exp(tf.neg(tf.abs(l))))).sum(1);
      const kl = tf.scalar(-0.5).mul(tf.scalar(1).add(logVar).sub(mu.square()).sub(tf.exp(logVar))).sum(1);
      return bce.mean().add(kl.mean()) as tf.Scalar;
    }, vars);
    expect(ours.value.dataSync()[0]).toBeCloseTo(ref.value.dataSync()[0], 3);
    for (const v of vars) {
      const a = read(ours.grads[v.name]);
      const b = read(ref.grads[v.name]);
      const scale = Math.max(...b.map(Math.abs), 1e-6);
      // One assertion on the worst entry (an expect per weight is slow under load).
      const worst = a.reduce((w, g, i) => Math.max(w, Math.abs(g - b[i]) / scale), 0);
      expect(a).toHaveLength(b.length);
      expect(worst, v.name).toBeLessThan(1e-4);
    }
    tf.dispose([x, ours.value, ref.value, ...Object.values(ours.grads), ...Object.values(ref.grads)]);
    vae.dispose();
  });

  it("initialises like PyTorch's nn.Linear: uniform on ±1/√fan_in", () => {
    const vae = new Vae({ seed: 3 });
    const W = read(vae.encoder[0].W);
    const bound = 1 / Math.sqrt(784);
    expect(Math.max(...W.slice(0, 50000))).toBeLessThanOrEqual(bound);
    expect(Math.min(...W.slice(0, 50000))).toBeGreaterThanOrEqual(-bound);
    const sd = Math.sqrt(W.reduce((s, v) => s + v * v, 0) / W.length);
    expect(sd).toBeCloseTo(bound / Math.sqrt(3), 4); // sd of U(−a, a) = a/√3
    expect(vae.parameterCount()).toBe(784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784);
    vae.dispose();
  });

  it("the negative ELBO matches a float64 Monte Carlo of E_q[−log p(x|z)] + KL (within 4 s.e.)", () => {
    const vae = new Vae({ hiddenDims: [32], latentDim: 2, seed: 7 });
    const ref = reference(vae);
    const x = Array.from(train.images.subarray(784, 2 * 784));
    const { mu, logVar } = ref.encode(x);
    const rng = new Rng(1);
    const vals: number[] = [];
    for (let s = 0; s < 4000; s++) {
      const z = mu.map((m, d) => m + Math.exp(logVar[d] / 2) * rng.normal());
      const l = ref.decode(z);
      vals.push(l.reduce((acc, li, j) => acc + Math.max(li, 0) - li * x[j] + Math.log1p(Math.exp(-Math.abs(li))), 0));
    }
    const recon = meanAndStderr(vals);
    const kl = klToStandardNormal({ mu, sigma: logVar.map((v) => Math.exp(v / 2)) });
    const t = negativeElbo(vae, tf.tensor2d([x]), { samples: 4000, seed: 2 });
    const [loss, r, k] = [t.loss, t.recon, t.kl].map((s) => s.dataSync()[0]);
    expect(k).toBeCloseTo(kl, 3);
    expect(Math.abs(r - recon.estimate)).toBeLessThan(4 * Math.sqrt(2) * recon.stderr);
    expect(loss).toBeCloseTo(r + k, 3);
    const half = negativeElbo(vae, tf.tensor2d([x]), { samples: 1, seed: 2, beta: 0.5 });
    expect(half.loss.dataSync()[0]).toBeCloseTo(half.recon.dataSync()[0] + 0.5 * half.kl.dataSync()[0], 3);
    tf.dispose([t.loss, t.recon, t.kl, half.loss, half.recon, half.kl]);
    vae.dispose();
  });

  it("a Gaussian likelihood with learned variance has a trainable log σ²", () => {
    const vae = new Vae({ likelihood: "gaussian", gaussianVariance: "learned", hiddenDims: [8], latentDim: 2 });
    expect(vae.variables()).toHaveLength(11);
    expect(vae.logNoiseVar!.dataSync()[0]).toBe(0);
    vae.dispose();
  });

  it("rejects bad configurations", () => {
    expect(() => new Vae({ latentDim: 0 })).toThrow(/latentDim must be a positive integer/);
    expect(() => new Vae({ activation: "swish" as never })).toThrow(/activation must be one of/);
  });
});

describe("training", () => {
  it("lowers the loss, is repeatable with a seed, and leaks no tensors across epochs", () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const run = () => {
      const vae = new Vae({ hiddenDims: [64], latentDim: 4, seed: 1 });
      const h = trainVae(vae, train, test, { epochs: 4, batchSize: 25, lr: 3e-3, seed: 9, onEpoch: () => counts.push(tf.memory().numTensors) });
      vae.dispose();
      return h;
    };
    const a = run();
    expect(a[3].trainLoss).toBeLessThan(a[0].trainLoss - 50);
    expect(a[3].testLoss).toBeLessThan(a[0].testLoss);
    expect(new Set(counts.slice(0, 4)).size).toBe(1); // same number of live tensors after every epoch
    const b = run();
    expect(b.map((r) => r.testLoss)).toEqual(a.map((r) => r.testLoss));
    expect(tf.memory().numTensors).toBe(before);
    for (const r of a) expect(r.testLoss).toBeCloseTo(r.recon + r.kl, 3);
  });

  it("KL warm-up raises β linearly", () => {
    expect([1, 2, 3, 4, 5, 6].map((e) => betaAt(e, 1, 4))).toEqual([0, 0.25, 0.5, 0.75, 1, 1]);
    expect([1, 2, 3].map((e) => betaAt(e, 2, 1))).toEqual([0, 2, 2]); // --warmup 1 is not a no-op
    expect(betaAt(1, 2, 0)).toBe(2);
  });

  it("stops with a clear error when the loss becomes NaN, keeping the last good weights", () => {
    const bad = loadMnist({ dir: tiny, limit: 20 });
    bad.images[5] = NaN;
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const w0 = read(vae.encoder[0].W);
    expect(() => trainVae(vae, bad, test, { epochs: 1, batchSize: 20 })).toThrow(TrainingDivergedError);
    expect(() => trainVae(vae, bad, test, { epochs: 1, batchSize: 20 })).toThrow(/loss became NaN at epoch 1, step 1 \(try a lower learning rate\)/);
    expect(read(vae.encoder[0].W)).toEqual(w0);
    vae.dispose();
  });

  it("evaluateElbo averages over the whole set", () => {
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const e = evaluateElbo(vae, test, { batchSize: 7 });
    expect(e.loss).toBeCloseTo(e.recon + e.kl, 3);
    expect(e.loss).toBeGreaterThan(400); // untrained: ~ 784 · log 2 ≈ 543 nats
    vae.dispose();
  });
});

describe("evaluation", () => {
  let vae: Vae;
  beforeAll(() => {
    vae = new Vae({ hiddenDims: [64], latentDim: 2, seed: 2 });
    trainVae(vae, train, test, { epochs: 5, batchSize: 20, lr: 3e-3, seed: 1 });
  });

  it("IWAE: k = 1 is the ELBO; the bound tightens as k grows", () => {
    const sub = loadMnist({ dir: tiny, split: "test", limit: 20 });
    const elbo = evaluateElbo(vae, sub, { samples: 1, seed: 3 });
    const k1 = [1, 2, 3, 4, 5].map((s) => iwaeNll(vae, sub, { k: 1, seed: s }));
    const m1 = meanAndStderr(k1);
    expect(Math.abs(m1.estimate - elbo.loss)).toBeLessThan(5 * Math.max(m1.stderr, 0.5));
    const k10 = iwaeNll(vae, sub, { k: 10, seed: 1 });
    const k200 = iwaeNll(vae, sub, { k: 200, seed: 1, chunk: 64 });
    expect(k10).toBeLessThan(m1.estimate);
    expect(k200).toBeLessThan(k10);
  });

  it("active units count the dimensions whose posterior mean varies", () => {
    const au = activeUnits(vae, test);
    expect(au.variances).toHaveLength(2);
    expect(au.count).toBe(au.variances.filter((v) => v > 0.01).length);
    const means = encodeMeans(vae, test, { limit: 10, batchSize: 3 });
    expect(means).toHaveLength(20);
  });

  it("IWAE is exactly −log p(x) for every k when q(z|x) is the true posterior (here: z independent of x)", () => {
    // Zero weights: q(z|x) = N(0, I) = p(z), and logits c that do not depend on z, so every importance weight
    // is p(x) = Π_j σ(c_j)^x_j (1 − σ(c_j))^(1 − x_j), and L_k = log p(x) for all k (the − log k is needed).
    const m = new Vae({ hiddenDims: [], latentDim: 3, seed: 4 });
    const c = Array.from({ length: 784 }, (_, j) => Math.sin(j / 7) * 2);
    for (const v of m.variables()) v.assign(tf.zerosLike(v));
    m.decOut.b.assign(tf.tensor1d(c));
    const sub = loadMnist({ dir: tiny, split: "test", limit: 5 });
    let exact = 0;
    for (let i = 0; i < sub.count; i++) {
      for (let j = 0; j < 784; j++) exact += (Math.log1p(Math.exp(c[j])) - c[j] * sub.images[i * 784 + j]) / sub.count;
    }
    for (const k of [1, 7, 50]) expect(iwaeNll(m, sub, { k, seed: 2, chunk: 16 })).toBeCloseTo(exact, 2);
    m.dispose();
  });

  it("active units: a dimension counts when the variance of its posterior mean exceeds 0.01", () => {
    // No hidden layer: E_q[z_d|x] = x·W_d + b_d, so scaling column d of W scales that variance by the square.
    const m = new Vae({ hiddenDims: [], latentDim: 4, seed: 5 });
    const base = activeUnits(m, test).variances;
    const targets = [0.005, 0.05, 0.5, 0.0099];
    const scale = tf.tensor1d(targets.map((t, d) => Math.sqrt(t / base[d])));
    m.encMu.W.assign(tf.mul(m.encMu.W, scale));
    const au = activeUnits(m, test);
    au.variances.forEach((v, d) => expect(v).toBeCloseTo(targets[d], 5));
    expect(au.count).toBe(2);
    expect(activeUnits(m, test, { threshold: 0.001 }).count).toBe(4);
    scale.dispose();
    m.dispose();
  });

  it("decodes a latent grid of Gaussian quantiles, reconstructions and prior samples", () => {
    const g = decodeLatentGrid(vae, { n: 5 });
    expect(g.images).toHaveLength(25 * 784);
    expect(g.z1[2]).toBeCloseTo(0, 12);
    expect(g.z1[4]).toBeCloseTo(normalQuantile(0.9), 12);
    expect(g.z2[0]).toBeCloseTo(normalQuantile(0.9), 12);
    expect(reconstruct(vae, test, [0, 1])).toHaveLength(2 * 784);
    const s = samplePrior(vae, { n: 3, seed: 1 });
    expect(s).toEqual(samplePrior(vae, { n: 3, seed: 1 }));
    expect(Math.min(...s)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...s)).toBeLessThanOrEqual(1);
    const big = new Vae({ hiddenDims: [4], latentDim: 3 });
    expect(() => decodeLatentGrid(big, { n: 3 })).toThrow(/needs a 2-D latent space \(this model has 3\)/);
    big.dispose();
  });

  it("normalQuantile inverts Φ (checked with mathjs's erf) down to the far tails", () => {
    const Phi = (x: number) => 0.5 * (1 + (math.erf(x / Math.SQRT2) as number));
    // Central region: refined to near machine precision.
    for (const p of [0.02425, 0.1, 0.3, 0.5, 0.77, 0.97]) expect(Math.abs(Phi(normalQuantile(p)) - p)).toBeLessThan(1e-14);
    // Tails: Acklam's approximation, relative error below 1.2e-9 (reference values of Φ⁻¹).
    const known: [number, number][] = [[1e-10, -6.361340902404056], [1e-4, -3.719016485455709], [0.01, -2.326347874040841], [0.9999, 3.719016485455709]];
    for (const [p, x] of known) expect(Math.abs(normalQuantile(p) - x) / Math.abs(x)).toBeLessThan(1.2e-9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 13);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.3263478740408408, 8);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });

  it("a checkpoint round-trips exactly, is written whole, and bad files are named", () => {
    const dir = scratchDir("vae-lab-ckpt-");
    const file = path.join(dir, "model.json");
    saveVae(vae, file, { note: "hi" });
    expect(fs.readdirSync(dir)).toEqual(["model.json"]);
    const { vae: back, metadata } = loadVae(file);
    expect(metadata).toEqual({ note: "hi" });
    back.variables().forEach((v, i) => expect(read(v)).toEqual(read(vae.variables()[i])));
    expect(back.config).toEqual(vae.config);
    back.dispose();
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.slice(0, text.length / 2));
    expect(() => loadVae(file)).toThrow(new CheckpointError(file, "not valid JSON (truncated or not a vae-lab checkpoint)"));
    fs.writeFileSync(file, JSON.stringify({ format: "other" }));
    expect(() => loadVae(file)).toThrow(/not a vae-lab checkpoint/);
    const ck = JSON.parse(text);
    ck.weights[0].shape = [1, 2];
    fs.writeFileSync(file, JSON.stringify(ck));
    expect(() => loadVae(file)).toThrow(/weight 0 .* has shape \[1,2\], expected \[784,64\]/);
    expect(() => loadVae(path.join(dir, "none.json"))).toThrow(/none.json: checkpoint not found/);
  });
});
