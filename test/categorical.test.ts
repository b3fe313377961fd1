import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { initBackend } from "../src/engine/backend";
import {
  CategoricalCostFn,
  ScoreOptions,
  categoricalExactGradient,
  categoricalScoreFunctionGradient,
  categoricalScoreVariance,
  gumbelNoise,
  gumbelSoftmaxGradient,
  gumbelSoftmaxSampleGradients,
  relaxationTradeoff,
  sampleCategorical,
  softmax,
  straightThrough,
  studyCategoricalEstimator,
  vimcoExactGradient,
  vimcoGradient,
  vimcoSignals,
} from "../src/prob/categorical";
import { Rng } from "../src/engine/random";

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

/** f(z) = w·z: its value at each one-hot e_k is w_k, exact in float32 for these w. */
const linear = (w: number[]): CategoricalCostFn => (z) => tf.tidy(() => z.matMul(tf.tensor2d(w, [w.length, 1])).reshape([-1]) as tf.Tensor1D);
/** log (1/n) Σ e^{v_i} in float64, written out here independently of the module's. */
const logMeanExp64 = (v: number[]) => Math.log(v.reduce((s, x) => s + Math.exp(x), 0) / v.length);

// Exact values, worked out by hand or from the same seeded draws, first: a wrong line fails here in microseconds.
describe("exact values", () => {
  // A Bernoulli with p = (1/4, 3/4) (logits 0, log 3) and f(e_1) = 2, f(e_2) = −1: E f = −1/4.
  const bern = [0, Math.log(3)];
  const fb = linear([2, -1]);

  it("softmax of [0, log 2, log 5] is [1/8, 2/8, 5/8]; huge logits do not overflow", () => {
    softmax([0, Math.log(2), Math.log(5)]).forEach((v, k) => expect(v).toBeCloseTo([0.125, 0.25, 0.625][k], 15));
    expect(softmax([1000, 1000])).toEqual([0.5, 0.5]);
    expect(softmax([0, 1000])).toEqual([0, 1]); // shifted by the largest logit: e^0 and e^−1000, no e^1000
  });

  it("the exact Bernoulli gradient: p_j (f(e_j) − E f) = (9/16, −9/16)", () => {
    const e = categoricalExactGradient(fb, bern);
    e.probabilities.forEach((v, k) => expect(v).toBeCloseTo([0.25, 0.75][k], 15));
    expect(e.values).toEqual([2, -1]);
    expect(e.expectation).toBeCloseTo(-0.25, 15);
    e.gradient.forEach((v, k) => expect(v).toBeCloseTo([0.5625, -0.5625][k], 15));
  });

  it("the exact single-sample score variance of that Bernoulli: 75/128 with b = 0, 3/128 with b = 1", () => {
    // b = 0: Σ_k p_k f_k² ‖e_k − p‖² = (1/4)(4)(9/8) + (3/4)(1)(1/8) = 39/32, minus ‖∇‖² = 2 (9/16)² = 81/128.
    expect(categoricalScoreVariance(fb, bern)).toBeCloseTo(75 / 128, 14);
    // b = 1: (1/4)(1)(9/8) + (3/4)(4)(1/8) = 21/32, minus 81/128.
    expect(categoricalScoreVariance(fb, bern, 1)).toBeCloseTo(3 / 128, 14);
  });

  it("sampleCategorical is the argmax of ℓ_k − log(−log u), K uniforms per draw in order", () => {
    const l = [0.2, -0.5, 1.1];
    const got = sampleCategorical(l, 50, new Rng(4));
    const rng = new Rng(4);
    const want = Array.from({ length: 50 }, () => {
      const v = l.map((lk) => lk - Math.log(-Math.log(rng.uniform())));
      return v.indexOf(Math.max(...v));
    });
    expect(Array.from(got)).toEqual(want);
    expect(new Set(want).size).toBe(3);
    // It takes exactly K uniforms per draw from the caller's Rng: the next one is the fresh stream's 151st.
    const own = new Rng(4);
    sampleCategorical(l, 50, own);
    expect(own.uniform()).toBe(rng.uniform());
  });

  it("gumbelNoise is −log(−log u) of the Rng's uniforms, row-major", () => {
    const g = gumbelNoise(3, 2, new Rng(9));
    const rng = new Rng(9);
    expect(g).toHaveLength(6);
    g.forEach((v) => expect(v).toBe(Math.fround(-Math.log(-Math.log(rng.uniform())))));
    // One uniform per entry and no more: the caller's Rng goes on from the 7th.
    const own = new Rng(9);
    gumbelNoise(3, 2, own);
    expect(own.uniform()).toBe(rng.uniform());
  });

  it("a score-function estimate is (1/S) Σ_i (f(z_i) − b_i)(z_i − p) over the draws of the same seed", async () => {
    const w = [2, -1, 0.5, 3];
    const S = 7;
    const p = softmax(logits);
    const classes = Array.from(sampleCategorical(logits, S, new Rng(21)));
    const total = classes.reduce((s, c) => s + w[c], 0);
    for (const baseline of [0, 1.5, "leave-one-out"] as const) {
      const want = new Array(4).fill(0);
      classes.forEach((c) => {
        const b = baseline === "leave-one-out" ? (total - w[c]) / (S - 1) : baseline;
        for (let k = 0; k < 4; k++) want[k] += ((w[c] - b) * ((k === c ? 1 : 0) - p[k])) / S;
      });
      const got = await categoricalScoreFunctionGradient(linear(w), logits, { samples: S, seed: 21, baseline });
      got.forEach((v, k) => expect(v, `${baseline}`).toBeCloseTo(want[k], 13));
    }
    // With a constant f, the leave-one-out baseline is f itself: every estimate is exactly 0.
    (await categoricalScoreFunctionGradient(linear([3, 3, 3, 3]), logits, { samples: 5, seed: 2, baseline: "leave-one-out" })).forEach((v) => expect(v).toBeCloseTo(0, 15));
  });

  it("VIMCO's signals by hand: log weights (0, log 3) give (log 2 − log 3, log 2); (0, 0, log 4) give (log 2 − log 7/3 twice, log 2)", () => {
    vimcoSignals([0, Math.log(3)]).forEach((v, i) => expect(v).toBeCloseTo([Math.log(2 / 3), Math.log(2)][i], 14));
    vimcoSignals([0, 0, Math.log(4)]).forEach((v, i) => expect(v).toBeCloseTo([Math.log(6 / 7), Math.log(6 / 7), Math.log(2)][i], 14));
    expect(vimcoSignals([0, Math.log(3)], false).map((v) => v.toFixed(14))).toEqual([Math.log(2), Math.log(2)].map((v) => v.toFixed(14)));
  });

  it("a VIMCO estimate is Σ_i (L̂ − L̂_{−i})(z_i − p) over the draws of the same seed (and L̂ alone without leave-one-out)", async () => {
    const w = [2, -1, 0.5, 3];
    const S = 4;
    const p = softmax(logits);
    const fv = Array.from(sampleCategorical(logits, S, new Rng(8))).map((c) => w[c]);
    const classes = Array.from(sampleCategorical(logits, S, new Rng(8)));
    const L = logMeanExp64(fv);
    for (const leaveOneOut of [true, false]) {
      const want = new Array(4).fill(0);
      classes.forEach((c, i) => {
        const others = fv.filter((_, j) => j !== i);
        const replaced = fv.map((v, j) => (j === i ? others.reduce((a, b) => a + b, 0) / (S - 1) : v));
        const signal = leaveOneOut ? L - logMeanExp64(replaced) : L;
        for (let k = 0; k < 4; k++) want[k] += signal * ((k === c ? 1 : 0) - p[k]);
      });
      const got = await vimcoGradient(linear(w), logits, { samples: S, seed: 8, leaveOneOut });
      got.forEach((v, k) => expect(v, `leaveOneOut ${leaveOneOut}`).toBeCloseTo(want[k], 13));
    }
  });

  it("the enumerated two-sample objective of the Bernoulli, by hand", () => {
    // Outcomes (e1,e1): prob 1/16, L = 2; (e1,e2) and (e2,e1): 3/16 each, L = log((e² + e⁻¹)/2); (e2,e2): 9/16, L = −1.
    // Σ_i (e_{z_i} − p) is (3/2, −3/2), (1/2, −1/2) and (−1/2, 1/2) for the three kinds.
    const mix = Math.log((Math.exp(2) + Math.exp(-1)) / 2);
    const { objective, gradient } = vimcoExactGradient(fb, bern, 2);
    expect(objective).toBeCloseTo(2 / 16 + (6 / 16) * mix - 9 / 16, 14);
    const g0 = (1 / 16) * 2 * 1.5 + (6 / 16) * mix * 0.5 + (9 / 16) * -1 * -0.5;
    gradient.forEach((v, k) => expect(v).toBeCloseTo([g0, -g0][k], 14));
  });

  it("the Gumbel-softmax gradient of f = w·y is (1/τ) y ⊙ (w − w·y) per draw, y = softmax((ℓ + g)/τ); straight-through the same; the estimate their mean", async () => {
    const w = [2, -1, 0.5, 3];
    const tau = 0.7;
    const S = 5;
    const g = gumbelNoise(S, 4, new Rng(14));
    const want = Array.from({ length: S }, (_, i) => {
      const y = softmax(logits.map((l, k) => (l + g[i * 4 + k]) / tau));
      const wy = y.reduce((s, yk, k) => s + yk * w[k], 0);
      return y.map((yk, k) => (yk * (w[k] - wy)) / tau);
    });
    for (const st of [false, true]) {
      const rows = gumbelSoftmaxSampleGradients(linear(w), logits, { samples: S, temperature: tau, seed: 14, straightThrough: st });
      expect(rows).toHaveLength(S);
      rows.forEach((r, i) => r.forEach((v, k) => expect(v).toBeCloseTo(want[i][k], 5)));
      const mean = await gumbelSoftmaxGradient(linear(w), logits, { samples: S, temperature: tau, seed: 14, straightThrough: st });
      mean.forEach((v, k) => expect(v).toBeCloseTo(want.reduce((s, r) => s + r[k], 0) / S, 5));
    }
  });

  it("straightThrough forwards the one-hot argmax of each row", () => {
    const y = tf.tensor2d([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]);
    const st = straightThrough(y);
    expect(Array.from(st.dataSync())).toEqual([0, 1, 0, 1, 0, 0]);
    tf.dispose([y, st]);
  });

  it("studyCategoricalEstimator: mean, variance (over n − 1), standard error and total variance of the estimates; seeds from the Rng", async () => {
    const rows = [[1, 0], [3, 2], [5, 10]];
    const seeds: number[] = [];
    const s = await studyCategoricalEstimator(async (seed) => rows[seeds.push(seed) - 1], { repeats: 3, seed: 7 });
    const rng = new Rng(7);
    expect(seeds).toEqual([rng.nextSeed(), rng.nextSeed(), rng.nextSeed()]);
    expect(s.repeats).toBe(3);
    s.mean.forEach((v, k) => expect(v).toBeCloseTo([3, 4][k], 14));
    s.variance.forEach((v, k) => expect(v).toBeCloseTo([4, 28][k], 13));
    s.stderr.forEach((v, k) => expect(v).toBeCloseTo(Math.sqrt([4, 28][k] / 3), 13));
    expect(s.totalVariance).toBeCloseTo(32, 13);
    const seeds0: number[] = [];
    await studyCategoricalEstimator(async (seed) => rows[seeds0.push(seed) - 1], { repeats: 2 });
    const rng0 = new Rng(0);
    expect(seeds0).toEqual([rng0.nextSeed(), rng0.nextSeed()]);
  });

  it("relaxationTradeoff: from the rows of each temperature's seed (the Rng's next), the bias ‖mean − exact‖, √(Σ var / n) and Σ var", () => {
    const w = [2, -1, 0.5, 3];
    const temps = [2, 0.5];
    const pts = relaxationTradeoff(linear(w), logits, { temperatures: temps, samples: 6, seed: 5, straightThrough: true });
    const exact = categoricalExactGradient(linear(w), logits).gradient;
    const rng = new Rng(5);
    temps.forEach((temperature, t) => {
      const rows = gumbelSoftmaxSampleGradients(linear(w), logits, { samples: 6, temperature, seed: rng.nextSeed(), straightThrough: true });
      const mean = [0, 1, 2, 3].map((k) => rows.reduce((s, r) => s + r[k], 0) / 6);
      const variance = [0, 1, 2, 3].reduce((s, k) => s + rows.reduce((a, r) => a + (r[k] - mean[k]) ** 2, 0) / 5, 0);
      expect(pts[t].temperature).toBe(temperature);
      pts[t].mean.forEach((v, k) => expect(v).toBeCloseTo(mean[k], 12));
      expect(pts[t].bias).toBeCloseTo(Math.hypot(...mean.map((m, k) => m - exact[k])), 12);
      expect(pts[t].variance).toBeCloseTo(variance, 12);
      expect(pts[t].biasStderr).toBeCloseTo(Math.sqrt(variance / 6), 12);
    });
    // The default seed is 0.
    expect(relaxationTradeoff(linear(w), logits, { temperatures: [1], samples: 3 })).toEqual(relaxationTradeoff(linear(w), logits, { temperatures: [1], samples: 3, seed: 0 }));
  });

  it("each bad argument is refused with its whole message", async () => {
    const sf = (o: Partial<ScoreOptions>, l = logits) => categoricalScoreFunctionGradient(f, l, { samples: 4, ...o });
    await expect(sf({}, [1, NaN])).rejects.toThrow("categoricalScoreFunctionGradient: logits must be at least 2 finite numbers (got [1, NaN])");
    await expect(sf({}, [1, Infinity])).rejects.toThrow(/logits must be at least 2 finite numbers/);
    await expect(sf({ samples: 2.5 })).rejects.toThrow("categoricalScoreFunctionGradient: samples must be an integer ≥ 1 (got 2.5)");
    await expect(sf({ samples: 0 })).rejects.toThrow("samples must be an integer ≥ 1 (got 0)");
    await expect(sf({ samples: 1, baseline: "leave-one-out" })).rejects.toThrow("categoricalScoreFunctionGradient: samples must be an integer ≥ 2 (got 1)");
    await expect(sf({ baseline: NaN })).rejects.toThrow('categoricalScoreFunctionGradient: baseline must be a finite number or "leave-one-out"');
    await expect(sf({ baseline: Infinity })).rejects.toThrow(/baseline must be a finite number/);
    expect(await sf({ samples: 1, seed: 3 })).toHaveLength(4);
    expect(await sf({ samples: 2, seed: 3, baseline: "leave-one-out" })).toHaveLength(4);
    await expect(gumbelSoftmaxGradient(f, logits, { samples: 4, temperature: Infinity })).rejects.toThrow("gumbelSoftmaxGradient: temperature must be > 0 (got Infinity)");
    await expect(gumbelSoftmaxGradient(f, logits, { samples: 4, temperature: -1 })).rejects.toThrow("temperature must be > 0 (got -1)");
    await expect(gumbelSoftmaxGradient(f, logits, { samples: 4, temperature: 0 })).rejects.toThrow("gumbelSoftmaxGradient: temperature must be > 0 (got 0)");
    await expect(sf({}, [1])).rejects.toThrow("categoricalScoreFunctionGradient: logits must be at least 2 finite numbers (got [1])");
    await expect(gumbelSoftmaxGradient(f, logits, { samples: 0, temperature: 1 })).rejects.toThrow("gumbelSoftmaxGradient: samples must be an integer ≥ 1 (got 0)");
    await expect(gumbelSoftmaxGradient(f, [0], { samples: 1, temperature: 1 })).rejects.toThrow("gumbelSoftmaxGradient: logits must be at least 2 finite numbers (got [0])");
    const bad: CategoricalCostFn = (z) => z.sum(1).slice(0, 1) as tf.Tensor1D;
    await expect(gumbelSoftmaxGradient(bad, logits, { samples: 3, temperature: 1 })).rejects.toThrow("gumbelSoftmaxGradient: the cost function must return one value per sample: shape [3], got [1]");
    const scalar: CategoricalCostFn = (z) => z.sum() as unknown as tf.Tensor1D;
    await expect(gumbelSoftmaxGradient(scalar, logits, { samples: 1, temperature: 1 })).rejects.toThrow("must return one value per sample: shape [1], got []");
    await expect(categoricalScoreFunctionGradient(bad, logits, { samples: 3 })).rejects.toThrow("categoricalScoreFunctionGradient: the cost function must return one value per sample: shape [3], got [1]");
    await expect(categoricalScoreFunctionGradient(scalar, logits, { samples: 1 })).rejects.toThrow("shape [1], got []");
    await expect(vimcoGradient(f, logits, { samples: 1 })).rejects.toThrow("vimcoGradient: samples must be an integer ≥ 2 (got 1)");
    await expect(vimcoGradient(f, [2, NaN], { samples: 2 })).rejects.toThrow("vimcoGradient: logits must be at least 2 finite numbers");
    expect(() => vimcoExactGradient(f, logits, 0)).toThrow("vimcoExactGradient: samples must be an integer ≥ 1 (got 0)");
    expect(() => vimcoExactGradient(f, [1], 2)).toThrow("vimcoExactGradient: logits must be at least 2 finite numbers (got [1])");
    expect(() => vimcoExactGradient(fb, bern, 20)).toThrow("vimcoExactGradient: K^S = 1048576 outcomes is too many to enumerate");
    expect(() => categoricalExactGradient(f, [Infinity, 0])).toThrow("categoricalExactGradient: logits must be at least 2 finite numbers (got [Infinity, 0])");
    // A cost returning one column per sample ([S, 1]) is refused too, not only one of the wrong length.
    const column: CategoricalCostFn = (z) => z.sum(1, true) as unknown as tf.Tensor1D;
    await expect(categoricalScoreFunctionGradient(column, logits, { samples: 3 })).rejects.toThrow("shape [3], got [3,1]");
    await expect(gumbelSoftmaxGradient(column, logits, { samples: 3, temperature: 1 })).rejects.toThrow("gumbelSoftmaxGradient: the cost function must return one value per sample: shape [3], got [3,1]");
    expect(() => categoricalExactGradient(column, logits)).toThrow("categoricalOutcomeValues: the cost function must return one value per sample: shape [4], got [4,1]");
    for (const repeats of [1, 2.5]) {
      await expect(studyCategoricalEstimator(async () => [0], { repeats })).rejects.toThrow(`studyCategoricalEstimator: repeats must be an integer ≥ 2 (got ${repeats})`);
    }
  });

  it("K^S = 10⁶ joint outcomes are still enumerated (the limit is inclusive)", () => {
    const ten = Array.from({ length: 10 }, (_, k) => k / 10);
    expect(Number.isFinite(vimcoExactGradient(linear(ten), ten, 6).objective)).toBe(true);
  });
});

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
  for (const baseline of [undefined, 1, 5, "leave-one-out"] as const) {
    it(`baseline ${baseline ?? "none"}: the mean of 4000 four-sample estimates is within 4.5 standard errors of the exact gradient`, async () => {
      const s = await studyCategoricalEstimator((seed) => categoricalScoreFunctionGradient(f, logits, { samples: 4, seed, baseline }), { repeats: 4000, seed: 3 });
      expectWithin(s.mean, categoricalExactGradient(f, logits).gradient, s.stderr, 4.5);
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
    const exact = categoricalExactGradient(f, logits).gradient;
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

describe("seeds and leaks", () => {
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
});
