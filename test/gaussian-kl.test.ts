import { describe, expect, it } from "vitest";
import { cholesky, entropyDiag, logDet, logMixture1d, logNormal, logNormal1d, logNormalDiag, mixtureMoments, sampleDiag } from "../src/prob/gaussian";
import { fitGaussianToMixture, klDiagGaussians, klGaussians, klMonteCarlo, klQuadrature1d, klToStandardNormal, linspace, meanAndStderr } from "../src/prob/kl";
import { Rng } from "../src/engine/random";

const q = { mu: [0.3, -1.2, 2], sigma: [0.5, 1.5, 0.8] };
const p = { mu: [0, 0.5, 1], sigma: [1, 0.7, 2] };

describe("Gaussian densities", () => {
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
