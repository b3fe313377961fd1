/**
 * The evidence lower bound for a model whose posterior we know exactly — the linear-Gaussian model — with a
 * Gaussian approximation q(h) = N(μ, L Lᵀ) (L lower-triangular; diagonal L is the mean-field family):
 *
 *   ELBO(q) = E_q[log p(y, h) − log q(h)] = log p(y) − KL(q ‖ p(h | y)) ≤ log p(y),
 *
 * with equality exactly when q is the posterior. Here the ELBO is available three ways — in closed form,
 * by Monte Carlo, and as log-evidence minus KL — and the tests check they agree.
 */
import { mathjs } from "../engine/mathjs";
import { LinearGaussianModel } from "./bayes";
import { Matrix, Vector } from "./gaussian";
import { klGaussians, meanAndStderr, MonteCarloEstimate } from "./kl";
import { Rng } from "../engine/random";

/**
 * A Gaussian with a full covariance, N(mu, L Lᵀ), L lower-triangular with a positive diagonal (a diagonal L
 * is the mean-field family; with independent coordinates the library's type is DiagGaussian).
 */
export interface CholeskyGaussian {
  mu: Vector;
  L: Matrix;
}

const LOG_2PI = Math.log(2 * Math.PI);

export function covarianceOf(q: CholeskyGaussian): Matrix {
  return mathjs().multiply(q.L, mathjs().transpose(q.L)) as Matrix;
}

function trace(M: Matrix): number {
  return M.reduce((s, row, i) => s + row[i], 0);
}

/** The ELBO in closed form: E_q log p(y|h) + E_q log p(h) + H(q). */
export function elboExact(model: LinearGaussianModel, y: Vector, q: CholeskyGaussian): number {
  const S = covarianceOf(q);
  const { A, noiseVar: s2, n, d } = model;
  const P0 = model.priorPrecision;
  const r = mathjs().subtract(y, mathjs().multiply(A, q.mu)) as Vector;
  const AtA = mathjs().multiply(mathjs().transpose(A), A) as Matrix;
  const expLik = -0.5 * n * Math.log(2 * Math.PI * s2) - (mathjs().dot(r, r) + trace(mathjs().multiply(AtA, S) as Matrix)) / (2 * s2);
  const dm = mathjs().subtract(q.mu, model.priorMean) as Vector;
  const expPrior =
    -0.5 * d * LOG_2PI - 0.5 * Math.log(mathjs().det(model.priorCov)) - 0.5 * (mathjs().dot(dm, mathjs().multiply(P0, dm) as Vector) + trace(mathjs().multiply(P0, S) as Matrix));
  const entropy = 0.5 * d * (1 + LOG_2PI) + q.L.reduce((s, row, i) => s + Math.log(row[i]), 0);
  return expLik + expPrior + entropy;
}

/** KL(q ‖ p(h | y)) in closed form. */
export function klToPosterior(model: LinearGaussianModel, y: Vector, q: CholeskyGaussian): number {
  const post = model.posterior(y);
  return klGaussians(q.mu, covarianceOf(q), post.mean, post.cov);
}

/** Monte Carlo ELBO: the mean of log p(y, h) − log q(h) over `samples` draws h = μ + L ε. */
export function elboMonteCarlo(model: LinearGaussianModel, y: Vector, q: CholeskyGaussian, options: { samples: number; seed?: number }): MonteCarloEstimate {
  const { samples: n, seed } = options;
  const rng = new Rng(seed);
  const values = new Float64Array(n);
  const d = q.mu.length;
  const logDetS = 2 * q.L.reduce((s, row, i) => s + Math.log(row[i]), 0);
  for (let k = 0; k < n; k++) {
    const eps = Array.from({ length: d }, () => rng.normal());
    const h = q.mu.map((m, i) => m + q.L[i].reduce((s, l, j) => s + l * eps[j], 0));
    // log q(h) with L known: −½ (d log 2π + log|S| + εᵀε)
    const logQ = -0.5 * (d * LOG_2PI + logDetS + eps.reduce((s, e) => s + e * e, 0));
    values[k] = model.logJoint(y, h) - logQ;
  }
  return meanAndStderr(values);
}

/**
 * Gradient of the closed-form ELBO:
 *   ∂/∂μ = Aᵀ(y − Aμ)/σn² − S0⁻¹(μ − m0),   ∂/∂L = −Λ L + diag(1/L_ii),  Λ = AᵀA/σn² + S0⁻¹,
 * (∂/∂L kept to the lower triangle). Λ is the posterior precision, so the gradient vanishes where
 * μ = posterior mean and L Lᵀ = Λ⁻¹.
 */
export function elboGradient(model: LinearGaussianModel, y: Vector, q: CholeskyGaussian): CholeskyGaussian {
  const { A, noiseVar: s2, d } = model;
  const r = mathjs().subtract(y, mathjs().multiply(A, q.mu)) as Vector;
  const gMean = mathjs().subtract(mathjs().divide(mathjs().multiply(mathjs().transpose(A), r), s2), mathjs().multiply(model.priorPrecision, mathjs().subtract(q.mu, model.priorMean))) as Vector;
  const LL = mathjs().multiply(model.posteriorPrecision, q.L) as Matrix;
  const gL = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (j > i ? 0 : -LL[i][j] + (i === j ? 1 / q.L[i][i] : 0))));
  return { mu: gMean, L: gL };
}

export interface ElboFitOptions {
  /** "full": L lower-triangular (can reach the exact posterior); "diagonal": mean-field. */
  family?: "full" | "diagonal";
  steps?: number;
  /** Step size; default 0.5 / tr(Λ), stable for this quadratic-like objective. */
  lr?: number;
  /** Starting q; default the prior's mean with L = I. */
  init?: CholeskyGaussian;
}

export interface ElboFitStep {
  step: number;
  elbo: number;
  /** log p(y) − ELBO = KL(q ‖ posterior). */
  gap: number;
}

/**
 * Maximise the closed-form ELBO over q's parameters by gradient ascent (the diagonal of L is updated on the
 * log scale so it stays positive). Returns the fitted q and the ELBO / gap after every step.
 */
export function fitElbo(model: LinearGaussianModel, y: Vector, options: ElboFitOptions = {}): { q: CholeskyGaussian; history: ElboFitStep[] } {
  const { family = "full", steps = 500 } = options;
  const d = model.d;
  const lr = options.lr ?? 0.5 / trace(model.posteriorPrecision);
  const logEv = model.logEvidence(y);
  const q: CholeskyGaussian = options.init
    ? { mu: [...options.init.mu], L: options.init.L.map((r) => [...r]) }
    : { mu: [...model.priorMean], L: Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0))) };
  const history: ElboFitStep[] = [];
  const record = (step: number) => {
    const elbo = elboExact(model, y, q);
    history.push({ step, elbo, gap: logEv - elbo });
  };
  record(0);
  for (let t = 1; t <= steps; t++) {
    const g = elboGradient(model, y, q);
    for (let i = 0; i < d; i++) q.mu[i] += lr * g.mu[i];
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        if (i === j) q.L[i][i] *= Math.exp(lr * q.L[i][i] * g.L[i][i]); // log-scale step on the diagonal
        else if (family === "full") q.L[i][j] += lr * g.L[i][j];
      }
    }
    record(t);
  }
  return { q, history };
}

/**
 * Mean-field coordinate ascent (CAVI) for the linear-Gaussian model. For q(h) = Π_j q_j(h_j) the optimal
 * factor, all others held fixed, is log q_j*(h_j) = E_{q_−j}[log p(y, h)] + const. log p(y, h) is quadratic
 * in h with precision Λ = AᵀA/σn² + S0⁻¹ and linear term η = Aᵀy/σn² + S0⁻¹m0, so q_j* is Gaussian:
 *
 *   q_j* = N(m_j, 1/Λ_jj),   m_j = (η_j − Σ_{k≠j} Λ_jk m_k) / Λ_jj,
 *
 * one Gauss–Seidel step on Λ m = η. Its fixed point is the exact posterior mean with variances 1/Λ_jj (the
 * mean-field optimum that gradient ascent on a diagonal q also reaches).
 */
export function caviUpdate(model: LinearGaussianModel, y: Vector, q: CholeskyGaussian, j: number): { mean: number; variance: number } {
  const P = model.posteriorPrecision;
  const eta = caviLinearTerm(model, y);
  let s = eta[j];
  for (let k = 0; k < model.d; k++) if (k !== j) s -= P[j][k] * q.mu[k];
  return { mean: s / P[j][j], variance: 1 / P[j][j] };
}

/** η = Aᵀy/σn² + S0⁻¹ m0, the posterior precision times the posterior mean. */
function caviLinearTerm(model: LinearGaussianModel, y: Vector): Vector {
  const Aty = mathjs().multiply(mathjs().transpose(model.A), y) as Vector;
  const P0m0 = mathjs().multiply(model.priorPrecision, model.priorMean) as Vector;
  return Aty.map((v, i) => v / model.noiseVar + P0m0[i]);
}

export interface CaviOptions {
  /** Number of sweeps (each updates every factor once, in order 0, 1, …); default 50. */
  iterations?: number;
  /** Starting q (its mean and the diagonal of L are used); default the prior's mean with L = I, as fitElbo. */
  start?: CholeskyGaussian;
}

export interface CaviSweep {
  /** 0 for the start, then 1, 2, … after each full sweep. */
  sweep: number;
  elbo: number;
  /** log p(y) − ELBO = KL(q ‖ posterior). */
  gap: number;
  means: Vector;
  variances: Vector;
}

/**
 * Run `iterations` CAVI sweeps from `start`; returns the final mean-field q (diagonal L) and the ELBO, means
 * and variances at the start and after every sweep.
 */
export function caviGaussian(model: LinearGaussianModel, y: Vector, options: CaviOptions = {}): { q: CholeskyGaussian; history: CaviSweep[] } {
  const { iterations = 50 } = options;
  const d = model.d;
  const start = options.start;
  const mu = start ? [...start.mu] : [...model.priorMean];
  const sd = start ? start.L.map((row, i) => row[i]) : new Array<number>(d).fill(1);
  const qOf = (): CholeskyGaussian => ({ mu: [...mu], L: Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? sd[i] : 0))) });
  const logEv = model.logEvidence(y);
  const history: CaviSweep[] = [];
  const record = (sweep: number) => {
    const elbo = elboExact(model, y, qOf());
    history.push({ sweep, elbo, gap: logEv - elbo, means: [...mu], variances: sd.map((s) => s * s) });
  };
  record(0);
  for (let t = 1; t <= iterations; t++) {
    for (let j = 0; j < d; j++) {
      const u = caviUpdate(model, y, qOf(), j);
      mu[j] = u.mean;
      sd[j] = Math.sqrt(u.variance);
    }
    record(t);
  }
  return { q: qOf(), history };
}
