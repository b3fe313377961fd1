/**
 * Gradient estimators for a categorical q = Cat(softmax(ℓ)) over K classes (a Bernoulli is the K = 2 case),
 * where z is a one-hot vector and there is no differentiable z = g(ε, ℓ): the reparameterization trick does
 * not apply.
 *
 * - exact: with K outcomes the expectation is a finite sum, E f = Σ_k p_k f(e_k), and
 *   ∂/∂ℓ_j E f = p_j (f(e_j) − E f) (from ∂p_k/∂ℓ_j = p_k(δ_kj − p_j)). The reference for every estimator.
 * - score function (REINFORCE): ∇ E f = E[(f(z) − b) ∇ log q(z)], with ∂ log q(z)/∂ℓ = z − p. Unbiased for
 *   any f and any baseline b that does not depend on the sample it multiplies (a constant, or the mean of f
 *   over the other samples of the same estimate: "leave-one-out").
 * - Gumbel-softmax / Concrete (Jang, Gu & Poole 2016; Maddison, Mnih & Teh 2016): replace the one-hot sample
 *   argmax(ℓ + g), g ~ Gumbel(0, 1), by the relaxed y = softmax((ℓ + g)/τ) and differentiate through it. It
 *   needs ∇f on the simplex and is biased: it is the gradient of E f(y), not of E f(z). As τ → 0, y tends to
 *   the one-hot sample (less bias) and the gradient's variance grows (like 1/τ). Straight-through: the
 *   forward pass uses the one-hot argmax, the backward pass the relaxed y's gradient.
 * - VIMCO (Mnih & Rezende 2016, "Variational inference for Monte Carlo objectives"): for the multi-sample
 *   objective E[log (1/S) Σ_i e^{f(z_i)}] (the IWAE bound when f is a log weight), the learning signal of
 *   sample i is L̂ − L̂_{−i}, where L̂_{−i} replaces f(z_i) by the mean of the other f's (the geometric mean of
 *   the other weights): a per-sample baseline that is independent of z_i, so the estimate stays unbiased.
 *
 * `f` maps an [S, K] float32 tensor (one sample per row) to an [S] tensor, written with tfjs ops. All
 * random numbers come from the project's seeded Rng (any integer seed, 0 included, is a seed).
 */
import * as tf from "../engine/tf";
import { Rng } from "../engine/random";
import { tidyValue } from "../engine/tidy";

export type CategoricalCostFn = (z: tf.Tensor2D) => tf.Tensor1D;

export interface CategoricalEstimatorOptions {
  /** Monte Carlo samples averaged into one estimate (S). */
  samples: number;
  /** Same seed → same estimate. */
  seed?: number;
}

export interface ScoreOptions extends CategoricalEstimatorOptions {
  /** A constant b, or "leave-one-out" (the mean of f over the other S − 1 samples; S ≥ 2). Default 0. */
  baseline?: number | "leave-one-out";
}

export interface GumbelOptions extends CategoricalEstimatorOptions {
  /** τ > 0 of softmax((ℓ + g)/τ). */
  temperature: number;
  /** One-hot forward, relaxed backward. */
  straightThrough?: boolean;
}

export interface VimcoOptions extends CategoricalEstimatorOptions {
  /** false: the plain score function of the multi-sample objective (each sample's signal is L̂ itself). Default true. */
  leaveOneOut?: boolean;
}

/** softmax of a plain array (max-shifted). */
export function softmax(logits: number[]): number[] {
  if (logits.length === 0 || logits.some((l) => Number.isNaN(l))) throw new Error(`softmax: logits must be a non-empty list of numbers (got [${logits.join(", ")}])`);
  // +∞ logits take all the mass, shared equally (the limit as they grow); −∞ logits get none.
  const inf = logits.filter((l) => l === Infinity).length;
  if (inf > 0) return logits.map((l) => (l === Infinity ? 1 / inf : 0));
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function checkLogits(logits: number[], where: string): void {
  if (!(logits.length >= 2) || logits.some((l) => !Number.isFinite(l))) {
    throw new Error(`${where}: logits must be at least 2 finite numbers (got [${logits.join(", ")}])`);
  }
}

function checkSamples(samples: number, where: string, min = 1): void {
  if (!(Number.isInteger(samples) && samples >= min)) throw new Error(`${where}: samples must be an integer ≥ ${min} (got ${samples})`);
}

/** A Gumbel(0, 1) draw, −log(−log u), from the Rng. */
function gumbel(rng: Rng): number {
  let u = 0;
  while (u === 0) u = rng.uniform();
  return -Math.log(-Math.log(u));
}

/** S × K Gumbel(0, 1) noise, row-major. */
export function gumbelNoise(rows: number, cols: number, rng: Rng): Float32Array {
  const g = new Float32Array(rows * cols);
  for (let i = 0; i < g.length; i++) g[i] = gumbel(rng);
  return g;
}

/** Class indices of S draws from Cat(softmax(ℓ)) by the Gumbel-max trick, argmax_k(ℓ_k + g_k). */
export function sampleCategorical(logits: number[], samples: number, rng: Rng): Int32Array {
  const K = logits.length;
  const out = new Int32Array(samples);
  for (let s = 0; s < samples; s++) {
    let best = -Infinity;
    for (let k = 0; k < K; k++) {
      const v = logits[k] + gumbel(rng);
      if (v > best) {
        best = v;
        out[s] = k;
      }
    }
  }
  return out;
}

/** f on the given one-hot rows (class indices), as plain numbers; checks f's output shape. */
function evaluateOnOneHots(f: CategoricalCostFn, classes: Int32Array, K: number, where: string): Float64Array {
  return tidyValue(() => {
    const z = tf.oneHot(tf.tensor1d(classes, "int32"), K).toFloat() as tf.Tensor2D;
    const v = f(z);
    if (v.rank !== 1 || v.shape[0] !== classes.length) {
      throw new Error(`${where}: the cost function must return one value per sample: shape [${classes.length}], got [${v.shape}]`);
    }
    return Float64Array.from(v.dataSync());
  });
}

/** f at each of the K one-hot vectors e_1 … e_K. */
export function categoricalOutcomeValues(f: CategoricalCostFn, K: number): number[] {
  return Array.from(evaluateOnOneHots(f, Int32Array.from({ length: K }, (_, k) => k), K, "categoricalOutcomeValues"));
}

export interface ExactCategoricalGradient {
  probabilities: number[];
  /** f(e_k) for each class. */
  values: number[];
  /** E_{z~q} f(z). */
  expectation: number;
  /** ∂ E f / ∂ℓ_j = p_j (f(e_j) − E f). */
  gradient: number[];
}

/** The exact gradient of E_{z~Cat(softmax(ℓ))}[f(z)] w.r.t. ℓ, by enumerating the K outcomes. */
export function categoricalExactGradient(f: CategoricalCostFn, logits: number[]): ExactCategoricalGradient {
  checkLogits(logits, "categoricalExactGradient");
  const p = softmax(logits);
  const values = categoricalOutcomeValues(f, logits.length);
  const expectation = p.reduce((s, pk, k) => s + pk * values[k], 0);
  return { probabilities: p, values, expectation, gradient: p.map((pj, j) => pj * (values[j] - expectation)) };
}

/**
 * The exact total variance (Σ over logits) of a single-sample score-function estimate (f(z) − b)(z − p) with
 * a constant baseline b, by enumeration: Σ_k p_k (f(e_k) − b)² ‖e_k − p‖² − ‖∇ E f‖². An S-sample mean has 1/S of it.
 */
export function categoricalScoreVariance(f: CategoricalCostFn, logits: number[], baseline = 0): number {
  const { probabilities: p, values, gradient } = categoricalExactGradient(f, logits);
  let second = 0;
  for (let k = 0; k < p.length; k++) {
    const dist2 = p.reduce((s, pj, j) => s + ((j === k ? 1 : 0) - pj) ** 2, 0);
    second += p[k] * (values[k] - baseline) ** 2 * dist2;
  }
  return second - gradient.reduce((s, g) => s + g * g, 0);
}

/**
 * Score-function (REINFORCE) estimate of ∇_ℓ E_{z~Cat(softmax(ℓ))}[f(z)]: the mean over S one-hot samples of
 * (f(z_i) − b_i)(z_i − p).
 */
export async function categoricalScoreFunctionGradient(f: CategoricalCostFn, logits: number[], options: ScoreOptions): Promise<number[]> {
  const where = "categoricalScoreFunctionGradient";
  checkLogits(logits, where);
  const { samples, baseline = 0 } = options;
  checkSamples(samples, where, baseline === "leave-one-out" ? 2 : 1);
  if (baseline !== "leave-one-out" && !Number.isFinite(baseline)) throw new Error(`${where}: baseline must be a finite number or "leave-one-out"`);
  const K = logits.length;
  const p = softmax(logits);
  const classes = sampleCategorical(logits, samples, new Rng(options.seed));
  const fv = evaluateOnOneHots(f, classes, K, where);
  const total = fv.reduce((a, b) => a + b, 0);
  const g = new Array<number>(K).fill(0);
  for (let i = 0; i < samples; i++) {
    const b = baseline === "leave-one-out" ? (total - fv[i]) / (samples - 1) : baseline;
    const w = (fv[i] - b) / samples;
    // (z_i − p) with z_i = e_{c_i}
    for (let k = 0; k < K; k++) g[k] -= w * p[k];
    g[classes[i]] += w;
  }
  return g;
}

/** One-hot of the argmax of each row in the forward pass; the gradient passes through unchanged. */
const straightThroughOp = tf.customGrad(((y: tf.Tensor2D, save: (t: tf.Tensor[]) => void) => {
  save([]);
  return {
    value: tf.oneHot(tf.argMax(y, -1), y.shape[y.rank - 1]).toFloat(),
    gradFunc: (dy: tf.Tensor) => [dy],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (y: tf.Tensor) => tf.Tensor;

/**
 * Straight-through: forward the one-hot argmax of y along the last axis, backward the identity (so the
 * gradient is the one of the relaxed y).
 */
export function straightThrough<T extends tf.Tensor>(y: T): T {
  return straightThroughOp(y) as T;
}

/** Relaxed samples softmax((ℓ + g)/τ) along the last axis (ℓ broadcast over rows). */
export function gumbelSoftmax(logits: tf.Tensor, noise: tf.Tensor, temperature: number): tf.Tensor {
  return tf.softmax(tf.div(tf.add(logits, noise), temperature));
}

/**
 * Per-sample pathwise gradients through Gumbel-softmax samples: row i is ∇_ℓ f(softmax((ℓ + g_i)/τ)) (or its
 * straight-through version). Returned as an [S][K] array; the estimate is their mean.
 */
export function gumbelSoftmaxSampleGradients(f: CategoricalCostFn, logits: number[], options: GumbelOptions): number[][] {
  const where = "gumbelSoftmaxGradient";
  checkLogits(logits, where);
  const { samples, temperature, straightThrough: st = false } = options;
  checkSamples(samples, where);
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new Error(`${where}: temperature must be > 0 (got ${temperature})`);
  const K = logits.length;
  const noise = gumbelNoise(samples, K, new Rng(options.seed));
  return tidyValue(() => {
    const g = tf.tensor2d(noise, [samples, K]);
    // One copy of ℓ per sample, so the gradient of Σ_i f(y_i) w.r.t. the copies holds each sample's gradient in its row.
    const tiled = tf.tile(tf.tensor2d(logits, [1, K]), [samples, 1]);
    const grad = tf.grad((l: tf.Tensor) => {
      const y = gumbelSoftmax(l, g, temperature) as tf.Tensor2D;
      const v = f(st ? straightThrough(y) : y);
      if (v.rank !== 1 || v.shape[0] !== samples) {
        throw new Error(`${where}: the cost function must return one value per sample: shape [${samples}], got [${v.shape}]`);
      }
      return v.sum();
    })(tiled);
    const data = grad.dataSync();
    return Array.from({ length: samples }, (_, i) => Array.from(data.subarray(i * K, (i + 1) * K)));
  });
}

/**
 * Gumbel-softmax (Concrete) estimate of ∇_ℓ E[f(z)]: the mean over S samples of ∇_ℓ f(softmax((ℓ + g)/τ)),
 * g ~ Gumbel(0, 1); with `straightThrough`, f sees the one-hot argmax and the gradient is the relaxed one.
 * Biased for any τ > 0 (see the module notes).
 */
export async function gumbelSoftmaxGradient(f: CategoricalCostFn, logits: number[], options: GumbelOptions): Promise<number[]> {
  const rows = gumbelSoftmaxSampleGradients(f, logits, options);
  const K = logits.length;
  const g = new Array<number>(K).fill(0);
  for (const r of rows) for (let k = 0; k < K; k++) g[k] += r[k] / rows.length;
  return g;
}

function logMeanExp(v: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < v.length; i++) m = Math.max(m, v[i]);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.exp(v[i] - m);
  return m + Math.log(s / v.length);
}

/** VIMCO's learning signals L̂ − L̂_{−i} for one set of S log weights (or L̂ itself without leave-one-out). */
export function vimcoSignals(logWeights: ArrayLike<number>, leaveOneOut = true): number[] {
  const S = logWeights.length;
  const L = logMeanExp(logWeights);
  if (!leaveOneOut) return Array.from({ length: S }, () => L);
  let sum = 0;
  for (let i = 0; i < S; i++) sum += logWeights[i];
  const copy = Float64Array.from(logWeights);
  return Array.from({ length: S }, (_, i) => {
    copy[i] = (sum - logWeights[i]) / (S - 1);
    const Li = logMeanExp(copy);
    copy[i] = logWeights[i];
    return L - Li;
  });
}

/**
 * VIMCO (Mnih & Rezende 2016) estimate of ∇_ℓ E_{z_1..z_S ~ q}[log (1/S) Σ_i e^{f(z_i)}]: Σ_i (L̂ − L̂_{−i})(z_i − p).
 * Here f does not depend on ℓ (in a VAE, log w also depends on q through −log q(z); that path is added by
 * autodiff there). With `leaveOneOut: false` it is the plain score function of the same objective.
 */
export async function vimcoGradient(f: CategoricalCostFn, logits: number[], options: VimcoOptions): Promise<number[]> {
  const where = "vimcoGradient";
  checkLogits(logits, where);
  const { samples, leaveOneOut = true } = options;
  checkSamples(samples, where, 2);
  const K = logits.length;
  const p = softmax(logits);
  const classes = sampleCategorical(logits, samples, new Rng(options.seed));
  const fv = evaluateOnOneHots(f, classes, K, where);
  const signals = vimcoSignals(fv, leaveOneOut);
  const g = new Array<number>(K).fill(0);
  for (let i = 0; i < samples; i++) {
    for (let k = 0; k < K; k++) g[k] -= signals[i] * p[k];
    g[classes[i]] += signals[i];
  }
  return g;
}

/**
 * The exact value and gradient of the multi-sample objective E[log (1/S) Σ_i e^{f(z_i)}] by enumerating the
 * K^S joint outcomes (keep K^S small): ∇ = Σ_{z_1..z_S} Π_i p_{z_i} · L(z) · Σ_i (e_{z_i} − p).
 */
export function vimcoExactGradient(f: CategoricalCostFn, logits: number[], samples: number): { objective: number; gradient: number[] } {
  checkLogits(logits, "vimcoExactGradient");
  checkSamples(samples, "vimcoExactGradient", 1);
  const K = logits.length;
  if (K ** samples > 1e6) throw new Error(`vimcoExactGradient: K^S = ${K ** samples} outcomes is too many to enumerate`);
  const p = softmax(logits);
  const values = categoricalOutcomeValues(f, K);
  const idx = new Int32Array(samples);
  const fv = new Float64Array(samples);
  let objective = 0;
  const g = new Array<number>(K).fill(0);
  for (let n = 0; n < K ** samples; n++) {
    let r = n;
    let prob = 1;
    for (let i = 0; i < samples; i++) {
      idx[i] = r % K;
      r = Math.floor(r / K);
      prob *= p[idx[i]];
      fv[i] = values[idx[i]];
    }
    const L = logMeanExp(fv);
    objective += prob * L;
    for (let i = 0; i < samples; i++) {
      for (let k = 0; k < K; k++) g[k] -= prob * L * p[k];
      g[idx[i]] += prob * L;
    }
  }
  return { objective, gradient: g };
}

export interface CategoricalStudy {
  repeats: number;
  /** Mean of the repeated estimates, per logit. */
  mean: number[];
  /** Variance of one estimate, per logit, over the repeats. */
  variance: number[];
  /** Standard error of `mean`. */
  stderr: number[];
  /** Σ_j variance_j: the total variance of one estimate. */
  totalVariance: number;
}

/**
 * Call `estimate(seed)` `repeats` times with seeds drawn from `seed` and summarise the estimates (mean,
 * per-logit variance, standard error): e.g. `s => categoricalScoreFunctionGradient(f, logits, { samples: 4, seed: s })`.
 */
export async function studyCategoricalEstimator(estimate: (seed: number) => Promise<number[]>, options: { repeats: number; seed?: number }): Promise<CategoricalStudy> {
  const { repeats } = options;
  if (!(Number.isInteger(repeats) && repeats >= 2)) throw new Error(`studyCategoricalEstimator: repeats must be an integer ≥ 2 (got ${repeats})`);
  const rng = new Rng(options.seed ?? 0);
  const rows: number[][] = [];
  for (let r = 0; r < repeats; r++) rows.push(await estimate(rng.nextSeed()));
  const K = rows[0].length;
  const mean = new Array<number>(K).fill(0);
  const variance = new Array<number>(K).fill(0);
  for (const row of rows) for (let k = 0; k < K; k++) mean[k] += row[k] / repeats;
  for (const row of rows) for (let k = 0; k < K; k++) variance[k] += (row[k] - mean[k]) ** 2 / (repeats - 1);
  return {
    repeats,
    mean,
    variance,
    stderr: variance.map((v) => Math.sqrt(v / repeats)),
    totalVariance: variance.reduce((a, b) => a + b, 0),
  };
}

export interface RelaxationPoint {
  temperature: number;
  /** Mean relaxed gradient (over `samples` draws) minus the exact gradient: its Euclidean norm. */
  bias: number;
  /** Standard error of `bias`'s components, combined (√Σ se²): how precisely the bias is known. */
  biasStderr: number;
  /** Total variance (Σ over logits) of a single-sample relaxed gradient. */
  variance: number;
  mean: number[];
}

/**
 * The Gumbel-softmax estimator's bias (against the exact gradient) and single-sample variance at each
 * temperature of a grid, from `samples` draws per temperature.
 */
export function relaxationTradeoff(
  f: CategoricalCostFn,
  logits: number[],
  options: { temperatures: number[]; samples: number; seed?: number; straightThrough?: boolean },
): RelaxationPoint[] {
  const exact = categoricalExactGradient(f, logits).gradient;
  const rng = new Rng(options.seed ?? 0);
  const K = logits.length;
  return options.temperatures.map((temperature) => {
    const rows = gumbelSoftmaxSampleGradients(f, logits, { samples: options.samples, temperature, seed: rng.nextSeed(), straightThrough: options.straightThrough });
    const n = rows.length;
    const mean = new Array<number>(K).fill(0);
    const variance = new Array<number>(K).fill(0);
    for (const r of rows) for (let k = 0; k < K; k++) mean[k] += r[k] / n;
    for (const r of rows) for (let k = 0; k < K; k++) variance[k] += (r[k] - mean[k]) ** 2 / (n - 1);
    const totalVariance = variance.reduce((a, b) => a + b, 0);
    return {
      temperature,
      bias: Math.hypot(...mean.map((m, k) => m - exact[k])),
      biasStderr: Math.sqrt(totalVariance / n),
      variance: totalVariance,
      mean,
    };
  });
}
