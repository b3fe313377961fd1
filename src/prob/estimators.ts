/**
 * Monte Carlo estimators of the gradient of E_{z~q}[f(z)] with respect to the parameters of a diagonal
 * Gaussian q = N(μ, diag σ²):
 *
 * - score function (REINFORCE, the log-derivative trick): ∇ E_q f = E_q[ f(z) ∇ log q(z) ], with
 *   ∂/∂μ_d log q = (z_d − μ_d)/σ_d² = ε_d/σ_d and ∂/∂σ_d log q = ((z_d − μ_d)² − σ_d²)/σ_d³ = (ε_d² − 1)/σ_d.
 *   It needs only values of f. Subtracting a baseline b (f − b) keeps it unbiased when b does not depend on
 *   the sample it multiplies, and can cut its variance a lot.
 * - reparameterization (pathwise): z = μ + σ ⊙ ε with ε ~ N(0, I), so ∇_μ E f = E[∇f(z)] and
 *   ∇_σ E f = E[∇f(z) ⊙ ε]. It needs ∇f, which TensorFlow.js computes.
 *
 * `f` maps a batch of samples z ([S, D] tensor) to per-sample values ([S] tensor), written with tfjs ops.
 * Both estimators also report the gradient for the log σ parameterisation, ∂/∂ log σ = σ ⊙ ∂/∂σ.
 */
import * as tf from "../engine/tf";
import { mathjs } from "../engine/mathjs";
import { Rng, tfSeed } from "../engine/random";
import { DiagGaussian } from "./gaussian";
import { tidyValue } from "../engine/tidy";

export type CostFn = (z: tf.Tensor2D) => tf.Tensor1D;


export interface GradientEstimate {
  mu: number[];
  sigma: number[];
  /** Gradient w.r.t. log σ (= σ ⊙ gradient w.r.t. σ). */
  logSigma: number[];
}

/**
 * A baseline that tracks an exponential moving average of f over earlier calls. It only uses values from
 * calls before the current one, so the estimator stays unbiased.
 */
export class RunningMeanBaseline {
  private avg: number | undefined;
  constructor(readonly decay = 0.9) {}
  /** The current baseline (0 before the first update). */
  get value(): number {
    return this.avg ?? 0;
  }
  update(meanF: number): void {
    this.avg = this.avg === undefined ? meanF : this.decay * this.avg + (1 - this.decay) * meanF;
  }
}

/**
 * - a number: a constant baseline b;
 * - "leave-one-out": sample i uses the mean of f over the other S − 1 samples of the same estimate
 *   (unbiased, needs S ≥ 2);
 * - a RunningMeanBaseline: an average of f over earlier calls, updated after each call.
 */
export type Baseline = number | "leave-one-out" | RunningMeanBaseline;

export interface EstimatorOptions {
  /** Monte Carlo samples averaged into one estimate (S). */
  samples: number;
  /** Same seed → same estimate. */
  seed?: number;
}

function check(q: DiagGaussian, samples: number, where: string): void {
  if (q.mu.length !== q.sigma.length) throw new Error(`${where}: mu has ${q.mu.length} entries, sigma ${q.sigma.length}`);
  if (q.sigma.some((s) => !(s > 0 && Number.isFinite(s)))) throw new Error(`${where}: every sigma must be > 0 and finite`);
  if (q.mu.some((m) => !Number.isFinite(m))) throw new Error(`${where}: every mu must be a finite number`);
  if (!(Number.isInteger(samples) && samples >= 1)) throw new Error(`${where}: samples must be a positive integer (got ${samples})`);
}

function seedOf(seed: number | undefined): number {
  return seed ?? new Rng().nextSeed();
}

/**
 * Per-sample score-function terms for `groups` independent estimates of `samples` draws each:
 * returns [groups, D] estimates (means over the samples of each group) for μ and σ, and the mean of f.
 */
function scoreFunctionBatch(
  f: CostFn,
  q: DiagGaussian,
  samples: number,
  groups: number,
  seed: number,
  baseline: number | "leave-one-out",
): { mu: tf.Tensor2D; sigma: tf.Tensor2D; meanF: tf.Scalar } {
  const D = q.mu.length;
  const mu = tf.tensor1d(q.mu);
  const sigma = tf.tensor1d(q.sigma);
  const eps = tf.randomNormal([groups * samples, D], 0, 1, "float32", tfSeed(seed)) as tf.Tensor2D;
  const z = mu.add(sigma.mul(eps)) as tf.Tensor2D;
  const fz = f(z);
  if (fz.rank !== 1 || fz.shape[0] !== groups * samples) {
    throw new Error(`cost function must return one value per sample: shape [${groups * samples}], got [${fz.shape}]`);
  }
  const fg = fz.reshape([groups, samples]);
  let adjusted: tf.Tensor2D;
  if (baseline === "leave-one-out") {
    if (samples < 2) throw new Error("leave-one-out baseline needs samples ≥ 2");
    const others = fg.sum(1, true).sub(fg).div(samples - 1);
    adjusted = fg.sub(others) as tf.Tensor2D;
  } else {
    adjusted = fg.sub(baseline) as tf.Tensor2D;
  }
  const w = adjusted.reshape([groups * samples, 1]);
  const termMu = w.mul(eps).div(sigma);
  const termSigma = w.mul(eps.square().sub(1)).div(sigma);
  return {
    mu: termMu.reshape([groups, samples, D]).mean(1) as tf.Tensor2D,
    sigma: termSigma.reshape([groups, samples, D]).mean(1) as tf.Tensor2D,
    meanF: fz.mean() as tf.Scalar,
  };
}

function reparameterizedBatch(f: CostFn, q: DiagGaussian, samples: number, groups: number, seed: number): { mu: tf.Tensor2D; sigma: tf.Tensor2D } {
  const D = q.mu.length;
  const mu = tf.tensor1d(q.mu);
  const sigma = tf.tensor1d(q.sigma);
  const eps = tf.randomNormal([groups * samples, D], 0, 1, "float32", tfSeed(seed)) as tf.Tensor2D;
  const z = mu.add(sigma.mul(eps)) as tf.Tensor2D;
  // Samples are independent, so the gradient of Σ_i f(z_i) w.r.t. z holds each ∇f(z_i) in row i.
  const gz = tf.grad((zz: tf.Tensor) => {
    const v = f(zz as tf.Tensor2D);
    if (v.rank !== 1 || v.shape[0] !== groups * samples) {
      throw new Error(`cost function must return one value per sample: shape [${groups * samples}], got [${v.shape}]`);
    }
    return v.sum();
  })(z);
  return {
    mu: gz.reshape([groups, samples, D]).mean(1) as tf.Tensor2D,
    sigma: gz.mul(eps).reshape([groups, samples, D]).mean(1) as tf.Tensor2D,
  };
}

function toEstimate(mu: number[], sigmaGrad: number[], q: DiagGaussian): GradientEstimate {
  return { mu, sigma: sigmaGrad, logSigma: sigmaGrad.map((g, d) => g * q.sigma[d]) };
}

/** Score-function (REINFORCE) estimate of ∇ E_q[f], averaged over `samples` draws. */
export function scoreFunctionGradient(f: CostFn, q: DiagGaussian, options: EstimatorOptions & { baseline?: Baseline }): GradientEstimate {
  check(q, options.samples, "scoreFunctionGradient");
  const base = options.baseline ?? 0;
  const b = base instanceof RunningMeanBaseline ? base.value : base;
  const seed = seedOf(options.seed);
  const [mu, sigma, meanF] = tidyValue(() => {
    const r = scoreFunctionBatch(f, q, options.samples, 1, seed, b);
    return [Array.from(r.mu.dataSync()), Array.from(r.sigma.dataSync()), r.meanF.dataSync()[0]] as const;
  });
  if (base instanceof RunningMeanBaseline) base.update(meanF);
  return toEstimate(mu, sigma, q);
}

/** Reparameterization-trick estimate of ∇ E_q[f], averaged over `samples` draws. */
export function reparameterizedGradient(f: CostFn, q: DiagGaussian, options: EstimatorOptions): GradientEstimate {
  check(q, options.samples, "reparameterizedGradient");
  const seed = seedOf(options.seed);
  const [mu, sigma] = tidyValue(() => {
    const r = reparameterizedBatch(f, q, options.samples, 1, seed);
    return [Array.from(r.mu.dataSync()), Array.from(r.sigma.dataSync())] as const;
  });
  return toEstimate(mu, sigma, q);
}

export type EstimatorKind = "score" | "reparam";

export interface EstimatorStudy {
  kind: EstimatorKind;
  samples: number;
  repeats: number;
  /** Mean of the repeated estimates (per parameter). */
  mean: GradientEstimate;
  /** Variance of one estimate (of `samples` draws), per parameter, over the repeats. */
  variance: GradientEstimate;
  /** Standard error of `mean` (√(variance / repeats)). */
  stderr: GradientEstimate;
  /** All estimates, [repeats][D], for histograms. */
  estimates: { mu: number[][]; sigma: number[][] };
}

export interface StudyOptions extends EstimatorOptions {
  /** Independent estimates to draw. */
  repeats: number;
  /** Score function only. */
  baseline?: Baseline;
}

function columnStats(rows: number[][]): { mean: number[]; variance: number[] } {
  const R = rows.length;
  const D = rows[0].length;
  const mean = new Array<number>(D).fill(0);
  const variance = new Array<number>(D).fill(0);
  for (const r of rows) for (let d = 0; d < D; d++) mean[d] += r[d] / R;
  for (const r of rows) for (let d = 0; d < D; d++) variance[d] += (r[d] - mean[d]) ** 2 / (R - 1);
  return { mean, variance };
}

/** A [R, D] tensor as R rows of D numbers (plain loops: a typed-array view and an iterator per row cost ten times more). */
function rowsOf(t: tf.Tensor2D): number[][] {
  const [R, D] = t.shape;
  const v = t.dataSync();
  const rows = new Array<number[]>(R);
  for (let r = 0, k = 0; r < R; r++) {
    const row = new Array<number>(D);
    for (let d = 0; d < D; d++) row[d] = v[k++];
    rows[r] = row;
  }
  return rows;
}

/**
 * Draw `repeats` independent estimates (each of `samples` draws) and summarise them: per-parameter mean,
 * variance and standard error. Constant and leave-one-out baselines are computed in one batched pass; a
 * RunningMeanBaseline is sequential by nature and is run estimate by estimate.
 */
export function studyEstimator(kind: EstimatorKind, f: CostFn, q: DiagGaussian, options: StudyOptions): EstimatorStudy {
  const { samples, repeats } = options;
  check(q, samples, "studyEstimator");
  if (!(Number.isInteger(repeats) && repeats >= 2)) throw new Error(`studyEstimator: repeats must be an integer ≥ 2 (got ${repeats})`);
  const rng = new Rng(options.seed);
  let muRows: number[][];
  let sigmaRows: number[][];
  if (kind === "score" && options.baseline instanceof RunningMeanBaseline) {
    muRows = [];
    sigmaRows = [];
    for (let r = 0; r < repeats; r++) {
      const e = scoreFunctionGradient(f, q, { samples, seed: rng.nextSeed(), baseline: options.baseline });
      muRows.push(e.mu);
      sigmaRows.push(e.sigma);
    }
  } else {
    const seed = rng.nextSeed();
    const baseline = options.baseline as number | "leave-one-out" | undefined;
    [muRows, sigmaRows] = tidyValue(() => {
      const r = kind === "score" ? scoreFunctionBatch(f, q, samples, repeats, seed, baseline ?? 0) : reparameterizedBatch(f, q, samples, repeats, seed);
      return [rowsOf(r.mu), rowsOf(r.sigma)];
    });
  }
  const m = columnStats(muRows);
  const s = columnStats(sigmaRows);
  const se = (v: number[]) => v.map((x) => Math.sqrt(x / repeats));
  return {
    kind,
    samples,
    repeats,
    mean: toEstimate(m.mean, s.mean, q),
    variance: { mu: m.variance, sigma: s.variance, logSigma: s.variance.map((v, d) => v * q.sigma[d] ** 2) },
    stderr: { mu: se(m.variance), sigma: se(s.variance), logSigma: se(s.variance).map((v, d) => v * q.sigma[d]) },
    estimates: { mu: muRows, sigma: sigmaRows },
  };
}

/**
 * Run a study for each value of a grid (sample counts, dimensions, σ values, cost functions…):
 * `setup(value)` gives the estimator kind, f, q and options for that value.
 */
export function varianceSweep<T>(
  values: T[],
  setup: (value: T) => { kind: EstimatorKind; f: CostFn; q: DiagGaussian; options: StudyOptions },
): { value: T; study: EstimatorStudy }[] {
  return values.map((value) => {
    const s = setup(value);
    return { value, study: studyEstimator(s.kind, s.f, s.q, s.options) };
  });
}

/**
 * The score of a 1-D Gaussian, derived symbolically by mathjs from
 * log N(z; μ, σ²) = −(z − μ)²/(2σ²) − log σ − ½ log 2π: returns the derivative expressions and evaluators.
 */
export function gaussianScoreSymbolic(): {
  logDensity: string;
  dMu: string;
  dSigma: string;
  evaluate: (z: number, mu: number, sigma: number) => { dMu: number; dSigma: number };
} {
  const logDensity = "-(z - mu)^2 / (2 * sigma^2) - log(sigma) - log(2 * pi) / 2";
  const dMu = mathjs().simplify(mathjs().derivative(logDensity, "mu"));
  const dSigma = mathjs().simplify(mathjs().derivative(logDensity, "sigma"));
  const cMu = dMu.compile();
  const cSigma = dSigma.compile();
  return {
    logDensity,
    dMu: dMu.toString(),
    dSigma: dSigma.toString(),
    evaluate: (z, mu, sigma) => ({ dMu: cMu.evaluate({ z, mu, sigma }), dSigma: cSigma.evaluate({ z, mu, sigma }) }),
  };
}
