/**
 * The convolutional VAE of the TensorFlow convolutional-VAE tutorial (the architecture learners meet first, so numbers
 * compare), on 28 × 28 images of C channels (1 grey, as in the tutorial; 3 colour):
 *
 *   encoder  x [B, 28, 28, C] → Conv 32 3×3 stride 2 (valid), ReLU → [B, 13, 13, 32]
 *            → Conv 64 3×3 stride 2 (valid), ReLU → [B, 6, 6, 64] → flatten → Dense 2·z → (μ, log σ²)
 *   decoder  z → Dense 7·7·32, ReLU → [B, 7, 7, 32]
 *            → transposed Conv 64 3×3 stride 2 (same), ReLU → [B, 14, 14, 64]
 *            → transposed Conv 32 3×3 stride 2 (same), ReLU → [B, 28, 28, 32]
 *            → transposed Conv C 3×3 stride 1 (same) → Bernoulli logits [B, 784 · C], one per pixel and channel
 *
 * Inputs and outputs are flattened [B, 784 · C] rows like the MLP's (model.ts; a pixel's channels side by
 * side, as the image sets hold them), so the ELBO, training,
 * evaluation, figures and checkpoints are shared through LatentModel. Weights are initialised as Keras does
 * (Glorot uniform, zero biases); test/reference/pytorch_conv_vae.py is the same model in PyTorch. Gradients
 * come from tfjs's autodiff; on the wasm backend the convolutions run wasm-conv.ts's kernels.
 */
import * as tf from "../engine/tf";
import { columnSums } from "../engine/dense";
import { Rng, tfSeed } from "../engine/random";
import type { LatentModel } from "./latent-model";

export interface ConvVaeConfig {
  arch: "conv";
  /** 784 · channels: images are 28 × 28 × channels (the architecture's strides fix the size). */
  inputDim: number;
  /**
   * Channels of an image: 1 grey, 3 colour (red, green, blue), each value with its own Bernoulli [1]. A
   * checkpoint written before colour came has none, and is grey.
   */
  channels?: number;
  latentDim: number;
  likelihood: "bernoulli";
  gaussianVariance: 1;
  /** Seed of the weight initialisation. */
  seed: number;
}

export const DEFAULT_CONV_VAE_CONFIG: ConvVaeConfig = { arch: "conv", inputDim: 784, channels: 1, latentDim: 2, likelihood: "bernoulli", gaussianVariance: 1, seed: 0 };

export function validateConvVaeConfig(c: ConvVaeConfig): void {
  if (c.arch !== "conv") throw new Error(`arch must be "conv" (got ${c.arch})`);
  const C = c.channels ?? 1;
  if (!(Number.isInteger(C) && C >= 1 && C <= 4)) throw new Error(`channels must be 1 to 4 (1 grey, 3 colour; got ${c.channels})`);
  if (c.inputDim !== 784 * C) throw new Error(`the convolutional VAE takes 28×28 images (inputDim 784 · channels = ${784 * C}, got ${c.inputDim})`);
  if (!(Number.isInteger(c.latentDim) && c.latentDim > 0)) throw new Error(`latentDim must be a positive integer (got ${c.latentDim})`);
  if (c.likelihood !== "bernoulli") throw new Error(`the convolutional VAE has a Bernoulli likelihood (got ${c.likelihood})`);
}

/**
 * The names and shapes of a convolutional VAE's variables in the order of ConvVae.variables(), from its
 * configuration alone (checkpoints are checked against it before a model is built).
 */
export function convWeightLayout(c: ConvVaeConfig): { name: string; shape: number[] }[] {
  const z = c.latentDim;
  const C = c.channels ?? 1;
  const layers: [string, number[], number][] = [
    ["conv1", [3, 3, C, 32], 32],
    ["conv2", [3, 3, 32, 64], 64],
    ["enc", [6 * 6 * 64, 2 * z], 2 * z],
    ["dec", [z, 7 * 7 * 32], 7 * 7 * 32],
    ["deconv1", [3, 3, 64, 32], 64],
    ["deconv2", [3, 3, 32, 64], 32],
    ["deconv3", [3, 3, C, 32], C],
  ];
  return layers.flatMap(([name, shape, units]) => [
    { name: `${name}/W`, shape },
    { name: `${name}/b`, shape: [units] },
  ]);
}

/**
 * x + b over the last (channel) axis, with the bias gradient written out as column sums of dy seen as a
 * [pixels, channels] matrix (one product with a ones row where BLAS runs). tfjs's own gradient of the
 * broadcast add is a Sum over the batch and both image axes, which the wasm backend runs slowly (530 of the
 * 3300 ms of a training step at [128, 28, 28, 32], measured under load).
 */
const biasAdd = tf.customGrad(((x: tf.Tensor, b: tf.Tensor1D) => ({
  value: tf.add(x, b),
  gradFunc: (dy: tf.Tensor) => [dy, columnSums(dy.reshape([-1, b.shape[0]]) as tf.Tensor2D)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as <T extends tf.Tensor>(x: T, b: tf.Tensor1D) => T;

interface Layer {
  W: tf.Variable;
  b: tf.Variable<tf.Rank.R1>;
}

export class ConvVae implements LatentModel {
  private static count = 0;
  readonly config: ConvVaeConfig;
  readonly conv1: Layer;
  readonly conv2: Layer;
  readonly encOut: Layer;
  readonly decIn: Layer;
  readonly deconv1: Layer;
  readonly deconv2: Layer;
  readonly deconv3: Layer;

  constructor(config: Partial<Omit<ConvVaeConfig, "arch">> & { arch?: "conv" } = {}) {
    // The input size follows the channels where it is not given (784 · C).
    const channels = config.channels ?? 1;
    this.config = { ...DEFAULT_CONV_VAE_CONFIG, inputDim: 784 * channels, ...config, channels } as ConvVaeConfig;
    validateConvVaeConfig(this.config);
    const rng = new Rng(this.config.seed);
    const uid = `convvae${ConvVae.count++}`;
    const z = this.config.latentDim;
    /** Glorot uniform on ±√(6 / (fanIn + fanOut)), zero bias (Keras's defaults). */
    const layer = (shape: number[], fanIn: number, fanOut: number, units: number, name: string): Layer => {
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      return tf.tidy(() => ({
        W: tf.variable(tf.randomUniform(shape, -bound, bound, "float32", tfSeed(rng.nextSeed())), true, `${uid}/${name}/W`),
        b: tf.variable(tf.zeros([units]), true, `${uid}/${name}/b`) as tf.Variable<tf.Rank.R1>,
      }));
    };
    // Conv filters [3, 3, in, out]; transposed-conv filters [3, 3, out, in] (tf.conv2dTranspose's layout).
    const C = channels;
    this.conv1 = layer([3, 3, C, 32], 9 * C, 9 * 32, 32, "conv1");
    this.conv2 = layer([3, 3, 32, 64], 9 * 32, 9 * 64, 64, "conv2");
    this.encOut = layer([6 * 6 * 64, 2 * z], 6 * 6 * 64, 2 * z, 2 * z, "enc");
    this.decIn = layer([z, 7 * 7 * 32], z, 7 * 7 * 32, 7 * 7 * 32, "dec");
    this.deconv1 = layer([3, 3, 64, 32], 9 * 32, 9 * 64, 64, "deconv1");
    this.deconv2 = layer([3, 3, 32, 64], 9 * 64, 9 * 32, 32, "deconv2");
    this.deconv3 = layer([3, 3, C, 32], 9 * 32, 9 * C, C, "deconv3");
  }

  /** Channels of an image: 1 grey, 3 colour. */
  get channels(): number {
    return this.config.channels ?? 1;
  }

  encode(x: tf.Tensor2D): { mu: tf.Tensor2D; logVar: tf.Tensor2D } {
    return tf.tidy(() => {
      const B = x.shape[0];
      const img = x.reshape([B, 28, 28, this.channels]) as tf.Tensor4D;
      const h1 = tf.relu(biasAdd(tf.conv2d(img, this.conv1.W as tf.Tensor4D, 2, "valid"), this.conv1.b));
      const h2 = tf.relu(biasAdd(tf.conv2d(h1, this.conv2.W as tf.Tensor4D, 2, "valid"), this.conv2.b));
      const out = biasAdd(tf.matMul(h2.reshape([B, 6 * 6 * 64]), this.encOut.W as tf.Tensor2D), this.encOut.b);
      const z = this.config.latentDim;
      return { mu: out.slice([0, 0], [B, z]) as tf.Tensor2D, logVar: out.slice([0, z], [B, z]) as tf.Tensor2D };
    });
  }

  decode(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const B = z.shape[0];
      const h0 = tf.relu(biasAdd(tf.matMul(z, this.decIn.W as tf.Tensor2D), this.decIn.b)).reshape([B, 7, 7, 32]) as tf.Tensor4D;
      const up = (h: tf.Tensor4D, l: Layer, shape: [number, number, number, number], stride: number) =>
        biasAdd(tf.conv2dTranspose(h, l.W as tf.Tensor4D, shape, stride, "same"), l.b);
      const h1 = tf.relu(up(h0, this.deconv1, [B, 14, 14, 64], 2));
      const h2 = tf.relu(up(h1, this.deconv2, [B, 28, 28, 32], 2));
      return up(h2, this.deconv3, [B, 28, 28, this.channels], 1).reshape([B, 784 * this.channels]) as tf.Tensor2D;
    });
  }

  decodeMean(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.sigmoid(this.decode(z)));
  }

  variables(): tf.Variable[] {
    return [this.conv1, this.conv2, this.encOut, this.decIn, this.deconv1, this.deconv2, this.deconv3].flatMap((l) => [l.W, l.b]);
  }

  parameterCount(): number {
    return this.variables().reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}
