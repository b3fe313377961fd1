/**
 * Bayes' rule, exactly: a discrete prior times a likelihood gives the evidence and the posterior; and the
 * linear-Gaussian model y = A h + n (channel estimation: pilot matrix A, channel h, noise n), whose posterior
 * and evidence are Gaussian in closed form. These are the yardsticks approximate inference is measured by.
 *
 * The seed article writes the channel model with circularly-symmetric complex Gaussians (CN); here
 * everything is real-valued, which keeps the algebra identical and the numbers easy to check.
 */
import { mathjs } from "../engine/mathjs";
import { cholesky as choleskyOf, logNormal, Matrix, Vector } from "./gaussian";
import { Rng } from "../engine/random";

export interface DiscretePosterior {
  /** p(x) = Σ_z p(x|z) p(z). */
  evidence: number;
  logEvidence: number;
  /** p(z|x) = p(x|z) p(z) / p(x). */
  posterior: number[];
  /** p(x|z) p(z) for each z. */
  joint: number[];
}

/** Bayes' rule over a finite set of hypotheses. */
export function discreteBayes(prior: number[], likelihood: number[]): DiscretePosterior {
  if (prior.length !== likelihood.length) {
    throw new Error(`discreteBayes: prior has ${prior.length} entries, likelihood ${likelihood.length}`);
  }
  const total = prior.reduce((a, b) => a + b, 0);
  if (Math.abs(total - 1) > 1e-9 || prior.some((p) => p < 0)) throw new Error(`discreteBayes: prior must be a distribution (sums to ${total})`);
  if (likelihood.some((l) => l < 0)) throw new Error("discreteBayes: likelihoods must be ≥ 0");
  const joint = prior.map((p, i) => p * likelihood[i]);
  const evidence = joint.reduce((a, b) => a + b, 0);
  if (!(evidence > 0)) throw new Error("discreteBayes: the evidence is 0 (the data are impossible under every hypothesis)");
  return { evidence, logEvidence: Math.log(evidence), posterior: joint.map((j) => j / evidence), joint };
}

/** Binomial likelihood of k successes in n trials, for each success probability in `thetas`. */
export function binomialLikelihood(k: number, n: number, thetas: number[]): number[] {
  const logChoose = mathjs().lgamma(n + 1) - mathjs().lgamma(k + 1) - mathjs().lgamma(n - k + 1);
  return thetas.map((t) => Math.exp(logChoose + (k > 0 ? k * Math.log(t) : 0) + (n - k > 0 ? (n - k) * Math.log(1 - t) : 0)));
}

/** log((1/n) Σ exp(v_i)), computed without overflow. */
export function logMeanExp(values: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) m = Math.max(m, values[i]);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += Math.exp(values[i] - m);
  return m + Math.log(s / values.length);
}

/** An n × d matrix of ±1 pilot symbols (BPSK), drawn from `rng`. */
export function pilotMatrix(pilots: number, taps: number, rng: Rng): Matrix {
  return Array.from({ length: pilots }, () => Array.from({ length: taps }, () => (rng.uniform() < 0.5 ? -1 : 1)));
}

export interface LinearGaussianSpec {
  /** Observation (pilot) matrix, n × d. */
  A: Matrix;
  /** Prior mean of h (d). Default 0. */
  priorMean?: Vector;
  /** Prior covariance of h (d × d). Default I. */
  priorCov?: Matrix;
  /** Noise variance σn² (noise n ~ N(0, σn² I)). */
  noiseVar: number;
}

export interface GaussianPosterior {
  mean: Vector;
  cov: Matrix;
}

function identity(d: number): Matrix {
  return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
}

/**
 * y = A h + n with h ~ N(m0, S0), n ~ N(0, σn² I).
 * Posterior: S = (S0⁻¹ + AᵀA/σn²)⁻¹, m = S (S0⁻¹ m0 + Aᵀ y / σn²).
 * Evidence: y ~ N(A m0, A S0 Aᵀ + σn² I).
 */
export class LinearGaussianModel {
  readonly A: Matrix;
  readonly priorMean: Vector;
  readonly priorCov: Matrix;
  readonly noiseVar: number;
  /** dimension of h */
  readonly d: number;
  /** dimension of y */
  readonly n: number;
  /** S0⁻¹ */
  readonly priorPrecision: Matrix;
  /** Λ = S0⁻¹ + AᵀA/σn², the posterior precision (it does not depend on y). */
  readonly posteriorPrecision: Matrix;
  private readonly posteriorCov: Matrix;
  /** The lower Cholesky factor of S0, h = m0 + L e with e ~ N(0, I). */
  private readonly priorFactor: Matrix;

  constructor(spec: LinearGaussianSpec) {
    this.A = spec.A;
    this.n = spec.A.length;
    this.d = spec.A[0].length;
    this.priorMean = spec.priorMean ?? new Array<number>(this.d).fill(0);
    this.priorCov = spec.priorCov ?? identity(this.d);
    this.noiseVar = spec.noiseVar;
    if (!(this.noiseVar > 0)) throw new Error("LinearGaussianModel: noiseVar must be > 0");
    this.priorPrecision = mathjs().inv(this.priorCov) as Matrix;
    const AtA = mathjs().multiply(mathjs().transpose(this.A), this.A) as Matrix;
    this.posteriorPrecision = mathjs().add(this.priorPrecision, mathjs().divide(AtA, this.noiseVar)) as Matrix;
    this.posteriorCov = mathjs().inv(this.posteriorPrecision) as Matrix;
    this.priorFactor = choleskyOf(this.priorCov);
  }

  /** A h, in plain loops (called once per Monte Carlo draw). */
  private times(h: Vector): Vector {
    return this.A.map((row) => {
      let s = 0;
      for (let j = 0; j < this.d; j++) s += row[j] * h[j];
      return s;
    });
  }

  /** The exact posterior p(h | y). */
  posterior(y: Vector): GaussianPosterior {
    const At = mathjs().transpose(this.A);
    const rhs = mathjs().add(mathjs().multiply(this.priorPrecision, this.priorMean), mathjs().divide(mathjs().multiply(At, y), this.noiseVar)) as Vector;
    return { mean: mathjs().multiply(this.posteriorCov, rhs) as Vector, cov: this.posteriorCov.map((r) => [...r]) };
  }

  /** log p(y) = log N(y; A m0, A S0 Aᵀ + σn² I). */
  logEvidence(y: Vector): number {
    const mean = mathjs().multiply(this.A, this.priorMean) as Vector;
    const cov = mathjs().add(mathjs().multiply(mathjs().multiply(this.A, this.priorCov), mathjs().transpose(this.A)), mathjs().multiply(identity(this.n), this.noiseVar)) as Matrix;
    return logNormal(y, mean, cov);
  }

  logPrior(h: Vector): number {
    return logNormal(h, this.priorMean, this.priorCov);
  }

  /** log p(y | h) = log N(y; A h, σn² I). */
  logLikelihood(y: Vector, h: Vector): number {
    const Ah = this.times(h);
    let s = 0;
    for (let i = 0; i < this.n; i++) s += (y[i] - Ah[i]) ** 2;
    return -0.5 * (this.n * Math.log(2 * Math.PI * this.noiseVar) + s / this.noiseVar);
  }

  /** log p(y, h) = log p(y | h) + log p(h). */
  logJoint(y: Vector, h: Vector): number {
    return this.logLikelihood(y, h) + this.logPrior(h);
  }

  /**
   * The naive Monte Carlo estimate of the evidence, log (1/n) Σ p(y | h_i) with h_i drawn from the prior.
   * Unbiased for p(y) but, once the likelihood is much narrower than the prior, almost every draw misses
   * it and the estimate collapses: the reason to look for better estimators (and for the ELBO).
   */
  logEvidenceMonteCarlo(y: Vector, n: number, seed?: number): number {
    const rng = new Rng(seed);
    const logs = new Float64Array(n);
    for (let i = 0; i < n; i++) logs[i] = this.logLikelihood(y, this.sample(rng).h);
    return logMeanExp(logs);
  }

  /** Draw (h, y) from the model. */
  sample(rng: Rng): { h: Vector; y: Vector } {
    const L = this.priorFactor;
    const e = this.priorMean.map(() => rng.normal());
    const h = this.priorMean.map((m, i) => {
      let s = 0;
      for (let j = 0; j <= i; j++) s += e[j] * L[i][j];
      return m + s;
    });
    const y = this.times(h).map((v) => v + Math.sqrt(this.noiseVar) * rng.normal());
    return { h, y };
  }
}
