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
 * The same layers take any H × W whose sides are multiples of 4 from 8 to 1024 (the decoder's two
 * stride-2 layers double H/4 × W/4 twice): e.g. 32 × 32 gives [15, 15, 32], [7, 7, 64] in the encoder and
 * starts the decoder at [8, 8, 32] (convGeometry).
 *
 * Inputs and outputs are flattened [B, H · W · C] rows like the MLP's (model.ts; a pixel's channels side by
 * side, as the image sets hold them), so the ELBO, training,
 * evaluation, figures and checkpoints are shared through LatentModel. Weights are initialised as Keras does
 * (Glorot uniform, zero biases); test/reference/pytorch_conv_vae.py is the same model in PyTorch. Gradients
 * come from tfjs's autodiff; on the wasm backend the convolutions run wasm-conv.ts's kernels and, with the
 * native kernels, each ReLU layer's bias and activation one pass forward and one back (engine/bias.ts), the
 * two ReLU transposed convolutions' forward bias and ReLU inside the convolution kernel itself.
 */
import * as tf from "../engine/tf";
import { biasAdd, biasRelu, conv2dTransposeBiasRelu, conv2dTransposeBiasReluTranspose } from "../engine/bias";
import { Rng, tfSeed } from "../engine/random";
import type { LatentModel } from "./latent-model";

export interface ConvVaeConfig {
  arch: "conv";
  /** rows · cols · channels: the values of one image (784 for MNIST). */
  inputDim: number;
  /** Image height and width: multiples of 4 from 8 to 1024 [28 × 28; a checkpoint without them is 28 × 28]. */
  rows?: number;
  cols?: number;
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

export const DEFAULT_CONV_VAE_CONFIG: ConvVaeConfig = { arch: "conv", inputDim: 784, rows: 28, cols: 28, channels: 1, latentDim: 2, likelihood: "bernoulli", gaussianVariance: 1, seed: 0 };

/**
 * Why the convolutional VAE cannot take rows × cols images (undefined where it can): its decoder doubles
 * rows/4 × cols/4 twice, so both sides must be multiples of 4, and at least 8 for the encoder's two valid
 * 3×3 convolutions to leave a pixel.
 */
export function convSizeProblem(rows: number, cols: number): string | undefined {
  const ok = (n: number) => Number.isInteger(n) && n >= 8 && n <= 1024 && n % 4 === 0;
  if (ok(rows) && ok(cols)) return undefined;
  return `the convolutional VAE takes images whose height and width are multiples of 4 from 8 to 1024 (28×28, 32×32, 64×48, …), not ${rows}×${cols}`;
}

/**
 * The sizes of the convolutional VAE's layers for its images: the encoder's two valid stride-2 outputs
 * (h1 × w1, h2 × w2) and the decoder's first grid (rows/4 × cols/4).
 */
export function convGeometry(c: Pick<ConvVaeConfig, "rows" | "cols">): { rows: number; cols: number; h1: number; w1: number; h2: number; w2: number; dh: number; dw: number } {
  const rows = c.rows ?? 28;
  const cols = c.cols ?? 28;
  const valid = (n: number) => Math.floor((n - 3) / 2) + 1;
  const [h1, w1] = [valid(rows), valid(cols)];
  return { rows, cols, h1, w1, h2: valid(h1), w2: valid(w1), dh: rows / 4, dw: cols / 4 };
}

export function validateConvVaeConfig(c: ConvVaeConfig): void {
  if (c.arch !== "conv") throw new Error(`arch must be "conv" (got ${c.arch})`);
  const C = c.channels ?? 1;
  if (!(Number.isInteger(C) && C >= 1 && C <= 4)) throw new Error(`channels must be 1 to 4 (1 grey, 3 colour; got ${c.channels})`);
  const { rows, cols } = convGeometry(c);
  const problem = convSizeProblem(rows, cols);
  if (problem) throw new Error(problem);
  if (c.inputDim !== rows * cols * C) throw new Error(`the convolutional VAE of ${rows}×${cols} images of ${C} channel${C === 1 ? "" : "s"} takes inputDim ${rows * cols * C} (got ${c.inputDim})`);
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
  const { h2, w2, dh, dw } = convGeometry(c);
  const layers: [string, number[], number][] = [
    ["conv1", [3, 3, C, 32], 32],
    ["conv2", [3, 3, 32, 64], 64],
    ["enc", [h2 * w2 * 64, 2 * z], 2 * z],
    ["dec", [z, dh * dw * 32], dh * dw * 32],
    ["deconv1", [3, 3, 64, 32], 64],
    ["deconv2", [3, 3, 32, 64], 32],
    ["deconv3", [3, 3, C, 32], C],
  ];
  return layers.flatMap(([name, shape, units]) => [
    { name: `${name}/W`, shape },
    { name: `${name}/b`, shape: [units] },
  ]);
}

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
    // The input size follows the image size and the channels where it is not given (rows · cols · C).
    const channels = config.channels ?? 1;
    const { rows, cols } = convGeometry(config);
    this.config = { ...DEFAULT_CONV_VAE_CONFIG, inputDim: rows * cols * channels, ...config, rows, cols, channels } as ConvVaeConfig;
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
    this.conv1 = layer([3, 3, channels, 32], 9 * channels, 9 * 32, 32, "conv1");
    this.conv2 = layer([3, 3, 32, 64], 9 * 32, 9 * 64, 64, "conv2");
    const { h2, w2, dh, dw } = convGeometry(this.config);
    this.encOut = layer([h2 * w2 * 64, 2 * z], h2 * w2 * 64, 2 * z, 2 * z, "enc");
    this.decIn = layer([z, dh * dw * 32], z, dh * dw * 32, dh * dw * 32, "dec");
    this.deconv1 = layer([3, 3, 64, 32], 9 * 32, 9 * 64, 64, "deconv1");
    this.deconv2 = layer([3, 3, 32, 64], 9 * 64, 9 * 32, 32, "deconv2");
    this.deconv3 = layer([3, 3, channels, 32], 9 * 32, 9 * channels, channels, "deconv3");
  }

  /** Channels of an image: 1 grey, 3 colour. */
  get channels(): number {
    return this.config.channels ?? 1;
  }

  encode(x: tf.Tensor2D): { mu: tf.Tensor2D; logVar: tf.Tensor2D } {
    return tf.tidy(() => {
      const B = x.shape[0];
      const g = convGeometry(this.config);
      const img = x.reshape([B, g.rows, g.cols, this.channels]) as tf.Tensor4D;
      const h1 = biasRelu(tf.conv2d(img, this.conv1.W as tf.Tensor4D, 2, "valid"), this.conv1.b);
      const h2 = biasRelu(tf.conv2d(h1, this.conv2.W as tf.Tensor4D, 2, "valid"), this.conv2.b);
      const out = biasAdd(tf.matMul(h2.reshape([B, g.h2 * g.w2 * 64]), this.encOut.W as tf.Tensor2D), this.encOut.b);
      const z = this.config.latentDim;
      return { mu: out.slice([0, 0], [B, z]) as tf.Tensor2D, logVar: out.slice([0, z], [B, z]) as tf.Tensor2D };
    });
  }

  decode(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const B = z.shape[0];
      const { rows, cols, dh, dw } = convGeometry(this.config);
      const h0 = biasRelu(tf.matMul(z, this.decIn.W as tf.Tensor2D), this.decIn.b).reshape([B, dh, dw, 32]) as tf.Tensor4D;
      // relu(conv2dTranspose(h) + b), in one native kernel where it runs (engine/bias.ts).
      const h1 = conv2dTransposeBiasRelu(h0, this.deconv1.W as tf.Tensor4D, this.deconv1.b, [B, 2 * dh, 2 * dw, 64], 2, "same");
      // conv2dTranspose(relu(conv2dTranspose(h1) + b2)): deconv2 and deconv3, whose backward passes meet in one
      // native kernel where it runs (engine/bias.ts); deconv3's bias after.
      const pre = conv2dTransposeBiasReluTranspose(
        h1,
        { filter: this.deconv2.W as tf.Tensor4D, bias: this.deconv2.b, shape: [B, rows, cols, 32], strides: 2 },
        { filter: this.deconv3.W as tf.Tensor4D, shape: [B, rows, cols, this.channels], strides: 1 },
        "same",
      );
      return biasAdd(pre, this.deconv3.b).reshape([B, rows * cols * this.channels]) as tf.Tensor2D;
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
