/**
 * Article 000's argument against the naive generative framework, as a measurement. Train a decoder by drawing
 * codes z_k from the prior and asking that g(z_k) = X̂_k be close to the images X_k: but a code drawn from the
 * prior has no partner image, so which X_k should D(X̂_k, X_k)² compare it with? Per-image posteriors
 * q(z|X_k) fix the pairing: a code drawn from q(z|X_k) belongs to X_k.
 *
 * `priorPairing` measures, for real images X_k, the mean squared pixel distance ‖X_k − g(z)‖² (g the
 * decoder's pixel means) for three choices of z: a draw from X_k's own posterior q(z|X_k); a draw from the
 * prior, paired with X_k at random (averaged over many prior draws); and the nearest decoded image among
 * those prior draws (the best partner the prior samples offer X_k).
 */
import * as tf from "../engine/tf";
import { batchTensor, MnistSet } from "../data/mnist";
import { Rng, tfSeed } from "../engine/random";
import { tidyValue } from "../engine/tidy";
import type { LatentModel } from "./latent-model";

export interface PriorPairing {
  /** Images X_k measured (the first `limit` of the set) and prior draws z_1..z_M decoded. */
  images: number;
  priorSamples: number;
  /** Mean over k of ‖X_k − g(z)‖², z ~ q(z|X_k) (one draw per image). */
  posterior: number;
  /** Mean over k and m of ‖X_k − g(z_m)‖², z_m ~ p(z) = N(0, I): a prior code paired with an image at random. */
  prior: number;
  /** Mean over k of min_m ‖X_k − g(z_m)‖²: the closest of the M decoded prior draws to each image. */
  nearestPrior: number;
  /** Per-image values of the three, in the same order as the images. */
  perImage: { posterior: Float32Array; prior: Float32Array; nearestPrior: Float32Array };
}

/**
 * Squared pixel distances between images and decoded codes, for codes from each image's posterior and from
 * the prior (see the module comment). `limit` images (default 500), `priorSamples` prior draws (default 500),
 * all randomness from `seed` (default 1). A dynamically binarised set is measured on one binarised draw.
 */
export function priorPairing(model: LatentModel, set: MnistSet, options: { limit?: number; priorSamples?: number; seed?: number; chunk?: number } = {}): PriorPairing {
  const n = Math.min(options.limit ?? 500, set.count);
  const m = options.priorSamples ?? 500;
  const chunk = options.chunk ?? 250;
  if (!(n > 0) || !(m > 0)) throw new RangeError(`priorPairing: need at least one image and one prior sample (got ${n} and ${m})`);
  const D = model.config.latentDim;
  const rng = new Rng(options.seed ?? 1);
  const decodedPrior = tf.tidy(() => model.decodeMean(tf.randomNormal([m, D], 0, 1, "float32", tfSeed(rng.nextSeed())) as tf.Tensor2D));
  const posterior = new Float32Array(n), prior = new Float32Array(n), nearestPrior = new Float32Array(n);
  try {
    const priorNorms = tf.tidy(() => tf.sum(tf.square(decodedPrior), 1));
    try {
      for (let start = 0; start < n; start += chunk) {
        const b = Math.min(chunk, n - start);
        const [post, mean, near] = tidyValue(() => {
          const x = batchTensor(set, Int32Array.from({ length: b }, (_, j) => start + j), rng);
          const q = model.encode(x);
          const z = tf.add(q.mu, tf.mul(tf.exp(tf.mul(q.logVar, 0.5)), tf.randomNormal([b, D], 0, 1, "float32", tfSeed(rng.nextSeed())))) as tf.Tensor2D;
          const postD = tf.sum(tf.square(tf.sub(x, model.decodeMean(z))), 1);
          // ‖x − g‖² = ‖x‖² + ‖g‖² − 2 x·g for every pair, [b, m]; clipped at 0 against rounding.
          const d2 = tf.maximum(tf.sub(tf.add(tf.sum(tf.square(x), 1, true), tf.expandDims(priorNorms, 0)), tf.mul(tf.matMul(x, decodedPrior, false, true), 2)), 0);
          return [postD.dataSync().slice(), tf.mean(d2, 1).dataSync().slice(), tf.min(d2, 1).dataSync().slice()];
        });
        posterior.set(post, start);
        prior.set(mean, start);
        nearestPrior.set(near, start);
      }
    } finally {
      priorNorms.dispose();
    }
  } finally {
    decodedPrior.dispose();
  }
  const avg = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  return { images: n, priorSamples: m, posterior: avg(posterior), prior: avg(prior), nearestPrior: avg(nearestPrior), perImage: { posterior, prior, nearestPrior } };
}
