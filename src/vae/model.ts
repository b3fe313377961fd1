/**
 * The variational autoencoder: an MLP encoder x → (μ, log σ²) of a diagonal Gaussian q(z|x), the
 * reparameterized sample z = μ + σ ⊙ ε, and an MLP decoder z → logits of p(x|z).
 *
 * The loss is the negative ELBO per image in nats — summed over pixels and latent dimensions, averaged over
 * the images of a batch — so its numbers compare directly with PyTorch's examples/vae and the papers:
 *
 *   −ELBO(x) = E_{q(z|x)}[−log p(x|z)] + β · KL(q(z|x) ‖ N(0, I)),
 *
 * with the expectation estimated from L reparameterized samples and the KL in closed form.
 */
import * as tf from "../engine/tf";
import { columnSums, matMulT } from "../engine/dense";
import { nativeBernoulliNll } from "../engine/native-kernels";
import { Rng, tfSeed } from "../engine/random";
import type { LatentModel } from "./latent-model";

import { Activation, ACTIVATIONS, Likelihood } from "./model-options";
export { Activation, ACTIVATIONS, Likelihood } from "./model-options";

export interface VaeConfig {
  /** Pixels per image (784 for MNIST). */
  inputDim: number;
  /** Hidden layer widths of the encoder; the decoder mirrors them. */
  hiddenDims: number[];
  latentDim: number;
  activation: Activation;
  /** "bernoulli": BCE on logits; "gaussian": mean sigmoid(logits), variance fixed or learned. */
  likelihood: Likelihood;
  /** Gaussian likelihood only: a fixed variance σ², or "learned" (one shared log σ² parameter). */
  gaussianVariance: number | "learned";
  /** Seed of the weight initialisation. */
  seed: number;
}

export const DEFAULT_VAE_CONFIG: VaeConfig = {
  inputDim: 784,
  hiddenDims: [400],
  latentDim: 20,
  activation: "relu",
  likelihood: "bernoulli",
  gaussianVariance: 1,
  seed: 0,
};

export interface Dense {
  W: tf.Variable<tf.Rank.R2>;
  b: tf.Variable<tf.Rank.R1>;
}

/**
 * y = x·W + b with its gradient written out: dW = xᵀ·dy, db = Σ dy, dx = dy·Wᵀ, in the forms of dense.ts
 * (the default gradient of tf.matMul multiplies with transposed operands, which the wasm backend runs 5–10×
 * slower). With `inputGrad: false` (the encoder's first layer, whose input is data) dx is not computed.
 */
export function denseOp(inputGrad: boolean) {
  return tf.customGrad(((x: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D, save: (t: tf.Tensor[]) => void) => {
    save([x, W]);
    return {
      value: tf.add(tf.matMul(x, W), b),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xs, Ws] = saved as tf.Tensor2D[];
        const dx = inputGrad ? matMulT(dy, Ws, false, true) : tf.zerosLike(xs);
        return [dx, matMulT(xs, dy, true, false), columnSums(dy)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, W: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;
}
const dense = denseOp(true);
const denseOnData = denseOp(false);

/** The activation function `a` applied elementwise. */
export function activate(x: tf.Tensor, a: Activation): tf.Tensor {
  switch (a) {
    case "relu":
      return tf.relu(x);
    case "tanh":
      return tf.tanh(x);
    case "softplus":
      return tf.softplus(x);
    case "elu":
      return tf.elu(x);
    case "leakyRelu":
      return tf.leakyRelu(x, 0.01);
    case "sigmoid":
      return tf.sigmoid(x);
  }
}

/**
 * Refuses a configuration that cannot be built, before anything is allocated. `conditionDim` (a conditional
 * VAE's, conditional.ts) is the length of the condition both networks read beside their inputs.
 */
export function validateVaeConfig(c: VaeConfig, conditionDim = 0): void {
  const posInt = (v: number) => Number.isInteger(v) && v > 0;
  if (!posInt(c.inputDim)) throw new Error(`inputDim must be a positive integer (got ${c.inputDim})`);
  if (!posInt(c.latentDim)) throw new Error(`latentDim must be a positive integer (got ${c.latentDim})`);
  if (!c.hiddenDims.every(posInt)) throw new Error(`hiddenDims must be positive integers (got ${c.hiddenDims.join(",")})`);
  if (!ACTIVATIONS.includes(c.activation)) throw new Error(`activation must be one of ${ACTIVATIONS.join(", ")} (got ${c.activation})`);
  if (c.likelihood !== "bernoulli" && c.likelihood !== "gaussian") throw new Error(`likelihood must be bernoulli or gaussian (got ${c.likelihood})`);
  if (c.gaussianVariance !== "learned" && !(c.gaussianVariance > 0)) throw new Error(`gaussianVariance must be > 0 or "learned"`);
  // Every weight matrix must fit (checked before anything is allocated, so nothing is left behind): the
  // encoder's, from its inputs to the code, and the decoder's, from its inputs back to the pixels.
  const encoder = [c.inputDim + conditionDim, ...c.hiddenDims, c.latentDim];
  const decoder = [c.latentDim + conditionDim, ...[...c.hiddenDims].reverse(), c.inputDim];
  const names = conditionDim > 0 ? "inputDim, conditionDim, hiddenDims, latentDim" : "inputDim, hiddenDims, latentDim";
  for (const widths of [encoder, decoder]) {
    for (let i = 1; i < widths.length; i++) {
      if (widths[i - 1] * widths[i] > MAX_WEIGHT_FLOATS) {
        throw new Error(`a ${widths[i - 1]}×${widths[i]} layer has ${widths[i - 1] * widths[i]} weights, more than the ${MAX_WEIGHT_FLOATS} one layer may have (${names})`);
      }
    }
  }
}

/** The most weights one layer may have (2²⁶: 256 MiB of float32). */
export const MAX_WEIGHT_FLOATS = 1 << 26;

/**
 * A fanIn → fanOut layer initialised as PyTorch's nn.Linear is (weights and biases uniform on ±1/√fan_in),
 * drawn from `rng` (W first, then b). With a `name`, its variables are named `${name}/W` and `${name}/b`
 * (tfjs refuses a name already in use); without one, tfjs gives them names of its own, new each time.
 */
export function initDense(fanIn: number, fanOut: number, rng: Rng, name?: string): Dense {
  const bound = 1 / Math.sqrt(fanIn);
  // tf.tidy frees the initial values; the variables themselves are kept.
  return tf.tidy(() => ({
    W: tf.variable(tf.randomUniform([fanIn, fanOut], -bound, bound, "float32", tfSeed(rng.nextSeed())), true, name && `${name}/W`) as tf.Variable<tf.Rank.R2>,
    b: tf.variable(tf.randomUniform([fanOut], -bound, bound, "float32", tfSeed(rng.nextSeed())), true, name && `${name}/b`) as tf.Variable<tf.Rank.R1>,
  }));
}

/** The layers of an MLP VAE: the encoder's hidden layers and its two heads, the decoder's hidden layers and its output layer. */
export interface MlpLayers {
  readonly encoder: Dense[];
  readonly encMu: Dense;
  readonly encLogVar: Dense;
  readonly decoder: Dense[];
  readonly decOut: Dense;
  /** Learned log σ² of a Gaussian likelihood (else undefined). */
  readonly logNoiseVar?: tf.Variable<tf.Rank.R0>;
}

/**
 * The layers of an MLP VAE of configuration `c` whose encoder reads `encoderInputs` numbers and decoder
 * `decoderInputs` (inputDim and latentDim for a VAE; more for a conditional one, which appends its condition),
 * drawn from `rng` in a fixed order (encoder, μ, log σ², decoder, output), their variables named under `uid`.
 */
export function initMlpLayers(c: VaeConfig, encoderInputs: number, decoderInputs: number, uid: string): MlpLayers {
  const rng = new Rng(c.seed);
  const encoder: Dense[] = [];
  let width = encoderInputs;
  c.hiddenDims.forEach((h, i) => {
    encoder.push(initDense(width, h, rng, `${uid}/enc${i}`));
    width = h;
  });
  const encMu = initDense(width, c.latentDim, rng, `${uid}/mu`);
  const encLogVar = initDense(width, c.latentDim, rng, `${uid}/logvar`);
  const decoder: Dense[] = [];
  width = decoderInputs;
  [...c.hiddenDims].reverse().forEach((h, i) => {
    decoder.push(initDense(width, h, rng, `${uid}/dec${i}`));
    width = h;
  });
  const decOut = initDense(width, c.inputDim, rng, `${uid}/out`);
  const logNoiseVar =
    c.likelihood === "gaussian" && c.gaussianVariance === "learned"
      ? tf.tidy(() => tf.variable(tf.scalar(0), true, `${uid}/lognoisevar`) as tf.Variable<tf.Rank.R0>)
      : undefined;
  return { encoder, encMu, encLogVar, decoder, decOut, logNoiseVar };
}

/** The encoder of `layers` applied to its input `h` (data: no gradient is computed for it): μ and log σ². */
export function encodeMlp(layers: MlpLayers, h: tf.Tensor, activation: Activation): { mu: tf.Tensor2D; logVar: tf.Tensor2D } {
  return tf.tidy(() => {
    layers.encoder.forEach((l, i) => {
      h = activate((i === 0 ? denseOnData : dense)(h, l.W, l.b), activation);
    });
    const first = layers.encoder.length === 0;
    return {
      mu: (first ? denseOnData : dense)(h, layers.encMu.W, layers.encMu.b),
      logVar: (first ? denseOnData : dense)(h, layers.encLogVar.W, layers.encLogVar.b),
    };
  });
}

/** The decoder of `layers` applied to its input `h`: the output layer's values. */
export function decodeMlp(layers: MlpLayers, h: tf.Tensor, activation: Activation): tf.Tensor2D {
  return tf.tidy(() => {
    for (const l of layers.decoder) h = activate(dense(h, l.W, l.b), activation);
    return dense(h, layers.decOut.W, layers.decOut.b);
  });
}

/** Every variable of `layers`, in the checkpoint's order: each layer's W and b, encoder to output, then log σ². */
export function mlpVariables(layers: MlpLayers): tf.Variable[] {
  const v: tf.Variable[] = [];
  for (const l of [...layers.encoder, layers.encMu, layers.encLogVar, ...layers.decoder, layers.decOut]) v.push(l.W, l.b);
  if (layers.logNoiseVar) v.push(layers.logNoiseVar);
  return v;
}

/** The Vae's layers (encoder, encMu, …, logNoiseVar) are those of MlpLayers, made by initMlpLayers. */
export interface Vae extends MlpLayers {}

export class Vae {
  /** tfjs variable names must be unique in a process: each model's are prefixed vae0/, vae1/, … */
  private static count = 0;
  readonly config: VaeConfig;

  /**
   * Weights initialised as PyTorch's nn.Linear does (weights and biases uniform on ±1/√fan_in), so a
   * same-architecture PyTorch run starts from the same distribution.
   */
  constructor(config: Partial<VaeConfig> = {}) {
    this.config = { ...DEFAULT_VAE_CONFIG, ...config, hiddenDims: [...(config.hiddenDims ?? DEFAULT_VAE_CONFIG.hiddenDims)] };
    validateVaeConfig(this.config);
    const layers = initMlpLayers(this.config, this.config.inputDim, this.config.latentDim, `vae${Vae.count++}`);
    Object.assign(this, layers);
  }

  /** q(z|x): mean and log-variance, each [batch, latentDim]. */
  encode(x: tf.Tensor2D): { mu: tf.Tensor2D; logVar: tf.Tensor2D } {
    this.checkAlive("encode");
    return encodeMlp(this, x, this.config.activation);
  }

  /** p(x|z): logits (Bernoulli) or pre-sigmoid means (Gaussian), [batch, inputDim]. */
  decode(z: tf.Tensor2D): tf.Tensor2D {
    this.checkAlive("decode");
    return decodeMlp(this, z, this.config.activation);
  }

  /** Pixel means of p(x|z): sigmoid of the decoder output (probabilities for Bernoulli). */
  decodeMean(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.sigmoid(this.decode(z)));
  }

  /** All trainable variables, in a fixed order. */
  variables(): tf.Variable[] {
    this.checkAlive("variables");
    return mlpVariables(this);
  }

  /** Encoder variables only (notebook 09 compares gradient estimators on these). */
  encoderVariables(): tf.Variable[] {
    const v: tf.Variable[] = [];
    for (const l of [...this.encoder, this.encMu, this.encLogVar]) v.push(l.W, l.b);
    return v;
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

  private disposed = false;

  private checkAlive(what: string): void {
    if (this.disposed) throw new Error(`Vae.${what}: this model was disposed (its weights are freed); make a new one or load a checkpoint`);
  }
}

const LOG_2PI = Math.log(2 * Math.PI);

/** The stable form below in tfjs ops (the native kernel's reference, and the value where it is not active). */
function bernoulliNllTfjs(logits: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
  return tf.relu(logits).sub(tf.log(tf.sigmoid(tf.abs(logits)))).sub(tf.mul(logits, x)).sum(1);
}

/**
 * −log Bernoulli(x; sigmoid(l)) summed over pixels, per row: softplus(l) − l·x, computed in the stable form
 * max(l, 0) − log σ(|l|) − l·x (log(1 + e^{−|l|}) = −log σ(|l|), and σ(|l|) ∈ [½, 1) so the log is safe).
 * On the wasm backend that is 3× faster than tf.softplus (0.7 vs 2.1 ms for a 128×784 batch: wasm's sigmoid
 * is vectorised, its softplus is not); the two agree to 1e-6. The gradient is written out,
 * ∂/∂l = σ(l) − x and ∂/∂x = −l, instead of being traced through the elementwise ops. Where the native
 * kernels are active (src/native/) the value is one fused native pass.
 */
const bernoulliNllOp = tf.customGrad(((logits: tf.Tensor2D, x: tf.Tensor2D, save: (t: tf.Tensor[]) => void) => {
  save([logits, x]);
  return {
    value: nativeBernoulliNll(logits, x)?.nll ?? bernoulliNllTfjs(logits, x),
    gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => {
      const [l, xs] = saved;
      const d = tf.expandDims(dy, 1);
      return [tf.mul(tf.sub(tf.sigmoid(l), xs), d), tf.mul(tf.neg(l), d)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (logits: tf.Tensor2D, x: tf.Tensor2D) => tf.Tensor1D;

export function bernoulliNll(logits: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
  return bernoulliNllOp(logits, x);
}

/** −log N(x; mean, e^{logVar}) summed over pixels, per row. */
export function gaussianNll(mean: tf.Tensor2D, x: tf.Tensor2D, logVar: tf.Tensor | number): tf.Tensor1D {
  return tf.tidy(() => {
    const lv = typeof logVar === "number" ? tf.scalar(logVar) : logVar;
    return x.sub(mean).square().div(tf.exp(lv)).add(lv).add(LOG_2PI).mul(0.5).sum(1) as tf.Tensor1D;
  });
}

/**
 * KL(N(μ, e^{logVar}) ‖ N(0, I)) per row: ½ Σ (μ² + e^{logVar} − 1 − logVar), with its gradient written out
 * (∂/∂μ = μ, ∂/∂logVar = ½ (e^{logVar} − 1)) rather than traced through the elementwise ops.
 */
const klOp = tf.customGrad(((mu: tf.Tensor2D, logVar: tf.Tensor2D, save: (t: tf.Tensor[]) => void) => {
  const e = tf.exp(logVar);
  save([mu, e]);
  return {
    value: tf.mul(tf.sub(tf.add(tf.square(mu), e), tf.add(logVar, 1)), 0.5).sum(1),
    gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => {
      const [m, ex] = saved;
      const d = tf.expandDims(dy, 1);
      return [tf.mul(m, d), tf.mul(tf.mul(tf.sub(ex, 1), 0.5), d)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (mu: tf.Tensor2D, logVar: tf.Tensor2D) => tf.Tensor1D;

export function klStandardNormalTensor(mu: tf.Tensor2D, logVar: tf.Tensor2D): tf.Tensor1D {
  return klOp(mu, logVar);
}

/** −log p(x|z) per row for the model's likelihood, from decoder outputs. */
export function reconstructionNll(vae: LatentModel, out: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
  if (vae.config.likelihood === "bernoulli") return bernoulliNll(out, x);
  return tf.tidy(() => {
    const lv = vae.logNoiseVar ?? Math.log(vae.config.gaussianVariance as number);
    return gaussianNll(tf.sigmoid(out) as tf.Tensor2D, x, lv);
  });
}

/** How the encoder's gradient is estimated: pathwise (reparameterized), or score function plain, with a running-mean baseline, or with a leave-one-out baseline. */
export type EncoderEstimator = "reparam" | "score" | "score-baseline" | "score-loo";
export const ENCODER_ESTIMATORS: readonly EncoderEstimator[] = ["reparam", "score", "score-baseline", "score-loo"];

export interface LossOptions {
  /** KL weight β (1 = the ELBO). */
  beta?: number;
  /** Monte Carlo samples of z per image (L). */
  samples?: number;
  /** Seed of ε. */
  seed?: number;
  /**
   * ε itself, [samples · batch, latentDim] (z = μ + σ ⊙ ε, row i·B + b for sample i of image b), instead of
   * drawing it: the same noise in two programs (test/reference/parity-conv.js) or two models.
   */
  eps?: tf.Tensor2D;
  /** Free bits λ (nats per latent unit; see freeBitsKl): also return the KL term under free bits. */
  freeBits?: number;
}

export interface LossTerms {
  /** recon + β · kl, averaged over the batch (nats per image). */
  loss: tf.Scalar;
  /** E_q[−log p(x|z)], averaged over the batch. */
  recon: tf.Scalar;
  /** KL(q(z|x) ‖ p(z)), averaged over the batch. */
  kl: tf.Scalar;
  /** With options.freeBits = λ: Σ_j max(λ, KL of unit j averaged over the batch) (freeBitsKl). */
  freeBitsKl?: tf.Scalar;
}

/**
 * The KL term under "free bits" (Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling 2016, "Improved
 * Variational Inference with Inverse Autoregressive Flow", appendix C.8): Σ_j max(λ, KL_j), where KL_j is
 * latent unit j's KL(q(z_j|x) ‖ N(0, 1)) averaged over the batch. A unit whose KL is below λ nats has no KL
 * gradient at all, so the objective gives up nothing by using it up to λ: it is not pushed to the prior (to
 * collapse). Equal to the KL itself when every unit is above λ; never below it.
 */
export function freeBitsKl(mu: tf.Tensor2D, logVar: tf.Tensor2D, lambda: number): tf.Scalar {
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw new Error(`freeBitsKl: λ must be a finite number ≥ 0 (got ${lambda})`);
  return tf.tidy(() => {
    const perUnit = mu.square().add(logVar.exp()).sub(logVar).sub(1).mul(0.5).mean(0);
    return tf.maximum(perUnit, lambda).sum() as tf.Scalar;
  });
}

/**
 * −log p(x|z) at z = μ + σ ⊙ ε for every row of ε: `eps` is [m · B, latentDim], row i·B + b for draw i of
 * image b of the batch `x` (whose q has parameters `mu`, `logVar`, [B, latentDim]). Returns [m · B]. The
 * reconstruction term of negativeElbo, and of the per-image ELBOs and refinement of amortisation.ts.
 */
export function sampledReconstructionNll(vae: LatentModel, x: tf.Tensor2D, mu: tf.Tensor2D, logVar: tf.Tensor2D, eps: tf.Tensor2D): tf.Tensor1D {
  const m = eps.shape[0] / x.shape[0];
  const muL = m === 1 ? mu : tf.tile(mu, [m, 1]);
  const sdL = m === 1 ? tf.exp(logVar.mul(0.5)) : tf.tile(tf.exp(logVar.mul(0.5)), [m, 1]);
  const z = muL.add(sdL.mul(eps)) as tf.Tensor2D;
  const xL = m === 1 ? x : (tf.tile(x, [m, 1]) as tf.Tensor2D);
  return reconstructionNll(vae, vae.decode(z), xL);
}

/** The negative ELBO of a batch (β-weighted), with its two terms. The caller disposes the result. */
export function negativeElbo(vae: LatentModel, x: tf.Tensor2D, options: LossOptions = {}): LossTerms {
  const { beta = 1, samples = 1 } = options;
  return tf.tidy(() => {
    const B = x.shape[0];
    const { mu, logVar } = vae.encode(x);
    const D = vae.config.latentDim;
    if (options.eps && (options.eps.shape[0] !== samples * B || options.eps.shape[1] !== D)) {
      throw new Error(`eps has shape [${options.eps.shape}], expected [${samples * B}, ${D}] (samples × batch, latent dimensions)`);
    }
    const eps = options.eps ?? tf.randomNormal([samples * B, D], 0, 1, "float32", tfSeed(options.seed ?? new Rng().nextSeed()));
    const recon = sampledReconstructionNll(vae, x, mu, logVar, eps).mean() as tf.Scalar;
    const kl = klStandardNormalTensor(mu, logVar).mean() as tf.Scalar;
    const loss = recon.add(kl.mul(beta)) as tf.Scalar;
    return options.freeBits === undefined ? { loss, recon, kl } : { loss, recon, kl, freeBitsKl: freeBitsKl(mu, logVar, options.freeBits) };
  });
}
