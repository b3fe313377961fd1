/**
 * Cost functions f(z) with everything known in closed form under q = N(μ, diag σ²), so gradient estimators
 * can be checked against exact answers (each `f` is tfjs ops only; callers dispose its tensors): E_q f, its gradient in μ and σ, and (for the linear and quadratic
 * costs) the exact variance of a single-sample score-function and reparameterized estimate, with a constant
 * baseline b. An S-sample average has 1/S of that variance.
 *
 * Derivations (written out in notebook 04): with z_d = μ_d + σ_d ε_d and the Gaussian moments
 * E ε² = 1, E ε⁴ = 3, E ε⁶ = 15, E ε⁸ = 105 (odd moments vanish), a single-sample score estimate is
 * g_μd = (f − b) ε_d/σ_d and g_σd = (f − b)(ε_d² − 1)/σ_d, so Var g = E[(f − b)² w]/σ_d² − (∇)² with
 * w = ε_d² or (ε_d² − 1)², expanded term by term.
 */
import * as tf from "../engine/tf";
import { Rng } from "../engine/random";
import { Baseline, CostFn, studyEstimator } from "./estimators";
import { DiagGaussian } from "./gaussian";

export interface PerCoordinate {
  mu: number[];
  sigma: number[];
}

export interface EstimatorVariances {
  /** Variance of a one-sample score-function estimate, per coordinate. */
  score: PerCoordinate;
  /** Variance of a one-sample reparameterized estimate, per coordinate. */
  reparam: PerCoordinate;
}

export interface CostFunction {
  name: string;
  /** Formula, as LaTeX. */
  latex: string;
  f: CostFn;
  /** f for one point, in float64 (for independent Monte Carlo checks). */
  value(z: number[]): number;
  expectation(q: DiagGaussian): number;
  gradient(q: DiagGaussian): PerCoordinate;
  /** Exact single-sample estimator variances with constant baseline b (default 0), where derived. */
  variances?(q: DiagGaussian, baseline?: number): EstimatorVariances;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** f(z) = aᵀz. Reparameterized μ-gradient has zero variance; the score function's grows with (aᵀμ − b)². */
export function linearCost(a: number[]): CostFunction {
  return {
    name: "linear",
    latex: "f(z) = a^\\top z",
    f: (z) => z.matMul(tf.tensor2d(a, [a.length, 1])).reshape([-1]) as tf.Tensor1D,
    value: (z) => sum(z.map((v, i) => v * a[i])),
    expectation: (q) => sum(q.mu.map((m, i) => m * a[i])),
    gradient: (q) => ({ mu: [...a], sigma: q.sigma.map(() => 0) }),
    variances(q, b = 0) {
      const M = sum(q.mu.map((m, i) => m * a[i])) - b;
      const c2 = q.sigma.map((s, k) => (a[k] * s) ** 2); // c_k² = (a_k σ_k)²
      const C = sum(c2);
      return {
        score: {
          // E[(f−b)² ε_d²] = M² + Σ_k c_k² + 2 c_d²
          mu: q.sigma.map((s, d) => (M * M + C + 2 * c2[d]) / (s * s) - a[d] ** 2),
          // E[(f−b)² (ε_d² − 1)²] = 2M² + 2 Σ_k c_k² + 8 c_d²  (mean gradient is 0)
          sigma: q.sigma.map((s, d) => (2 * M * M + 2 * C + 8 * c2[d]) / (s * s)),
        },
        reparam: { mu: a.map(() => 0), sigma: a.map((ad) => ad * ad) },
      };
    },
  };
}

/** f(z) = Σ_d z_d² = ‖z‖². */
export function quadraticCost(): CostFunction {
  return {
    name: "quadratic",
    latex: "f(z) = \\lVert z \\rVert^2",
    f: (z) => z.square().sum(1) as tf.Tensor1D,
    value: (z) => sum(z.map((v) => v * v)),
    expectation: (q) => sum(q.mu.map((m, i) => m * m + q.sigma[i] ** 2)),
    gradient: (q) => ({ mu: q.mu.map((m) => 2 * m), sigma: q.sigma.map((s) => 2 * s) }),
    variances(q, b = 0) {
      const D = q.mu.length;
      const m = q.mu.map((mu, k) => mu * mu + q.sigma[k] ** 2); // E a_k, a_k = z_k²
      const q4 = q.mu.map((mu, k) => mu ** 4 + 6 * mu * mu * q.sigma[k] ** 2 + 3 * q.sigma[k] ** 4); // E a_k²
      const score = { mu: new Array<number>(D), sigma: new Array<number>(D) };
      for (let d = 0; d < D; d++) {
        const mu = q.mu[d];
        const s2 = q.sigma[d] ** 2;
        const restM = sum(m) - m[d]; // Σ_{k≠d} m_k
        const restQ = sum(q4) - q4[d]; // Σ_{k≠d} E a_k²
        const restPairs = restM * restM - (sum(m.map((x) => x * x)) - m[d] * m[d]); // Σ_{k≠l, k,l≠d} m_k m_l
        // w = ε_d²
        const Ef2w = mu ** 4 + 18 * mu * mu * s2 + 15 * s2 * s2 + restQ + 2 * (mu * mu + 3 * s2) * restM + restPairs;
        const Efw = mu * mu + 3 * s2 + restM;
        score.mu[d] = (Ef2w - 2 * b * Efw + b * b) / s2 - 4 * mu * mu;
        // w = (ε_d² − 1)²
        const Ef2v = 2 * mu ** 4 + 60 * mu * mu * s2 + 78 * s2 * s2 + 2 * restQ + 2 * (2 * mu * mu + 10 * s2) * restM + 2 * restPairs;
        const Efv = 2 * mu * mu + 10 * s2 + 2 * restM;
        score.sigma[d] = (Ef2v - 2 * b * Efv + 2 * b * b) / s2 - 4 * s2;
      }
      return {
        score,
        reparam: { mu: q.sigma.map((s) => 4 * s * s), sigma: q.mu.map((mu, d) => 4 * (mu * mu + 2 * q.sigma[d] ** 2)) },
      };
    },
  };
}

/** f(z) = Σ_d sin z_d: E f = Σ sin μ_d e^{−σ_d²/2}. A non-polynomial check of unbiasedness. */
export function sineCost(): CostFunction {
  return {
    name: "sine",
    latex: "f(z) = \\sum_d \\sin z_d",
    f: (z) => z.sin().sum(1) as tf.Tensor1D,
    value: (z) => sum(z.map(Math.sin)),
    expectation: (q) => sum(q.mu.map((m, i) => Math.sin(m) * Math.exp(-0.5 * q.sigma[i] ** 2))),
    gradient: (q) => ({
      mu: q.mu.map((m, i) => Math.cos(m) * Math.exp(-0.5 * q.sigma[i] ** 2)),
      sigma: q.mu.map((m, i) => -q.sigma[i] * Math.sin(m) * Math.exp(-0.5 * q.sigma[i] ** 2)),
    }),
  };
}

export interface VarianceComparison {
  /** Variances measured over `repeats` single-sample estimates. */
  measured: EstimatorVariances;
  /** The closed forms (undefined for a cost without them). */
  closed?: EstimatorVariances;
}

/**
 * Measure both estimators' single-sample variances for a cost (the score function with constant baseline
 * `baseline`), next to the closed forms where the cost has them.
 */
export function measureVariances(
  cost: CostFunction,
  q: DiagGaussian,
  options: { repeats: number; seed?: number; baseline?: number },
): VarianceComparison {
  const rng = new Rng(options.seed);
  const b: Baseline = options.baseline ?? 0;
  const score = studyEstimator("score", cost.f, q, { samples: 1, repeats: options.repeats, seed: rng.nextSeed(), baseline: b });
  const reparam = studyEstimator("reparam", cost.f, q, { samples: 1, repeats: options.repeats, seed: rng.nextSeed() });
  return {
    measured: {
      score: { mu: score.variance.mu, sigma: score.variance.sigma },
      reparam: { mu: reparam.variance.mu, sigma: reparam.variance.sigma },
    },
    closed: cost.variances?.(q, options.baseline ?? 0),
  };
}

/** Table rows [parameter, measured, closed form] for one estimator of a VarianceComparison. */
export function varianceRows(c: VarianceComparison, estimator: keyof EstimatorVariances): (string | number)[][] {
  const m = c.measured[estimator];
  const cl = c.closed?.[estimator];
  return [
    ...m.mu.map((v, d) => [`μ[${d}]`, v, cl ? cl.mu[d] : NaN]),
    ...m.sigma.map((v, d) => [`σ[${d}]`, v, cl ? cl.sigma[d] : NaN]),
  ];
}
