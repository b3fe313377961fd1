/**
 * A VAE with a discrete code: N categorical latent variables of K classes each (Jang, Gu & Poole 2016,
 * "Categorical reparameterization with Gumbel-softmax": N = 20, K = 10, MLP encoder 784-512-256 and a
 * mirrored decoder, a uniform prior). q(z|x) = Π_n Cat(z_n; softmax(ℓ_n(x))), p(x|z) Bernoulli.
 *
 *   −ELBO(x) = E_{q(z|x)}[−log p(x|z)] + KL(q(z|x) ‖ Uniform), KL = Σ_n Σ_k q_nk log(K q_nk) in closed form.
 *
 * The decoder's gradient is always the plain Monte Carlo one; the encoder's (through the expectation) is
 * one of five estimators, all with the same number L of samples of z per image:
 *
 * - "score": the score function, (f − 0) ∇ log q(z|x), f = −log p(x|z);
 * - "score-loo": the score function with the leave-one-out baseline (the mean f of the other L − 1
 *   samples of the same image: an input-dependent baseline that is free);
 * - "vimco": VIMCO (Mnih & Rezende 2016) on the L-sample bound log (1/L) Σ_i p(x, z_i)/q(z_i|x);
 * - "gumbel": Gumbel-softmax, the decoder sees relaxed samples softmax((ℓ + g)/τ), τ annealed;
 * - "st": straight-through Gumbel-softmax, one-hot forward and the relaxed gradient backward.
 *
 * Every estimator is evaluated the same way: the test −ELBO with discrete samples of z.
 */
import * as tf from "../engine/tf";
import { batchTensor, meanOverSet, MnistSet } from "../data/mnist";
import { columnSums, matMulT } from "../engine/dense";
import { createAdam } from "../engine/optimizer";
import { Rng } from "../engine/random";
import { tidyValue } from "../engine/tidy";
import { gumbelSoftmax, straightThrough, vimcoSignals } from "../prob/categorical";
import { bernoulliNll } from "./model";
import { TrainingDivergedError } from "./train";

import { CategoricalEstimator, CATEGORICAL_ESTIMATORS } from "./categorical-estimators";
export { CategoricalEstimator, CATEGORICAL_ESTIMATORS } from "./categorical-estimators";

export interface CategoricalVaeConfig {
  inputDim: number;
  /** Encoder hidden widths; the decoder mirrors them. */
  hiddenDims: number[];
  /** Categorical latent variables (N). */
  variables: number;
  /** Classes per variable (K). */
  classes: number;
  /** Seed of the weight initialisation. */
  seed: number;
}

export const DEFAULT_CATEGORICAL_VAE_CONFIG: CategoricalVaeConfig = { inputDim: 784, hiddenDims: [512, 256], variables: 20, classes: 10, seed: 0 };

interface Layer {
  W: tf.Variable<tf.Rank.R2>;
  b: tf.Variable<tf.Rank.R1>;
}

/** y = x·W + b, with its gradient in the products of engine/dense.ts (fast on every backend). */
const dense = tf.customGrad(((x: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D, save: (t: tf.Tensor[]) => void) => {
  save([x, W]);
  return {
    value: tf.add(tf.matMul(x, W), b),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, Ws] = saved as tf.Tensor2D[];
      return [matMulT(dy, Ws, false, true), matMulT(xs, dy, true, false), columnSums(dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, W: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/** The identity forward, a zero gradient backward (tf.stopGradient's role). */
const stopGradient = tf.customGrad(((x: tf.Tensor, save: (t: tf.Tensor[]) => void) => {
  save([]);
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)] };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;

export class CategoricalVae {
  private static count = 0;
  readonly config: CategoricalVaeConfig;
  readonly encoder: Layer[];
  readonly decoder: Layer[];

  /** Weights and biases uniform on ±1/√fan_in (PyTorch's nn.Linear initialisation). */
  constructor(config: Partial<CategoricalVaeConfig> = {}) {
    const c = { ...DEFAULT_CATEGORICAL_VAE_CONFIG, ...config, hiddenDims: [...(config.hiddenDims ?? DEFAULT_CATEGORICAL_VAE_CONFIG.hiddenDims)] };
    const posInt = (v: number) => Number.isInteger(v) && v > 0;
    if (![c.inputDim, c.variables, ...c.hiddenDims].every(posInt)) throw new Error("CategoricalVae: inputDim, variables and hiddenDims must be positive integers");
    if (!(Number.isInteger(c.classes) && c.classes >= 2)) throw new Error(`CategoricalVae: classes must be an integer ≥ 2 (got ${c.classes})`);
    this.config = c;
    const rng = new Rng(c.seed);
    const uid = `cvae${CategoricalVae.count++}`;
    const layer = (fanIn: number, fanOut: number, name: string): Layer => {
      const bound = 1 / Math.sqrt(fanIn);
      return tf.tidy(() => ({
        W: tf.variable(tf.randomUniform([fanIn, fanOut], -bound, bound, "float32", rng.nextSeed() || 1), true, `${uid}/${name}/W`) as tf.Variable<tf.Rank.R2>,
        b: tf.variable(tf.randomUniform([fanOut], -bound, bound, "float32", rng.nextSeed() || 1), true, `${uid}/${name}/b`) as tf.Variable<tf.Rank.R1>,
      }));
    };
    const code = c.variables * c.classes;
    const widths = [c.inputDim, ...c.hiddenDims, code];
    this.encoder = widths.slice(1).map((w, i) => layer(widths[i], w, `enc${i}`));
    const back = [code, ...[...c.hiddenDims].reverse(), c.inputDim];
    this.decoder = back.slice(1).map((w, i) => layer(back[i], w, `dec${i}`));
  }

  /** Code length N·K. */
  get codeSize(): number {
    return this.config.variables * this.config.classes;
  }

  /** Logits ℓ(x) of q(z|x), [B, N·K] (variable n owns columns nK … nK + K − 1). */
  encode(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = x;
      this.encoder.forEach((l, i) => {
        h = dense(h, l.W, l.b);
        if (i < this.encoder.length - 1) h = tf.relu(h);
      });
      return h;
    });
  }

  /** Bernoulli logits of p(x|z) for codes z, [B, N·K] (one-hot or relaxed). */
  decode(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let h: tf.Tensor2D = z;
      this.decoder.forEach((l, i) => {
        h = dense(h, l.W, l.b);
        if (i < this.decoder.length - 1) h = tf.relu(h);
      });
      return h;
    });
  }

  variables(): tf.Variable[] {
    return [...this.encoder, ...this.decoder].flatMap((l) => [l.W, l.b]);
  }

  encoderVariables(): tf.Variable[] {
    return this.encoder.flatMap((l) => [l.W, l.b]);
  }

  parameterCount(): number {
    return this.variables().reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}

/** KL(Π_n Cat(softmax(ℓ_n)) ‖ Uniform(K)^N) per row, Σ_n Σ_k q_nk (log q_nk + log K), from logits [B, N·K]. */
export function categoricalKlToUniform(logits: tf.Tensor2D, classes: number): tf.Tensor1D {
  return tf.tidy(() => {
    const [B, NK] = logits.shape;
    const logq = tf.logSoftmax(logits.reshape([B, NK / classes, classes]));
    return tf.exp(logq).mul(logq.add(Math.log(classes))).sum([1, 2]) as tf.Tensor1D;
  });
}

export interface CategoricalLossOptions {
  estimator: CategoricalEstimator;
  /** Samples of z per image (L); "score-loo" and "vimco" need L ≥ 2. */
  samples?: number;
  /** τ of the relaxation ("gumbel", "st"). */
  temperature?: number;
  seed: number;
}

export interface CategoricalLossTerms {
  /** The scalar whose gradient is the estimator's (a surrogate for the score-function estimators). */
  objective: tf.Scalar;
  /** The −ELBO estimate from this step's samples (relaxed samples for "gumbel"), nats per image. */
  loss: tf.Scalar;
  recon: tf.Scalar;
  kl: tf.Scalar;
}

export function checkCategoricalEstimator(estimator: CategoricalEstimator, samples: number): void {
  if (!CATEGORICAL_ESTIMATORS.includes(estimator)) throw new Error(`estimator must be one of ${CATEGORICAL_ESTIMATORS.join(", ")} (got ${estimator})`);
  if (!(Number.isInteger(samples) && samples >= 1)) throw new Error(`samples must be a positive integer (got ${samples})`);
  if ((estimator === "score-loo" || estimator === "vimco") && samples < 2) throw new Error(`estimator ${estimator} needs samples ≥ 2 (got ${samples})`);
}

/** log (1/n) Σ exp along axis 0. */
function logMeanExp0(t: tf.Tensor): tf.Tensor {
  return tf.sub(tf.logSumExp(t, 0), Math.log(t.shape[0]));
}

/**
 * The training objective of one minibatch under `estimator` (call inside tf.variableGrads). Gumbel noise
 * comes from tfjs's seeded uniform (a seed of 0 is replaced by 1, as tfjs treats 0 as "no seed").
 */
export function categoricalSurrogate(vae: CategoricalVae, x: tf.Tensor2D, options: CategoricalLossOptions): CategoricalLossTerms {
  const { estimator, samples: L = 1, temperature = 1 } = options;
  checkCategoricalEstimator(estimator, L);
  const { variables: N, classes: K } = vae.config;
  return tf.tidy(() => {
    const B = x.shape[0];
    const logits = vae.encode(x).reshape([B, N, K]);
    const kl = categoricalKlToUniform(logits.reshape([B, N * K]) as tf.Tensor2D, K).mean() as tf.Scalar;
    const logitsL = tf.tile(logits, [L, 1, 1]); // row s·B + b: sample s of image b
    const xL = (L === 1 ? x : tf.tile(x, [L, 1])) as tf.Tensor2D;
    // u is kept inside [1e-7, 1 − 1e-7]: a float32 draw can round to 1, and −log(−log 1) = +∞ turns the relaxed sample into NaN.
    const u = tf.clipByValue(tf.randomUniform([L * B, N, K], 0, 1, "float32", options.seed || 1), 1e-7, 1 - 1e-7);
    const g = tf.neg(tf.log(tf.neg(tf.log(u))));
    if (estimator === "gumbel" || estimator === "st") {
      const y = gumbelSoftmax(logitsL, g, temperature);
      const z = estimator === "st" ? straightThrough(y) : y;
      const f = bernoulliNll(vae.decode(z.reshape([L * B, N * K]) as tf.Tensor2D), xL);
      const recon = f.mean() as tf.Scalar;
      const loss = recon.add(kl) as tf.Scalar;
      return { objective: loss, loss, recon, kl };
    }
    const z = tf.oneHot(tf.argMax(tf.add(logitsL, g), 2), K).toFloat() as tf.Tensor3D;
    const f = bernoulliNll(vae.decode(z.reshape([L * B, N * K]) as tf.Tensor2D), xL); // [L·B]
    const recon = f.mean() as tf.Scalar;
    const loss = recon.add(kl) as tf.Scalar;
    const logq = tf.logSoftmax(logitsL).mul(z).sum([1, 2]); // log q(z_i|x), [L·B]
    const fS = stopGradient(f).reshape([L, B]);
    if (estimator === "vimco") {
      const logp = -N * Math.log(K);
      const logw = tf.neg(f).sub(logq).add(logp).reshape([L, B]);
      const bound = logMeanExp0(logw); // [B]
      // L̂ − L̂_{−i}: L̂_{−i} puts the mean of the other log weights in place of log w_i.
      const lw = stopGradient(logw);
      const others = lw.sum(0, true).sub(lw).div(L - 1); // [L, B]
      const eye = tf.eye(L).reshape([L, L, 1]);
      const replaced = tf.add(tf.mul(lw.expandDims(0), tf.sub(1, eye)), tf.mul(others.expandDims(1), eye)); // [i, j, B]
      const boundWithout = tf.sub(tf.logSumExp(replaced, 1), Math.log(L)); // [L, B]
      const signal = stopGradient(tf.sub(bound.expandDims(0), boundWithout));
      const surrogate = bound.mean().add(signal.mul(logq.reshape([L, B])).sum(0).mean());
      return { objective: tf.neg(surrogate) as tf.Scalar, loss, recon, kl };
    }
    let signal: tf.Tensor = fS;
    if (estimator === "score-loo") signal = fS.sub(fS.sum(0, true).sub(fS).div(L - 1));
    // Mean over samples and images of f (the decoder's gradient) + signal · log q (the encoder's), + KL.
    const objective = recon.add(signal.mul(logq.reshape([L, B])).mean()).add(kl) as tf.Scalar;
    return { objective, loss, recon, kl };
  });
}

/** VIMCO's signals for one image's log weights (re-exported for checks against prob/categorical). */
export { vimcoSignals };

export interface CategoricalEvaluation {
  /** −ELBO per image (nats), discrete z, one sample per image. */
  loss: number;
  recon: number;
  kl: number;
}

/** The −ELBO of a set with discrete samples of z (the same for every estimator), in batches. */
export function evaluateCategoricalElbo(
  vae: CategoricalVae,
  set: MnistSet,
  options: { batchSize?: number; seed?: number; onProgress?: (done: number, total: number) => void } = {},
): CategoricalEvaluation {
  const [loss, recon, kl] = meanOverSet(set, (x, rng) => {
    const t = categoricalSurrogate(vae, x, { estimator: "score", samples: 1, seed: rng.nextSeed() });
    return [t.loss.dataSync()[0], t.recon.dataSync()[0], t.kl.dataSync()[0]];
  }, options);
  return { loss, recon, kl };
}

export interface EncoderGradientStats {
  /** Mean over encoder parameters of the variance of one minibatch gradient estimate. */
  variance: number;
  /**
   * Signal-to-noise ratio of the encoder's gradient as a vector: ‖E g‖ / √(tr Cov g), with ‖E g‖² estimated
   * without the noise's share (‖ḡ‖² − tr Σ̂ / R). Above 1, one estimate points mostly the right way.
   */
  snr: number;
  repeats: number;
}

/**
 * The spread of the encoder's gradient under `estimator` on one fixed minibatch: `repeats` estimates with
 * fresh noise, summarised per parameter (variance, |mean|/sd) and averaged over the encoder's parameters.
 */
export function categoricalEncoderGradientStats(
  vae: CategoricalVae,
  x: tf.Tensor2D,
  options: Omit<CategoricalLossOptions, "seed"> & { repeats: number; seed?: number },
): EncoderGradientStats {
  const { repeats } = options;
  if (!(Number.isInteger(repeats) && repeats >= 2)) throw new Error(`repeats must be an integer ≥ 2 (got ${repeats})`);
  const rng = new Rng(options.seed ?? 0);
  const vars = vae.encoderVariables();
  const size = vars.reduce((s, v) => s + v.size, 0);
  const sum = new Float64Array(size);
  const sumSq = new Float64Array(size);
  for (let r = 0; r < repeats; r++) {
    tidyValue(() => {
      const { grads } = tf.variableGrads(() => categoricalSurrogate(vae, x, { ...options, seed: rng.nextSeed() }).objective, vars);
      let off = 0;
      for (const v of vars) {
        const d = grads[v.name].dataSync();
        for (let i = 0; i < d.length; i++) {
          sum[off + i] += d[i];
          sumSq[off + i] += d[i] * d[i];
        }
        off += d.length;
      }
    });
  }
  let trace = 0;
  let meanSq = 0;
  for (let i = 0; i < size; i++) {
    const m = sum[i] / repeats;
    trace += Math.max(0, (sumSq[i] - repeats * m * m) / (repeats - 1));
    meanSq += m * m;
  }
  // ‖mean‖² over-counts the noise by tr Σ / R; remove it so pure noise has SNR ≈ 0.
  const signal = Math.max(0, meanSq - trace / repeats);
  return { variance: trace / size, snr: trace > 0 ? Math.sqrt(signal / trace) : Infinity, repeats };
}

export interface CategoricalTrainOptions {
  epochs: number;
  estimator: CategoricalEstimator;
  batchSize?: number;
  lr?: number;
  /** Samples of z per image (L), the same for every estimator. Default 2. */
  samples?: number;
  /** τ for "gumbel"/"st": annealed as τ_t = max(end, start·e^{−rt}) with r chosen so τ reaches `end` at the last step. Default 1 → 0.5. */
  temperature?: { start: number; end: number };
  seed?: number;
  /** Measure the encoder gradient's variance and SNR on a fixed training minibatch after every epoch. */
  gradientStats?: { repeats: number; batchSize?: number };
  onStep?: (p: { epoch: number; step: number; stepsPerEpoch: number; loss: number; temperature: number }) => void;
  onEpoch?: (record: CategoricalEpochRecord, history: CategoricalEpochRecord[]) => void;
}

export interface CategoricalEpochRecord {
  epoch: number;
  /** Mean training loss estimate (relaxed samples for "gumbel"), nats per image. */
  trainLoss: number;
  /** Test −ELBO with discrete z, nats per image. */
  testLoss: number;
  recon: number;
  kl: number;
  /** τ at the end of the epoch (relaxations only). */
  temperature: number | null;
  /** Wall-clock seconds of the epoch's training steps (evaluation and gradient statistics excluded). */
  seconds: number;
  gradient: EncoderGradientStats | null;
}

/** Train with Adam, evaluating the test −ELBO (discrete z) after every epoch. */
export function trainCategoricalVae(vae: CategoricalVae, train: MnistSet, test: MnistSet, options: CategoricalTrainOptions): CategoricalEpochRecord[] {
  const steps = trainCategoricalVaeSteps(vae, train, test, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** One step of categorical training, as trainCategoricalVaeSteps yields it. */
export interface CategoricalStepProgress {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  temperature: number;
}

/**
 * trainCategoricalVae one minibatch step at a time: yields each step's progress, returns the history. A
 * caller that must stay responsive (the CLI, which polls for Ctrl-C) drives it and gives the event loop
 * turns between steps; closing the generator early disposes the optimizer.
 */
export function* trainCategoricalVaeSteps(vae: CategoricalVae, train: MnistSet, test: MnistSet, options: CategoricalTrainOptions): Generator<CategoricalStepProgress, CategoricalEpochRecord[]> {
  const { epochs, estimator, batchSize = 100, lr = 1e-3, samples = 2 } = options;
  const { start: tau0, end: tauEnd } = options.temperature ?? { start: 1, end: 0.5 };
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`epochs must be a positive integer (got ${epochs})`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`batchSize must be a positive integer (got ${batchSize})`);
  if (!(lr > 0)) throw new Error(`lr must be > 0 (got ${lr})`);
  if (!(tau0 > 0 && tauEnd > 0 && tauEnd <= tau0)) throw new Error(`temperature: need start ≥ end > 0 (got ${tau0} → ${tauEnd})`);
  checkCategoricalEstimator(estimator, samples);
  if (train.pixels !== vae.config.inputDim) throw new Error(`the data have ${train.pixels} pixels per image but the model expects ${vae.config.inputDim}`);
  const relaxed = estimator === "gumbel" || estimator === "st";
  const rng = new Rng(options.seed ?? 0);
  const statsRng = new Rng((options.seed ?? 0) + 7919);
  const optimizer = createAdam(lr);
  const variables = vae.variables();
  const stepsPerEpoch = Math.ceil(train.count / batchSize);
  const totalSteps = epochs * stepsPerEpoch;
  const rate = totalSteps > 1 ? Math.log(tau0 / tauEnd) / (totalSteps - 1) : 0;
  const history: CategoricalEpochRecord[] = [];
  const statsIdx = Int32Array.from({ length: Math.min(options.gradientStats?.batchSize ?? batchSize, train.count) }, (_, i) => i);
  let t = 0;
  let tau = tau0;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = rng.permutation(train.count);
      const t0 = performance.now();
      let sum = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        tau = Math.max(tauEnd, tau0 * Math.exp(-rate * t));
        t += 1;
        const idx = order.subarray(step * batchSize, Math.min((step + 1) * batchSize, train.count));
        const l = tidyValue(() => {
          const x = batchTensor(train, idx, rng);
          let loss: tf.Scalar | undefined;
          const { grads } = tf.variableGrads(() => {
            const terms = categoricalSurrogate(vae, x, { estimator, samples, temperature: tau, seed: rng.nextSeed() });
            loss = tf.keep(terms.loss);
            return terms.objective;
          }, variables);
          const value = loss!.dataSync()[0];
          loss!.dispose();
          if (Number.isFinite(value)) optimizer.applyGradients(grads, variables);
          return value;
        });
        if (!Number.isFinite(l)) throw new TrainingDivergedError(epoch, step + 1, l);
        sum += l * idx.length;
        const progress = { epoch, step: step + 1, stepsPerEpoch, loss: l, temperature: tau };
        options.onStep?.(progress);
        yield progress;
      }
      const seconds = (performance.now() - t0) / 1000;
      const ev = evaluateCategoricalElbo(vae, test, { seed: rng.nextSeed() });
      const gradient = options.gradientStats
        ? tidyValue(() =>
            categoricalEncoderGradientStats(vae, batchTensor(train, statsIdx, statsRng), {
              estimator,
              samples,
              temperature: tau,
              repeats: options.gradientStats!.repeats,
              seed: statsRng.nextSeed(),
            }),
          )
        : null;
      const record: CategoricalEpochRecord = { epoch, trainLoss: sum / train.count, testLoss: ev.loss, recon: ev.recon, kl: ev.kl, temperature: relaxed ? tau : null, seconds, gradient };
      history.push(record);
      options.onEpoch?.(record, history);
    }
  } finally {
    optimizer.dispose();
  }
  return history;
}

/** The most probable class of each variable under q(z|x), for each image: [B][N]. */
export function encodeArgmax(vae: CategoricalVae, x: tf.Tensor2D): number[][] {
  const { variables: N, classes: K } = vae.config;
  return tidyValue(() => {
    const a = tf.argMax(vae.encode(x).reshape([x.shape[0], N, K]), 2).dataSync();
    return Array.from({ length: x.shape[0] }, (_, b) => Array.from(a.subarray(b * N, (b + 1) * N)));
  });
}

/** Decoder means (pixel probabilities) for codes given as class indices, [codes.length · inputDim]. */
export function decodeCategoricalCodes(vae: CategoricalVae, codes: number[][]): Float32Array {
  const { variables: N, classes: K } = vae.config;
  for (const c of codes) {
    if (c.length !== N || c.some((k) => !(Number.isInteger(k) && k >= 0 && k < K))) throw new Error(`decodeCategoricalCodes: each code must be ${N} class indices in 0..${K - 1}`);
  }
  return tidyValue(() => {
    const z = tf.oneHot(tf.tensor2d(codes, [codes.length, N], "int32"), K).toFloat().reshape([codes.length, N * K]) as tf.Tensor2D;
    return tf.sigmoid(vae.decode(z)).dataSync() as Float32Array;
  });
}

/** The K codes that equal `base` except variable `variable`, which takes each class 0 … K − 1 in turn. */
export function codeVariations(base: number[], variable: number, classes: number): number[][] {
  if (!(Number.isInteger(variable) && variable >= 0 && variable < base.length)) throw new Error(`codeVariations: variable must be in 0..${base.length - 1}`);
  return Array.from({ length: classes }, (_, k) => base.map((c, n) => (n === variable ? k : c)));
}

/** A code drawn from the uniform prior. */
export function samplePriorCode(vae: CategoricalVae, rng: Rng): number[] {
  return Array.from({ length: vae.config.variables }, () => rng.int(vae.config.classes));
}

/**
 * Decoded images of `base` with each of `variables` changed in turn through its K classes: one row per
 * variable, K images per row (pixel means), for imageGrid.
 */
export function codeVariationImages(vae: CategoricalVae, base: number[], variables: number[]): Float32Array {
  const codes = variables.flatMap((n) => codeVariations(base, n, vae.config.classes));
  return decodeCategoricalCodes(vae, codes);
}
