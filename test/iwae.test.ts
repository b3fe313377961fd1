/**
 * The importance-weighted bound as a training objective (src/vae/iwae.ts; Burda et al. 2016): its value against
 * a float64 computation written out here from the model's weights, its autodiff gradient against a central
 * difference of that float64 value, its order in k, trainVae with objective "iwae", and the paper's
 * learning-rate schedule.
 */
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { Rng } from "../src/engine/random";
import { batchTensor, MnistSet } from "../src/data/mnist";
import { meanAndStderr } from "../src/prob/kl";
import { iwaeNll } from "../src/vae/evaluate";
import { IWAE_WEIGHT_FLOOR, iwaeBound, logImportanceWeights, logSumExpOverSamples } from "../src/vae/iwae";
import { negativeElbo, Vae } from "../src/vae/model";
import { trainVae } from "../src/vae/train";
import { BURDA_EPOCHS, burdaStage, learningRateAt } from "../src/vae/schedule";
import { bce64, LOG_2PI_64, mlp64 } from "./harness/mlp64";
import { tinyMnist } from "./harness/mnist-tiny";

beforeAll(async () => {
  await initBackend("cpu");
});

/** log Σ exp(v) − log n, in float64. */
const logMeanExp = (v: number[]) => {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, t) => s + Math.exp(t - m), 0) / v.length);
};

/**
 * L_k of each image and its mean, in float64 from the model's current weights: ε row i·B + b is sample i of
 * image b; log w = −BCE(decode(z), x) + log N(z; 0, I) − log N(z; μ, σ²).
 */
function bound64(m: Vae, x: number[][], eps: number[][]) {
  const ref = mlp64(m);
  const B = x.length;
  const k = eps.length / B;
  const logW: number[][] = x.map(() => []);
  let recon = 0;
  eps.forEach((e, row) => {
    const b = row % B;
    const { mu, logVar } = ref.encode(x[b]);
    const z = mu.map((u, d) => u + Math.exp(logVar[d] / 2) * e[d]);
    const logPx = -bce64(ref.decode(z), x[b]);
    const logPz = z.reduce((s, v) => s - 0.5 * (v * v + LOG_2PI_64), 0);
    const logQz = z.reduce((s, v, d) => s - 0.5 * ((v - mu[d]) ** 2 / Math.exp(logVar[d]) + logVar[d] + LOG_2PI_64), 0);
    logW[b].push(logPx + logPz - logQz);
    recon -= logPx / (k * B);
  });
  const perImage = logW.map(logMeanExp);
  return { logW, perImage, bound: perImage.reduce((s, v) => s + v, 0) / B, recon };
}

describe("the bound's value", () => {
  const x = [[0.1, 0.9, 0, 0.5, 1], [1, 0, 0.3, 0.2, 0.7]];
  const eps = [[0.3, -1], [1.5, 0.2], [-0.7, 0.4], [0, 2], [2.2, -0.3], [-1.1, -1.6]]; // k = 3, B = 2

  it("L_k with given ε (k = 3, 2 images) equals its float64 value, and so do log w and the ELBO's terms", () => {
    const m = new Vae({ inputDim: 5, hiddenDims: [3, 4], latentDim: 2, seed: 4, activation: "tanh" });
    const want = bound64(m, x, eps);
    const got = tf.tidy(() => {
      const t = iwaeBound(m, tf.tensor2d(x), { samples: 3, eps: tf.tensor2d(eps) });
      const w = logImportanceWeights(m, tf.tensor2d(x), tf.tensor2d(eps));
      const elbo = negativeElbo(m, tf.tensor2d(x), { samples: 3, eps: tf.tensor2d(eps) });
      return { bound: t.bound.dataSync()[0], recon: t.recon.dataSync()[0], kl: t.kl.dataSync()[0], logW: Array.from(w.dataSync()), elboKl: elbo.kl.dataSync()[0] };
    });
    expect(got.bound).toBeCloseTo(want.bound, 4);
    got.logW.forEach((v, row) => expect(v).toBeCloseTo(want.logW[row % 2][Math.floor(row / 2)], 4));
    expect(got.recon).toBeCloseTo(want.recon, 4);
    expect(got.kl).toBeCloseTo(got.elboKl, 6);
    // Not the plain average of log w (the k-sample ELBO): with these draws the weights differ, and L_3 is above it.
    const elbo3 = want.logW.flat().reduce((s, v) => s + v, 0) / 6;
    expect(want.bound - elbo3).toBeGreaterThan(0.01);
    m.dispose();
  });

  it("with k = 1 it is the one-sample ELBO estimate, log w (its KL from the sample, not in closed form)", () => {
    const m = new Vae({ inputDim: 5, hiddenDims: [3], latentDim: 2, seed: 5 });
    const one = eps.slice(0, 2);
    const want = bound64(m, x, one);
    const got = tf.tidy(() => iwaeBound(m, tf.tensor2d(x), { samples: 1, eps: tf.tensor2d(one) }).bound.dataSync()[0]);
    expect(got).toBeCloseTo((want.logW[0][0] + want.logW[1][0]) / 2, 4);
    m.dispose();
  });

  it("refuses a k that is not a positive integer and an ε of the wrong shape, and leaks no tensors", () => {
    const m = new Vae({ inputDim: 5, hiddenDims: [3], latentDim: 2, seed: 5 });
    const before = tf.memory().numTensors;
    const xt = tf.tensor2d(x);
    for (const k of [0, 1.5, NaN]) expect(() => iwaeBound(m, xt, { samples: k })).toThrow(/samples must be a positive integer/);
    expect(() => tf.tidy(() => void iwaeBound(m, xt, { samples: 3, eps: tf.zeros([5, 2]) }))).toThrow("eps has shape [5,2], expected [6, 2]");
    expect(() => tf.tidy(() => logImportanceWeights(m, xt, tf.zeros([5, 2])))).toThrow("eps has shape [5,2], expected [k · 2, 2]");
    // The right number of rows but not of latent dimensions, and no rows at all (k = 0).
    expect(() => tf.tidy(() => logImportanceWeights(m, xt, tf.zeros([4, 3])))).toThrow("eps has shape [4,3], expected [k · 2, 2]");
    expect(() => tf.tidy(() => void iwaeBound(m, xt, { samples: 2, eps: tf.zeros([4, 3]) }))).toThrow("eps has shape [4,3], expected [k · 2, 2]");
    expect(() => tf.tidy(() => logImportanceWeights(m, xt, tf.zeros([0, 2])))).toThrow("eps has shape [0,2], expected [k · 2, 2]");
    const t = iwaeBound(m, xt, { samples: 4, seed: 3 });
    tf.dispose([t.bound, t.recon, t.kl, xt]);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe("the bound's gradient", () => {
  it("autodiff's gradient of L_k (k = 4) equals a central difference of its float64 value along random directions", () => {
    const m = new Vae({ inputDim: 6, hiddenDims: [5], latentDim: 3, seed: 8, activation: "tanh" });
    const rng = new Rng(21);
    const x = Array.from({ length: 3 }, () => Array.from({ length: 6 }, () => rng.uniform()));
    const eps = Array.from({ length: 12 }, () => Array.from({ length: 3 }, () => rng.normal()));
    const vars = m.variables();
    const { grads } = tf.variableGrads(() => iwaeBound(m, tf.tensor2d(x), { samples: 4, eps: tf.tensor2d(eps) }).bound, vars);
    const g = vars.map((v) => Float64Array.from(grads[v.name].dataSync()));
    tf.dispose(Object.values(grads));
    const start = vars.map((v) => Float64Array.from(v.dataSync()));
    const setAt = (dir: Float64Array[], h: number) => vars.forEach((v, i) => v.assign(tf.tensor(Float32Array.from(start[i], (w, j) => w + h * dir[i][j]), v.shape)));
    for (let trial = 0; trial < 3; trial++) {
      const dir = start.map((s) => Float64Array.from(s, () => rng.normal()));
      const h = 1e-3;
      setAt(dir, h);
      const up = bound64(m, x, eps).bound;
      setAt(dir, -h);
      const down = bound64(m, x, eps).bound;
      setAt(dir, 0);
      const numeric = (up - down) / (2 * h);
      const analytic = g.reduce((s, gi, i) => s + gi.reduce((a, v, j) => a + v * dir[i][j], 0), 0);
      console.log(`direction ${trial}: autodiff ${analytic}, central difference ${numeric}`);
      expect(Math.abs(analytic - numeric), `direction ${trial}: autodiff ${analytic}, difference ${numeric}`).toBeLessThan(2e-4 * Math.max(1, Math.abs(numeric)));
    }
    m.dispose();
  });
});

describe("the samples' log-sum-exp", () => {
  it("is tf.logSumExp over the samples; its gradient is the softmax, with weights below 2⁻⁶⁰ (subnormal at k = 50) exactly 0", () => {
    // Three images (columns) of four samples: weights from 1 down to e⁻⁹⁵ (a subnormal float32), e⁻⁵⁰ (below
    // the floor) and e⁻⁴⁰ (above it, kept).
    const a = [
      [0, 0, 3],
      [-95, -1, 3],
      [-50, -2, -2],
      [-40, -700, 3],
    ];
    const dy = [1.5, -0.5, 2];
    const { value, grad } = tf.tidy(() => {
      const at = tf.tensor2d(a);
      const g = tf.grad((t: tf.Tensor) => logSumExpOverSamples(t as tf.Tensor2D).mul(tf.tensor1d(dy)).sum())(at);
      return { value: Array.from(logSumExpOverSamples(at).dataSync()), grad: Array.from(g.dataSync()) };
    });
    expect(value).toEqual(Array.from(tf.tidy(() => tf.logSumExp(tf.tensor2d(a), 0).dataSync())));
    for (let b = 0; b < 3; b++) {
      const lse = Math.log(a.reduce((s, row) => s + Math.exp(row[b]), 0));
      for (let i = 0; i < 4; i++) {
        const w = Math.exp(a[i][b] - lse);
        const got = grad[i * 3 + b];
        if (w < IWAE_WEIGHT_FLOOR) expect(got === 0, `sample ${i}, image ${b}: ${got}`).toBe(true);
        else expect(Math.abs(got - w * dy[b]), `sample ${i}, image ${b}`).toBeLessThan(1e-6 * Math.abs(w * dy[b]));
      }
    }
    expect(IWAE_WEIGHT_FLOOR).toBe(2 ** -60);
  });

  it("normalises its weights where the log-weights are in the hundreds (the rounding of log Σ would scale them)", () => {
    const a = [
      [-545.1, -90.2],
      [-545.9, -93.7],
      [-551.3, -90.9],
    ];
    const grad = tf.tidy(() => Array.from(tf.grad((t: tf.Tensor) => logSumExpOverSamples(t as tf.Tensor2D).sum())(tf.tensor2d(a)).dataSync()));
    const a32 = a.map((row) => row.map(Math.fround)); // the values the tensor holds
    for (let b = 0; b < 2; b++) {
      const lse = Math.log(a32.reduce((s, row) => s + Math.exp(row[b] - a32[0][b]), 0)) + a32[0][b];
      for (let i = 0; i < 3; i++) expect(Math.abs(grad[i * 2 + b] - Math.exp(a32[i][b] - lse))).toBeLessThan(3e-7);
      expect(Math.abs(grad[b] + grad[2 + b] + grad[4 + b] - 1)).toBeLessThan(3e-7);
    }
  });

  it("iwaeBound's gradient leaves out a sample whose weight is below the floor: its row of ∂L/∂ε is exactly 0", () => {
    // One image, k = 2: sample 0 at ε = 0, sample 1 at ε = c·(1, 1) with c found so that the two log-weights
    // differ by 45 to 80 nats. The lighter sample's normalised weight, e⁻⁴⁵ to e⁻⁸⁰, is below 2⁻⁶⁰ ≈ e⁻⁴¹·⁶ yet
    // a normal float32, so without the floor its row of the gradient would be small but not 0.
    const m = new Vae({ inputDim: 8, hiddenDims: [6], latentDim: 2, seed: 3, activation: "tanh" });
    const x = tf.tensor2d([[1, 0, 1, 1, 0, 0, 1, 0]]);
    const gap = (c: number) => tf.tidy(() => {
      const w = logImportanceWeights(m, x, tf.tensor2d([[0, 0], [c, c]])).dataSync();
      return w[1] - w[0];
    });
    let lo = 0;
    let hi = 1;
    while (Math.abs(gap(hi)) < 45 && hi < 1e6) hi *= 2;
    for (let i = 0; i < 60 && !(Math.abs(gap(hi)) >= 45 && Math.abs(gap(hi)) <= 80); i++) {
      const mid = (lo + hi) / 2;
      if (Math.abs(gap(mid)) < 45) lo = mid;
      else hi = mid;
    }
    const d = gap(hi);
    expect(Math.abs(d)).toBeGreaterThanOrEqual(45);
    expect(Math.abs(d)).toBeLessThanOrEqual(80);
    const g = tf.tidy(() => Array.from(tf.grad((e: tf.Tensor) => iwaeBound(m, x, { samples: 2, eps: e as tf.Tensor2D }).bound)(tf.tensor2d([[0, 0], [hi, hi]])).dataSync()));
    const light = d < 0 ? 1 : 0;
    expect(g.slice(2 * light, 2 * light + 2)).toEqual([0, 0]);
    expect(Math.abs(g[2 * (1 - light)]) + Math.abs(g[2 * (1 - light) + 1])).toBeGreaterThan(0);
    x.dispose();
    m.dispose();
  });
});

describe("training on it", () => {
  let train: MnistSet;
  let test: MnistSet;
  beforeAll(async () => {
    await initBackend("wasm");
    ({ train, test } = tinyMnist());
  });

  it("L_1 ≤ L_5 ≤ L_50 on a trained model (averaged over draws), and L_50 agrees with iwaeNll's k = 50 estimate", () => {
    const m = new Vae({ hiddenDims: [32], latentDim: 4, seed: 2 });
    trainVae(m, train, test, { epochs: 10, batchSize: 20, lr: 3e-3, seed: 2 });
    const x = batchTensor(test, Array.from({ length: 16 }, (_, i) => i));
    const draws = (k: number) => Array.from({ length: 20 }, (_, s) => tf.tidy(() => iwaeBound(m, x, { samples: k, seed: 100 + s }).bound.dataSync()[0]));
    const [l1, l5, l50] = [1, 5, 50].map((k) => meanAndStderr(draws(k)));
    expect(l5.estimate - l1.estimate).toBeGreaterThan(4 * Math.hypot(l1.stderr, l5.stderr));
    expect(l50.estimate - l5.estimate).toBeGreaterThan(4 * Math.hypot(l5.stderr, l50.stderr));
    const nll = iwaeNll(m, test, { k: 50, limit: 16, seed: 3 });
    expect(Math.abs(-nll - l50.estimate)).toBeLessThan(4 * l50.stderr * Math.sqrt(20) + 0.5);
    x.dispose();
    m.dispose();
  });

  it("trainVae with objective iwae: the epoch's train loss is −L_k, finite, the same for the same seed; β, warm-up and score estimators are refused", () => {
    const run = () => {
      const m = new Vae({ hiddenDims: [16], latentDim: 2, seed: 1 });
      const bound = () => tf.tidy(() => iwaeBound(m, batchTensor(train, Array.from({ length: 40 }, (_, i) => i)), { samples: 5, seed: 9 }).bound.dataSync()[0]);
      const start = bound();
      const h = trainVae(m, train, test, { epochs: 3, batchSize: 20, lr: 3e-3, seed: 1, objective: "iwae", samples: 5 });
      const end = bound();
      m.dispose();
      return { h, start, end };
    };
    const before = tf.memory().numTensors;
    const a = run();
    console.log(`L_5 on 40 training images: ${a.start.toFixed(2)} before, ${a.end.toFixed(2)} after 3 epochs; train −L_5 per epoch ${a.h.map((r) => r.trainLoss.toFixed(2)).join(", ")}`);
    expect(tf.memory().numTensors).toBe(before);
    const b = run();
    expect(a.h.map((r) => r.trainLoss)).toEqual(b.h.map((r) => r.trainLoss));
    for (const r of a.h) {
      expect(Number.isFinite(r.trainLoss)).toBe(true);
      // −L_5 ≤ the 5-sample −ELBO in expectation; per epoch the reported terms are the ELBO's from the same draws.
      expect(r.trainLoss).toBeLessThan(r.trainRecon + r.trainKl + 1);
    }
    expect(a.h[2].trainLoss).toBeLessThan(a.h[0].trainLoss);
    // Training raised the bound it climbs, on the same images and draws, by tens of nats (−L_5 ≈ 543 at the start).
    expect(a.end - a.start).toBeGreaterThan(50);

    const m = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    expect(() => trainVae(m, train, test, { epochs: 1, objective: "iwae", beta: 0.5 })).toThrow(/no KL weight: beta must be 1/);
    expect(() => trainVae(m, train, test, { epochs: 1, objective: "iwae", warmupEpochs: 2 })).toThrow(/warmupEpochs 0/);
    expect(() => trainVae(m, train, test, { epochs: 1, objective: "iwae", encoderEstimator: "score" })).toThrow(/reparameterized gradient, not score/);
    expect(() => trainVae(m, train, test, { epochs: 1, objective: "elbow" as "elbo" })).toThrow(/objective must be one of elbo, iwae/);
    m.dispose();
  });
});

describe("Burda et al.'s learning-rate schedule", () => {
  it("3^i epochs at lr·10^(−i/7) for i = 0…7, 3 280 in all; later epochs keep the last rate", () => {
    expect(BURDA_EPOCHS).toBe(3280);
    // The first and last epoch of every stage: 1 | 2–4 | 5–13 | 14–40 | 41–121 | 122–364 | 365–1093 | 1094–3280.
    const firsts = [1, 2, 5, 14, 41, 122, 365, 1094];
    firsts.forEach((e, i) => {
      expect(burdaStage(e), `epoch ${e}`).toBe(i);
      if (e > 1) expect(burdaStage(e - 1), `epoch ${e - 1}`).toBe(i - 1);
    });
    expect(burdaStage(3280)).toBe(7);
    expect(burdaStage(5000)).toBe(7);
    // Stage i lasts 3^i epochs.
    for (let i = 0; i < 8; i++) expect(Array.from({ length: 3280 }, (_, e) => burdaStage(e + 1)).filter((s) => s === i)).toHaveLength(3 ** i);
    expect(learningRateAt(1, 1e-3, "burda")).toBe(1e-3);
    expect(learningRateAt(3, 1e-3, "burda")).toBeCloseTo(1e-3 * 10 ** (-1 / 7), 15);
    expect(learningRateAt(3280, 1e-3, "burda")).toBeCloseTo(1e-4, 15); // 10^(−7/7)
    expect(learningRateAt(3280, 1e-3)).toBe(1e-3);
    expect(() => burdaStage(0)).toThrow(/epoch must be an integer ≥ 1/);
  });

  it("trainVae follows it: the first epoch as at a constant rate, the second (stage 1) not", async () => {
    await initBackend("wasm");
    const { train, test } = tinyMnist();
    const run = (lrSchedule: "constant" | "burda") => {
      const m = new Vae({ hiddenDims: [16], latentDim: 2, seed: 3 });
      const h = trainVae(m, train, test, { epochs: 2, batchSize: 20, lr: 0.01, seed: 3, lrSchedule });
      m.dispose();
      return h.map((r) => r.trainLoss);
    };
    const [c, b] = [run("constant"), run("burda")];
    expect(b[0]).toBe(c[0]);
    expect(b[1]).not.toBe(c[1]);
    expect(() => trainVae(new Vae({ hiddenDims: [4], latentDim: 2 }), train, test, { epochs: 1, lrSchedule: "cosine" as "burda" })).toThrow(/lrSchedule must be one of constant, burda/);
  });
});
