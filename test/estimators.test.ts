import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { CostFunction, linearCost, quadraticCost, sineCost } from "../src/prob/costs";
import {
  gaussianScoreSymbolic,
  reparameterizedGradient,
  RunningMeanBaseline,
  scoreFunctionGradient,
  studyEstimator,
  varianceSweep,
} from "../src/prob/estimators";
import { Rng } from "../src/engine/random";

beforeAll(async () => {
  await initBackend("cpu");
});

const q = { mu: [0.5, -1, 1.5], sigma: [0.8, 1.2, 0.5] };
const costs: CostFunction[] = [linearCost([1, -2, 0.5]), quadraticCost(), sineCost()];

/** Sample variance of each column, and the standard error of that variance (from the fourth moment). */
function varianceWithError(rows: number[][]): { v: number[]; se: number[] } {
  const R = rows.length;
  const D = rows[0].length;
  const v: number[] = [];
  const se: number[] = [];
  for (let d = 0; d < D; d++) {
    let m = 0;
    for (const r of rows) m += r[d] / R;
    let m2 = 0;
    let m4 = 0;
    for (const r of rows) {
      const c = (r[d] - m) ** 2;
      m2 += c / R;
      m4 += (c * c) / R;
    }
    v.push(m2);
    se.push(Math.sqrt(Math.max(m4 - m2 * m2, 0) / R));
  }
  return { v, se };
}

describe("both estimators are unbiased", () => {
  for (const cost of costs) {
    for (const kind of ["score", "reparam"] as const) {
      it(`${kind} on the ${cost.name} cost: mean of 20 000 estimates within 4.5 standard errors of the exact gradient`, () => {
        const s = studyEstimator(kind, cost.f, q, { samples: 4, repeats: 20_000, seed: 1 });
        const exact = cost.gradient(q);
        for (let d = 0; d < 3; d++) {
          expect(Math.abs(s.mean.mu[d] - exact.mu[d])).toBeLessThanOrEqual(4.5 * s.stderr.mu[d] + 1e-6);
          expect(Math.abs(s.mean.sigma[d] - exact.sigma[d])).toBeLessThanOrEqual(4.5 * s.stderr.sigma[d] + 1e-6);
        }
      });
    }
  }

  it("with baselines (constant, leave-one-out, running mean) the score function stays unbiased", () => {
    const cost = quadraticCost();
    const exact = cost.gradient(q);
    for (const baseline of [3, "leave-one-out" as const, new RunningMeanBaseline(0.9)]) {
      const repeats = baseline instanceof RunningMeanBaseline ? 3000 : 20_000;
      const s = studyEstimator("score", cost.f, q, { samples: 8, repeats, seed: 2, baseline });
      for (let d = 0; d < 3; d++) {
        expect(Math.abs(s.mean.mu[d] - exact.mu[d])).toBeLessThanOrEqual(4.5 * s.stderr.mu[d]);
        expect(Math.abs(s.mean.sigma[d] - exact.sigma[d])).toBeLessThanOrEqual(4.5 * s.stderr.sigma[d]);
      }
    }
  });

  it("a leave-one-out baseline cuts the score function's variance on the quadratic cost", () => {
    const cost = quadraticCost();
    const plain = studyEstimator("score", cost.f, q, { samples: 8, repeats: 5000, seed: 3 });
    const loo = studyEstimator("score", cost.f, q, { samples: 8, repeats: 5000, seed: 3, baseline: "leave-one-out" });
    for (let d = 0; d < 3; d++) expect(loo.variance.mu[d]).toBeLessThan(plain.variance.mu[d] / 2);
  });
});

describe("the leave-one-out baseline", () => {
  it("gives a constant f exactly zero gradient (each sample's baseline is the mean of the other S − 1 values)", () => {
    const constant = (z: tf.Tensor2D) => tf.fill([z.shape[0]], 3) as tf.Tensor1D;
    for (const samples of [2, 5, 8]) {
      const e = scoreFunctionGradient(constant, q, { samples, seed: samples, baseline: "leave-one-out" });
      for (const g of [...e.mu, ...e.sigma]) expect(g).toBe(0);
    }
    const s = studyEstimator("score", constant, q, { samples: 4, repeats: 50, seed: 1, baseline: "leave-one-out" });
    for (const v of [...s.variance.mu, ...s.variance.sigma]) expect(v).toBe(0);
  });

  it("equals its definition, computed in float64 from the same draws", () => {
    let drawn: number[][] = [];
    const f = (z: tf.Tensor2D) => {
      drawn = z.arraySync();
      return quadraticCost().f(z);
    };
    const S = 6;
    const e = scoreFunctionGradient(f, q, { samples: S, seed: 11, baseline: "leave-one-out" });
    const fz = drawn.map((z) => z.reduce((s, v) => s + v * v, 0));
    const total = fz.reduce((a, b) => a + b, 0);
    for (let d = 0; d < 3; d++) {
      let gMu = 0;
      let gSigma = 0;
      for (let i = 0; i < S; i++) {
        const w = fz[i] - (total - fz[i]) / (S - 1);
        const eps = (drawn[i][d] - q.mu[d]) / q.sigma[d];
        gMu += (w * eps) / q.sigma[d] / S;
        gSigma += (w * (eps * eps - 1)) / q.sigma[d] / S;
      }
      expect(Math.abs(e.mu[d] - gMu)).toBeLessThan(1e-4 * Math.max(1, Math.abs(gMu)));
      expect(Math.abs(e.sigma[d] - gSigma)).toBeLessThan(1e-4 * Math.max(1, Math.abs(gSigma)));
    }
  });
});

describe("estimator variances match the closed forms", () => {
  const cases: [string, CostFunction, number][] = [
    ["linear", linearCost([1, -2, 0.5]), 0],
    ["linear, baseline 1.5", linearCost([1, -2, 0.5]), 1.5],
    ["quadratic", quadraticCost(), 0],
    ["quadratic, baseline 4", quadraticCost(), 4],
  ];
  for (const [name, cost, b] of cases) {
    it(`${name}: measured single-sample variances within 5 standard errors of the formula`, () => {
      const R = 200_000;
      const exact = cost.variances!(q, b);
      const score = studyEstimator("score", cost.f, q, { samples: 1, repeats: R, seed: 4, baseline: b });
      const rep = studyEstimator("reparam", cost.f, q, { samples: 1, repeats: R, seed: 5 });
      const checks: [number[][], number[]][] = [
        [score.estimates.mu, exact.score.mu],
        [score.estimates.sigma, exact.score.sigma],
        [rep.estimates.mu, exact.reparam.mu],
        [rep.estimates.sigma, exact.reparam.sigma],
      ];
      for (const [rows, formula] of checks) {
        const { v, se } = varianceWithError(rows);
        for (let d = 0; d < 3; d++) {
          if (formula[d] === 0) expect(v[d]).toBeLessThan(1e-8);
          else expect(Math.abs(v[d] - formula[d])).toBeLessThanOrEqual(5 * se[d]);
        }
      }
    });
  }

  it("one dimension, where the own-coordinate terms (E ε⁴, ε⁶, ε⁸) dominate: 2 million draws", () => {
    for (const q1 of [{ mu: [0], sigma: [1] }, { mu: [1], sigma: [0.7] }]) {
      const cost = quadraticCost();
      const exact = cost.variances!(q1, 0.5);
      const score = studyEstimator("score", cost.f, q1, { samples: 1, repeats: 2_000_000, seed: 8, baseline: 0.5 });
      for (const [rows, formula] of [[score.estimates.mu, exact.score.mu], [score.estimates.sigma, exact.score.sigma]] as const) {
        const { v, se } = varianceWithError(rows as number[][]);
        expect(se[0]).toBeLessThan(0.04 * formula[0]); // precise enough to catch a wrong moment
        expect(Math.abs(v[0] - formula[0])).toBeLessThanOrEqual(5 * se[0]);
      }
    }
  });

  it("the closed forms agree with a float64 Monte Carlo that does not use TensorFlow.js", () => {
    const rng = new Rng(6);
    const R = 400_000;
    for (const cost of [linearCost([1, -2, 0.5]), quadraticCost()]) {
      const exact = cost.variances!(q, 1);
      const rows: number[][] = [];
      for (let r = 0; r < R; r++) {
        const eps = q.mu.map(() => rng.normal());
        const fz = cost.value(q.mu.map((m, d) => m + q.sigma[d] * eps[d])) - 1;
        rows.push(eps.map((e, d) => (fz * e) / q.sigma[d]));
      }
      const { v, se } = varianceWithError(rows);
      for (let d = 0; d < 3; d++) expect(Math.abs(v[d] - exact.score.mu[d])).toBeLessThanOrEqual(5 * se[d]);
    }
  });

  it("S-sample averages have 1/S of the single-sample variance", () => {
    const cost = quadraticCost();
    const exact = cost.variances!(q);
    const s = studyEstimator("reparam", cost.f, q, { samples: 10, repeats: 50_000, seed: 7 });
    for (let d = 0; d < 3; d++) expect(s.variance.mu[d]).toBeCloseTo(exact.reparam.mu[d] / 10, 2);
  });
});

describe("estimator API", () => {
  const f = quadraticCost().f;

  it("same seed → same estimate; another seed → another", () => {
    const a = scoreFunctionGradient(f, q, { samples: 10, seed: 42 });
    expect(scoreFunctionGradient(f, q, { samples: 10, seed: 42 })).toEqual(a);
    expect(scoreFunctionGradient(f, q, { samples: 10, seed: 43 })).not.toEqual(a);
    const r = reparameterizedGradient(f, q, { samples: 10, seed: 42 });
    expect(reparameterizedGradient(f, q, { samples: 10, seed: 42 })).toEqual(r);
  });

  it("the log σ gradient is σ times the σ gradient", () => {
    const r = reparameterizedGradient(f, q, { samples: 100, seed: 1 });
    r.logSigma.forEach((g, d) => expect(g).toBeCloseTo(r.sigma[d] * q.sigma[d], 5));
  });

  it("a running-mean baseline learns the mean of f", () => {
    const b = new RunningMeanBaseline(0.5);
    for (let i = 0; i < 60; i++) scoreFunctionGradient(f, q, { samples: 200, seed: i, baseline: b });
    expect(b.value).toBeCloseTo(quadraticCost().expectation(q), 0);
  });

  it("leaks no tensors", () => {
    const before = tf.memory().numTensors;
    scoreFunctionGradient(f, q, { samples: 5, seed: 1, baseline: "leave-one-out" });
    reparameterizedGradient(f, q, { samples: 5, seed: 1 });
    studyEstimator("score", f, q, { samples: 2, repeats: 10, seed: 1 });
    studyEstimator("reparam", f, q, { samples: 2, repeats: 10, seed: 1 });
    studyEstimator("score", f, q, { samples: 2, repeats: 10, seed: 1, baseline: new RunningMeanBaseline() });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects bad input clearly", () => {
    expect(() => scoreFunctionGradient(f, { mu: [0, 1], sigma: [1] }, { samples: 2 })).toThrow(/mu has 2 entries, sigma 1/);
    expect(() => reparameterizedGradient(f, { mu: [0], sigma: [-1] }, { samples: 2 })).toThrow(/sigma must be > 0/);
    expect(() => scoreFunctionGradient(f, q, { samples: 0 })).toThrow(/samples must be a positive integer/);
    expect(() => scoreFunctionGradient(f, q, { samples: 1, baseline: "leave-one-out" })).toThrow(/needs samples ≥ 2/);
    const bad = (z: tf.Tensor2D) => z.sum() as unknown as tf.Tensor1D;
    expect(() => scoreFunctionGradient(bad, q, { samples: 3 })).toThrow(/one value per sample: shape \[3\]/);
    expect(() => reparameterizedGradient(bad, q, { samples: 3 })).toThrow(/one value per sample/);
  });

  it("varianceSweep runs one study per grid value", () => {
    const sweep = varianceSweep([1, 4, 16], (S) => ({ kind: "reparam", f, q, options: { samples: S, repeats: 2000, seed: S } }));
    expect(sweep.map((r) => r.value)).toEqual([1, 4, 16]);
    // variance falls like 1/S
    expect(sweep[2].study.variance.mu[0]).toBeLessThan(sweep[0].study.variance.mu[0] / 8);
  });

  it("mathjs derives the Gaussian score, matching (z − μ)/σ² and ((z − μ)² − σ²)/σ³", () => {
    const s = gaussianScoreSymbolic();
    expect(s.dMu).toBe("(z - mu) / sigma ^ 2");
    const rng = new Rng(3);
    for (let i = 0; i < 10; i++) {
      const [z, mu, sigma] = [rng.normal(), rng.normal(), 0.2 + rng.uniform()];
      const e = s.evaluate(z, mu, sigma);
      expect(e.dMu).toBeCloseTo((z - mu) / sigma ** 2, 10);
      expect(e.dSigma).toBeCloseTo(((z - mu) ** 2 - sigma ** 2) / sigma ** 3, 10);
    }
  });
});

describe("measureVariances", () => {
  it("puts measured single-sample variances next to the closed forms", async () => {
    const { measureVariances, varianceRows } = await import("../src/prob/costs");
    const c = measureVariances(quadraticCost(), q, { repeats: 50_000, seed: 1, baseline: 2 });
    const rows = varianceRows(c, "reparam");
    expect(rows.map((r) => r[0])).toEqual(["μ[0]", "μ[1]", "μ[2]", "σ[0]", "σ[1]", "σ[2]"]);
    for (const [, measured, closed] of rows) expect((measured as number) / (closed as number)).toBeGreaterThan(0.9);
    for (const [, measured, closed] of rows) expect((measured as number) / (closed as number)).toBeLessThan(1.1);
    expect(c.closed!.score.mu[0]).toBeCloseTo(quadraticCost().variances!(q, 2).score.mu[0], 12);
    expect(varianceRows(measureVariances(sineCost(), q, { repeats: 10, seed: 1 }), "score")[0][2]).toBeNaN();
  });
});
