/**
 * The training step's gradient of vae/backprop.ts in one native call. negativeElboGradients writes the
 * backpropagation out with tfjs ops (about sixty kernels per step for the reference VAE, each with its own
 * dispatch, allocation and bookkeeping); here the same forward pass, loss and backward pass run in blas.c's
 * mlpGradients, with the same matrix products through OpenBLAS and the elementwise work fused into the
 * loops around them, so a step's time is almost all products. It takes the same ε (the same seeded
 * tf.randomNormal, sample-major rows), so for one seed it gives negativeElboGradients's numbers to float32
 * rounding — test/vae-fused-gradients.test.ts checks every variable of every activation, depth, β and L
 * against it and against autodiff.
 *
 * It covers the reparameterised estimator for all variables (what trainVae takes a step with); the
 * score-function estimators and encoder-only gradients stay with negativeElboGradients.
 */
import * as tf from "../engine/tf";
import { nativeMlpGradients, nativeMlpGradientsActive } from "../engine/native-kernels";
import { Rng, tfSeed } from "../engine/random";
import { explicitGradientsSupported, Gradients } from "./backprop";
import { LossOptions, Vae } from "./model";

/** Whether fusedNegativeElboGradients runs for this model here (native kernels active, Bernoulli likelihood). */
export function fusedGradientsAvailable(vae: Vae): boolean {
  return explicitGradientsSupported(vae) && nativeMlpGradientsActive();
}

/**
 * negativeElboGradients(vae, x, options) with the reparameterised estimator, in one native call; null where
 * fusedGradientsAvailable(vae) is false or free bits are asked for (the caller then uses negativeElboGradients). The caller disposes
 * the tensors (or calls this inside tf.tidy).
 */
export function fusedNegativeElboGradients(vae: Vae, x: tf.Tensor2D, options: LossOptions = {}): Gradients | null {
  if (!fusedGradientsAvailable(vae) || (options.freeBits ?? 0) > 0) return null;
  const { beta = 1, samples = 1 } = options;
  if (!(Number.isInteger(samples) && samples >= 1)) throw new Error(`samples must be a positive integer (got ${samples})`);
  const seed = options.seed ?? new Rng().nextSeed();
  const layers = [...vae.encoder, vae.encMu, vae.encLogVar, ...vae.decoder, vae.decOut];
  const eps = options.eps ?? (tf.randomNormal([samples * x.shape[0], vae.config.latentDim], 0, 1, "float32", tfSeed(seed)) as tf.Tensor2D);
  let native: ReturnType<typeof nativeMlpGradients>;
  try {
    native = nativeMlpGradients(x, eps, layers, { samples, beta, activation: vae.config.activation, encoderLayers: vae.encoder.length, decoderLayers: vae.decoder.length });
  } finally {
    if (eps !== options.eps) eps.dispose();
  }
  if (!native) return null; // an input the kernel does not take (not float32, or x not the model's width)
  const out = native;
  const grads: tf.NamedTensorMap = {};
  layers.forEach((l, i) => {
    grads[l.W.name] = out.layers[i].W;
    grads[l.b.name] = out.layers[i].b;
  });
  const loss = tf.tidy(() => tf.add(out.recon, tf.mul(out.kl, beta)) as tf.Scalar);
  return { grads, loss, recon: out.recon, kl: out.kl };
}
