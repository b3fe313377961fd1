import { describe, expect, it } from "vitest";
import * as math from "mathjs";
import { cholesky, entropyDiag, logDet, logMixture1d, logNormal, logNormal1d, logNormalDiag, mixtureMoments, normalCdf, sampleDiag } from "../src/prob/gaussian";
import { fitGaussianToMixture, klDiagGaussians, klGaussians, klMonteCarlo, klQuadrature1d, klToStandardNormal, linspace, meanAndStderr } from "../src/prob/kl";
import { Rng } from "../src/engine/random";

const q = { mu: [0.3, -1.2, 2], sigma: [0.5, 1.5, 0.8] };
const p = { mu: [0, 0.5, 1], sigma: [1, 0.7, 2] };

// Values worked out by hand (constants written as numbers), so that a slip that two functions would share,
// such as a wrong log 2π, cannot pass by comparing them with each other. These come first: each takes
// microseconds.
const LOG_2PI = 1.8378770664093453; // log 2π
const LOG2 = 0.6931471805599453;

describe("exact values", () => {
  it("log-densities: diagonal, 1-D, full covariance (2×2 by hand), and a mixture far out in its tail", () => {
    // x = (1, −1), μ = (0, 1), σ = (2, 0.5): u = (0.5, −4)
    expect(logNormalDiag([1, -1], { mu: [0, 1], sigma: [2, 0.5] })).toBeCloseTo(-0.125 - LOG2 - 8 + LOG2 - LOG_2PI, 12);
    expect(logNormal1d(3, 1, 2)).toBeCloseTo(-0.5 - LOG2 - LOG_2PI / 2, 12);
    // Σ = [[2, 1], [1, 2]]: |Σ| = 3, Σ⁻¹ = [[2, −1], [−1, 2]]/3, so (x − m)ᵀΣ⁻¹(x − m) = 2/3 for x − m = (1, 0)
    expect(logNormal([2, -1], [1, -1], [[2, 1], [1, 2]])).toBeCloseTo(-0.5 * (2 * LOG_2PI + Math.log(3) + 2 / 3), 12);
    // p = ¼ N(0, 1) + ¾ N(2, ½²) at x = 1, directly: ¼ e^{−½}/√(2π) + ¾ e^{−2}/(½√(2π))
    const mix = { weights: [0.25, 0.75], means: [0, 2], sds: [1, 0.5] };
    expect(logMixture1d(1, mix)).toBeCloseTo(Math.log((0.25 * Math.exp(-0.5) + 1.5 * Math.exp(-2)) / Math.sqrt(2 * Math.PI)), 12);
    // at x = 40 both densities underflow to 0; the log is that of the wider component: log ¼ − 800 − ½ log 2π
    expect(logMixture1d(40, mix)).toBeCloseTo(-2 * LOG2 - 800 - LOG_2PI / 2, 9);
  });

  it("full-covariance log-density in 5 dimensions: the Cholesky solve agrees with mathjs's inverse and determinant; mismatched sizes are refused", () => {
    const rng = new Rng(7);
    const A = Array.from({ length: 5 }, () => Array.from({ length: 5 }, () => rng.normal()));
    const S = (math.add(math.multiply(A, math.transpose(A)), math.multiply(math.identity(5), 0.3)) as math.Matrix).toArray() as number[][];
    const m = [0.5, -1, 2, 0, 1];
    for (const x of [m, [1, 1, 1, 1, 1], [-3, 2, 0.5, 4, -1]]) {
      const r = x.map((v, i) => v - m[i]);
      const quad = math.dot(r, math.multiply(math.inv(S), r) as number[]) as number;
      const expected = -0.5 * (5 * LOG_2PI + Math.log(math.det(S)) + quad);
      expect(Math.abs(logNormal(x, m, S) - expected)).toBeLessThan(1e-10);
    }
    expect(() => logNormal([1, 2], [0, 0, 0], [[1, 0], [0, 1]])).toThrow(/x has 2 entries, the mean 3/);
    expect(() => logNormal([1, 2], [0, 0], [[1, 0, 0], [0, 1, 0]])).toThrow(/covariance is 2×3/);
    expect(() => logNormal([1, 2], [0, 0], [[1, 2], [2, 1]])).toThrow(/not positive definite/);
  });

  it("mixture moments with weights that do not sum to 1; entropy; log-determinant", () => {
    // weights (1, 3) are (¼, ¾): mean ¾·2 = 1.5, E x² = ¼·1 + ¾(¼ + 4) = 3.4375, variance 3.4375 − 2.25
    const m = mixtureMoments({ weights: [1, 3], means: [0, 2], sds: [1, 0.5] });
    expect(m.mean).toBeCloseTo(1.5, 12);
    expect(m.variance).toBeCloseTo(1.1875, 12);
    // N(0, diag(2², ½²)): 2 · ½(log 2π + 1) + log 2 + log ½
    expect(entropyDiag({ mu: [5, -5], sigma: [2, 0.5] })).toBeCloseTo(LOG_2PI + 1, 12);
    // [[4, 2, −2], [2, 10, 2], [−2, 2, 5]] = L Lᵀ with L = [[2, 0, 0], [1, 3, 0], [−1, 1, √3]]
    const S = [[4, 2, -2], [2, 10, 2], [-2, 2, 5]];
    const L = cholesky(S);
    const want = [[2, 0, 0], [1, 3, 0], [-1, 1, Math.sqrt(3)]];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(L[i][j]).toBeCloseTo(want[i][j], 12);
    expect(logDet(S)).toBeCloseTo(Math.log(4 * 9 * 3), 12);
    // singular (a zero pivot) and indefinite matrices are refused
    expect(() => cholesky([[1, 1], [1, 1]])).toThrow("cholesky: matrix is not positive definite");
    expect(() => cholesky([[-1]])).toThrow("cholesky: matrix is not positive definite");
  });

  it("sampleDiag draws μ + σ ⊙ ε, row by row, with ε the Rng's own normal draws", () => {
    const draws = sampleDiag({ mu: [1, -2], sigma: [0.5, 3] }, 3, new Rng(5));
    const rng = new Rng(5);
    expect(draws.length).toBe(3);
    for (const row of draws) {
      expect(row[0]).toBeCloseTo(1 + 0.5 * rng.normal(), 12);
      expect(row[1]).toBeCloseTo(-2 + 3 * rng.normal(), 12);
    }
  });

  it("a diagonal Gaussian with mismatched lengths or a σ that is not > 0 is refused, naming the function", () => {
    expect(() => logNormalDiag([0, 0], { mu: [0, 1], sigma: [1] })).toThrow("logNormalDiag: mu has 2 entries, sigma 1");
    expect(() => logNormalDiag([0], { mu: [0], sigma: [0] })).toThrow("logNormalDiag: every sigma must be > 0 (got 0)");
    expect(() => logNormalDiag([0], { mu: [0], sigma: [NaN] })).toThrow("logNormalDiag: every sigma must be > 0 (got NaN)");
    expect(() => sampleDiag({ mu: [0], sigma: [-1] }, 1, new Rng(1))).toThrow("sampleDiag: every sigma must be > 0 (got -1)");
  });

  it("KL closed forms: diagonal and full covariance, both directions, by hand", () => {
    // KL(N(1, ½²) ‖ N(−1, 2²)) = log(2/½) + (¼ + 4)/8 − ½, plus a second coordinate KL(N(0, 1) ‖ N(0, 1)) = 0
    expect(klDiagGaussians({ mu: [1, 0], sigma: [0.5, 1] }, { mu: [-1, 0], sigma: [2, 1] })).toBeCloseTo(2 * LOG2 + 0.03125, 12);
    expect(klToStandardNormal({ mu: [1, 0], sigma: [2, 0.5] })).toBeCloseTo(0.5 * (4 - 2 * LOG2) + 0.5 * (0.25 - 1 + 2 * LOG2), 12);
    // N(0, I) against N((1, 0), [[2, 1], [1, 2]]): ½(tr Σ₁⁻¹ + dᵀΣ₁⁻¹d − 2 + log 3) = ½(4/3 + 2/3 − 2 + log 3)
    const S1 = [[2, 1], [1, 2]];
    const I = [[1, 0], [0, 1]];
    expect(klGaussians([0, 0], I, [1, 0], S1)).toBeCloseTo(0.5 * Math.log(3), 12);
    // and the other way: ½(tr Σ₁ + 1 − 2 − log 3)
    expect(klGaussians([1, 0], S1, [0, 0], I)).toBeCloseTo(0.5 * (3 - Math.log(3)), 12);
  });

  it("mean and standard error; Monte Carlo averages log q − log p over the sampler's draws; linspace", () => {
    // mean 4, squared deviations 9 + 4 + 1 + 0 + 36 = 50, sample variance 12.5, standard error √(12.5/5)
    expect(meanAndStderr([1, 2, 3, 4, 10])).toEqual({ estimate: 4, stderr: Math.sqrt(2.5), n: 5 });
    const rng = new Rng(9);
    const u = Array.from({ length: 4 }, () => rng.uniform());
    const mc = klMonteCarlo((z: number) => 3 * z, (z) => z, (r) => r.uniform(), 4, 9);
    expect(mc.n).toBe(4);
    expect(mc.estimate).toBeCloseTo((2 * (u[0] + u[1] + u[2] + u[3])) / 4, 12);
    expect(linspace(2, 4, 5)).toEqual([2, 2.5, 3, 3.5, 4]);
  });

  it("Monte Carlo KL draws exactly n samples", () => {
    let draws = 0;
    klMonteCarlo((z: number) => z, () => 0, (r) => (draws++, r.uniform()), 7, 1);
    expect(draws).toBe(7);
  });

  it("the default grid spans 8 standard deviations around every component", () => {
    // Wide components (sd 3): a grid of ±8 sd reaches ±27; the forward fit's KL must equal a quadrature that wide.
    const mix = { weights: [0.5, 0.5], means: [-3, 3], sds: [3, 3] };
    const fit = fitGaussianToMixture(mix, "forward");
    const kl = klQuadrature1d((x) => logMixture1d(x, mix), (x) => logNormal1d(x, fit.mu[0], fit.sigma[0]), linspace(-27, 27, 2001));
    expect(fit.kl).toBeCloseTo(kl, 12);
  });

  it("reverse fit from a start the grid cannot see: every neighbour's KL is 0 as well, so the search stops there", () => {
    // N(1000, 1) underflows to 0 on the whole grid: the quadrature is flat and no step improves on it.
    const fit = fitGaussianToMixture({ weights: [1], means: [0], sds: [1] }, "reverse", linspace(-10, 10, 201), { mu: [1000], sigma: [1] });
    expect(fit).toEqual({ mu: [1000], sigma: [1], kl: 0 });
  });

  it("quadrature skips the points where the first density is 0: KL(U(0, 1) ‖ N(0, 1)) = ½ log 2π + 1/6", () => {
    const logU = (x: number) => (x >= 0 && x <= 1 ? 0 : -Infinity);
    const kl = klQuadrature1d(logU, (x) => logNormal1d(x, 0, 1), linspace(-1, 2, 30001));
    expect(kl).toBeCloseTo(LOG_2PI / 2 + 1 / 6, 3);
  });
});

describe("Gaussian densities", () => {
  it("normalCdf is Φ to 4e-16 on [−9, 9] (against mathjs's erf), symmetric, with the lower tail to 1e-13 relative", () => {
    let worst = 0;
    for (let i = 0; i <= 1800; i++) {
      const x = -9 + i * 0.01;
      const ref = 0.5 * (1 + (math.erf(x / Math.SQRT2) as number));
      worst = Math.max(worst, Math.abs(normalCdf(x) - ref));
      expect(Math.abs(normalCdf(x) + normalCdf(-x) - 1), `Φ(${x}) + Φ(−${x})`).toBeLessThan(3e-16);
    }
    expect(worst).toBeLessThan(4e-16);
    expect(normalCdf(0)).toBe(0.5);
    // Reference values 0.5·erfc(−x/√2) (Python's math.erfc, correctly rounded to about 1 ulp).
    for (const [x, p] of [[-8, 6.220960574271819e-16], [-5, 2.866515718791946e-7], [-3, 0.0013498980316300957], [-1.5, 0.06680720126885809]]) {
      expect(Math.abs(normalCdf(x) - p) / p, `Φ(${x})`).toBeLessThan(1e-13);
    }
    expect([normalCdf(Infinity), normalCdf(-Infinity), normalCdf(40), normalCdf(-40)]).toEqual([1, 0, 1, 0]);
    expect(normalCdf(NaN)).toBeNaN();
  }, 60_000); // mathjs loads on first use: seconds on a busy machine

  it("diagonal log-density equals the full-covariance one with a diagonal matrix", () => {
    const x = [0.1, 0.2, 0.3];
    const cov = q.sigma.map((s, i) => q.sigma.map((_, j) => (i === j ? s * s : 0)));
    expect(logNormalDiag(x, q)).toBeCloseTo(logNormal(x, q.mu, cov), 10);
    expect(logNormal1d(1, 0, 1)).toBeCloseTo(-0.5 - 0.5 * Math.log(2 * Math.PI), 12);
  }, 60_000); // the first use of mathjs loads it: seconds on a busy machine

  it("cholesky reconstructs the matrix; logDet matches the 2×2 formula", () => {
    const S = [[4, 1.2], [1.2, 2]];
    const L = cholesky(S);
    const back = [[L[0][0] ** 2, L[0][0] * L[1][0]], [L[1][0] * L[0][0], L[1][0] ** 2 + L[1][1] ** 2]];
    expect(back[0][0]).toBeCloseTo(4, 12);
    expect(back[1][0]).toBeCloseTo(1.2, 12);
    expect(back[1][1]).toBeCloseTo(2, 12);
    expect(logDet(S)).toBeCloseTo(Math.log(4 * 2 - 1.2 * 1.2), 12);
    expect(() => cholesky([[1, 2], [2, 1]])).toThrow(/not positive definite/);
  });

  it("entropy equals the Monte Carlo mean of −log q", () => {
    const rng = new Rng(1);
    const draws = sampleDiag(q, 50_000, rng).map((z) => -logNormalDiag(z, q));
    const mc = meanAndStderr(draws);
    expect(Math.abs(mc.estimate - entropyDiag(q))).toBeLessThan(4 * mc.stderr);
  });

  it("mixture moments match quadrature of the density", () => {
    const mix = { weights: [0.3, 0.7], means: [-2, 3], sds: [0.5, 1] };
    const xs = linspace(-12, 14, 20001);
    const h = xs[1] - xs[0];
    let m0 = 0, m1 = 0, m2 = 0;
    for (const x of xs) {
      const d = Math.exp(logMixture1d(x, mix));
      m0 += d * h; m1 += x * d * h; m2 += x * x * d * h;
    }
    const { mean, variance } = mixtureMoments(mix);
    expect(m0).toBeCloseTo(1, 6);
    expect(m1).toBeCloseTo(mean, 6);
    expect(m2 - m1 * m1).toBeCloseTo(variance, 5);
  });
});

describe("KL divergence", () => {
  it("closed form between diagonal Gaussians matches Monte Carlo (within 4 standard errors)", () => {
    const exact = klDiagGaussians(q, p);
    const mc = klMonteCarlo((z: number[]) => logNormalDiag(z, q), (z) => logNormalDiag(z, p), (rng) => sampleDiag(q, 1, rng)[0], 100_000, 7);
    expect(Math.abs(mc.estimate - exact)).toBeLessThan(4 * mc.stderr);
    expect(mc.stderr).toBeLessThan(0.02 * exact); // the check has teeth
  });

  it("KL(q‖q) = 0, KL ≥ 0, and it is not symmetric", () => {
    expect(klDiagGaussians(q, q)).toBeCloseTo(0, 12);
    expect(klDiagGaussians(q, p)).toBeGreaterThan(0);
    expect(Math.abs(klDiagGaussians(q, p) - klDiagGaussians(p, q))).toBeGreaterThan(0.1);
  });

  it("KL to N(0, I) is the special case p = N(0, I), and matches ½Σ(μ² + σ² − 1 − log σ²) by hand", () => {
    const std = { mu: [0, 0, 0], sigma: [1, 1, 1] };
    expect(klToStandardNormal(q)).toBeCloseTo(klDiagGaussians(q, std), 12);
    // one coordinate by hand: μ = 1, σ = 2 → ½(1 + 4 − 1 − log 4)
    expect(klToStandardNormal({ mu: [1], sigma: [2] })).toBeCloseTo(0.5 * (4 - Math.log(4)), 12);
  });

  it("full-covariance KL reduces to the diagonal one and matches Monte Carlo with correlations", () => {
    const diag = (s: number[]) => s.map((v, i) => s.map((_, j) => (i === j ? v * v : 0)));
    expect(klGaussians(q.mu, diag(q.sigma), p.mu, diag(p.sigma))).toBeCloseTo(klDiagGaussians(q, p), 10);
    const S0 = [[1, 0.8], [0.8, 1]];
    const S1 = [[2, -0.3], [-0.3, 0.5]];
    const m0 = [0, 1];
    const m1 = [0.5, -0.5];
    const L = cholesky(S0);
    const mc = klMonteCarlo(
      (z: number[]) => logNormal(z, m0, S0),
      (z) => logNormal(z, m1, S1),
      (rng) => {
        const e = [rng.normal(), rng.normal()];
        return [m0[0] + L[0][0] * e[0], m0[1] + L[1][0] * e[0] + L[1][1] * e[1]];
      },
      40_000,
      3,
    );
    expect(Math.abs(mc.estimate - klGaussians(m0, S0, m1, S1))).toBeLessThan(4 * mc.stderr);
  }, 60_000);

  it("1-D quadrature agrees with the closed form", () => {
    const kl = klQuadrature1d((x) => logNormal1d(x, 1, 0.5), (x) => logNormal1d(x, -1, 2), linspace(-15, 15, 4001));
    expect(kl).toBeCloseTo(klDiagGaussians({ mu: [1], sigma: [0.5] }, { mu: [-1], sigma: [2] }), 6);
  });

  it("forward KL covers both modes; reverse KL locks onto one", () => {
    const mix = { weights: [0.4, 0.6], means: [-3, 3], sds: [0.7, 0.7] };
    const fwd = fitGaussianToMixture(mix, "forward");
    const rev = fitGaussianToMixture(mix, "reverse");
    const mm = mixtureMoments(mix);
    expect(fwd.mu[0]).toBeCloseTo(mm.mean, 10);
    expect(fwd.sigma[0]).toBeCloseTo(Math.sqrt(mm.variance), 10);
    expect(fwd.sigma[0]).toBeGreaterThan(2.5); // spans both modes
    expect(rev.mu[0]).toBeCloseTo(3, 1); // the heavier mode
    expect(rev.sigma[0]).toBeCloseTo(0.7, 1);
    // Each fit is the better one in its own direction.
    const xs = linspace(-12, 12, 4001);
    const logP = (x: number) => logMixture1d(x, mix);
    const revKl = (g: { mu: number[]; sigma: number[] }) => klQuadrature1d((x) => logNormal1d(x, g.mu[0], g.sigma[0]), logP, xs);
    const fwdKl = (g: { mu: number[]; sigma: number[] }) => klQuadrature1d(logP, (x) => logNormal1d(x, g.mu[0], g.sigma[0]), xs);
    expect(revKl(rev)).toBeLessThan(revKl(fwd));
    expect(fwdKl(fwd)).toBeLessThan(fwdKl(rev));
    // Reverse KL at the optimum is about log(1/0.6): q sits on one mode that holds 60% of the mass.
    expect(rev.kl).toBeCloseTo(Math.log(1 / 0.6), 2);
  }, 60_000); // nine local searches over a 2001-point quadrature: seconds on a busy machine

  it("reverse KL from a given start: each mode is a local minimum, with KL about −log of its weight", () => {
    const mix = { weights: [0.4, 0.6], means: [-3, 3], sds: [0.7, 0.9] };
    const grid = linspace(-10, 10, 801);
    const left = fitGaussianToMixture(mix, "reverse", grid, { mu: [-1], sigma: [1] });
    const right = fitGaussianToMixture(mix, "reverse", grid, { mu: [1], sigma: [1] });
    expect(left.mu[0]).toBeCloseTo(-3, 1);
    expect(left.sigma[0]).toBeCloseTo(0.7, 1);
    expect(right.mu[0]).toBeCloseTo(3, 1);
    expect(right.sigma[0]).toBeCloseTo(0.9, 1);
    expect(left.kl).toBeCloseTo(-Math.log(0.4), 2);
    expect(right.kl).toBeCloseTo(-Math.log(0.6), 2);
    // Without a start, the better of the two.
    expect(fitGaussianToMixture(mix, "reverse", grid).mu[0]).toBeCloseTo(right.mu[0], 6);
  }, 60_000);
});
