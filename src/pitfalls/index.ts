/**
 * Bugs that popular VAE write-ups carry, each as a function next to the correct computation, so notebook 11
 * can show what they do numerically. None of these is used by the library itself.
 *
 * All KL values are per latent vector, in nats; μ and σ are plain numbers or arrays.
 */
import * as tf from "../engine/tf";
import { klToStandardNormal } from "../prob/kl";
import { logDet, logMixture1d, Mixture1d } from "../prob/gaussian";
import { tidyValue } from "../engine/tidy";
import { tfSeed } from "../engine/random";

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

// ---------------------------------------------------------------------------------------------------------
// Seed article 003: its remaining code bugs.

/**
 * Bug (article 003's PyTorch code): `kld = -0.5 * torch.mean(1 + 2*stddev - mean² - stddev²)`, with σ where
 * 2 log σ belongs, averaged (not summed) over the latent dimensions. It equals ½ mean(μ² + (σ − 1)²) − 1:
 * −1 at the prior, where the KL is 0, and it stays finite as σ → 0, where the KL goes to +∞, so it no
 * longer stops the encoder from shrinking its posteriors to points.
 */
export function klArticle003Torch(mu: number[], sigma: number[]): number {
  return (-0.5 * sum(mu.map((m, d) => 1 + 2 * sigma[d] - m * m - sigma[d] ** 2))) / mu.length;
}

/**
 * Article 003's TensorFlow code adds a per-pixel cross-entropy of shape [B, 784] to a per-image KL of shape
 * [B]. Broadcasting aligns trailing axes (784 against B), so the sum fails unless B is 1 or 784 — and at
 * B = 784 it silently adds image j's KL to pixel j of every image. Returns the result's shape, or the
 * error tfjs raises.
 */
export function addPerPixelToPerImage(perPixel: tf.Tensor2D, perImage: tf.Tensor1D): { shape?: number[]; error?: string } {
  try {
    return tidyValue(() => ({ shape: tf.add(perPixel, perImage).shape }));
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * Bug (article 003's PyTorch code): `BCELoss(reduction='mean')` averages over the B × P pixel values and
 * `torch.mean` the KL's B × D terms. Per image that is recon/P + KL/D = (1/P)(recon + (P/D)·KL): a hidden
 * β of P / D (392 for 784 pixels and a 2-D code), not P. Arguments are per-image sums.
 */
export function lossMeanMean(reconSum: number, klSum: number, pixels: number, latentDim: number): number {
  return reconSum / pixels + klSum / latentDim;
}

/** The β hidden in the mean/mean reduction: pixels / latent dimensions. */
export function hiddenBetaMeanMean(pixels: number, latentDim: number): number {
  return pixels / latentDim;
}

// ---------------------------------------------------------------------------------------------------------
// Seed article 003: its conceptual errors, checked on models where every quantity is exact.

/**
 * The linear-Gaussian latent-variable model z ~ N(0, 1), x | z ~ N(w·z, s²): prior, likelihood, evidence
 * and posterior all in closed form, so each of the article's statements can be put to a number.
 */
export interface LinearGaussian {
  w: number;
  s: number;
}

export interface Gaussian1 {
  mean: number;
  sd: number;
}

const LOG_2PI = Math.log(2 * Math.PI);
const logN = (x: number, m: number, sd: number) => -0.5 * ((x - m) / sd) ** 2 - Math.log(sd) - 0.5 * LOG_2PI;

/** The likelihood p(x | z) = N(x; w z, s²) (what article 003 calls the "posterior"). */
export function lgLikelihood(model: LinearGaussian, x: number, z: number): number {
  return Math.exp(logN(x, model.w * z, model.s));
}

/**
 * ∫ p(x | z) dz over z by the trapezoid rule on [−L, L]: a posterior over z would integrate to 1; the
 * likelihood integrates to 1/|w|.
 */
export function lgLikelihoodMassOverZ(model: LinearGaussian, x: number, options: { half?: number; points?: number } = {}): number {
  const L = options.half ?? 60;
  const n = options.points ?? 200001;
  const h = (2 * L) / (n - 1);
  let s = 0;
  for (let i = 0; i < n; i++) s += (i === 0 || i === n - 1 ? 0.5 : 1) * lgLikelihood(model, x, -L + i * h);
  return s * h;
}

/** The exact posterior p(z | x) = N(w x / (w² + s²), s² / (w² + s²)). */
export function lgPosterior(model: LinearGaussian, x: number): Gaussian1 {
  const v = model.w ** 2 + model.s ** 2;
  return { mean: (model.w * x) / v, sd: model.s / Math.sqrt(v) };
}

/** log p(x) = log N(x; 0, w² + s²). */
export function lgLogEvidence(model: LinearGaussian, x: number): number {
  return logN(x, 0, Math.sqrt(model.w ** 2 + model.s ** 2));
}

/** E_q[log q(z)] = −H(q) = −½ log(2πe σ²): what article 003 equates with log p(x). It depends on q alone. */
export function expectedLogQ(q: Gaussian1): number {
  return -0.5 * (LOG_2PI + 1) - Math.log(q.sd);
}

/** The ELBO E_q[log p(x | z) + log p(z) − log q(z)] for q = N(mean, sd²), in closed form. */
export function lgElbo(model: LinearGaussian, x: number, q: Gaussian1): number {
  const { w, s } = model;
  const v = q.sd ** 2;
  const logLik = -0.5 * LOG_2PI - Math.log(s) - ((x - w * q.mean) ** 2 + w * w * v) / (2 * s * s);
  const logPrior = -0.5 * LOG_2PI - (q.mean ** 2 + v) / 2;
  return logLik + logPrior - expectedLogQ(q);
}

/**
 * Article 003's "KL as a trace": Σ_j tr(Σ_q Σ_p⁻¹), for diagonal covariances Σ_j σ_q,j² / σ_p,j². It is only
 * the first of the Gaussian KL's four terms, ½ [tr(Σ_p⁻¹Σ_q) + (μ_p − μ_q)ᵀΣ_p⁻¹(μ_p − μ_q) − D + log det Σ_p/det Σ_q]:
 * D (not 0) when q = p, and blind to the means.
 */
export function klAsTrace(sigmaQ: number[], sigmaP: number[]): number {
  return sum(sigmaQ.map((s, j) => (s / sigmaP[j]) ** 2));
}

/** A 1-D Gaussian mixture's exact posterior over its component k given x: responsibilities w_k N(x; m_k, s_k²) / p(x). */
export function mixturePosterior(p: Mixture1d, x: number): number[] {
  const logPx = logMixture1d(x, p);
  return p.weights.map((w, k) => Math.exp(Math.log(w) + logN(x, p.means[k], p.sds[k]) - logPx));
}

/**
 * The ELBO of a mixture with the component k as its latent variable and a discrete q(k):
 * Σ_k q_k [log w_k + log N(x; m_k, s_k²) − log q_k]. With q = mixturePosterior it equals log p(x) exactly:
 * EM's E-step, possible because the posterior is a finite sum — exactly what a VAE's continuous z lacks.
 */
export function mixtureElbo(p: Mixture1d, x: number, q: number[]): number {
  return sum(q.map((qk, k) => (qk > 0 ? qk * (Math.log(p.weights[k]) + logN(x, p.means[k], p.sds[k]) - Math.log(qk)) : 0)));
}

/** Cross-entropy H(p, q), entropy H(p) and KL(p‖q) of two Bernoullis with means p and q, in nats. */
export function bernoulliCrossEntropyParts(p: number, q: number): { crossEntropy: number; entropy: number; kl: number } {
  const xlogy = (a: number, b: number) => (a === 0 ? 0 : a * Math.log(b));
  const crossEntropy = 0 - xlogy(p, q) - xlogy(1 - p, 1 - q);
  const entropy = 0 - xlogy(p, p) - xlogy(1 - p, 1 - p);
  return { crossEntropy, entropy, kl: crossEntropy - entropy };
}

/**
 * The same for two 1-D Gaussians p = N(m0, s0²), q = N(m1, s1²), in closed form: H(p, q) = ½ log(2π s1²) +
 * (s0² + (m0 − m1)²)/(2 s1²), H(p) = ½ log(2πe s0²), KL = H(p, q) − H(p). A density's entropy is negative
 * once s0 < 1/√(2πe) ≈ 0.242, and then the cross-entropy is *below* the KL.
 */
export function gaussianCrossEntropyParts(p: Gaussian1, q: Gaussian1): { crossEntropy: number; entropy: number; kl: number } {
  const crossEntropy = 0.5 * LOG_2PI + Math.log(q.sd) + (p.sd ** 2 + (p.mean - q.mean) ** 2) / (2 * q.sd ** 2);
  const entropy = 0.5 * (LOG_2PI + 1) + Math.log(p.sd);
  return { crossEntropy, entropy, kl: crossEntropy - entropy };
}

// ---------------------------------------------------------------------------------------------------------
// Seed article 003: the rest of its text, put to numbers.

/** ∫_a^b f by the trapezoid rule on n points. */
function trapezoid(f: (t: number) => number, a: number, b: number, n: number): number {
  const h = (b - a) / (n - 1);
  let s = 0;
  for (let i = 0; i < n; i++) s += (i === 0 || i === n - 1 ? 0.5 : 1) * f(a + i * h);
  return s * h;
}

/**
 * Article 003's "log-density" of a Gaussian: ½ (Σ_i (x_i − μ)² + log|Σ| − D log 2π), with a scalar μ. Against
 * log N(x; μ, Σ) = −½ ((x − μ)ᵀΣ⁻¹(x − μ) + log|Σ| + D log 2π) the overall sign is flipped (so it grows away
 * from the mean), Σ⁻¹ is missing from the quadratic form, and one μ stands for every coordinate's mean.
 */
export function logDensityArticle003(x: number[], mu: number, cov: number[][]): number {
  const D = x.length;
  const quad = sum(x.map((v) => (v - mu) ** 2));
  return 0.5 * (quad + logDet(cov) - D * LOG_2PI);
}

/**
 * ∫∫ exp(logDensity(x)) over the square of half-width `half` around `center`, by the 2-D trapezoid rule. A
 * log-density's exp gives 1 once the square holds nearly all the mass, and does not change as it grows.
 */
export function massOnSquare2d(logDensity: (x: number[]) => number, center: number[], half: number, points = 401): number {
  return trapezoid((a) => trapezoid((b) => Math.exp(logDensity([center[0] + a, center[1] + b])), -half, half, points), -half, half, points);
}

/** ∫ p(x, z) dz = ∫ p(z) p(x | z) dz over z (trapezoid rule on [−L, L]): the evidence p(x), whatever z one had in mind. */
export function lgJointMassOverZ(model: LinearGaussian, x: number, options: { half?: number; points?: number } = {}): number {
  const L = options.half ?? 40;
  return trapezoid((z) => Math.exp(logN(z, 0, 1)) * lgLikelihood(model, x, z), -L, L, options.points ?? 80001);
}

/**
 * Article 003's ELBO, "∫∫ p(x, z) dz − ∫∫ N(x − z; 0, Σ) dz", with the integrals over z as written and Σ the
 * covariance of q. The first term is p(x) (not its log), the second is 1 for every Σ: the value is p(x) − 1,
 * whatever q is, and since log t ≤ t − 1 it lies *above* log p(x) — an upper, not a lower, bound, with no φ in it.
 * Both integrals are computed numerically, so nothing is assumed.
 */
export function lgElboArticle003(model: LinearGaussian, x: number, q: Gaussian1, options: { half?: number; points?: number } = {}): { first: number; second: number; value: number } {
  const L = options.half ?? 40;
  const n = options.points ?? 80001;
  const first = lgJointMassOverZ(model, x, { half: L, points: n });
  const second = trapezoid((z) => Math.exp(logN(x - z, 0, q.sd)), x - L, x + L, n);
  return { first, second, value: first - second };
}

/** The eigenvalues of a symmetric 2 × 2 matrix [[a, b], [b, c]], largest first (closed form). */
export function symmetricEigenvalues2(S: number[][]): [number, number] {
  const [a, b, c] = [S[0][0], S[0][1], S[1][1]];
  const mid = (a + c) / 2;
  const r = Math.sqrt(((a - c) / 2) ** 2 + b * b);
  return [mid + r, mid - r];
}

export interface TwoLayerRun {
  /** Each hidden unit's incoming weights [from x₁, from x₂, bias], after training. */
  hiddenIn: number[][];
  /** Each hidden unit's outgoing weight, after training. */
  hiddenOut: number[];
  /** The largest |difference| between hidden unit 1's and unit 2's weights (in and out), after training. */
  unitGap: number;
  /** Mean squared error on the four XOR points before and after training. */
  lossBefore: number;
  lossAfter: number;
}

/**
 * A 2–H–1 network (sigmoid hidden units, linear output) fitted to XOR by full-batch gradient descent on the
 * mean squared error, gradients by tf.grads. With init "zero" (a Gaussian of standard deviation 0) every hidden
 * unit computes the same thing and receives the same gradient, so the units stay identical for ever: the network
 * has one hidden unit's worth of capacity. With init "random" (N(0, sd²), seeded) the symmetry is broken.
 */
export function trainTwoLayerXor(options: { init: "zero" | "random"; hidden?: number; steps?: number; lr?: number; sd?: number; seed?: number }): TwoLayerRun {
  const H = options.hidden ?? 3;
  const steps = options.steps ?? 2000;
  const lr = options.lr ?? 0.5;
  const sd = options.sd ?? 1;
  const seed = options.seed ?? 1;
  const X = tf.tensor2d([[0, 0], [0, 1], [1, 0], [1, 1]]);
  const Y = tf.tensor2d([[0], [1], [1], [0]]);
  let params: tf.Tensor[] =
    options.init === "zero"
      ? [tf.zeros([2, H]), tf.zeros([H]), tf.zeros([H, 1]), tf.zeros([1])]
      : [tf.randomNormal([2, H], 0, sd, "float32", tfSeed(seed)), tf.zeros([H]), tf.randomNormal([H, 1], 0, sd, "float32", tfSeed(seed + 1)), tf.zeros([1])];
  const loss = (W1: tf.Tensor, b1: tf.Tensor, W2: tf.Tensor, b2: tf.Tensor) =>
    tf.sigmoid(X.matMul(W1 as tf.Tensor2D).add(b1)).matMul(W2 as tf.Tensor2D).add(b2).sub(Y).square().mean() as tf.Scalar;
  const grads = tf.grads((W1: tf.Tensor, b1: tf.Tensor, W2: tf.Tensor, b2: tf.Tensor) => loss(W1, b1, W2, b2));
  const lossOf = (p: tf.Tensor[]) => tidyValue(() => loss(p[0], p[1], p[2], p[3]).dataSync()[0]);
  const lossBefore = lossOf(params);
  for (let t = 0; t < steps; t++) {
    const next = tf.tidy(() => {
      const g = grads(params);
      return params.map((p, i) => p.sub(g[i].mul(lr)));
    });
    tf.dispose(params);
    params = next;
  }
  const lossAfter = lossOf(params);
  const W1 = params[0].arraySync() as number[][];
  const b1 = Array.from(params[1].dataSync());
  const W2 = Array.from(params[2].dataSync());
  tf.dispose([...params, X, Y]);
  const hiddenIn = b1.map((b, j) => [W1[0][j], W1[1][j], b]);
  const unitGap = Math.max(...hiddenIn[0].map((v, i) => Math.abs(v - hiddenIn[1][i])), Math.abs(W2[0] - W2[1]));
  return { hiddenIn, hiddenOut: W2, unitGap, lossBefore, lossAfter };
}

/** f(x) = (x² − 1)² + 0.3 x: a global minimum near x = −1.04 and a local one near x = 0.96, a barrier near x = 0.08. */
export function twoWells(x: number): number {
  return (x * x - 1) ** 2 + 0.3 * x;
}

/** f′ for twoWells: 4x(x² − 1) + 0.3. */
export function twoWellsGrad(x: number): number {
  return 4 * x * (x * x - 1) + 0.3;
}

/**
 * Minimise a 1-D function from x0 with plain gradient descent or with Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8, the
 * usual defaults), float64, and return where it ends. Adam rescales the step per parameter; it does not look
 * past the basin it starts in.
 */
export function minimise1d(grad: (x: number) => number, x0: number, options: { method: "gd" | "adam"; lr: number; steps: number }): number {
  let x = x0;
  let m = 0;
  let v = 0;
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  for (let t = 1; t <= options.steps; t++) {
    const g = grad(x);
    if (options.method === "gd") {
      x -= options.lr * g;
    } else {
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      x -= (options.lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
    }
  }
  return x;
}
