/**
 * The amortisation gap (Cremer, Li & Duvenaud 2018, "Inference Suboptimality in Variational Autoencoders").
 *
 * A VAE's encoder gives every image its q(z|x) = N(μ(x), diag σ²(x)) from one network: inference is
 * amortised. For a single image, the best Gaussian of that family, q*, is found by maximising that image's
 * ELBO over its own μ and log σ² (notebook 03's gradient ascent, here with Adam and reparameterized samples),
 * starting from the encoder's answer. With log p(x) estimated by the importance-weighted bound, the gap
 * between log p(x) and the ELBO splits in two:
 *
 *   log p(x) − ELBO(q_encoder) = [log p(x) − ELBO(q*)] + [ELBO(q*) − ELBO(q_encoder)]
 *                                  approximation gap       amortisation gap
 *
 * the first the price of the Gaussian family, the second the price of one network answering for all images.
 * The decoder is never changed here.
 */
import * as tf from "../engine/tf";
import { Rng, tfSeed } from "../engine/random";
import { tidyValue } from "../engine/tidy";
import { klStandardNormalTensor, sampledReconstructionNll } from "./model";
import { logImportanceWeights } from "./iwae";
import type { LatentModel } from "./latent-model";

/**
 * The model with its encoder replaced by given per-image parameters: `encode(x)` returns `mu` and `logVar`
 * (for a batch of as many rows) whatever x is; decoding is the model's. Everything written for a VAE
 * (negativeElbo, iwaeBound, logImportanceWeights) then evaluates that q instead of the encoder's.
 */
export function withLocalPosterior(vae: LatentModel, mu: tf.Tensor2D, logVar: tf.Tensor2D): LatentModel {
  if (mu.shape[1] !== vae.config.latentDim || logVar.shape[0] !== mu.shape[0] || logVar.shape[1] !== mu.shape[1]) {
    throw new Error(`local posterior: μ [${mu.shape}] and log σ² [${logVar.shape}] must both be [images, ${vae.config.latentDim}]`);
  }
  return {
    config: vae.config,
    logNoiseVar: vae.logNoiseVar,
    encode: (x: tf.Tensor2D) => {
      if (x.shape[0] !== mu.shape[0]) throw new Error(`local posterior: it holds q for ${mu.shape[0]} images, the batch has ${x.shape[0]}`);
      return { mu: tf.clone(mu), logVar: tf.clone(logVar) };
    },
    decode: (z) => vae.decode(z),
    decodeMean: (z) => vae.decodeMean(z),
    variables: () => vae.variables(),
    parameterCount: () => vae.parameterCount(),
    dispose: () => undefined,
  };
}

/** Rows (samples × images) decoded in one pass by elboPerImage and iwaePerImage: the conv model's activations for 2 000 rows take ~100 MB. */
export const ROWS_PER_PASS = 2000;

/**
 * The sizes of the passes that draw `total` samples for each of a batch of B images under the row budget
 * ROWS_PER_PASS: as many samples per pass as fit (at least one), the last pass taking what is left.
 */
export function samplePasses(total: number, B: number): number[] {
  const per = Math.max(1, Math.floor(ROWS_PER_PASS / B));
  return Array.from({ length: Math.ceil(total / per) }, (_, i) => Math.min(per, total - i * per));
}

/**
 * Each image's ELBO, log p(x|z) averaged over `samples` reparameterized draws minus KL(q ‖ N(0, I)) in
 * closed form, in nats (higher is better). Returns [batch] values in float64.
 */
export function elboPerImage(vae: LatentModel, x: tf.Tensor2D, options: { samples?: number; seed?: number } = {}): Float64Array {
  const { samples = 100 } = options;
  if (!(Number.isSafeInteger(samples) && samples >= 1)) throw new Error(`elboPerImage: samples must be a positive integer (got ${samples})`);
  const B = x.shape[0];
  const D = vae.config.latentDim;
  const rng = new Rng(options.seed ?? new Rng().nextSeed());
  const out = new Float64Array(B);
  const { mu, logVar } = vae.encode(x);
  try {
    for (const m of samplePasses(samples, B)) {
      const logPxz = tidyValue(() => {
        const eps = tf.randomNormal([m * B, D], 0, 1, "float32", tfSeed(rng.nextSeed())) as tf.Tensor2D;
        return sampledReconstructionNll(vae, x, mu, logVar, eps).neg().reshape([m, B]).sum(0).dataSync();
      });
      logPxz.forEach((v, b) => (out[b] += v / samples));
    }
    tidyValue(() => klStandardNormalTensor(mu, logVar).dataSync()).forEach((v, b) => (out[b] -= v));
  } finally {
    tf.dispose([mu, logVar]);
  }
  return out;
}

/**
 * Each image's k-sample importance-weighted bound L_k (Burda et al. 2016), in nats: a lower bound on
 * log p(x) that tightens as k grows, with q as the proposal. Weights are drawn ROWS_PER_PASS rows at a time.
 */
export function iwaePerImage(vae: LatentModel, x: tf.Tensor2D, options: { k?: number; seed?: number } = {}): Float64Array {
  const { k = 1000 } = options;
  if (!(Number.isSafeInteger(k) && k >= 1)) throw new Error(`iwaePerImage: k must be a positive integer (got ${k})`);
  const B = x.shape[0];
  const D = vae.config.latentDim;
  const rng = new Rng(options.seed ?? new Rng().nextSeed());
  const logW: Float32Array[] = [];
  for (const m of samplePasses(k, B)) {
    logW.push(tidyValue(() => logImportanceWeights(vae, x, tf.randomNormal([m * B, D], 0, 1, "float32", tfSeed(rng.nextSeed()))).dataSync() as Float32Array));
  }
  // Rows are sample-major (row i·B + b is sample i of image b); a log-sum-exp per image, in float64.
  return Float64Array.from({ length: B }, (_, b) => {
    let mx = -Infinity;
    for (const w of logW) for (let i = b; i < w.length; i += B) mx = Math.max(mx, w[i]);
    let s = 0;
    for (const w of logW) for (let i = b; i < w.length; i += B) s += Math.exp(w[i] - mx);
    return mx + Math.log(s / k);
  });
}

export interface RefineOptions {
  /** Adam steps on the per-image parameters (default 300). */
  steps?: number;
  /** Adam's learning rate (default 0.01). */
  lr?: number;
  /** Reparameterized samples per image and step (default 10). */
  samples?: number;
  seed?: number;
  /** Record the batch's mean ELBO (of that step's samples) every this many steps (default 10), and after the last. */
  every?: number;
}

export interface RefinedPosterior {
  /** μ and log σ² of q*, [images, latentDim]. The caller disposes them. */
  mu: tf.Tensor2D;
  logVar: tf.Tensor2D;
  /** The mean ELBO over the batch (nats per image) before step `step`, and after the last step. */
  trace: { step: number; elbo: number }[];
}

/**
 * q* for each image of `x`: start from the encoder's μ and log σ², then take `steps` Adam steps that raise
 * the sum of the images' ELBOs (each image's parameters follow only its own ELBO), with the decoder held
 * fixed. Gradients by autodiff of the reparameterized ELBO (KL in closed form).
 */
export function refinePosterior(vae: LatentModel, x: tf.Tensor2D, options: RefineOptions = {}): RefinedPosterior {
  const { steps = 300, lr = 0.01, samples = 10, every = 10 } = options;
  const positive = (v: number) => Number.isSafeInteger(v) && v >= 1;
  if (!(Number.isSafeInteger(steps) && steps >= 0)) throw new Error(`refinePosterior: steps must be an integer ≥ 0 (got ${steps})`);
  if (!positive(samples)) throw new Error(`refinePosterior: samples must be a positive integer (got ${samples})`);
  if (!positive(every)) throw new Error(`refinePosterior: every must be a positive integer (got ${every})`);
  if (!(lr > 0 && Number.isFinite(lr))) throw new Error(`refinePosterior: lr must be a finite number > 0 (got ${lr})`);
  const rng = new Rng(options.seed ?? new Rng().nextSeed());
  const B = x.shape[0];
  const D = vae.config.latentDim;
  const start = tf.tidy(() => vae.encode(x));
  const mu = tf.variable(start.mu, true);
  const logVar = tf.variable(start.logVar, true);
  tf.dispose([start.mu, start.logVar]);
  const optimizer = tf.train.adam(lr);
  const trace: { step: number; elbo: number }[] = [];
  // −Σ_b ELBO_b: the sum, so that each image's step is its own ELBO's (a mean would divide it by B).
  const negativeElboSum = (eps: tf.Tensor2D) =>
    tf.tidy(() => {
      const recon = sampledReconstructionNll(vae, x, mu as tf.Tensor2D, logVar as tf.Tensor2D, eps).sum().div(samples);
      return recon.add(klStandardNormalTensor(mu as tf.Tensor2D, logVar as tf.Tensor2D).sum()) as tf.Scalar;
    });
  try {
    for (let step = 0; step <= steps; step++) {
      const eps = tf.randomNormal([samples * B, D], 0, 1, "float32", tfSeed(rng.nextSeed())) as tf.Tensor2D;
      try {
        if (step === steps) {
          trace.push({ step, elbo: -tidyValue(() => negativeElboSum(eps).dataSync()[0]) / B });
          break;
        }
        // In a tidy, so that a step that throws (a decoder that fails, say) leaves no gradient behind.
        const elbo = tidyValue(() => {
          const { value, grads } = tf.variableGrads(() => negativeElboSum(eps), [mu, logVar]);
          optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
          return step % every === 0 ? -value.dataSync()[0] / B : undefined;
        });
        if (elbo !== undefined) trace.push({ step, elbo });
      } finally {
        eps.dispose();
      }
    }
  } catch (e) {
    tf.dispose([mu, logVar]);
    throw e;
  } finally {
    optimizer.dispose();
  }
  const result = { mu: tf.clone(mu) as tf.Tensor2D, logVar: tf.clone(logVar) as tf.Tensor2D, trace };
  tf.dispose([mu, logVar]);
  return result;
}

export interface InferenceGaps {
  /**
   * Per image, nats: the ELBO with the encoder's q and with q* (from the same ε), and log p(x) estimated by the
   * larger of L_k with the encoder's q and L_k with q* as the proposal.
   */
  encoderElbo: Float64Array;
  optimalElbo: Float64Array;
  logPx: Float64Array;
  /** Means over the images, nats per image: ELBO(q*) − ELBO(q_encoder), and log p(x) − ELBO(q*). */
  amortisation: number;
  approximation: number;
  /** The refinement's trace (mean ELBO by step). */
  trace: { step: number; elbo: number }[];
}

/**
 * Both gaps for a batch of images: refine q (refinePosterior), evaluate both ELBOs with the same `elboSamples`
 * draws of ε, and log p(x) by L_k with k = `k`, taking the larger of the bounds with the encoder's q and with
 * q* as proposal (each is a lower bound on log p(x) in expectation, so the larger is the tighter). Both gaps
 * are biased in known directions: L_k falls short of log p(x), which understates the approximation gap, and a
 * refinement of finitely many steps falls short of q*, which understates the amortisation gap and overstates
 * the approximation gap by the same amount.
 */
export function inferenceGaps(vae: LatentModel, x: tf.Tensor2D, options: RefineOptions & { elboSamples?: number; k?: number } = {}): InferenceGaps {
  const { elboSamples = 200, k = 1000 } = options;
  const rng = new Rng(options.seed ?? new Rng().nextSeed());
  const refined = refinePosterior(vae, x, { ...options, seed: rng.nextSeed() });
  try {
    const local = withLocalPosterior(vae, refined.mu, refined.logVar);
    // The same ε for both ELBOs (common random numbers): their noise is correlated and largely cancels in the gap.
    const elboSeed = rng.nextSeed();
    const encoderElbo = elboPerImage(vae, x, { samples: elboSamples, seed: elboSeed });
    const optimalElbo = elboPerImage(local, x, { samples: elboSamples, seed: elboSeed });
    const withEncoder = iwaePerImage(vae, x, { k, seed: rng.nextSeed() });
    const withOptimal = iwaePerImage(local, x, { k, seed: rng.nextSeed() });
    const logPx = withEncoder.map((v, i) => Math.max(v, withOptimal[i]));
    const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    return {
      encoderElbo,
      optimalElbo,
      logPx,
      amortisation: mean(optimalElbo) - mean(encoderElbo),
      approximation: mean(logPx) - mean(optimalElbo),
      trace: refined.trace,
    };
  } finally {
    tf.dispose([refined.mu, refined.logVar]);
  }
}
