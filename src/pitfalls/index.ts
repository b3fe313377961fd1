/**
 * Bugs that popular VAE write-ups carry, each as a function next to the correct computation, so notebook 11
 * can show what they do numerically. None of these is used by the library itself.
 *
 * All KL values are per latent vector, in nats; μ and σ are plain numbers or arrays.
 */
import * as tf from "@tensorflow/tfjs";
import { klToStandardNormal } from "../prob/kl";
import { tidyValue } from "../engine/tidy";

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Correct: KL(N(μ, σ²) ‖ N(0, 1)) summed over dimensions, ½ Σ (μ² + σ² − 1 − log σ²). */
export function klCorrect(mu: number[], sigma: number[]): number {
  return klToStandardNormal({ mu, sigma });
}

/**
 * Bug: the network outputs σ (e.g. through a softplus) but the code uses the log-variance formula
 * −½ Σ (1 + logVar − μ² − e^{logVar}) with σ plugged in as logVar.
 */
export function klSigmaAsLogVar(mu: number[], sigma: number[]): number {
  return -0.5 * sum(mu.map((m, d) => 1 + sigma[d] - m * m - Math.exp(sigma[d])));
}

/**
 * Bug (seed article 003's TensorFlow code): −½ Σ (−1 + log σ² + μ² − σ²): the signs of the 1 and of μ²
 * are flipped. It equals the true KL plus Σ (1 − μ²): it goes negative once |μ| > 1 (for σ = 1), so
 * minimising the loss pushes the codes away from the prior instead of towards it.
 */
export function klSignError(mu: number[], sigma: number[]): number {
  return -0.5 * sum(mu.map((m, d) => -1 + Math.log(sigma[d] ** 2) + m * m - sigma[d] ** 2));
}

/** Per-pixel BCE from logits, the correct way: max(l, 0) − l·x + log(1 + e^{−|l|}). */
export function bceWithLogits(logit: number, x: number): number {
  return Math.max(logit, 0) - logit * x + Math.log1p(Math.exp(-Math.abs(logit)));
}

/**
 * Bug: the decoder ends in a sigmoid and its output is then passed to a "with logits" cross-entropy, so the
 * probabilities used are σ(σ(l)) ∈ (0.5, 0.731): a black pixel can never be predicted.
 */
export function bceSigmoidTwice(logit: number, x: number): number {
  return bceWithLogits(1 / (1 + Math.exp(-logit)), x);
}

/**
 * The smallest loss an image can have with the correct BCE: each pixel's binary entropy
 * −x log x − (1−x) log(1−x) (0 for binary pixels; grey levels cannot be predicted exactly by a Bernoulli).
 */
export function bceFloor(image: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < image.length; i++) {
    const x = image[i];
    if (x > 0 && x < 1) s -= x * Math.log(x) + (1 - x) * Math.log(1 - x);
  }
  return s;
}

/**
 * The smallest loss an image can have under the sigmoid-twice bug: each pixel's best possible value,
 * minimised over its logit (σ(σ(l)) can only move within (0.5, 0.731)). Compare with 0 for the correct loss
 * on binary pixels.
 */
export function sigmoidTwiceFloor(image: ArrayLike<number>): number {
  // For pixel value x the loss in p = σ(σ(l)) is −x log p − (1−x) log(1−p), minimised at p = x clipped to the reachable range.
  const lo = 0.5;
  const hi = 1 / (1 + Math.exp(-1));
  let s = 0;
  for (let i = 0; i < image.length; i++) {
    const x = image[i];
    const p = Math.min(Math.max(x, lo), hi);
    s += -(x > 0 ? x * Math.log(p) : 0) - (x < 1 ? (1 - x) * Math.log(1 - p) : 0);
  }
  return s;
}

/**
 * Bug: reconstruction averaged over pixels (e.g. a default `reduction="mean"` or Keras's
 * binary_crossentropy) while the KL is summed over latent dimensions. Up to a constant factor the loss is
 * then recon + P · KL: a hidden β equal to the number of pixels P.
 */
export function hiddenBeta(pixels: number): number {
  return pixels;
}

/** The loss the "mean over pixels" bug computes, from per-image summed reconstruction and KL. */
export function lossMeanOverPixels(reconSum: number, kl: number, pixels: number): number {
  return reconSum / pixels + kl;
}

export interface VarianceFit {
  /** The variance after each step (NaN once it has gone non-positive and the log-density broke). */
  trace: number[];
  /** The step at which the variance became ≤ 0 (−1 if never). */
  brokeAt: number;
}

/**
 * Fitting q = N(m, v) to a target N(m, s²) by gradient ascent on −KL(q‖p), once with the variance v as the
 * parameter and once with log v. The gradient in v is 1/(2v) − 1/(2s²); a fixed step that is fine far from
 * the optimum overshoots below zero when s² is small. With log v the same step size can never leave v > 0.
 */
export function fitVariance(targetVar: number, options: { parameterisation: "variance" | "logVariance"; lr: number; steps: number; init?: number }): VarianceFit {
  let v = options.init ?? 1;
  const trace = [v];
  let brokeAt = -1;
  for (let t = 1; t <= options.steps; t++) {
    if (options.parameterisation === "variance") {
      v += options.lr * (1 / (2 * v) - 1 / (2 * targetVar));
    } else {
      v = Math.exp(Math.log(v) + options.lr * (0.5 - v / (2 * targetVar)));
    }
    if (!(v > 0)) {
      if (brokeAt < 0) brokeAt = t;
      v = NaN;
    }
    trace.push(v);
  }
  return { trace, brokeAt };
}

/** The same per-pixel losses on tensors: the correct BCE and the sigmoid-twice bug, summed per image. */
export function bceLossesTensor(logits: tf.Tensor2D, x: tf.Tensor2D): { correct: number[]; sigmoidTwice: number[] } {
  return tidyValue(() => {
    const bce = (l: tf.Tensor) => tf.relu(l).sub(l.mul(x)).add(tf.log1p(tf.exp(tf.neg(tf.abs(l))))).sum(1);
    return { correct: Array.from(bce(logits).dataSync()), sigmoidTwice: Array.from(bce(tf.sigmoid(logits)).dataSync()) };
  });
}
