/**
 * Kullback–Leibler divergence KL(q‖p) = E_q[log q − log p]: closed forms for Gaussians, a Monte Carlo
 * estimate for anything with a log-density and a sampler, and 1-D quadrature for the forward-vs-reverse
 * comparison.
 */
import { mathjs } from "../engine/mathjs";
import { DiagGaussian, logDet, logMixture1d, logNormal1d, Matrix, mixtureMoments, Mixture1d, Vector } from "./gaussian";
import { Rng } from "../engine/random";

/**
 * KL(q‖p) between diagonal Gaussians, closed form:
 *   Σ_d [ log(σp/σq) + (σq² + (μq − μp)²) / (2σp²) − ½ ].
 */
export function klDiagGaussians(q: DiagGaussian, p: DiagGaussian): number {
  for (const [name, g] of [["q", q], ["p", p]] as const) {
    if (g.mu.length !== q.mu.length || g.sigma.length !== q.mu.length) throw new Error(`klDiagGaussians: q and p must have mu and sigma of one length (q.mu has ${q.mu.length}, ${name}.mu ${g.mu.length}, ${name}.sigma ${g.sigma.length})`);
    if (g.sigma.some((s) => !(s > 0 && Number.isFinite(s)))) throw new Error(`klDiagGaussians: every ${name}.sigma must be > 0 and finite`);
    if (g.mu.some((m) => !Number.isFinite(m))) throw new Error(`klDiagGaussians: every ${name}.mu must be a finite number`);
  }
  let s = 0;
  for (let d = 0; d < q.mu.length; d++) {
    const vq = q.sigma[d] ** 2;
    const vp = p.sigma[d] ** 2;
    s += Math.log(p.sigma[d] / q.sigma[d]) + (vq + (q.mu[d] - p.mu[d]) ** 2) / (2 * vp) - 0.5;
  }
  return s;
}

/** KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ (μ² + σ² − 1 − log σ²): the VAE's regulariser. */
export function klToStandardNormal(q: DiagGaussian): number {
  return q.mu.reduce((s, m, d) => s + 0.5 * (m * m + q.sigma[d] ** 2 - 1 - 2 * Math.log(q.sigma[d])), 0);
}

/**
 * KL(N(m0, S0) ‖ N(m1, S1)) between full-covariance Gaussians:
 *   ½ [ tr(S1⁻¹ S0) + (m1 − m0)ᵀ S1⁻¹ (m1 − m0) − d + log|S1| − log|S0| ].
 */
export function klGaussians(m0: Vector, S0: Matrix, m1: Vector, S1: Matrix): number {
  const d = m0.length;
  const S1inv = mathjs().inv(S1) as Matrix;
  const diff = m1.map((v, i) => v - m0[i]);
  const tr = mathjs().trace(mathjs().multiply(S1inv, S0) as Matrix) as number;
  const quad = mathjs().dot(diff, mathjs().multiply(S1inv, diff) as Vector) as number;
  return 0.5 * (tr + quad - d + logDet(S1) - logDet(S0));
}

export interface MonteCarloEstimate {
  /** The sample mean. */
  estimate: number;
  /** Its standard error (sample standard deviation / √n). */
  stderr: number;
  n: number;
}

/** Mean and standard error of n values. */
export function meanAndStderr(values: ArrayLike<number>): MonteCarloEstimate {
  const n = values.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += values[i];
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { estimate: mean, stderr: Math.sqrt(ss / (n - 1) / n), n };
}

/** Monte Carlo KL(q‖p) ≈ (1/n) Σ [log q(z_i) − log p(z_i)], z_i ~ q. */
export function klMonteCarlo<Z>(
  logQ: (z: Z) => number,
  logP: (z: Z) => number,
  sampleQ: (rng: Rng) => Z,
  n: number,
  seed?: number,
): MonteCarloEstimate {
  const rng = new Rng(seed);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = sampleQ(rng);
    values[i] = logQ(z) - logP(z);
  }
  return meanAndStderr(values);
}

/** An evenly spaced grid of n points on [lo, hi]. */
export function linspace(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

/** KL(a‖b) in one dimension by the trapezoid rule on a grid (densities given as log-densities). */
export function klQuadrature1d(logA: (x: number) => number, logB: (x: number) => number, grid: number[]): number {
  let s = 0;
  for (let i = 1; i < grid.length; i++) {
    const f = (x: number) => {
      const la = logA(x);
      return la === -Infinity ? 0 : Math.exp(la) * (la - logB(x));
    };
    s += 0.5 * (f(grid[i - 1]) + f(grid[i])) * (grid[i] - grid[i - 1]);
  }
  return s;
}

/**
 * The Gaussian q that best fits a 1-D mixture p in either direction (a DiagGaussian with one coordinate).
 * - "forward" KL(p‖q) is minimised by matching p's mean and variance (mass-covering);
 * - "reverse" KL(q‖p), the direction variational inference uses, is minimised numerically (a grid search
 *   refined by coordinate steps) and locks onto one mode (mode-seeking). Starting points near each mode
 *   are tried so the global minimum is found; with `start`, the search runs from that one point only and
 *   returns the local minimum it reaches (which mode depends on the start).
 */
export function fitGaussianToMixture(p: Mixture1d, direction: "forward" | "reverse", grid?: number[], start?: DiagGaussian): DiagGaussian & { kl: number } {
  const lo = Math.min(...p.means.map((m, k) => m - 8 * p.sds[k]));
  const hi = Math.max(...p.means.map((m, k) => m + 8 * p.sds[k]));
  const xs = grid ?? linspace(lo, hi, 2001);
  const logP = (x: number) => logMixture1d(x, p);
  if (direction === "forward") {
    const { mean, variance } = mixtureMoments(p);
    const sd = Math.sqrt(variance);
    return { mu: [mean], sigma: [sd], kl: klQuadrature1d(logP, (x) => logNormal1d(x, mean, sd), xs) };
  }
  const objective = (mean: number, logSd: number) => klQuadrature1d((x) => logNormal1d(x, mean, Math.exp(logSd)), logP, xs);
  let best = { mean: 0, logSd: 0, kl: Infinity };
  const { variance } = mixtureMoments(p);
  const starts = start ? [{ mean: start.mu[0], sd: start.sigma[0] }] : [...p.means, mixtureMoments(p).mean].flatMap((mean) => [...p.sds, Math.sqrt(variance)].map((sd) => ({ mean, sd })));
  for (const { mean: m0, sd: s0 } of starts) {
    let cur = { mean: m0, logSd: Math.log(s0), kl: objective(m0, Math.log(s0)) };
    // Coordinate search with shrinking steps: robust and plenty fast for a 2-parameter problem.
    for (let step = 0.5; step > 1e-5; step /= 2) {
      let improved = true;
      while (improved) {
        improved = false;
        for (const [dm, ds] of [[step, 0], [-step, 0], [0, step], [0, -step]]) {
          const kl = objective(cur.mean + dm, cur.logSd + ds);
          if (kl < cur.kl) {
            cur = { mean: cur.mean + dm, logSd: cur.logSd + ds, kl };
            improved = true;
          }
        }
      }
    }
    if (cur.kl < best.kl) best = cur;
  }
  return { mu: [best.mean], sigma: [Math.exp(best.logSd)], kl: best.kl };
}
