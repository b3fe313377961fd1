/**
 * The conditional VAE (Sohn, Lee & Yan 2015, "Learning Structured Output Representation using Deep Conditional
 * Generative Models"; Doersch 2016, "Tutorial on Variational Autoencoders", §3): the encoder and the decoder
 * both also read a condition c — a digit's class as a one-hot vector, or the part of an image that is seen —
 * so the model is of p(x|c):
 *
 *   q(z|x, c) = N(μ(x, c), diag σ²(x, c)),   p(z|c) = N(0, I),   p(x|z, c) from the decoder,
 *   −ELBO(x|c) = E_q[−log p(x|z, c)] + KL(q(z|x, c) ‖ N(0, I)),
 *
 * a bound on −log p(x|c). The prior is the standard normal, as in Doersch's §3 (Sohn et al. also learn a prior
 * network p(z|c)). Each network reads c concatenated to its input: the encoder [x | c], the decoder [z | c].
 * For a fixed c, the model is an ordinary VAE: `given(c)` returns it as a LatentModel, so the ELBO, the IWAE
 * bound, evaluation and training (model.ts, iwae.ts, train.ts) work on it unchanged.
 */
import * as tf from "../engine/tf";
import { Rng, tfSeed } from "../engine/random";
import { tidyValue } from "../engine/tidy";
import type { LatentModel } from "./latent-model";
import { decodeMlp, DEFAULT_VAE_CONFIG, encodeMlp, initMlpLayers, MlpLayers, mlpVariables, VaeConfig, validateVaeConfig } from "./model";

export interface ConditionalVaeConfig extends VaeConfig {
  /** Length of the condition vector c (10 for a one-hot digit class). */
  conditionDim: number;
}

/** One-hot rows, [labels.length, classes]: row i has a 1 at column labels[i]. */
export function oneHot(labels: ArrayLike<number>, classes: number): tf.Tensor2D {
  if (!(Number.isInteger(classes) && classes >= 1)) throw new Error(`oneHot: classes must be a positive integer (got ${classes})`);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!(Number.isInteger(l) && l >= 0 && l < classes)) throw new Error(`oneHot: label ${l} (at ${i}) is not one of 0 … ${classes - 1}`);
  }
  // Written directly (tf.oneHot refuses a depth of 1, a condition with one class).
  const values = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) values[i * classes + labels[i]] = 1;
  return tf.tensor2d(values, [labels.length, classes]);
}

/**
 * c repeated to `rows` rows: c itself, or tiled m times when rows = m · (c's rows) (draw i of image b is row
 * i·B + b). The caller has checked that c's rows divide `rows` (ConditionalVae's checkCondition).
 */
function conditionRows(c: tf.Tensor2D, rows: number): tf.Tensor2D {
  return rows === c.shape[0] ? c : tf.tile(c, [rows / c.shape[0], 1]);
}

/** Refuses a number of rows seen that leaves no row seen or none to model. */
function checkRowsSeen(r: number, rows: number): void {
  if (!(Number.isInteger(r) && r >= 1 && r < rows)) throw new Error(`the rows seen must be an integer from 1 to ${rows - 1} (got ${r})`);
}

/** Its layers (encoder, encMu, …, logNoiseVar) are those of MlpLayers, made by initMlpLayers. */
export interface ConditionalVae extends MlpLayers {}

export class ConditionalVae {
  private static count = 0;
  readonly config: ConditionalVaeConfig;
  private disposed = false;

  /** Weights initialised as PyTorch's nn.Linear (uniform on ±1/√fan_in), as the Vae's are. */
  constructor(config: Partial<ConditionalVaeConfig> & { conditionDim: number }) {
    this.config = { ...DEFAULT_VAE_CONFIG, ...config, hiddenDims: [...(config.hiddenDims ?? DEFAULT_VAE_CONFIG.hiddenDims)] };
    const { inputDim, latentDim, conditionDim } = this.config;
    if (!(Number.isInteger(conditionDim) && conditionDim >= 1)) throw new Error(`conditionDim must be a positive integer (got ${conditionDim})`);
    validateVaeConfig(this.config, conditionDim);
    const layers = initMlpLayers(this.config, inputDim + conditionDim, latentDim + conditionDim, `cvae${ConditionalVae.count++}`);
    Object.assign(this, layers);
  }

  private checkCondition(c: tf.Tensor2D, rows: number, what: string): void {
    if (this.disposed) throw new Error(`ConditionalVae.${what}: this model was disposed (its weights are freed)`);
    if (c.rank !== 2 || c.shape[1] !== this.config.conditionDim) {
      throw new Error(`ConditionalVae.${what}: the condition has shape [${c.shape}], expected [rows, ${this.config.conditionDim}]`);
    }
    if (rows % c.shape[0] !== 0) throw new Error(`ConditionalVae.${what}: the condition has ${c.shape[0]} rows, which do not divide the ${rows} rows it is paired with`);
  }

  /** q(z|x, c): mean and log-variance, each [batch, latentDim], from the encoder applied to [x | c]. */
  encode(x: tf.Tensor2D, c: tf.Tensor2D): { mu: tf.Tensor2D; logVar: tf.Tensor2D } {
    this.checkCondition(c, x.shape[0], "encode");
    return tf.tidy(() => encodeMlp(this, tf.concat([x, conditionRows(c, x.shape[0])], 1), this.config.activation));
  }

  /** p(x|z, c): logits (Bernoulli) or pre-sigmoid means (Gaussian), [rows of z, inputDim], from the decoder applied to [z | c]. */
  decode(z: tf.Tensor2D, c: tf.Tensor2D): tf.Tensor2D {
    this.checkCondition(c, z.shape[0], "decode");
    return tf.tidy(() => decodeMlp(this, tf.concat([z, conditionRows(c, z.shape[0])], 1), this.config.activation));
  }

  /** Pixel means of p(x|z, c): sigmoid of the decoder output. */
  decodeMean(z: tf.Tensor2D, c: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.sigmoid(this.decode(z, c)));
  }

  /**
   * The model with the condition fixed to `c` ([B, conditionDim], one row per image of the batch it is used
   * with; rows of z drawn m times per image, row i·B + b, get c's row b): an ordinary VAE of p(x|c), for
   * negativeElbo, iwaeBound and the rest. It uses this model's weights and does not own `c`: the caller
   * disposes `c`, and the view's dispose() frees nothing.
   */
  given(c: tf.Tensor2D): LatentModel {
    this.checkCondition(c, c.shape[0], "given");
    const model = this;
    return {
      config: this.config,
      logNoiseVar: this.logNoiseVar,
      encode: (x) => model.encode(x, c),
      decode: (z) => model.decode(z, c),
      decodeMean: (z) => model.decodeMean(z, c),
      variables: () => model.variables(),
      parameterCount: () => model.parameterCount(),
      dispose: () => undefined,
    };
  }

  /** All trainable variables, in a fixed order. */
  variables(): tf.Variable[] {
    if (this.disposed) throw new Error("ConditionalVae.variables: this model was disposed (its weights are freed)");
    return mlpVariables(this);
  }

  parameterCount(): number {
    return this.variables().reduce((s, v) => s + v.size, 0);
  }

  /** Free the weights; the model cannot be used afterwards (a second dispose does nothing). */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.variables()) v.dispose();
    this.disposed = true;
  }
}

/**
 * What a conditional VAE is conditioned on when it trains on a set of images:
 * - `{ on: "class" }`: each image's class, one-hot (conditionDim = the set's class count); x is the image.
 * - `{ on: "top-rows", rows: r }`: the image's top r rows (conditionDim = r · cols · channels); x is the rest
 *   of the image, its bottom rows (inputDim = (rows − r) · cols · channels): the model completes an image
 *   from its top part, a variant of Sohn et al.'s MNIST task (which, like Pyro's CVAE tutorial, gives one to
 *   three quadrants of a digit and predicts the rest).
 */
export type Condition = { on: "class" } | { on: "top-rows"; rows: number };

/** An image batch [B, rows · cols · channels] split into its top r rows and the rest, each flattened row-major. */
export function splitRows(x: tf.Tensor2D, set: { rows: number; cols: number; channels: number }, r: number): { top: tf.Tensor2D; bottom: tf.Tensor2D } {
  checkRowsSeen(r, set.rows);
  const width = set.cols * set.channels;
  if (x.shape[1] !== set.rows * width) throw new Error(`splitRows: images of ${x.shape[1]} values, expected ${set.rows}·${width}`);
  const [top, bottom] = tf.split(x, [r * width, (set.rows - r) * width], 1) as tf.Tensor2D[];
  return { top, bottom };
}

/** The batch a model trains or is evaluated on: the model (a view with c fixed, for a conditional VAE) and its data x. */
export type BatchOf = (indices: ArrayLike<number>, images: tf.Tensor2D) => { model: LatentModel; x: tf.Tensor2D };

/**
 * How a model meets batches of `set`: a VAE gets the images as they are; a conditional VAE gets the view
 * `given(c)` and x as `condition` says (default: the class). Refused (before anything is allocated) where the
 * set does not fit: no labels, another class count, or a split whose sizes are not the model's.
 */
export function batchesFor(vae: LatentModel | ConditionalVae, set: { split: string; rows: number; cols: number; channels: number; pixels: number; labels: Int32Array; classNames: string[] }, given?: Condition): BatchOf {
  if (!(vae instanceof ConditionalVae)) {
    if (given) throw new Error(`a condition (${JSON.stringify(given)}) applies to a ConditionalVae only; this model takes no condition`);
    if (set.pixels !== vae.config.inputDim) throw new Error(`the data have ${set.pixels} pixels per image but the model expects ${vae.config.inputDim}`);
    return (_, images) => ({ model: vae, x: images });
  }
  const condition = given ?? { on: "class" };
  const { inputDim, conditionDim } = vae.config;
  if (condition.on === "class") {
    const K = set.classNames.length;
    if (K !== conditionDim) throw new Error(`the conditional VAE is conditioned on one of ${conditionDim} classes, but the ${set.split} set has ${K === 0 ? "no labels" : `${K} classes`}`);
    if (set.pixels !== inputDim) throw new Error(`the data have ${set.pixels} pixels per image but the model expects ${inputDim}`);
    return (indices, images) => ({ model: vae.given(oneHot(Array.from(indices, (i) => set.labels[i]), K)), x: images });
  }
  if (condition.on === "top-rows") {
    const r = condition.rows;
    checkRowsSeen(r, set.rows);
    const width = set.cols * set.channels;
    if (conditionDim !== r * width || inputDim !== (set.rows - r) * width) {
      throw new Error(`with the top ${r} rows of ${set.rows}×${set.cols} images seen, the model needs conditionDim ${r * width} and inputDim ${(set.rows - r) * width} (it has ${conditionDim} and ${inputDim})`);
    }
    return (_, images) => {
      const { top, bottom } = splitRows(images, set, r);
      return { model: vae.given(top), x: bottom };
    };
  }
  throw new Error(`unknown condition ${JSON.stringify(condition)}: use { on: "class" } or { on: "top-rows", rows }`);
}

/**
 * A class-conditional VAE's samples: `n` draws z from the prior N(0, I) (same seed → same draws), each decoded
 * under every class of `classes` (default all, 0 … conditionDim − 1): pixel means of p(x|z, c), class after
 * class ([classes.length · n × pixels], the n images of classes[0] first). Image j of every class has the same
 * z, so a column of the grid shows one code under each class.
 */
export function sampleClasses(vae: ConditionalVae, options: { n?: number; seed?: number; classes?: number[] } = {}): Float32Array {
  const { n = 10 } = options;
  const K = vae.config.conditionDim;
  const classes = options.classes ?? Array.from({ length: K }, (_, k) => k);
  if (!(Number.isSafeInteger(n) && n >= 1)) throw new Error(`sampleClasses: n must be a positive integer (got ${n})`);
  if (classes.length === 0) throw new Error("sampleClasses: no class to sample");
  const s = options.seed ?? new Rng().nextSeed();
  return tidyValue(() => {
    const z = tf.randomNormal([n, vae.config.latentDim], 0, 1, "float32", tfSeed(s)) as tf.Tensor2D;
    const zs = tf.tile(z, [classes.length, 1]) as tf.Tensor2D;
    const c = oneHot(classes.flatMap((k) => new Array<number>(n).fill(k)), K);
    return Float32Array.from(vae.decodeMean(zs, c).dataSync());
  });
}
