/**
 * Backpropagation written out for the VAE's training loss: the gradient of the negative ELBO (Bernoulli
 * likelihood, analytic KL) with respect to every weight, computed layer by layer the way a textbook derives
 * it, with no autodiff tape — for the reparameterized estimator and for the score-function estimators of
 * vae/encoder-gradients.ts.
 *
 * It is the same number as tf.variableGrads of negativeElbo() or of surrogateLoss() (the tests check every
 * variable, for every activation and estimator, deeper networks, β and L > 1), but it runs about half as
 * many kernels and none of the tape's bookkeeping (identity copies, zero-filled gradients, casts), so
 * trainVae and encoderGradient use it where it applies. With L samples per image (rows of z ordered
 * sample-major, as in negativeElbo), batch size B, and z = μ + σ ⊙ ε:
 *
 *   loss = (1/(L·B)) Σ_rows [−log p(x|z)] + β (1/B) Σ_images KL(q(z|x) ‖ N(0, I))
 *   ∂loss/∂logits  = (σ(logits) − x) / (L·B)                        (Bernoulli)
 *   ∂loss/∂a       = (∂loss/∂h) ⊙ f′(a), with f′ written from the layer's output h = f(a)
 *   ∂loss/∂W = hᵀ_in · ∂loss/∂a,   ∂loss/∂b = 1ᵀ · ∂loss/∂a,   ∂loss/∂h_in = ∂loss/∂a · Wᵀ
 *
 * and into the encoder's outputs, reparameterized (through z):
 *
 *   ∂loss/∂μ       = Σ_L ∂loss/∂z + β μ / B
 *   ∂loss/∂logσ²   = Σ_L ∂loss/∂z ⊙ ε ⊙ σ / 2 + β (σ² − 1) / (2B)
 *
 * or by the score function (z held fixed; f = log p(x|z) per row, b its baseline; ∇_μ log q = ε / σ and
 * ∇_{logσ²} log q = (ε² − 1) / 2):
 *
 *   ∂loss/∂μ       = −(1/(L·B)) Σ_L (f − b) ε / σ + β μ / B
 *   ∂loss/∂logσ²   = −(1/(L·B)) Σ_L (f − b) (ε² − 1) / 2 + β (σ² − 1) / (2B)
 */
import * as tf from "../engine/tf";
import { columnSums, matMulT } from "../engine/dense";
import { nativeBernoulliNll } from "../engine/native-kernels";
import { Rng, tfSeed } from "../engine/random";
import { activate, Activation, bernoulliNll, Dense, EncoderEstimator, LossOptions, Vae } from "./model";

/** Whether negativeElboGradients covers this model (the Bernoulli likelihood; any activation and depth). */
export function explicitGradientsSupported(vae: Vae): boolean {
  return vae.config.likelihood === "bernoulli";
}

/** f′(a) from h = f(a), for each activation of vae/model.ts. */
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

/** x·W + b. */
function affine(x: tf.Tensor2D, layer: Dense): tf.Tensor2D {
  return tf.add(tf.matMul(x, layer.W), layer.b) as tf.Tensor2D;
}

/** Through a stack of activated dense layers, keeping each layer's input and output for the backward pass. */
function forwardLayers(layers: Dense[], input: tf.Tensor2D, act: Activation) {
  const ins: tf.Tensor2D[] = [];
  const outs: tf.Tensor2D[] = [];
  let h = input;
  for (const l of layers) {
    ins.push(h);
    h = activate(affine(h, l), act) as tf.Tensor2D;
    outs.push(h);
  }
  return { ins, outs, top: h };
}

export interface GradientOptions extends LossOptions {
  /** How the encoder's gradient is estimated (vae/encoder-gradients.ts); the decoder's is the same for all. Default "reparam". */
  estimator?: EncoderEstimator;
  /** "encoder": only the encoder's variables (the decoder's weight gradients are not computed). Default "all". */
  variables?: "all" | "encoder";
}

export interface Gradients {
  grads: tf.NamedTensorMap;
  /** recon + β·kl, averaged over the batch (nats per image). */
  loss: tf.Scalar;
  recon: tf.Scalar;
  kl: tf.Scalar;
}

/**
 * The negative ELBO of batch `x` and its gradient (or, for a score-function estimator, that estimator of
 * it) for every variable of `vae`, keyed by variable name as tf.variableGrads returns them. The same ε as
 * negativeElbo() and surrogateLoss() with the same seed, so they agree. The caller disposes the tensors
 * (or calls this inside tf.tidy).
 */
export function negativeElboGradients(vae: Vae, x: tf.Tensor2D, options: GradientOptions = {}): Gradients {
  if (!explicitGradientsSupported(vae)) throw new Error("negativeElboGradients covers the Bernoulli likelihood only; use tf.variableGrads(negativeElbo)");
  const { beta = 1, samples = 1, estimator = "reparam", variables = "all" } = options;
  if (estimator === "score-loo" && samples < 2) throw new Error("the score-loo estimator needs samples ≥ 2");
  const seed = options.seed ?? new Rng().nextSeed();
  const act = vae.config.activation;
  const B = x.shape[0];
  const D = vae.config.latentDim;
  const decoderToo = variables === "all";
  return tf.tidy(() => {
    const grads: tf.NamedTensorMap = {};
    // Forward, keeping each layer's input and output.
    const enc = forwardLayers(vae.encoder, x, act);
    const encIn = enc.ins;
    const encOut = enc.outs;
    const mu = affine(enc.top, vae.encMu);
    const logVar = affine(enc.top, vae.encLogVar);
    const sd = tf.exp(tf.mul(logVar, 0.5)) as tf.Tensor2D;
    const eps = options.eps ?? (tf.randomNormal([samples * B, D], 0, 1, "float32", tfSeed(seed)) as tf.Tensor2D);
    const muL = samples === 1 ? mu : (tf.tile(mu, [samples, 1]) as tf.Tensor2D);
    const sdL = samples === 1 ? sd : (tf.tile(sd, [samples, 1]) as tf.Tensor2D);
    const z = tf.add(muL, tf.mul(sdL, eps)) as tf.Tensor2D;
    const decode = (input: tf.Tensor2D) => {
      const layers = forwardLayers(vae.decoder, input, act);
      return { ...layers, logits: affine(layers.top, vae.decOut) };
    };
    const dec = decode(z);
    const xL = samples === 1 ? x : (tf.tile(x, [samples, 1]) as tf.Tensor2D);
    const rows = samples * B;

    // The loss terms and ∂loss/∂logits: one native pass where available.
    const reparam = estimator === "reparam";
    const needLogitGrad = reparam || decoderToo;
    const native = nativeBernoulliNll(dec.logits, xL, needLogitGrad ? 1 / rows : undefined);
    const nll = native?.nll ?? bernoulliNll(dec.logits, xL);
    const recon = tf.div(tf.sum(nll), rows) as tf.Scalar;
    const variance = tf.square(sd);
    const kl = tf.mul(tf.sum(tf.sub(tf.add(tf.square(mu), variance), tf.add(logVar, 1))), 0.5 / B) as tf.Scalar;

    // Backward through a dense layer: its weight gradients (if wanted), and ∂loss/∂(its input) if needed.
    const back = (layer: Dense, input: tf.Tensor2D, dOut: tf.Tensor2D, weights: boolean, needInput: boolean): tf.Tensor2D | undefined => {
      if (weights) {
        grads[layer.W.name] = matMulT(input, dOut, true, false);
        grads[layer.b.name] = columnSums(dOut);
      }
      return needInput ? matMulT(dOut, layer.W, false, true) : undefined;
    };
    // The decoder: weight gradients if asked for, ∂loss/∂z if the estimator is the reparameterized one.
    let dz: tf.Tensor2D | undefined;
    if (needLogitGrad) {
      const dLogits = (native?.grad ?? tf.mul(tf.sub(tf.sigmoid(dec.logits), xL), 1 / rows)) as tf.Tensor2D;
      let dh = back(vae.decOut, dec.top, dLogits, decoderToo, reparam || vae.decoder.length > 0);
      for (let i = vae.decoder.length - 1; i >= 0 && dh; i--) {
        const da = tf.mul(dh, activationDerivative(dec.outs[i], act)) as tf.Tensor2D;
        dh = back(vae.decoder[i], dec.ins[i], da, decoderToo, reparam || i > 0);
      }
      dz = reparam ? dh : undefined;
    }

    // Into the encoder's outputs μ and log σ², plus the KL's own gradient.
    const sumSamples = (t: tf.Tensor) => (samples === 1 ? t : tf.sum(tf.reshape(t, [samples, B, D]), 0));
    let dMuData: tf.Tensor;
    let dLogVarData: tf.Tensor;
    if (dz) {
      dMuData = sumSamples(dz);
      dLogVarData = tf.mul(sumSamples(tf.mul(dz, eps)), tf.mul(sd, 0.5));
    } else {
      // Score function: a weight w = −(f − b)/(L·B) per row on ∇ log q(z|x).
      const f = tf.neg(nll);
      let baseline: tf.Tensor | undefined;
      if (estimator === "score-baseline") {
        const atMean = decode(mu).logits;
        baseline = tf.tile(tf.neg(bernoulliNll(atMean, x)), [samples]);
      } else if (estimator === "score-loo") {
        const fg = tf.reshape(f, [samples, B]);
        baseline = tf.reshape(tf.div(tf.sub(tf.sum(fg, 0, true), fg), samples - 1), [rows]);
      }
      const w = tf.expandDims(tf.mul(baseline ? tf.sub(f, baseline) : f, -1 / rows), 1);
      dMuData = tf.div(sumSamples(tf.mul(w, eps)), sd);
      dLogVarData = sumSamples(tf.mul(w, tf.mul(tf.sub(tf.square(eps), 1), 0.5)));
    }
    const dMu = tf.add(dMuData, tf.mul(mu, beta / B)) as tf.Tensor2D;
    const dLogVar = tf.add(dLogVarData, tf.mul(tf.sub(variance, 1), (0.5 * beta) / B)) as tf.Tensor2D;
    const deeper = vae.encoder.length > 0;
    const dFromMu = back(vae.encMu, enc.top, dMu, true, deeper);
    const dFromLogVar = back(vae.encLogVar, enc.top, dLogVar, true, deeper);
    if (deeper) {
      let dh = tf.add(dFromMu!, dFromLogVar!) as tf.Tensor2D;
      for (let i = vae.encoder.length - 1; i >= 0; i--) {
        const da = tf.mul(dh, activationDerivative(encOut[i], act)) as tf.Tensor2D;
        // The first layer's input is data: no gradient for it.
        const d = back(vae.encoder[i], encIn[i], da, true, i > 0);
        if (d) dh = d;
      }
    }
    return { grads, loss: tf.add(recon, tf.mul(kl, beta)) as tf.Scalar, recon, kl };
  });
}
