/**
 * The importance-weighted bound of Burda, Grosse & Salakhutdinov (2016, "Importance Weighted Autoencoders")
 * as a quantity of a batch that autodiff can differentiate, so that it can be trained on:
 *
 *   L_k(x) = E[ log (1/k) Σ_i w_i ],   w_i = p(x | z_i) p(z_i) / q(z_i | x),   z_i = μ(x) + σ(x) ⊙ ε_i,
 *
 * L_1 is the ELBO; L_k ≤ L_{k+1} ≤ log p(x). Its gradient is Σ_i w̃_i ∇ log w_i with the normalised weights
 * w̃_i = w_i / Σ_j w_j: the k samples' ELBO gradients, each weighted by how well its z explains x. With one
 * sample the weight is 1 and this is the VAE's reparameterized gradient, with the KL estimated from the
 * sample (log q − log p) rather than in closed form.
 */
import * as tf from "../engine/tf";
import { Rng, tfSeed } from "../engine/random";
import { klStandardNormalTensor, reconstructionNll } from "./model";
import type { LatentModel } from "./latent-model";

/** log w for each row of ε with its parts (see logImportanceWeights), and the encoder's q. */
function importanceTerms(vae: LatentModel, x: tf.Tensor2D, eps: tf.Tensor2D) {
  const B = x.shape[0];
  const D = vae.config.latentDim;
  if (eps.shape[1] !== D || eps.shape[0] % B !== 0 || eps.shape[0] === 0) {
    throw new Error(`eps has shape [${eps.shape}], expected [k · ${B}, ${D}] (samples × batch, latent dimensions)`);
  }
  const k = eps.shape[0] / B;
  const { mu, logVar } = vae.encode(x);
  // The k samples of each image by broadcasting μ and σ over ε seen as [k, B, D] (row i·B + b is sample i of
  // image b): their gradients are one sum over the samples, where tf.tile's are k slices and k additions.
  const z = mu.add(tf.exp(logVar.mul(0.5)).mul(eps.reshape([k, B, D]))).reshape([k * B, D]) as tf.Tensor2D;
  const logPxz = reconstructionNll(vae, vae.decode(z), tf.tile(x, [k, 1])).neg() as tf.Tensor1D;
  // log p(z) = −½‖z‖² − (D/2) log 2π and log q(z | x) at z = μ + σ ⊙ ε, −½‖ε‖² − ½ Σ log σ² − (D/2) log 2π:
  // their common (D/2) log 2π cancels in log w and is left out of both. Written with ε, log q keeps the whole
  // dependence on the encoder (through log σ²; through z it cancels), which autodiff differentiates.
  const logPz = z.square().sum(1).mul(-0.5);
  const logQz = eps.square().sum(1).mul(-0.5).reshape([k, B]).sub(logVar.sum(1).mul(0.5)).reshape([k * B]);
  return { logW: logPxz.add(logPz).sub(logQz) as tf.Tensor1D, logPxz, mu, logVar, k };
}

/**
 * log w = log p(x | z) + log p(z) − log q(z | x) for each row of ε: `eps` is [k · B, latentDim], row i·B + b
 * for sample i of image b (the row order of negativeElbo's ε), z = μ_b + σ_b ⊙ ε. Returns [k · B].
 */
export function logImportanceWeights(vae: LatentModel, x: tf.Tensor2D, eps: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => importanceTerms(vae, x, eps).logW);
}

export interface IwaeOptions {
  /** Importance samples per image (k ≥ 1). */
  samples: number;
  /** Seed of ε. */
  seed?: number;
  /** ε itself, [samples · batch, latentDim] in negativeElbo's row order, instead of drawing it. */
  eps?: tf.Tensor2D;
}

export interface IwaeTerms {
  /** L_k averaged over the batch (nats per image; a lower bound on log p(x), so higher is better). */
  bound: tf.Scalar;
  /** E_q[−log p(x|z)] over the same k samples, averaged over the batch (as negativeElbo's recon). */
  recon: tf.Scalar;
  /** KL(q(z|x) ‖ p(z)) in closed form, averaged over the batch (as negativeElbo's kl). */
  kl: tf.Scalar;
}

/**
 * Normalised weights below this are taken as 0 in the bound's gradient (its value is unchanged): 2⁻⁶⁰ ≈
 * 8.7·10⁻¹⁹. With k = 50 many samples' weights fall below 1.2·10⁻³⁸ (e⁻⁸⁷), where a float32 is subnormal (down
 * to about e⁻¹⁰³, below which it is 0), and they then fill whole rows of the decoder's gradient. Many x86 CPUs
 * handle subnormals on a slow path: a 1000×784 by 784×200 product full of them took 336 ms against 1.7 ms
 * (Intel Xeon, OpenBLAS). The weights left out add up to less than k · 2⁻⁶⁰ of the total weight, far below
 * float32's resolution (2⁻²⁴) of the largest weight, which is at least 1/k.
 */
export const IWAE_WEIGHT_FLOOR = 2 ** -60;

/**
 * log Σ_i exp(a_i) over axis 0 of [k, B], whose gradient is the softmax over the k samples (normalised to sum
 * to 1 in float32) with weights below IWAE_WEIGHT_FLOOR set to 0.
 */
export const logSumExpOverSamples = tf.customGrad(((a: tf.Tensor2D, save: (t: tf.Tensor[]) => void) => {
  const value = tf.logSumExp(a, 0);
  save([a, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [aSaved, v] = saved;
      // exp(a − log Σ) sums to 1 only to the rounding of log Σ (a relative 10⁻⁵ where log w is near −500): divided
      // by its own sum it is the softmax to float32 rounding.
      const e = tf.exp(tf.sub(aSaved, v));
      const w = tf.div(e, tf.sum(e, 0));
      return [tf.mul(tf.where(tf.less(w, IWAE_WEIGHT_FLOOR), tf.zerosLike(w), w), dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor2D) => tf.Tensor1D;

/**
 * The k-sample importance-weighted bound of a batch, L_k = mean_b [ logsumexp_i log w_ib − log k ], and the
 * ELBO's two terms from the same samples (recon + kl, a k-sample estimate of −ELBO ≥ −L_k, for reporting).
 * Maximise `bound` (minimise its negative) to train an IWAE. The caller disposes the result.
 */
export function iwaeBound(vae: LatentModel, x: tf.Tensor2D, options: IwaeOptions): IwaeTerms {
  const k = options.samples;
  if (!(Number.isSafeInteger(k) && k >= 1)) throw new Error(`iwaeBound: samples must be a positive integer (got ${k})`);
  return tf.tidy(() => {
    const B = x.shape[0];
    const D = vae.config.latentDim;
    // Its columns are checked with its row count's divisibility in importanceTerms; here, that it holds k samples.
    if (options.eps && options.eps.shape[0] !== k * B) {
      throw new Error(`eps has shape [${options.eps.shape}], expected [${k * B}, ${D}] (samples × batch, latent dimensions)`);
    }
    const eps = options.eps ?? tf.randomNormal([k * B, D], 0, 1, "float32", tfSeed(options.seed ?? new Rng().nextSeed()));
    const t = importanceTerms(vae, x, eps);
    const bound = logSumExpOverSamples(t.logW.reshape([k, B]) as tf.Tensor2D).sub(Math.log(k)).mean() as tf.Scalar;
    const recon = t.logPxz.mean().neg() as tf.Scalar;
    const kl = klStandardNormalTensor(t.mu, t.logVar).mean() as tf.Scalar;
    return { bound, recon, kl };
  });
}
