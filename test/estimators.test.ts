import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { CostFunction, linearCost, measureVariances, quadraticCost, sineCost, varianceRows } from "../src/prob/costs";
import {
  gaussianScoreSymbolic,
  reparameterizedGradient,
  RunningMeanBaseline,
  scoreFunctionGradient,
  studyEstimator,
  varianceSweep,
} from "../src/prob/estimators";
import { Rng, tfSeed } from "../src/engine/random";
import { DiagGaussian } from "../src/prob/gaussian";

beforeAll(async () => {
  // The wasm backend with the native kernels: the same results as the pure-JS cpu backend up to float32
  // rounding (the assertions here are statistical), and several times faster.
  await initBackend("wasm");
});

const q = { mu: [0.5, -1, 1.5], sigma: [0.8, 1.2, 0.5] };
const costs: CostFunction[] = [linearCost([1, -2, 0.5]), quadraticCost(), sineCost()];

/** The ε tfjs draws for a seed, as float64 rows [rows][D]: the same noise the estimators use. */
function epsRows(rows: number, D: number, seed: number): number[][] {
  const e = tf.tidy(() => tf.randomNormal([rows, D], 0, 1, "float32", tfSeed(seed)).dataSync());
  return Array.from({ length: rows }, (_, i) => Array.from(e.subarray(i * D, (i + 1) * D)));
}

/**
 * E[g(ε)] for ε ~ N(0, I_D) by the 5-point Gauss–Hermite rule in each coordinate (nodes 0, ±√(5 ∓ √10), the
 * roots of He₅; weights 5!/(5 He₄(x))²): exact for polynomials of degree ≤ 9 in each coordinate.
 */
function gaussHermite(D: number, g: (e: number[]) => number): number {
  const a = Math.sqrt(5 - Math.sqrt(10));
  const c = Math.sqrt(5 + Math.sqrt(10));
  const nodes = [-c, -a, 0, a, c];
  const weights = nodes.map((x) => 120 / (5 * (x ** 4 - 6 * x * x + 3)) ** 2);
  let total = 0;
  const rec = (d: number, e: number[], w: number) => {
    if (d === D) {
      total += w * g(e);
      return;
    }
    nodes.forEach((x, i) => rec(d + 1, [...e, x], w * weights[i]));
  };
  rec(0, [], 1);
  return total;
}

/** The single-sample variances of both estimators for `cost`, by quadrature of their definitions (not the closed forms). */
function quadratureVariances(cost: CostFunction, q: DiagGaussian, b: number, grad: (z: number[]) => number[]) {
  const D = q.mu.length;
  const z = (e: number[]) => e.map((x, d) => q.mu[d] + q.sigma[d] * x);
  const variance = (g: (e: number[]) => number) => gaussHermite(D, (e) => g(e) ** 2) - gaussHermite(D, g) ** 2;
  const per = (fn: (d: number) => (e: number[]) => number) => q.mu.map((_, d) => variance(fn(d)));
  return {
    score: {
      mu: per((d) => (e) => ((cost.value(z(e)) - b) * e[d]) / q.sigma[d]),
      sigma: per((d) => (e) => ((cost.value(z(e)) - b) * (e[d] ** 2 - 1)) / q.sigma[d]),
    },
    reparam: { mu: per((d) => (e) => grad(z(e))[d]), sigma: per((d) => (e) => grad(z(e))[d] * e[d]) },
  };
}

// Exact values first: with Stryker's bail a wrong line fails here, in milliseconds, before the statistical studies.
describe("exact values", () => {
  const lin = linearCost([1, -2, 0.5]);

  it("the 5-point Gauss–Hermite rule reproduces the normal moments 1, 1, 3, 15, 105", () => {
    [0, 2, 4, 6, 8].forEach((k, i) => expect(gaussHermite(1, ([x]) => x ** k)).toBeCloseTo([1, 1, 3, 15, 105][i], 10));
  });

  it("the linear and quadratic costs' closed-form variances equal their definitions integrated by quadrature (β = 0 and b = 1.5)", () => {
    const q2: DiagGaussian = { mu: [0.5, -1, 1.5], sigma: [0.8, 1.2, 0.5] };
    const pairs: [CostFunction, (z: number[]) => number[]][] = [
      [lin, () => [1, -2, 0.5]],
      [quadraticCost(), (z) => z.map((v) => 2 * v)],
    ];
    for (const [cost, grad] of pairs) {
      for (const b of [undefined, 1.5]) {
        const closed = cost.variances!(q2, b);
        const quad = quadratureVariances(cost, q2, b ?? 0, grad);
        for (const est of ["score", "reparam"] as const) {
          for (const p of ["mu", "sigma"] as const) {
            closed[est][p].forEach((v, d) => expect(v, `${cost.name} b=${b} ${est} ${p}[${d}]`).toBeCloseTo(quad[est][p][d], 8));
          }
        }
      }
    }
  });

  it("each cost's value, expectation and gradient: by hand, by quadrature and by finite differences", () => {
    const q1: DiagGaussian = { mu: [0.5, -1], sigma: [2, 0.5] };
    const sq = quadraticCost();
    const sine = sineCost();
    expect([lin.name, sq.name, sine.name]).toEqual(["linear", "quadratic", "sine"]);
    expect([lin.latex, sq.latex, sine.latex]).toEqual(["f(z) = a^\\top z", "f(z) = \\lVert z \\rVert^2", "f(z) = \\sum_d \\sin z_d"]);
    expect(lin.value([2, 1, 4])).toBe(2);
    expect(sq.value([2, 1, -3])).toBe(14);
    expect(sine.value([0.5, 2])).toBeCloseTo(Math.sin(0.5) + Math.sin(2), 15);
    const lin2 = linearCost([1, -2]);
    expect(lin2.expectation(q1)).toBe(2.5);
    expect(lin2.gradient(q1)).toEqual({ mu: [1, -2], sigma: [0, 0] });
    expect(sq.expectation(q1)).toBeCloseTo(0.25 + 4 + 1 + 0.25, 14);
    expect(sq.gradient(q1)).toEqual({ mu: [1, -2], sigma: [4, 1] });
    // The sine's E f by a fine trapezoid rule over ±12 sd, and its gradient by central differences of E f.
    const expect1d = (m: number, sd: number) => {
      let t = 0;
      for (let i = -24000; i <= 24000; i++) t += Math.sin(m + sd * (i / 2000)) * Math.exp(-((i / 2000) ** 2) / 2);
      return t / 2000 / Math.sqrt(2 * Math.PI);
    };
    expect(sine.expectation(q1)).toBeCloseTo(expect1d(0.5, 2) + expect1d(-1, 0.5), 10);
    const h = 1e-6;
    const g = sine.gradient(q1);
    for (let d = 0; d < 2; d++) {
      const shift = (p: "mu" | "sigma", s: number) => sine.expectation({ ...q1, [p]: q1[p].map((v, k) => (k === d ? v + s : v)) });
      expect(g.mu[d]).toBeCloseTo((shift("mu", h) - shift("mu", -h)) / (2 * h), 8);
      expect(g.sigma[d]).toBeCloseTo((shift("sigma", h) - shift("sigma", -h)) / (2 * h), 8);
    }
    expect(sine.variances).toBeUndefined();
    // Each cost's tfjs f on two rows equals its value.
    for (const c of [lin, sq, sine]) {
      const zs = [[0.3, -1, 2], [1, 0.5, -0.2]];
      const got = tf.tidy(() => Array.from(c.f(tf.tensor2d(zs)).dataSync()));
      got.forEach((v, i) => expect(v, c.name).toBeCloseTo(c.value(zs[i]), 5));
    }
  });

  it("a score-function estimate is the mean of (f − b) ε/σ and (f − b)(ε² − 1)/σ over the seed's ε, for each kind of baseline", () => {
    const S = 6;
    const eps = epsRows(S, 3, 31);
    const fv = eps.map((e) => lin.value(e.map((x, d) => q.mu[d] + q.sigma[d] * x)));
    const sum = fv.reduce((a, b) => a + b, 0);
    const want = (bOf: (i: number) => number) => {
      const mu = [0, 1, 2].map((d) => eps.reduce((s, e, i) => s + ((fv[i] - bOf(i)) * e[d]) / q.sigma[d], 0) / S);
      const sigma = [0, 1, 2].map((d) => eps.reduce((s, e, i) => s + ((fv[i] - bOf(i)) * (e[d] ** 2 - 1)) / q.sigma[d], 0) / S);
      return { mu, sigma, logSigma: sigma.map((g, d) => g * q.sigma[d]) };
    };
    const close = (got: { mu: number[]; sigma: number[]; logSigma: number[] }, w: { mu: number[]; sigma: number[]; logSigma: number[] }, what: string) => {
      for (const p of ["mu", "sigma", "logSigma"] as const) got[p].forEach((v, d) => expect(v, `${what} ${p}[${d}]`).toBeCloseTo(w[p][d], 4));
    };
    close(scoreFunctionGradient(lin.f, q, { samples: S, seed: 31 }), want(() => 0), "none");
    close(scoreFunctionGradient(lin.f, q, { samples: S, seed: 31, baseline: 1.5 }), want(() => 1.5), "1.5");
    close(scoreFunctionGradient(lin.f, q, { samples: S, seed: 31, baseline: "leave-one-out" }), want((i) => (sum - fv[i]) / (S - 1)), "leave-one-out");
    // A running mean: 0 on its first call, then updated to the mean of f; the second call uses that.
    const run = new RunningMeanBaseline(0.75);
    close(scoreFunctionGradient(lin.f, q, { samples: S, seed: 31, baseline: run }), want(() => 0), "running, first");
    expect(run.value).toBeCloseTo(sum / S, 5);
    close(scoreFunctionGradient(lin.f, q, { samples: S, seed: 31, baseline: run }), want(() => sum / S), "running, second");
    expect(run.value).toBeCloseTo(sum / S, 5);
    // Seed 0 is a seed like any other.
    expect(scoreFunctionGradient(lin.f, q, { samples: 3, seed: 0 })).toEqual(scoreFunctionGradient(lin.f, q, { samples: 3, seed: 0 }));
  });

  it("RunningMeanBaseline: 0, then the first mean, then decay · avg + (1 − decay) · mean; decay 0.9 by default", () => {
    const b = new RunningMeanBaseline(0.75);
    expect(b.value).toBe(0);
    b.update(4);
    expect(b.value).toBe(4);
    b.update(8);
    expect(b.value).toBe(5);
    const d = new RunningMeanBaseline();
    expect(d.decay).toBe(0.9);
    d.update(0);
    d.update(10);
    expect(d.value).toBeCloseTo(1, 14);
  });

  it("a reparameterized estimate is the mean of ∇f(z) and ∇f(z) ⊙ ε over the seed's ε (quadratic: ∇f = 2z)", () => {
    const S = 5;
    const eps = epsRows(S, 3, 17);
    const z = eps.map((e) => e.map((x, d) => q.mu[d] + q.sigma[d] * x));
    const r = reparameterizedGradient(quadraticCost().f, q, { samples: S, seed: 17 });
    [0, 1, 2].forEach((d) => {
      expect(r.mu[d]).toBeCloseTo(z.reduce((s, zi) => s + 2 * zi[d], 0) / S, 5);
      expect(r.sigma[d]).toBeCloseTo(z.reduce((s, zi, i) => s + 2 * zi[d] * eps[i][d], 0) / S, 5);
      expect(r.logSigma[d]).toBeCloseTo(r.sigma[d] * q.sigma[d], 6);
    });
  });

  it("studyEstimator: the repeats' estimates from one batch of ε (the Rng's first seed), their mean, variance over R − 1, standard errors", () => {
    const [S, R] = [2, 4];
    const seed = new Rng(8).nextSeed();
    const eps = epsRows(S * R, 3, seed);
    const quad = quadraticCost();
    for (const kind of ["score", "reparam"] as const) {
      for (const baseline of kind === "score" ? [undefined, 2, "leave-one-out" as const] : [undefined]) {
        const what = `${kind} ${baseline}`;
        const st = studyEstimator(kind, quad.f, q, { samples: S, repeats: R, seed: 8, baseline });
        const rows = (p: "mu" | "sigma") =>
          Array.from({ length: R }, (_, r) =>
            [0, 1, 2].map((d) => {
              let t = 0;
              for (let s = 0; s < S; s++) {
                const e = eps[r * S + s];
                const z = e.map((x, k) => q.mu[k] + q.sigma[k] * x);
                if (kind === "reparam") t += 2 * z[d] * (p === "mu" ? 1 : e[d]);
                else {
                  const f = quad.value(z);
                  const other = quad.value(eps[r * S + 1 - s].map((x, k) => q.mu[k] + q.sigma[k] * x));
                  const b = baseline === "leave-one-out" ? other : (baseline ?? 0);
                  t += ((f - b) * (p === "mu" ? e[d] : e[d] ** 2 - 1)) / q.sigma[d];
                }
              }
              return t / S;
            }),
          );
        for (const p of ["mu", "sigma"] as const) {
          const want = rows(p);
          st.estimates[p].forEach((row, r) => row.forEach((v, d) => expect(v, `${what} ${p} estimate ${r}`).toBeCloseTo(want[r][d], 4)));
          [0, 1, 2].forEach((d) => {
            const m = want.reduce((a, row) => a + row[d], 0) / R;
            const v = want.reduce((a, row) => a + (row[d] - m) ** 2, 0) / (R - 1);
            expect(st.mean[p][d], what).toBeCloseTo(m, 4);
            expect(st.variance[p][d], what).toBeCloseTo(v, 3);
            expect(st.stderr[p][d], what).toBeCloseTo(Math.sqrt(v / R), 3);
          });
        }
        [0, 1, 2].forEach((d) => {
          expect(st.mean.logSigma[d]).toBeCloseTo(st.mean.sigma[d] * q.sigma[d], 10);
          expect(st.variance.logSigma[d]).toBeCloseTo(st.variance.sigma[d] * q.sigma[d] ** 2, 10);
          expect(st.stderr.logSigma[d]).toBeCloseTo(st.stderr.sigma[d] * q.sigma[d], 10);
        });
        expect([st.kind, st.samples, st.repeats]).toEqual([kind, S, R]);
      }
    }
  });

  it("studyEstimator with a running mean: one estimate after another, each with the Rng's next seed and the baseline as it stands", () => {
    const quad = quadraticCost();
    const st = studyEstimator("score", quad.f, q, { samples: 3, repeats: 3, seed: 4, baseline: new RunningMeanBaseline(0.5) });
    const rng = new Rng(4);
    const b = new RunningMeanBaseline(0.5);
    for (let r = 0; r < 3; r++) {
      const e = scoreFunctionGradient(quad.f, q, { samples: 3, seed: rng.nextSeed(), baseline: b });
      expect(st.estimates.mu[r]).toEqual(e.mu);
      expect(st.estimates.sigma[r]).toEqual(e.sigma);
    }
    expect(st.estimates.mu).toHaveLength(3);
    expect(st.mean.mu).toHaveLength(3); // one entry per dimension
    // The baseline is for the score function only: a reparameterized study ignores it. Two repeats are enough.
    const plain = studyEstimator("reparam", quad.f, q, { samples: 3, repeats: 2, seed: 4 });
    expect(studyEstimator("reparam", quad.f, q, { samples: 3, repeats: 2, seed: 4, baseline: new RunningMeanBaseline(0.5) })).toEqual(plain);
  });

  it("varianceSweep: one study per value, as studyEstimator gives it", () => {
    const seen: number[] = [];
    const sweep = varianceSweep([2, 3], (S) => {
      seen.push(S);
      return { kind: "reparam", f: lin.f, q, options: { samples: S, repeats: 3, seed: S } };
    });
    expect(seen).toEqual([2, 3]);
    sweep.forEach(({ value, study }) => expect(study).toEqual(studyEstimator("reparam", lin.f, q, { samples: value, repeats: 3, seed: value })));
  });

  it("measureVariances: the score study with the Rng's first seed and the baseline, the reparameterized one with its second; varianceRows", () => {
    const quad = quadraticCost();
    const c = measureVariances(quad, q, { repeats: 5, seed: 6, baseline: 2 });
    const rng = new Rng(6);
    const s = studyEstimator("score", quad.f, q, { samples: 1, repeats: 5, seed: rng.nextSeed(), baseline: 2 });
    const r = studyEstimator("reparam", quad.f, q, { samples: 1, repeats: 5, seed: rng.nextSeed() });
    expect(c.measured).toEqual({ score: { mu: s.variance.mu, sigma: s.variance.sigma }, reparam: { mu: r.variance.mu, sigma: r.variance.sigma } });
    expect(c.closed).toEqual(quad.variances!(q, 2));
    expect(measureVariances(quad, q, { repeats: 5, seed: 6 }).closed).toEqual(quad.variances!(q, 0));
    const plain = measureVariances(quad, q, { repeats: 5, seed: 6 });
    expect(plain.measured.score).toEqual({ mu: studyEstimator("score", quad.f, q, { samples: 1, repeats: 5, seed: new Rng(6).nextSeed() }).variance.mu, sigma: plain.measured.score.sigma });
    const rows = varianceRows(c, "score");
    expect(rows).toEqual([
      ...c.measured.score.mu.map((v, d) => [`μ[${d}]`, v, c.closed!.score.mu[d]]),
      ...c.measured.score.sigma.map((v, d) => [`σ[${d}]`, v, c.closed!.score.sigma[d]]),
    ]);
    expect(varianceRows(c, "reparam")[3]).toEqual(["σ[0]", c.measured.reparam.sigma[0], c.closed!.reparam.sigma[0]]);
    const sine = measureVariances(sineCost(), q, { repeats: 3, seed: 1 });
    expect(sine.closed).toBeUndefined();
    expect(varianceRows(sine, "reparam").map((row) => row[2])).toEqual([NaN, NaN, NaN, NaN, NaN, NaN]);
  });

  it("every bad input is refused with its whole message", () => {
    const f = lin.f;
    expect(() => scoreFunctionGradient(f, { mu: [0, 1], sigma: [1] }, { samples: 2 })).toThrow("scoreFunctionGradient: mu has 2 entries, sigma 1");
    for (const s of [0, -1, NaN]) expect(() => reparameterizedGradient(f, { mu: [0, 1], sigma: [1, s] }, { samples: 2 })).toThrow("reparameterizedGradient: every sigma must be > 0");
    for (const n of [0, 1.5]) expect(() => studyEstimator("score", f, q, { samples: n, repeats: 3 })).toThrow(`studyEstimator: samples must be a positive integer (got ${n})`);
    expect(() => scoreFunctionGradient(f, q, { samples: 0 })).toThrow("scoreFunctionGradient: samples must be a positive integer (got 0)");
    for (const n of [1, 2.5]) expect(() => studyEstimator("reparam", f, q, { samples: 1, repeats: n })).toThrow(`studyEstimator: repeats must be an integer ≥ 2 (got ${n})`);
    expect(() => scoreFunctionGradient(f, q, { samples: 1, baseline: "leave-one-out" })).toThrow("leave-one-out baseline needs samples ≥ 2");
    expect(scoreFunctionGradient(f, q, { samples: 2, seed: 1, baseline: "leave-one-out" }).mu).toHaveLength(3);
    expect(reparameterizedGradient(f, q, { samples: 1, seed: 1 }).mu).toHaveLength(3);
    const wrong = (z: tf.Tensor2D) => z.sum(1).slice(0, 1) as tf.Tensor1D;
    const scalar = (z: tf.Tensor2D) => z.sum() as unknown as tf.Tensor1D;
    expect(() => scoreFunctionGradient(wrong, q, { samples: 3 })).toThrow("cost function must return one value per sample: shape [3], got [1]");
    expect(() => scoreFunctionGradient(scalar, q, { samples: 3 })).toThrow("cost function must return one value per sample: shape [3], got []");
    expect(() => reparameterizedGradient(wrong, q, { samples: 3 })).toThrow("cost function must return one value per sample: shape [3], got [1]");
    expect(() => reparameterizedGradient(scalar, q, { samples: 3 })).toThrow("cost function must return one value per sample: shape [3], got []");
    expect(() => studyEstimator("reparam", wrong, q, { samples: 2, repeats: 3 })).toThrow("shape [6], got [1]");
    // One column per sample ([S, 1]) is refused too.
    const column = (z: tf.Tensor2D) => z.sum(1, true) as unknown as tf.Tensor1D;
    expect(() => scoreFunctionGradient(column, q, { samples: 3 })).toThrow("cost function must return one value per sample: shape [3], got [3,1]");
    expect(() => reparameterizedGradient(column, q, { samples: 3 })).toThrow("cost function must return one value per sample: shape [3], got [3,1]");
  });

  it("mathjs's symbolic score: the log density it starts from and both derivatives", () => {
    const s = gaussianScoreSymbolic();
    expect(s.logDensity).toBe("-(z - mu)^2 / (2 * sigma^2) - log(sigma) - log(2 * pi) / 2");
    expect(s.dMu).toBe("(z - mu) / sigma ^ 2");
    const e = s.evaluate(1.5, 0.5, 2);
    expect(e.dMu).toBeCloseTo(0.25, 14);
    expect(e.dSigma).toBeCloseTo((1 - 4) / 8, 14);
  });
});

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
