/**
 * Gaussian densities in plain float64 JavaScript: diagonal Gaussians (the family a VAE's encoder outputs),
 * full-covariance Gaussians (through their Cholesky factor), and 1-D mixtures.
 * Vectors are number[], matrices number[][] (row-major).
 */
import { Rng } from "../engine/random";

export type Vector = number[];
export type Matrix = number[][];

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * A diagonal Gaussian N(mu, diag(sigma²)), parameterised by its standard deviations: the one type for a
 * Gaussian with independent coordinates (the VAE's q(z|x), the estimators' q, a 1-D fit with one entry).
 * A Gaussian with a full covariance is a CholeskyGaussian (prob/elbo.ts).
 */
export interface DiagGaussian {
  mu: Vector;
  sigma: Vector;
}

function checkDiag(q: DiagGaussian, where: string): void {
  if (q.mu.length !== q.sigma.length) throw new Error(`${where}: mu has ${q.mu.length} entries, sigma ${q.sigma.length}`);
  for (const s of q.sigma) if (!(s > 0)) throw new Error(`${where}: every sigma must be > 0 (got ${s})`);
}

/** log N(x; mu, diag(sigma²)). */
export function logNormalDiag(x: Vector, q: DiagGaussian): number {
  checkDiag(q, "logNormalDiag");
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const u = (x[i] - q.mu[i]) / q.sigma[i];
    s += -0.5 * u * u - Math.log(q.sigma[i]) - 0.5 * LOG_2PI;
  }
  return s;
}

/** `n` draws z = mu + sigma ⊙ ε, ε ~ N(0, I). */
export function sampleDiag(q: DiagGaussian, n: number, rng: Rng): Matrix {
  checkDiag(q, "sampleDiag");
  return Array.from({ length: n }, () => q.mu.map((m, i) => m + q.sigma[i] * rng.normal()));
}

/** Differential entropy of N(mu, diag(sigma²)): Σ ½ log(2πe σ²). */
export function entropyDiag(q: DiagGaussian): number {
  return q.sigma.reduce((s, sd) => s + 0.5 * (LOG_2PI + 1) + Math.log(sd), 0);
}

/** Lower-triangular L with L Lᵀ = S (S symmetric positive definite). */
export function cholesky(S: Matrix): Matrix {
  const n = S.length;
  const L: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = S[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      if (i === j) {
        if (!(s > 0)) throw new Error("cholesky: matrix is not positive definite");
        L[i][i] = Math.sqrt(s);
      } else {
        L[i][j] = s / L[j][j];
      }
    }
  }
  return L;
}

/** log |S| for symmetric positive definite S. */
export function logDet(S: Matrix): number {
  const L = cholesky(S);
  return 2 * L.reduce((s, row, i) => s + Math.log(row[i]), 0);
}

/** log N(x; mean, cov) for a full covariance matrix. */
export function logNormal(x: Vector, mean: Vector, cov: Matrix): number {
  const d = x.length;
  if (mean.length !== d || cov.length !== d || cov.some((row) => row.length !== d)) {
    throw new Error(`logNormal: x has ${d} entries, the mean ${mean.length}, the covariance is ${cov.length}×${cov[0]?.length ?? 0}`);
  }
  // Σ = L Lᵀ: (x − μ)ᵀ Σ⁻¹ (x − μ) = ‖L⁻¹(x − μ)‖² (L⁻¹ by forward substitution), log det Σ = 2 Σᵢ log Lᵢᵢ.
  const L = cholesky(cov);
  const y = new Array<number>(d);
  let quad = 0;
  let logDetCov = 0;
  for (let i = 0; i < d; i++) {
    let s = x[i] - mean[i];
    for (let k = 0; k < i; k++) s -= L[i][k] * y[k];
    y[i] = s / L[i][i];
    quad += y[i] * y[i];
    logDetCov += 2 * Math.log(L[i][i]);
  }
  return -0.5 * (d * LOG_2PI + logDetCov + quad);
}

/** A 1-D Gaussian mixture Σ w_k N(m_k, s_k²). */
export interface Mixture1d {
  weights: number[];
  means: number[];
  sds: number[];
}

export function logMixture1d(x: number, p: Mixture1d): number {
  let m = -Infinity;
  const terms = p.weights.map((w, k) => {
    const u = (x - p.means[k]) / p.sds[k];
    const t = Math.log(w) - 0.5 * u * u - Math.log(p.sds[k]) - 0.5 * LOG_2PI;
    m = Math.max(m, t);
    return t;
  });
  return m + Math.log(terms.reduce((s, t) => s + Math.exp(t - m), 0));
}

/** Mean and variance of a 1-D mixture (what a moment-matched Gaussian takes). */
export function mixtureMoments(p: Mixture1d): { mean: number; variance: number } {
  const W = p.weights.reduce((a, b) => a + b, 0);
  const mean = p.weights.reduce((s, w, k) => s + w * p.means[k], 0) / W;
  const second = p.weights.reduce((s, w, k) => s + w * (p.sds[k] ** 2 + p.means[k] ** 2), 0) / W;
  return { mean, variance: second - mean * mean };
}

/** log N(x; mean, sd²) in one dimension. */
export function logNormal1d(x: number, mean: number, sd: number): number {
  const u = (x - mean) / sd;
  return -0.5 * u * u - Math.log(sd) - 0.5 * LOG_2PI;
}

/**
 * Φ(x), the standard normal CDF, in plain arithmetic (no mathjs, whose loading costs more than a second):
 * absolute error about 2e-16 everywhere, and in the lower tail a relative error of about 1e-14.
 * For |x| ≤ 1.5, Marsaglia's series (J. Stat. Software 11(4), 2004),
 * Φ(x) = ½ + φ(x) · (x + x³/3 + x⁵/(3·5) + x⁷/(3·5·7) + …), whose terms all have one sign, summed until a
 * term no longer changes the sum; beyond, the tail Q(t) = 1 − Φ(t) = φ(t) / (t + 1/(t + 2/(t + 3/(t + …))))
 * (Laplace's continued fraction), evaluated from the 150th level up, and Φ(x) = Q(−x) or 1 − Q(x).
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const t = Math.abs(x);
  if (t > 1.5) {
    if (t === Infinity) return x > 0 ? 1 : 0;
    let f = t;
    for (let k = 150; k >= 1; k--) f = t + k / f;
    const tail = Math.exp(-0.5 * t * t - 0.5 * LOG_2PI) / f;
    return x > 0 ? 1 - tail : tail;
  }
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let k = 3; ; k += 2) {
    term *= x2 / k;
    const next = sum + term;
    if (next === sum) break;
    sum = next;
  }
  return 0.5 + sum * Math.exp(-0.5 * x2 - 0.5 * LOG_2PI);
}
