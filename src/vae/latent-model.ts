/**
 * What evaluation, figures, the ELBO and checkpoints need of a VAE, whatever its layers: an encoder
 * x → (μ, log σ²) of q(z|x), a decoder z → logits (or pre-sigmoid means) of p(x|z), and its variables. The
 * MLP (model.ts) and the convolutional model (conv.ts) both satisfy it.
 */
import * as tf from "../engine/tf";
import type { Likelihood } from "./model";

export interface LatentModel {
  readonly config: {
    /** Pixels per image, flattened (784 for MNIST); inputs and decoder outputs are [batch, inputDim]. */
    readonly inputDim: number;
    readonly latentDim: number;
    readonly likelihood: Likelihood;
    /** Gaussian likelihood only: a fixed variance σ², or "learned" (then logNoiseVar). */
    readonly gaussianVariance: number | "learned";
  };
  /** Learned log σ² of a Gaussian likelihood (else undefined). */
  readonly logNoiseVar?: tf.Variable<tf.Rank.R0>;
  /** q(z|x): mean and log-variance, each [batch, latentDim]. */
  encode(x: tf.Tensor2D): { mu: tf.Tensor2D; logVar: tf.Tensor2D };
  /** p(x|z): logits (Bernoulli) or pre-sigmoid means (Gaussian), [batch, inputDim]. */
  decode(z: tf.Tensor2D): tf.Tensor2D;
  /** Pixel means of p(x|z): sigmoid of the decoder output. */
  decodeMean(z: tf.Tensor2D): tf.Tensor2D;
  /** All trainable variables, in a fixed order (the checkpoint's order). */
  variables(): tf.Variable[];
  parameterCount(): number;
  dispose(): void;
}
