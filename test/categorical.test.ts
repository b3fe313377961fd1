import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { initBackend } from "../src/engine/backend";
import {
  CategoricalCostFn,
  categoricalExactGradient,
  categoricalScoreFunctionGradient,
  categoricalScoreVariance,
  gumbelSoftmaxGradient,
  relaxationTradeoff,
  softmax,
  studyCategoricalEstimator,
  vimcoExactGradient,
  vimcoGradient,
} from "../src/prob/categorical";

// Statistical checks with thousands of draws: slow on a busy machine, so a generous time limit (results do not depend on time).
vi.setConfig({ testTimeout: 300_000 });

beforeAll(async () => {
  await initBackend("cpu");
});

// A toy with everything known exactly: q = Cat(softmax(ℓ)) over K = 4 classes, f(z) = ‖z − t‖².
const logits = [0.5, -0.3, 0.1, 0.8];
const target = [0.45, 0.2, 0.35, 0.1];
const f: CategoricalCostFn = (z) => tf.tidy(() => z.sub(tf.tensor1d(target)).square().sum(1) as tf.Tensor1D);
const fValue = (k: number) => target.reduce((s, t, j) => s + ((j === k ? 1 : 0) - t) ** 2, 0);

function expectWithin(mean: number[], exact: number[], stderr: number[], k: number): void {
  for (let j = 0; j < exact.length; j++) expect(Math.abs(mean[j] - exact[j])).toBeLessThanOrEqual(k * stderr[j]);
}

describe("the exact gradient by enumeration", () => {
  it("matches central finite differences of E f = Σ p_k f(e_k), computed in float64", () => {
    const exact = categoricalExactGradient(f, logits);
    const E = (l: number[]) => softmax(l).reduce((s, p, k) => s + p * fValue(k), 0);
    expect(exact.expectation).toBeCloseTo(E(logits), 6);
    const h = 1e-5;
    for (let j = 0; j < 4; j++) {
      const up = logits.map((l, i) => (i === j ? l + h : l));
      const down = logits.map((l, i) => (i === j ? l - h : l));
      expect(exact.gradient[j]).toBeCloseTo((E(up) - E(down)) / (2 * h), 6);
    }
  });
});

describe("the score function is unbiased for a categorical q", () => {
  const exact = categoricalExactGradient(f, logits).gradient;
  for (const baseline of [undefined, 1, 5, "leave-one-out"] as const) {
    it(`baseline ${baseline ?? "none"}: the mean of 4000 four-sample estimates is within 4.5 standard errors of the exact gradient`, async () => {
      const s = await studyCategoricalEstimator((seed) => categoricalScoreFunctionGradient(f, logits, { samples: 4, seed, baseline }), { repeats: 4000, seed: 3 });
      expectWithin(s.mean, exact, s.stderr, 4.5);
    });
  }

  it("a baseline near E f (constant 1, or leave-one-out) cuts the variance at least 4-fold; a far one (5) raises it", async () => {
    const study = (baseline?: number | "leave-one-out") =>
      studyCategoricalEstimator((seed) => categoricalScoreFunctionGradient(f, logits, { samples: 4, seed, baseline }), { repeats: 3000, seed: 4 });
    const plain = await study();
    expect((await study(1)).totalVariance).toBeLessThan(plain.totalVariance / 4);
    expect((await study("leave-one-out")).totalVariance).toBeLessThan(plain.totalVariance / 4);
    expect((await study(5)).totalVariance).toBeGreaterThan(plain.totalVariance * 2);
  });

  it("the exact single-sample variance (by enumeration) matches the variance of 8000 draws within 10%, for b = 0 and b = 1", async () => {
    for (const baseline of [0, 1]) {
      const s = await studyCategoricalEstimator((seed) => categoricalScoreFunctionGradient(f, logits, { samples: 1, seed, baseline }), { repeats: 8000, seed: 13 });
      const exactVariance = categoricalScoreVariance(f, logits, baseline);
      expect(Math.abs(s.totalVariance / exactVariance - 1)).toBeLessThan(0.1);
    }
  });

  it("works for a Bernoulli (K = 2) and on a linear f", async () => {
    const lin: CategoricalCostFn = (z) => tf.tidy(() => z.matMul(tf.tensor2d([[2], [-1]])).reshape([-1]) as tf.Tensor1D);
    const l2 = [0.3, -0.4];
    const exact = categoricalExactGradient(lin, l2).gradient;
    const p = softmax(l2);
    expect(exact[0]).toBeCloseTo(p[0] * p[1] * 3, 6);
    const s = await studyCategoricalEstimator((seed) => categoricalScoreFunctionGradient(lin, l2, { samples: 2, seed, baseline: "leave-one-out" }), { repeats: 4000, seed: 5 });
    expectWithin(s.mean, exact, s.stderr, 4.5);
  });
});

describe("the Gumbel-softmax relaxation is biased, and τ trades bias for variance", () => {
  const temperatures = [4, 2, 1, 0.5];
  const exact = categoricalExactGradient(f, logits).gradient;

  it("at τ = 1 its mean is many standard errors away from the exact gradient (also straight-through)", () => {
    for (const st of [false, true]) {
      const [p] = relaxationTradeoff(f, logits, { temperatures: [1], samples: 20000, seed: 6, straightThrough: st });
      expect(p.bias).toBeGreaterThan(10 * p.biasStderr);
    }
  });

  it("as τ falls over 4, 2, 1, 0.5 the bias shrinks (each step by > 4 standard errors) and the variance grows (each step > 1.5×)", () => {
    const pts = relaxationTradeoff(f, logits, { temperatures, samples: 40000, seed: 7 });
    for (let i = 1; i < pts.length; i++) {
      const drop = pts[i - 1].bias - pts[i].bias;
      expect(drop).toBeGreaterThan(4 * Math.hypot(pts[i - 1].biasStderr, pts[i].biasStderr));
      expect(pts[i].variance).toBeGreaterThan(1.5 * pts[i - 1].variance);
    }
  });

  it("gumbelSoftmaxGradient is the mean of the per-sample gradients and far from the exact one at τ = 2", async () => {
    const g = await gumbelSoftmaxGradient(f, logits, { samples: 20000, temperature: 2, seed: 8 });
    const err = Math.hypot(...g.map((v, j) => v - exact[j]));
    const [p] = relaxationTradeoff(f, logits, { temperatures: [2], samples: 20000, seed: 9 });
    expect(err).toBeGreaterThan(0.5 * p.bias);
    expect(err).toBeLessThan(1.5 * p.bias);
  });

  it("straight-through's backward pass is the relaxed one: for a linear f (∇f constant) both give the same estimate", async () => {
    const lin: CategoricalCostFn = (z) => tf.tidy(() => z.matMul(tf.tensor2d([[2], [-1], [0.5], [1]])).reshape([-1]) as tf.Tensor1D);
    const a = await gumbelSoftmaxGradient(lin, logits, { samples: 30, temperature: 0.7, seed: 12 });
    const b = await gumbelSoftmaxGradient(lin, logits, { samples: 30, temperature: 0.7, seed: 12, straightThrough: true });
    expect(Math.hypot(...a)).toBeGreaterThan(0.01);
    b.forEach((v, j) => expect(v).toBeCloseTo(a[j], 6));
  });

  it("straight-through evaluates f on one-hot vectors only; plain Gumbel-softmax on points inside the simplex", async () => {
    const seen: number[][] = [];
    const spy: CategoricalCostFn = (z) => {
      seen.push(Array.from(z.dataSync()));
      return f(z);
    };
    await gumbelSoftmaxGradient(spy, logits, { samples: 50, temperature: 1, seed: 10, straightThrough: true });
    expect(seen.flat().every((v) => v === 0 || v === 1)).toBe(true);
    seen.length = 0;
    await gumbelSoftmaxGradient(spy, logits, { samples: 50, temperature: 1, seed: 10 });
    expect(seen.flat().some((v) => v > 0.01 && v < 0.99)).toBe(true);
  });
});

describe("VIMCO", () => {
  it("the enumerated multi-sample gradient matches finite differences of the enumerated objective", () => {
    const h = 1e-4;
    const g = vimcoExactGradient(f, logits, 3).gradient;
    for (let j = 0; j < 4; j++) {
      const up = vimcoExactGradient(f, logits.map((l, i) => (i === j ? l + h : l)), 3).objective;
      const down = vimcoExactGradient(f, logits.map((l, i) => (i === j ? l - h : l)), 3).objective;
      expect(g[j]).toBeCloseTo((up - down) / (2 * h), 5);
    }
    // With one sample the objective is E f and the gradient the single-sample one.
    const one = vimcoExactGradient(f, logits, 1).gradient;
    categoricalExactGradient(f, logits).gradient.forEach((v, j) => expect(one[j]).toBeCloseTo(v, 6));
  });

  it("is unbiased for the 3-sample objective, and its leave-one-out signals cut the variance more than 20-fold", async () => {
    const exact = vimcoExactGradient(f, logits, 3).gradient;
    const v = await studyCategoricalEstimator((seed) => vimcoGradient(f, logits, { samples: 3, seed }), { repeats: 4000, seed: 11 });
    const naive = await studyCategoricalEstimator((seed) => vimcoGradient(f, logits, { samples: 3, seed, leaveOneOut: false }), { repeats: 4000, seed: 11 });
    expectWithin(v.mean, exact, v.stderr, 4.5);
    expectWithin(naive.mean, exact, naive.stderr, 4.5);
    expect(v.totalVariance).toBeLessThan(naive.totalVariance / 20);
  });
});

describe("seeds, leaks and errors", () => {
  it("the same seed gives the same estimate (0 included), another seed another one", async () => {
    for (const seed of [0, 1]) {
      expect(await categoricalScoreFunctionGradient(f, logits, { samples: 5, seed })).toEqual(await categoricalScoreFunctionGradient(f, logits, { samples: 5, seed }));
      expect(await gumbelSoftmaxGradient(f, logits, { samples: 5, temperature: 0.5, seed })).toEqual(await gumbelSoftmaxGradient(f, logits, { samples: 5, temperature: 0.5, seed }));
      expect(await vimcoGradient(f, logits, { samples: 5, seed })).toEqual(await vimcoGradient(f, logits, { samples: 5, seed }));
    }
    expect(await categoricalScoreFunctionGradient(f, logits, { samples: 5, seed: 0 })).not.toEqual(await categoricalScoreFunctionGradient(f, logits, { samples: 5, seed: 1 }));
    expect(await gumbelSoftmaxGradient(f, logits, { samples: 5, temperature: 0.5, seed: 0 })).not.toEqual(await gumbelSoftmaxGradient(f, logits, { samples: 5, temperature: 0.5, seed: 1 }));
  });

  it("no estimator leaves tensors behind", async () => {
    const before = tf.memory().numTensors;
    categoricalExactGradient(f, logits);
    await categoricalScoreFunctionGradient(f, logits, { samples: 8, seed: 1, baseline: "leave-one-out" });
    await gumbelSoftmaxGradient(f, logits, { samples: 8, temperature: 0.5, seed: 1 });
    await gumbelSoftmaxGradient(f, logits, { samples: 8, temperature: 0.5, seed: 1, straightThrough: true });
    await vimcoGradient(f, logits, { samples: 8, seed: 1 });
    vimcoExactGradient(f, logits, 2);
    relaxationTradeoff(f, logits, { temperatures: [1, 0.5], samples: 10 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("bad options are one-line errors naming the option", async () => {
    await expect(gumbelSoftmaxGradient(f, logits, { samples: 4, temperature: 0 })).rejects.toThrow(/temperature must be > 0/);
    await expect(categoricalScoreFunctionGradient(f, logits, { samples: 1, baseline: "leave-one-out" })).rejects.toThrow(/samples must be an integer ≥ 2/);
    await expect(vimcoGradient(f, logits, { samples: 1 })).rejects.toThrow(/samples must be an integer ≥ 2/);
    await expect(categoricalScoreFunctionGradient(f, [1], { samples: 4 })).rejects.toThrow(/logits/);
    const bad: CategoricalCostFn = (z) => z.sum() as unknown as tf.Tensor1D;
    await expect(categoricalScoreFunctionGradient(bad, logits, { samples: 4 })).rejects.toThrow(/one value per sample/);
  });
});
