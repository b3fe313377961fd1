/**
 * Backpropagation written out for the VAE's training loss: the gradient of the negative ELBO (Bernoulli
 * likelihood, reparameterized z, analytic KL) with respect to every weight, computed layer by layer the way
 * a textbook derives it, with no autodiff tape.
 *
 * It is the same number as tf.variableGrads of negativeElbo() (the tests check every variable, for every
 * activation, deeper networks, β and L > 1), but it runs about half as many kernels and none of the tape's
 * bookkeeping (identity copies, zero-filled gradients, casts), so trainVae uses it where it applies. With L
 * samples per image (rows of z ordered sample-major, as in negativeElbo) and batch size B:
 *
 *   loss = (1/(L·B)) Σ_rows [−log p(x|z)] + β (1/B) Σ_images KL(q(z|x) ‖ N(0, I))
 *   ∂loss/∂logits  = (σ(logits) − x) / (L·B)                        (Bernoulli)
 *   ∂loss/∂a       = (∂loss/∂h) ⊙ f′(a), with f′ written from the layer's output h = f(a)
 *   ∂loss/∂W = hᵀ_in · ∂loss/∂a,   ∂loss/∂b = 1ᵀ · ∂loss/∂a,   ∂loss/∂h_in = ∂loss/∂a · Wᵀ
 *   ∂loss/∂μ       = Σ_L ∂loss/∂z + β μ / B
 *   ∂loss/∂logσ²   = Σ_L ∂loss/∂z ⊙ ε ⊙ σ / 2 + β (σ² − 1) / (2B)
 */
import * as tf from "@tensorflow/tfjs";
import { nativeBernoulliNll, nativeMatMulStatus } from "./native-kernels";
import { Rng } from "./random";
import { activate, Activation, Dense, LossOptions, Vae } from "./vae";

/** Whether negativeElboGradients covers this model (the Bernoulli likelihood; any activation and depth). */
export function explicitGradientsSupported(vae: Vae): boolean {
  return vae.config.likelihood === "bernoulli";
}

/** f′(a) from h = f(a), for each activation of vae.ts. */
function activationDerivative(h: tf.Tensor, a: Activation): tf.Tensor {
  switch (a) {
    case "relu":
      return tf.step(h);
    case "tanh":
      return tf.sub(1, tf.square(h));
    case "sigmoid":
      return tf.mul(h, tf.sub(1, h));
    case "leakyRelu":
      return tf.where(tf.greater(h, 0), tf.onesLike(h), tf.fill(h.shape, 0.01));
    case "elu":
      return tf.where(tf.greater(h, 0), tf.onesLike(h), tf.add(h, 1));
    case "softplus":
      // σ(a) = 1 − e^{−softplus(a)}
      return tf.sub(1, tf.exp(tf.neg(h)));
  }
}

/**
 * a·op(b) with transposes left to BLAS where the native matmul is active; elsewhere as an explicit transpose
 * and a plain product (wasm's own matmul with a transposed operand is 5–10× slower).
 */
function matMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  if (nativeMatMulStatus().active || tf.getBackend() !== "wasm") return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
}

/** Column sums, as 1ᵀ·d where BLAS runs (wasm's sum over axis 0 transposes first). */
function columnSums(d: tf.Tensor2D): tf.Tensor1D {
  if (nativeMatMulStatus().active) return tf.matMul(tf.ones([1, d.shape[0]]), d).reshape([d.shape[1]]);
  return tf.sum(d, 0);
}

interface Gradients {
  grads: tf.NamedTensorMap;
  /** recon + β·kl, averaged over the batch (nats per image). */
  loss: tf.Scalar;
  recon: tf.Scalar;
  kl: tf.Scalar;
}

/**
 * The negative ELBO of batch `x` and its gradient for every variable of `vae` (keyed by variable name, as
 * tf.variableGrads returns them). The same ε as negativeElbo() with the same seed, so the two agree.
 * The caller disposes the tensors (or calls this inside tf.tidy).
 */
export function negativeElboGradients(vae: Vae, x: tf.Tensor2D, options: LossOptions = {}): Gradients {
  if (!explicitGradientsSupported(vae)) throw new Error("negativeElboGradients covers the Bernoulli likelihood only; use tf.variableGrads(negativeElbo)");
  const { beta = 1, samples = 1 } = options;
  const seed = options.seed ?? new Rng().nextSeed();
  const act = vae.config.activation;
  const B = x.shape[0];
  const D = vae.config.latentDim;
  const grads: tf.NamedTensorMap = {};
  const result = tf.tidy(() => {
    // Forward, keeping each layer's input and output.
    const encIn: tf.Tensor2D[] = [];
    const encOut: tf.Tensor2D[] = [];
    let h = x;
    for (const l of vae.encoder) {
      encIn.push(h);
      h = activate(tf.add(tf.matMul(h, l.W), l.b), act) as tf.Tensor2D;
      encOut.push(h);
    }
    const mu = tf.add(tf.matMul(h, vae.encMu.W), vae.encMu.b) as tf.Tensor2D;
    const logVar = tf.add(tf.matMul(h, vae.encLogVar.W), vae.encLogVar.b) as tf.Tensor2D;
    const sd = tf.exp(tf.mul(logVar, 0.5)) as tf.Tensor2D;
    const eps = tf.randomNormal([samples * B, D], 0, 1, "float32", seed) as tf.Tensor2D;
    const muL = samples === 1 ? mu : (tf.tile(mu, [samples, 1]) as tf.Tensor2D);
    const sdL = samples === 1 ? sd : (tf.tile(sd, [samples, 1]) as tf.Tensor2D);
    const z = tf.add(muL, tf.mul(sdL, eps)) as tf.Tensor2D;
    const decIn: tf.Tensor2D[] = [];
    const decOut: tf.Tensor2D[] = [];
    h = z;
    for (const l of vae.decoder) {
      decIn.push(h);
      h = activate(tf.add(tf.matMul(h, l.W), l.b), act) as tf.Tensor2D;
      decOut.push(h);
    }
    const logits = tf.add(tf.matMul(h, vae.decOut.W), vae.decOut.b) as tf.Tensor2D;
    const xL = samples === 1 ? x : (tf.tile(x, [samples, 1]) as tf.Tensor2D);
    const rows = samples * B;

    // The loss terms and ∂loss/∂logits: one native pass where available.
    const native = nativeBernoulliNll(logits, xL, 1 / rows);
    const nll = native?.nll ?? tf.sub(tf.sub(tf.relu(logits), tf.log(tf.sigmoid(tf.abs(logits)))), tf.mul(logits, xL)).sum(1);
    const dLogits = (native?.grad ?? tf.mul(tf.sub(tf.sigmoid(logits), xL), 1 / rows)) as tf.Tensor2D;
    const recon = tf.div(tf.sum(nll), rows) as tf.Scalar;
    const variance = tf.square(sd);
    const kl = tf.mul(tf.sum(tf.sub(tf.add(tf.square(mu), variance), tf.add(logVar, 1))), 0.5 / B) as tf.Scalar;

    // Backward through a dense layer: its weight gradients, and ∂loss/∂(its input) unless not needed.
    const back = (layer: Dense, input: tf.Tensor2D, dOut: tf.Tensor2D, needInput: boolean): tf.Tensor2D | undefined => {
      grads[layer.W.name] = tf.keep(matMul(input, dOut, true, false));
      grads[layer.b.name] = tf.keep(columnSums(dOut));
      return needInput ? matMul(dOut, layer.W, false, true) : undefined;
    };
    let dh = back(vae.decOut, h, dLogits, true)!;
    for (let i = vae.decoder.length - 1; i >= 0; i--) {
      const da = tf.mul(dh, activationDerivative(decOut[i], act)) as tf.Tensor2D;
      dh = back(vae.decoder[i], decIn[i], da, true)!;
    }
    // dh is now ∂loss/∂z; through z = μ + σ ε to μ and log σ², plus the KL's own gradient.
    const sumSamples = (t: tf.Tensor2D) => (samples === 1 ? t : (tf.sum(tf.reshape(t, [samples, B, D]), 0) as tf.Tensor2D));
    const dMu = tf.add(sumSamples(dh), tf.mul(mu, beta / B)) as tf.Tensor2D;
    const dLogVar = tf.add(tf.mul(sumSamples(tf.mul(dh, eps) as tf.Tensor2D), tf.mul(sd, 0.5)), tf.mul(tf.sub(variance, 1), (0.5 * beta) / B)) as tf.Tensor2D;
    const encTop = vae.encoder.length > 0 ? encOut[encOut.length - 1] : x;
    const needInput = vae.encoder.length > 0;
    const dFromMu = back(vae.encMu, encTop, dMu, needInput);
    const dFromLogVar = back(vae.encLogVar, encTop, dLogVar, needInput);
    if (needInput) {
      dh = tf.add(dFromMu!, dFromLogVar!) as tf.Tensor2D;
      for (let i = vae.encoder.length - 1; i >= 0; i--) {
        const da = tf.mul(dh, activationDerivative(encOut[i], act)) as tf.Tensor2D;
        // The first layer's input is data: no gradient for it.
        const d = back(vae.encoder[i], encIn[i], da, i > 0);
        if (d) dh = d;
      }
    }
    return { loss: tf.add(recon, tf.mul(kl, beta)) as tf.Scalar, recon, kl };
  });
  return { grads, ...result };
}
