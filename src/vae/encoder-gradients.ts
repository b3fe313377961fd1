/**
 * Gradient estimators for the VAE's encoder, on the real model: the gradient of the ELBO with respect to
 * the encoder parameters φ, estimated with
 *
 * - "reparam": the reparameterization trick (what trainVae uses);
 * - "score": the score function, ∇φ E_q[f] ≈ mean_s f(z_s) ∇φ log q_φ(z_s|x) with f(z) = log p_θ(x|z);
 * - "score-baseline": the same with a per-image baseline b(x) = log p_θ(x | z = μ_φ(x)), the decoder's
 *   log-likelihood at the posterior mean (it does not depend on the sample, so the estimator stays unbiased);
 * - "score-loo": a leave-one-out control variate: each of the L samples of an image uses the mean f of the
 *   other L − 1 samples as its baseline (unbiased; needs L ≥ 2).
 *
 * The KL term is in closed form, so its gradient is exact in all four. The score-function variants work by
 * differentiating a surrogate whose gradient is the estimator: z is drawn and then cut from the graph
 * (stopGradient), f − b is a constant weight on log q_φ(z|x). For Bernoulli models encoderGradient gets the
 * same numbers from the backpropagation written out in backprop.ts (faster; tested against the
 * surrogates' autodiff gradients).
 */
import * as tf from "../engine/tf";
import { Rng, tfSeed } from "../engine/random";
import { tidyValue } from "../engine/tidy";
import { ENCODER_ESTIMATORS, EncoderEstimator, klStandardNormalTensor, LossTerms, negativeElbo, reconstructionNll, Vae } from "./model";
export { ENCODER_ESTIMATORS, EncoderEstimator } from "./model";
import { explicitGradientsSupported, negativeElboGradients } from "./backprop";


/** Identity forward, zero gradient backward: tfjs has no stop_gradient op, so it is built with customGrad. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: x.clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

const LOG_2PI = Math.log(2 * Math.PI);

export interface SurrogateOptions {
  estimator: EncoderEstimator;
  beta?: number;
  /** Samples of z per image (L). */
  samples?: number;
  seed?: number;
}

/**
 * A loss whose gradient is the chosen estimator of ∇(−ELBO): for "reparam" the negative ELBO itself; for
 * the score-function variants a surrogate (its value is not the loss; `recon` and `kl` are the true terms).
 */
export function surrogateLoss(vae: Vae, x: tf.Tensor2D, options: SurrogateOptions): LossTerms & { objective: tf.Scalar } {
  const { estimator, beta = 1, samples = 1 } = options;
  const seed = options.seed ?? new Rng().nextSeed();
  if (estimator === "reparam") {
    const t = negativeElbo(vae, x, { beta, samples, seed });
    return { ...t, objective: t.loss };
  }
  if (estimator === "score-loo" && samples < 2) throw new Error("the score-loo estimator needs samples ≥ 2");
  return tf.tidy(() => {
    const B = x.shape[0];
    const D = vae.config.latentDim;
    const { mu, logVar } = vae.encode(x);
    const muL = tf.tile(mu, [samples, 1]);
    const logVarL = tf.tile(logVar, [samples, 1]);
    const eps = tf.randomNormal([samples * B, D], 0, 1, "float32", tfSeed(seed));
    const z = stopGradient(muL.add(tf.exp(logVarL.mul(0.5)).mul(eps))) as tf.Tensor2D;
    const xL = tf.tile(x, [samples, 1]) as tf.Tensor2D;
    const nll = reconstructionNll(vae, vae.decode(z), xL); // [L·B]; carries the decoder's gradient
    const f = stopGradient(nll.neg()); // log p(x|z), a constant weight for the encoder
    let baseline: tf.Tensor;
    if (estimator === "score") baseline = tf.zerosLike(f);
    else if (estimator === "score-baseline") baseline = tf.tile(stopGradient(reconstructionNll(vae, vae.decode(mu), x).neg()), [samples]);
    else {
      const fg = f.reshape([samples, B]);
      baseline = fg.sum(0, true).sub(fg).div(samples - 1).reshape([samples * B]);
    }
    const logQ = tf
      .scalar(-0.5)
      .mul(z.sub(muL).square().div(tf.exp(logVarL)).add(logVarL).add(LOG_2PI))
      .sum(1);
    const kl = klStandardNormalTensor(mu, logVar).mean() as tf.Scalar;
    const recon = nll.mean() as tf.Scalar;
    const scoreTerm = f.sub(baseline).mul(logQ).mean();
    // d/dθ: ∇θ recon; d/dφ: −mean[(f − b) ∇ log q] + β ∇ KL.
    const objective = recon.sub(scoreTerm).add(kl.mul(beta)) as tf.Scalar;
    return { objective, loss: recon.add(kl.mul(beta)) as tf.Scalar, recon, kl };
  });
}

/** One estimate of ∇φ ELBO (encoder parameters, flattened in encoderVariables() order) for the batch x. */
export function encoderGradient(vae: Vae, x: tf.Tensor2D, options: SurrogateOptions): Float32Array {
  const vars = vae.encoderVariables();
  return tidyValue(() => {
    // Backpropagation written out (backprop.ts) where it applies; the same numbers as the tape's.
    const { grads } = explicitGradientsSupported(vae)
      ? negativeElboGradients(vae, x, { ...options, variables: "encoder" })
      : tf.variableGrads(() => surrogateLoss(vae, x, options).objective, vars);
    // Gradient of the ELBO = −gradient of the loss.
    return tf.concat(vars.map((v) => grads[v.name].reshape([-1]))).neg().dataSync() as Float32Array;
  });
}

export interface GradientStudy {
  estimator: EncoderEstimator;
  samples: number;
  repeats: number;
  /** Per-parameter mean and variance of the estimates. */
  mean: Float64Array;
  variance: Float64Array;
  /** Σ over parameters of the per-parameter variance (the expected squared error of the estimate). */
  totalVariance: number;
  /** Median over parameters of the variance. */
  medianVariance: number;
  /** Median over parameters of |mean| / sd (parameters whose gradient is always 0 are left out). */
  medianSnr: number;
  /** Per-parameter signal-to-noise ratios (NaN where the variance is 0). */
  snr: Float64Array;
  /** For each requested direction u, the projection u·g of every estimate g (repeats values each). */
  projections: number[][];
}

function median(values: ArrayLike<number>): number {
  const a = Array.from(values).filter((v) => Number.isFinite(v)).sort((p, q) => p - q);
  if (a.length === 0) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

/**
 * Draw `repeats` independent estimates of ∇φ ELBO for the same batch and summarise them per parameter
 * (Welford's running mean and variance, so memory stays at a few copies of the parameter vector).
 */
export function studyEncoderGradient(
  vae: Vae,
  x: tf.Tensor2D,
  options: { estimator: EncoderEstimator; samples?: number; repeats: number; seed?: number; directions?: ArrayLike<number>[] },
): GradientStudy {
  const { estimator, samples = 1, repeats } = options;
  if (!(Number.isInteger(repeats) && repeats >= 2)) throw new Error(`repeats must be an integer ≥ 2 (got ${repeats})`);
  const rng = new Rng(options.seed);
  let mean: Float64Array | undefined;
  let m2: Float64Array | undefined;
  const directions = options.directions ?? [];
  const projections = directions.map(() => [] as number[]);
  for (let r = 1; r <= repeats; r++) {
    const g = encoderGradient(vae, x, { estimator, samples, seed: rng.nextSeed() });
    directions.forEach((u, k) => {
      let dot = 0;
      for (let i = 0; i < g.length; i++) dot += u[i] * g[i];
      projections[k].push(dot);
    });
    mean ??= new Float64Array(g.length);
    m2 ??= new Float64Array(g.length);
    for (let i = 0; i < g.length; i++) {
      const delta = g[i] - mean[i];
      mean[i] += delta / r;
      m2[i] += delta * (g[i] - mean[i]);
    }
  }
  const variance = m2!.map((v) => v / (repeats - 1));
  const snr = mean!.map((m, i) => (variance[i] > 0 ? Math.abs(m) / Math.sqrt(variance[i]) : NaN));
  return {
    estimator,
    samples,
    repeats,
    mean: mean!,
    variance,
    totalVariance: variance.reduce((s, v) => s + v, 0),
    medianVariance: median(variance.filter((v) => v > 0)),
    medianSnr: median(snr),
    snr,
    projections,
  };
}

/**
 * Study several estimators on the same model and batch with the same L and number of repeats, and tabulate
 * them: [estimator, total variance, variance ÷ reparam's, median per-parameter SNR].
 */
export function compareEncoderEstimators(
  vae: Vae,
  x: tf.Tensor2D,
  options: { estimators?: readonly EncoderEstimator[]; samples?: number; repeats: number; seed?: number },
): { studies: GradientStudy[]; rows: (string | number)[][] } {
  const estimators = options.estimators ?? ENCODER_ESTIMATORS;
  const rng = new Rng(options.seed);
  const studies = estimators.map((estimator) =>
    studyEncoderGradient(vae, x, { estimator, samples: options.samples ?? 2, repeats: options.repeats, seed: rng.nextSeed() }),
  );
  const ref = studies.find((s) => s.estimator === "reparam")?.totalVariance ?? NaN;
  return { studies, rows: studies.map((s) => [s.estimator, s.totalVariance, s.totalVariance / ref, s.medianSnr]) };
}
