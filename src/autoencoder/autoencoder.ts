/**
 * A plain (deterministic) autoencoder: the VAE's MLP with the sampling taken out. The encoder maps an image
 * to ONE code z = f(x) (no mean and variance, no noise), the decoder maps a code to pixel logits, and
 * training minimises the reconstruction loss alone — the same Bernoulli negative log-likelihood (binary
 * cross-entropy summed over pixels, nats per image) as the VAE's reconstruction term, so the two numbers
 * compare. There is no prior on z and no KL term: nothing says where codes should lie, or that the space
 * between them should decode to anything. Notebook 06 shows what that means.
 *
 * The layers, activations, initialisation and optimiser are the VAE's (vae/model.ts's dense op with its
 * written-out gradient, engine/optimizer.ts's Adam, data/mnist.ts's batches), so an AE and a VAE of the same
 * `hiddenDims` and `latentDim` differ only in what the loss asks of the code.
 */
import * as tf from "../engine/tf";
import { batchTensor, meanOverSet, MnistSet } from "../data/mnist";
import { createAdam } from "../engine/optimizer";
import { Rng } from "../engine/random";
import { tidyValue } from "../engine/tidy";
import { Activation, activate, ACTIVATIONS, bernoulliNll, Dense, denseOp } from "../vae/model";

export interface AutoencoderConfig {
  /** Pixels per image (784 for MNIST). */
  inputDim: number;
  /** Hidden layer widths of the encoder; the decoder mirrors them. */
  hiddenDims: number[];
  /** Size of the code z. */
  latentDim: number;
  activation: Activation;
  /** Seed of the weight initialisation. */
  seed: number;
}

export const DEFAULT_AUTOENCODER_CONFIG: AutoencoderConfig = {
  inputDim: 784,
  hiddenDims: [400],
  latentDim: 2,
  activation: "relu",
  seed: 0,
};

const dense = denseOp(true);
const denseOnData = denseOp(false);

export class Autoencoder {
  /** tfjs variable names must be unique in a process: each model's are prefixed ae0/, ae1/, … */
  private static count = 0;
  readonly config: AutoencoderConfig;
  readonly encoder: Dense[];
  readonly encOut: Dense;
  readonly decoder: Dense[];
  readonly decOut: Dense;

  /** Weights initialised as the VAE's (and PyTorch's nn.Linear): weights and biases uniform on ±1/√fan_in. */
  constructor(config: Partial<AutoencoderConfig> = {}) {
    this.config = { ...DEFAULT_AUTOENCODER_CONFIG, ...config, hiddenDims: [...(config.hiddenDims ?? DEFAULT_AUTOENCODER_CONFIG.hiddenDims)] };
    const c = this.config;
    const posInt = (v: number) => Number.isInteger(v) && v > 0;
    if (!posInt(c.inputDim)) throw new Error(`inputDim must be a positive integer (got ${c.inputDim})`);
    if (!posInt(c.latentDim)) throw new Error(`latentDim must be a positive integer (got ${c.latentDim})`);
    if (!c.hiddenDims.every(posInt)) throw new Error(`hiddenDims must be positive integers (got ${c.hiddenDims.join(",")})`);
    if (!ACTIVATIONS.includes(c.activation)) throw new Error(`activation must be one of ${ACTIVATIONS.join(", ")} (got ${c.activation})`);
    const rng = new Rng(c.seed);
    const uid = `ae${Autoencoder.count++}`;
    const layer = (fanIn: number, fanOut: number, name: string): Dense => {
      const bound = 1 / Math.sqrt(fanIn);
      return tf.tidy(() => ({
        W: tf.variable(tf.randomUniform([fanIn, fanOut], -bound, bound, "float32", rng.nextSeed()), true, `${uid}/${name}/W`) as tf.Variable<tf.Rank.R2>,
        b: tf.variable(tf.randomUniform([fanOut], -bound, bound, "float32", rng.nextSeed()), true, `${uid}/${name}/b`) as tf.Variable<tf.Rank.R1>,
      }));
    };
    let width = c.inputDim;
    this.encoder = c.hiddenDims.map((h, i) => {
      const l = layer(width, h, `enc${i}`);
      width = h;
      return l;
    });
    this.encOut = layer(width, c.latentDim, "code");
    width = c.latentDim;
    this.decoder = [...c.hiddenDims].reverse().map((h, i) => {
      const l = layer(width, h, `dec${i}`);
      width = h;
      return l;
    });
    this.decOut = layer(width, c.inputDim, "out");
  }

  /** The code z = f(x), [batch, latentDim]. */
  encode(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor = x;
      this.encoder.forEach((l, i) => {
        h = activate((i === 0 ? denseOnData : dense)(h, l.W, l.b), this.config.activation);
      });
      return (this.encoder.length === 0 ? denseOnData : dense)(h, this.encOut.W, this.encOut.b);
    });
  }

  /** Pixel logits of the reconstruction from codes z, [batch, inputDim]. */
  decode(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor = z;
      for (const l of this.decoder) h = activate(dense(h, l.W, l.b), this.config.activation);
      return dense(h, this.decOut.W, this.decOut.b);
    });
  }

  /** Pixel intensities of the reconstruction: sigmoid of the decoder's logits. */
  decodeMean(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.sigmoid(this.decode(z)));
  }

  /** All trainable variables, in a fixed order. */
  variables(): tf.Variable[] {
    return [...this.encoder, this.encOut, ...this.decoder, this.decOut].flatMap((l) => [l.W, l.b]);
  }

  parameterCount(): number {
    return this.variables().reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}

/**
 * The autoencoder's loss on a batch: binary cross-entropy between x and the reconstruction's pixel
 * intensities, summed over pixels and averaged over images (nats per image; the VAE's reconstruction term
 * with z = f(x) instead of a sample). The caller disposes the result.
 */
export function autoencoderLoss(ae: Autoencoder, x: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => bernoulliNll(ae.decode(ae.encode(x)), x).mean() as tf.Scalar);
}

export interface AutoencoderTrainOptions {
  epochs: number;
  batchSize?: number;
  /** Adam learning rate. */
  lr?: number;
  /** Seed of the shuffling (and of dynamic binarisation, if the set uses it). */
  seed?: number;
  /** Called after every epoch with its record and the history so far. */
  onEpoch?: (record: AutoencoderEpochRecord, history: AutoencoderEpochRecord[]) => void;
}

export interface AutoencoderEpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's minibatches (weighted by batch size), nats per image. */
  trainLoss: number;
  /** Test reconstruction loss, nats per image. */
  testLoss: number;
  /** Wall-clock seconds of the epoch's training (evaluation excluded). */
  seconds: number;
}

/** Mean reconstruction loss (nats per image) over a whole set, in batches. */
export function evaluateAutoencoder(ae: Autoencoder, set: MnistSet, options: { batchSize?: number; seed?: number } = {}): number {
  return meanOverSet(set, (x) => [autoencoderLoss(ae, x).dataSync()[0]], options)[0];
}

/**
 * Train `ae` on `train` with minibatch Adam (engine/optimizer.ts, PyTorch's defaults), evaluating on `test`
 * after every epoch. Throws if the loss stops being a finite number (the bad step is not applied).
 */
export function trainAutoencoder(ae: Autoencoder, train: MnistSet, test: MnistSet, options: AutoencoderTrainOptions): AutoencoderEpochRecord[] {
  const { epochs, batchSize = 128, lr = 1e-3 } = options;
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`epochs must be a positive integer (got ${epochs})`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`batchSize must be a positive integer (got ${batchSize})`);
  if (!(lr > 0)) throw new Error(`lr must be > 0 (got ${lr})`);
  if (train.pixels !== ae.config.inputDim) throw new Error(`the data have ${train.pixels} pixels per image but the model expects ${ae.config.inputDim}`);
  const rng = new Rng(options.seed ?? 0);
  const optimizer = createAdam(lr);
  const variables = ae.variables();
  const stepsPerEpoch = Math.ceil(train.count / batchSize);
  const history: AutoencoderEpochRecord[] = [];
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = rng.permutation(train.count);
      const t0 = performance.now();
      let sum = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        const idx = order.subarray(step * batchSize, Math.min((step + 1) * batchSize, train.count));
        const loss = tidyValue(() => {
          const x = batchTensor(train, idx, rng);
          const { value, grads } = tf.variableGrads(() => autoencoderLoss(ae, x), variables);
          const l = value.dataSync()[0];
          if (Number.isFinite(l)) optimizer.applyGradients(grads, variables);
          return l;
        });
        if (!Number.isFinite(loss)) throw new Error(`autoencoder training diverged: the loss became ${loss} at epoch ${epoch}, step ${step + 1} (try a lower learning rate)`);
        sum += loss * idx.length;
      }
      const seconds = (performance.now() - t0) / 1000;
      const record = { epoch, trainLoss: sum / train.count, testLoss: evaluateAutoencoder(ae, test), seconds };
      history.push(record);
      options.onEpoch?.(record, history);
    }
  } finally {
    optimizer.dispose();
  }
  return history;
}

/** Codes z = f(x) of the first `limit` examples, as a [n × latentDim] row-major array. */
export function encodeCodes(ae: Autoencoder, set: MnistSet, options: { limit?: number; batchSize?: number } = {}): Float32Array {
  const n = Math.min(options.limit ?? set.count, set.count);
  const bs = options.batchSize ?? 1000;
  const D = ae.config.latentDim;
  const out = new Float32Array(n * D);
  const rng = new Rng(0);
  for (let start = 0; start < n; start += bs) {
    const m = Math.min(bs, n - start);
    out.set(tidyValue(() => ae.encode(batchTensor(set, Int32Array.from({ length: m }, (_, j) => start + j), rng)).dataSync()), start * D);
  }
  return out;
}

/** Decoded pixel intensities of the codes `z` ([n × latentDim] row-major): [n × inputDim]. */
export function decodeCodes(ae: Autoencoder, z: ArrayLike<number>): Float32Array {
  const D = ae.config.latentDim;
  if (z.length % D !== 0) throw new Error(`decodeCodes: ${z.length} numbers are not a whole number of ${D}-D codes`);
  return tidyValue(() => Float32Array.from(ae.decodeMean(tf.tensor2d(Array.from(z), [z.length / D, D])).dataSync()));
}
