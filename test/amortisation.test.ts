/**
 * The amortisation gap (src/vae/amortisation.ts; Cremer, Li & Duvenaud 2018) on a model small enough to
 * integrate: a one-dimensional latent, a Bernoulli decoder with a tanh in it (so the posterior is not Gaussian
 * and the approximation gap is not zero), and an "encoder" that answers the prior N(0, 1) for every image (so
 * the amortisation gap is large). The ELBO of any Gaussian q, its maximum q*, and log p(x) are computed
 * here in float64 by quadrature on a fine grid; the library's Monte Carlo estimates and Adam refinement must
 * land on them.
 */
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { elboPerImage, inferenceGaps, iwaePerImage, refinePosterior, ROWS_PER_PASS, samplePasses, withLocalPosterior } from "../src/vae/amortisation";
import { Rng } from "../src/engine/random";
import type { LatentModel } from "../src/vae/latent-model";
import { negativeElbo } from "../src/vae/model";

beforeAll(async () => {
  await initBackend("cpu");
});

// Decoder logits_j = a_j · tanh(3z − 0.5) + c_j for 6 pixels; two images.
const A = [3, -2.5, 2, -3, 1.5, 2.5];
const C = [0.2, -0.1, 0.3, 0, -0.4, 0.1];
const X = [
  [1, 0, 1, 0, 1, 1],
  [0, 1, 0, 1, 0, 0],
];

/** log p(x | z) in float64. */
function logLik(x: number[], z: number): number {
  const t = Math.tanh(3 * z - 0.5);
  let s = 0;
  for (let j = 0; j < A.length; j++) {
    const l = A[j] * t + C[j];
    // log σ(l) for x = 1, log σ(−l) for x = 0, stably.
    const m = x[j] ? l : -l;
    s += m >= 0 ? -Math.log1p(Math.exp(-m)) : m - Math.log1p(Math.exp(m));
  }
  return s;
}

const GRID = Array.from({ length: 24001 }, (_, i) => -12 + i * 0.001);
const logNormal = (z: number, mu: number, v: number) => -0.5 * Math.log(2 * Math.PI * v) - ((z - mu) ** 2) / (2 * v);

/** ELBO(N(μ, e^{logVar})) in float64: E_q log p(x|z) by quadrature, KL to N(0, 1) in closed form. */
function elbo64(x: number[], mu: number, logVar: number): number {
  const v = Math.exp(logVar);
  const sd = Math.sqrt(v);
  let e = 0;
  const n = 4001;
  for (let i = 0; i < n; i++) {
    const z = mu + sd * (-10 + (20 * i) / (n - 1));
    const w = Math.exp(logNormal(z, mu, v)) * ((20 * sd) / (n - 1)) * (i === 0 || i === n - 1 ? 0.5 : 1);
    e += w * logLik(x, z);
  }
  return e - 0.5 * (mu * mu + v - 1 - logVar);
}

/** log p(x) = log ∫ N(z; 0, 1) p(x|z) dz in float64. */
function logPx64(x: number[]): number {
  const terms = GRID.map((z) => logNormal(z, 0, 1) + logLik(x, z));
  const m = Math.max(...terms);
  return m + Math.log(terms.reduce((s, t) => s + Math.exp(t - m), 0) * 0.001);
}

/** The best Gaussian q by coordinate-wise golden-section search on elbo64 (it is smooth and unimodal here). */
function optimum64(x: number[]): { mu: number; logVar: number; elbo: number } {
  let mu = 0;
  let logVar = 0;
  const golden = (f: (t: number) => number, lo: number, hi: number) => {
    const r = (Math.sqrt(5) - 1) / 2;
    let a = lo;
    let b = hi;
    for (let i = 0; i < 60; i++) {
      const c = b - r * (b - a);
      const d = a + r * (b - a);
      if (f(c) > f(d)) b = d;
      else a = c;
    }
    return (a + b) / 2;
  };
  for (let round = 0; round < 12; round++) {
    mu = golden((m) => elbo64(x, m, logVar), -4, 4);
    logVar = golden((l) => elbo64(x, mu, l), -8, 2);
  }
  return { mu, logVar, elbo: elbo64(x, mu, logVar) };
}

/** The model above, with an encoder that answers the prior for every image. */
function model(): LatentModel {
  const a = tf.tensor2d([A]);
  const c = tf.tensor2d([C]);
  return {
    config: { inputDim: 6, latentDim: 1, likelihood: "bernoulli", gaussianVariance: 1 },
    encode: (x) => ({ mu: tf.zeros([x.shape[0], 1]) as tf.Tensor2D, logVar: tf.zeros([x.shape[0], 1]) as tf.Tensor2D }),
    decode: (z) => tf.tidy(() => tf.tanh(z.mul(3).sub(0.5)).matMul(a).add(c) as tf.Tensor2D),
    decodeMean: (z) => tf.tidy(() => tf.sigmoid(tf.tanh(z.mul(3).sub(0.5)).matMul(a).add(c)) as tf.Tensor2D),
    variables: () => [],
    parameterCount: () => 0,
    dispose: () => tf.dispose([a, c]),
  };
}

const exact = X.map((x) => ({ prior: elbo64(x, 0, 0), best: optimum64(x), logPx: logPx64(x) }));

describe("the amortisation gap, against quadrature on a one-dimensional model", () => {
  it("the float64 reference itself: ELBO(prior) < ELBO(q*) < log p(x) for both images, each gap over 0.1 nat", () => {
    for (const e of exact) {
      expect(e.best.elbo - e.prior).toBeGreaterThan(0.1);
      expect(e.logPx - e.best.elbo).toBeGreaterThan(0.1);
    }
    console.log(exact.map((e, i) => `image ${i}: ELBO(prior) ${e.prior.toFixed(4)}, q* = N(${e.best.mu.toFixed(3)}, e^${e.best.logVar.toFixed(3)}) ELBO ${e.best.elbo.toFixed(4)}, log p(x) ${e.logPx.toFixed(4)}`).join("\n"));
  });

  it("elboPerImage and iwaePerImage of a given q match the quadrature (ELBO within 0.03 nat, L_k within 0.01 nat)", () => {
    const m = model();
    const before = tf.memory().numTensors;
    const x = tf.tensor2d(X);
    const mu = tf.tensor2d(exact.map((e) => [e.best.mu]));
    const logVar = tf.tensor2d(exact.map((e) => [e.best.logVar]));
    const local = withLocalPosterior(m, mu, logVar);
    const elbo = elboPerImage(local, x, { samples: 20000, seed: 1 });
    exact.forEach((e, i) => expect(Math.abs(elbo[i] - e.best.elbo)).toBeLessThan(0.03));
    // With q* as the proposal and k = 20 000, L_k is within 0.01 nat of log p(x), and below it on average.
    const lk = iwaePerImage(local, x, { k: 20000, seed: 2 });
    exact.forEach((e, i) => expect(Math.abs(lk[i] - e.logPx)).toBeLessThan(0.01));
    tf.dispose([x, mu, logVar]);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it("the local posterior is what negativeElbo sees, and refuses a batch of another size", () => {
    const m = model();
    const x = tf.tensor2d(X);
    const mu = tf.tensor2d([[0.5], [-0.5]]);
    const logVar = tf.tensor2d([[-1], [-2]]);
    const local = withLocalPosterior(m, mu, logVar);
    const t = negativeElbo(local, x, { samples: 20000, seed: 4 });
    const want = -(elbo64(X[0], 0.5, -1) + elbo64(X[1], -0.5, -2)) / 2;
    expect(Math.abs(t.loss.dataSync()[0] - want)).toBeLessThan(0.03);
    expect(() => local.encode(tf.tensor2d([X[0]]))).toThrow(/holds q for 2 images, the batch has 1/);
    expect(() => withLocalPosterior(m, mu, tf.tensor2d([[0]]))).toThrow(/must both be \[images, 1\]/);
    tf.dispose([x, mu, logVar, t.loss, t.recon, t.kl]);
    m.dispose();
  });

  it("refinePosterior climbs from the encoder's q to the quadrature's q* for each image separately, leaking no tensor", () => {
    const m = model();
    const x = tf.tensor2d(X);
    const before = tf.memory().numTensors;
    const r = refinePosterior(m, x, { steps: 600, lr: 0.02, samples: 50, seed: 5, every: 100 });
    const mu = r.mu.dataSync();
    const logVar = r.logVar.dataSync();
    exact.forEach((e, i) => {
      expect(Math.abs(mu[i] - e.best.mu)).toBeLessThan(0.05);
      expect(Math.abs(logVar[i] - e.best.logVar)).toBeLessThan(0.15);
      // ELBO at the refined parameters, exactly: within 0.01 nat of the best there is.
      expect(e.best.elbo - elbo64(X[i], mu[i], logVar[i])).toBeLessThan(0.01);
    });
    expect(r.trace.map((t) => t.step)).toEqual([0, 100, 200, 300, 400, 500, 600]);
    // The trace: the batch's mean ELBO from each recorded step's 50 draws per image, from the encoder's to q*'s.
    expect(r.trace[0].elbo).toBeLessThan(r.trace.at(-1)!.elbo - 2);
    expect(Math.abs(r.trace.at(-1)!.elbo - (exact[0].best.elbo + exact[1].best.elbo) / 2)).toBeLessThan(0.3);
    tf.dispose([r.mu, r.logVar]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    m.dispose();
  });

  it("inferenceGaps: both gaps as the quadrature gives them (within 0.05 nat), and bad options refused", () => {
    const m = model();
    const x = tf.tensor2d(X);
    const g = inferenceGaps(m, x, { steps: 600, lr: 0.02, samples: 50, seed: 6, elboSamples: 200000, k: 20000 });
    const mean = (f: (e: (typeof exact)[number]) => number) => exact.reduce((s, e) => s + f(e), 0) / exact.length;
    expect(Math.abs(g.amortisation - mean((e) => e.best.elbo - e.prior))).toBeLessThan(0.05);
    expect(Math.abs(g.approximation - mean((e) => e.logPx - e.best.elbo))).toBeLessThan(0.05);
    exact.forEach((e, i) => {
      expect(Math.abs(g.encoderElbo[i] - e.prior)).toBeLessThan(0.05);
      expect(Math.abs(g.logPx[i] - e.logPx)).toBeLessThan(0.03);
    });
    console.log(`amortisation gap ${g.amortisation.toFixed(4)} (quadrature ${mean((e) => e.best.elbo - e.prior).toFixed(4)}), approximation gap ${g.approximation.toFixed(4)} (quadrature ${mean((e) => e.logPx - e.best.elbo).toFixed(4)})`);
    expect(() => refinePosterior(m, x, { steps: -1 })).toThrow(/steps must be an integer ≥ 0/);
    expect(() => refinePosterior(m, x, { lr: 0 })).toThrow(/lr must be a finite number > 0/);
    expect(() => elboPerImage(m, x, { samples: 0 })).toThrow(/samples must be a positive integer/);
    expect(() => iwaePerImage(m, x, { k: 1.5 })).toThrow(/k must be a positive integer/);
    x.dispose();
    m.dispose();
  });

  it("inferenceGaps is its parts: the refinement, both ELBOs from one ε and log p(x) the larger bound, each from its seed; no tensor leaks", () => {
    const m = model();
    const x = tf.tensor2d(X);
    const options = { steps: 30, lr: 0.02, samples: 10, every: 10, elboSamples: 100, k: 5 };
    const before = tf.memory().numTensors;
    const g = inferenceGaps(m, x, { ...options, seed: 9 });
    expect(tf.memory().numTensors).toBe(before);
    // The seeds inferenceGaps draws from its own, in order: the refinement's, the two ELBOs', and the two bounds'.
    const rng = new Rng(9);
    const refined = refinePosterior(m, x, { ...options, seed: rng.nextSeed() });
    const local = withLocalPosterior(m, refined.mu, refined.logVar);
    const elboSeed = rng.nextSeed();
    expect(Array.from(g.encoderElbo)).toEqual(Array.from(elboPerImage(m, x, { samples: 100, seed: elboSeed })));
    expect(Array.from(g.optimalElbo)).toEqual(Array.from(elboPerImage(local, x, { samples: 100, seed: elboSeed })));
    const withEncoder = iwaePerImage(m, x, { k: 5, seed: rng.nextSeed() });
    const withOptimal = iwaePerImage(local, x, { k: 5, seed: rng.nextSeed() });
    expect(Array.from(g.logPx)).toEqual(Array.from(withEncoder, (v, i) => Math.max(v, withOptimal[i])));
    // With k = 5 the prior is a poor proposal for image 0 and q* a good one: the two bounds differ, and the larger is taken.
    expect(withOptimal[0] - withEncoder[0]).not.toBe(0);
    expect(g.trace).toEqual(refined.trace);
    expect(g.trace.map((t) => t.step)).toEqual([0, 10, 20, 30]);
    expect(g.amortisation).toBeCloseTo(g.optimalElbo.reduce((a, v) => a + v, 0) / 2 - g.encoderElbo.reduce((a, v) => a + v, 0) / 2, 12);
    expect(g.approximation).toBeCloseTo(g.logPx.reduce((a, v) => a + v, 0) / 2 - g.optimalElbo.reduce((a, v) => a + v, 0) / 2, 12);
    tf.dispose([refined.mu, refined.logVar, x]);
    m.dispose();
  });

  it("the same seed gives the same numbers: elboPerImage, iwaePerImage and refinePosterior", () => {
    const m = model();
    const x = tf.tensor2d(X);
    expect(Array.from(elboPerImage(m, x, { samples: 3, seed: 11 }))).toEqual(Array.from(elboPerImage(m, x, { samples: 3, seed: 11 })));
    expect(Array.from(iwaePerImage(m, x, { k: 3, seed: 11 }))).toEqual(Array.from(iwaePerImage(m, x, { k: 3, seed: 11 })));
    const [a, b] = [0, 1].map(() => refinePosterior(m, x, { steps: 3, samples: 2, seed: 11 }));
    expect(Array.from(a.mu.dataSync())).toEqual(Array.from(b.mu.dataSync()));
    expect(a.trace).toEqual(b.trace);
    tf.dispose([a.mu, a.logVar, b.mu, b.logVar, x]);
    m.dispose();
  });

  it("refinePosterior records every `every` steps and after the last; the trace is a mean per image; 0 steps is the encoder's q", () => {
    const m = model();
    const x = tf.tensor2d(X);
    const r = refinePosterior(m, x, { steps: 5, every: 2, samples: 4000, lr: 1e-6, seed: 12 });
    expect(r.trace.map((t) => t.step)).toEqual([0, 2, 4, 5]);
    // At the start q is the encoder's (the prior): the trace's ELBO is the mean of the two images' (not their sum).
    const prior = (exact[0].prior + exact[1].prior) / 2;
    for (const t of r.trace) expect(Math.abs(t.elbo - prior), `${t.elbo} against ${prior}`).toBeLessThan(0.5);
    const none = refinePosterior(m, x, { steps: 0, every: 1, samples: 1, seed: 12 });
    expect(Array.from(none.mu.dataSync())).toEqual([0, 0]);
    expect(none.trace.map((t) => t.step)).toEqual([0]);
    tf.dispose([r.mu, r.logVar, none.mu, none.logVar, x]);
    m.dispose();
  });

  it("refuses a q of the wrong shape and counts that are not positive integers; one sample, one step and k = 1 are counts", () => {
    const m = model();
    const x = tf.tensor2d(X);
    const col = tf.tensor2d([[0], [0]]);
    const wide = tf.tensor2d([[0, 0], [0, 0]]);
    expect(() => withLocalPosterior(m, wide, wide)).toThrow(/must both be \[images, 1\]/); // more latent dimensions than the model's
    expect(() => withLocalPosterior(m, col, wide)).toThrow(/must both be \[images, 1\]/); // log σ² of another width
    for (const samples of [0, 1.5]) expect(() => refinePosterior(m, x, { samples })).toThrow(/samples must be a positive integer/);
    for (const every of [0, 2.5]) expect(() => refinePosterior(m, x, { every })).toThrow(/every must be a positive integer/);
    expect(() => iwaePerImage(m, x, { k: 0 })).toThrow(/k must be a positive integer/);
    expect(elboPerImage(m, x, { samples: 1, seed: 1 })).toHaveLength(2);
    expect(iwaePerImage(m, x, { k: 1, seed: 1 })).toHaveLength(2);
    tf.dispose([col, wide, x]);
    m.dispose();
  });

  it("refinePosterior passes on an error from the model and leaves no tensor behind", () => {
    const m = model();
    const x = tf.tensor2d(X);
    let calls = 0;
    // A decoder that fails at its third call: after two steps, in the last ELBO's evaluation. (An error inside a
    // gradient step would do as well, but TensorFlow.js itself then keeps the tensors it saved for the backward pass.)
    const failing: LatentModel = { ...m, decode: (z) => (++calls === 3 ? (() => { throw new Error("decoder failed"); })() : m.decode(z)) };
    const before = tf.memory().numTensors;
    expect(() => refinePosterior(failing, x, { steps: 2, samples: 2, seed: 1 })).toThrow("decoder failed");
    expect(calls).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    m.dispose();
  });

  it("draws its samples in passes of at most ROWS_PER_PASS rows (samples × images), at least one sample each", () => {
    expect(ROWS_PER_PASS).toBe(2000);
    expect(samplePasses(2500, 2)).toEqual([1000, 1000, 500]);
    expect(samplePasses(3, 2)).toEqual([3]);
    expect(samplePasses(1000, 3)).toEqual([666, 334]);
    expect(samplePasses(3, 2500)).toEqual([1, 1, 1]);
  });
});
