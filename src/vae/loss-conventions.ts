/**
 * What a VAE loss number means: the conventions of the implementations learners meet, and the conversion of
 * a number printed under one of them into nats per image of a (β-weighted) negative ELBO.
 *
 * Every convention here computes, per image, `R / pixelDivisor + klWeight · KL / latentDivisor`, averaged
 * over the batch (a divisor is 1 for a sum and the count for a mean), where R is the reconstruction term summed over the image's pixels (binary cross-entropy or
 * squared error) and KL = KL(q(z|x) ‖ N(0, I)) summed over latent dimensions:
 *
 * - binary cross-entropy: times `pixelDivisor` it is R + β·KL with β = klWeight · pixelDivisor / latentDivisor,
 *   a β-weighted −ELBO of a Bernoulli decoder in nats per image (a bound on −log p(x) only when β ≥ 1 and the
 *   pixels are binary: on grey levels the cross-entropy is not a log-likelihood, and it has a floor above 0);
 * - squared error: R/(2σ²) + (D/2)·log(2πσ²) is the −log-likelihood of a Gaussian decoder with variance σ², so
 *   the loss is a scaled −ELBO of the Gaussian decoder whose σ² makes the KL weight 1:
 *   σ² = klWeight · pixelDivisor / (2 · latentDivisor), and −ELBO = loss · latentDivisor / klWeight + (D/2)·log(2πσ²)
 *   (any other σ² fits the same loss with the KL weighted β = that σ² / σ²).
 *
 * The sources (read at the commits named in notebooks/SOURCES.md): pytorch/examples vae/main.py, keras-io
 * examples/generative/vae.py, the TensorFlow convolutional-VAE tutorial (tensorflow/docs cvae.ipynb),
 * tfjs-examples fashion-mnist-vae/model.js, AntixK/PyTorch-VAE models/vanilla_vae.py with configs/vae.yaml,
 * and the articles 004 (`mse_loss + 0.0025 · KL`) and 003 (a mean over pixels plus a mean over latent
 * dimensions).
 */

export type ConventionId = "pytorch-examples" | "keras-vae" | "tf-cvae" | "tfjs-fashion-mnist" | "pytorch-vae" | "article-004" | "article-003";

export interface LossConvention {
  id: ConventionId;
  /** Where the loss is written. */
  source: string;
  /** The per-pixel reconstruction term. */
  reconstruction: "binary-cross-entropy" | "squared-error";
  /** How an image's pixel terms are reduced: summed, or averaged over the image's pixels. */
  pixels: "sum" | "mean";
  /** How the KL's per-dimension terms are reduced: summed, or averaged over the latent dimensions. */
  latent: "sum" | "mean";
  /** The weight on the KL after those reductions. */
  klWeight: number;
  /** The data the published number refers to. */
  data: string;
  /** Whether those data are binary pixels (a cross-entropy on them is a Bernoulli log-likelihood). */
  binaryPixels: boolean;
  /** The number its source prints, and what it is. */
  printed: string;
}

export const LOSS_CONVENTIONS: readonly LossConvention[] = [
  {
    id: "pytorch-examples",
    source: "pytorch/examples vae/main.py: F.binary_cross_entropy(recon_x, x, reduction='sum') + KLD summed; the totals divided by the number of images",
    reconstruction: "binary-cross-entropy",
    pixels: "sum",
    latent: "sum",
    klWeight: 1,
    data: "MNIST grey levels in [0, 1] (not binarised), 60 000 training and 10 000 test images",
    binaryPixels: false,
    printed: "'Test set loss': per test image, nats of cross-entropy + KL",
  },
  {
    id: "keras-vae",
    source: "keras-io examples/generative/vae.py: binary_crossentropy summed over the 28×28 pixels, KL summed over z, both averaged over the batch",
    reconstruction: "binary-cross-entropy",
    pixels: "sum",
    latent: "sum",
    klWeight: 1,
    data: "MNIST grey levels, training and test images concatenated (70 000), no held-out set",
    binaryPixels: false,
    printed: "'loss' of the progress bar: a running mean over the epoch's batches, per image (146.95 after 30 epochs in the published run)",
  },
  {
    id: "tf-cvae",
    source: "tensorflow/docs cvae.ipynb: sigmoid_cross_entropy_with_logits summed over pixels, log p(z) − log q(z|x) from one draw of z, averaged over the batch",
    reconstruction: "binary-cross-entropy",
    pixels: "sum",
    latent: "sum",
    klWeight: 1,
    data: "MNIST binarised at 0.5 (static), 60 000 training and 10 000 test images",
    binaryPixels: true,
    printed: "'Test set ELBO': minus the loss, per test image (about −156 after 10 epochs at z = 2)",
  },
  {
    id: "tfjs-fashion-mnist",
    source: "tfjs-examples fashion-mnist-vae/model.js: tf.losses.meanSquaredError(inputs, outputs) × 784 + KL summed over z, averaged over the batch",
    reconstruction: "squared-error",
    pixels: "sum",
    latent: "sum",
    klWeight: 1,
    data: "Fashion-MNIST grey levels, 60 000 training images, no test evaluation",
    binaryPixels: false,
    printed: "'Loss' of one batch every 50 batches (its README: 'in the 40–50 range' after a good run)",
  },
  {
    id: "pytorch-vae",
    source: "AntixK/PyTorch-VAE models/vanilla_vae.py: F.mse_loss (a mean over every element) + kld_weight · KL summed over z and averaged over the batch; kld_weight 0.00025 (configs/vae.yaml)",
    reconstruction: "squared-error",
    pixels: "mean",
    latent: "sum",
    klWeight: 0.00025,
    data: "CelebA 64×64 colour (12 288 numbers an image)",
    binaryPixels: false,
    printed: "'loss' logged per batch",
  },
  {
    id: "article-004",
    source: "article 004: mse_loss (a mean over the pixels) + 0.0025 · KL summed over z",
    reconstruction: "squared-error",
    pixels: "mean",
    latent: "sum",
    klWeight: 0.0025,
    data: "MNIST grey levels",
    binaryPixels: false,
    printed: "the loss of a batch",
  },
  {
    id: "article-003",
    source: "article 003: a binary cross-entropy averaged over the pixels plus a KL averaged over the latent dimensions",
    reconstruction: "binary-cross-entropy",
    pixels: "mean",
    latent: "mean",
    klWeight: 1,
    data: "MNIST",
    binaryPixels: false,
    printed: "the loss of a batch",
  },
];

/** The convention with this id (a RangeError naming the known ones otherwise). */
export function lossConvention(id: string): LossConvention {
  const c = LOSS_CONVENTIONS.find((k) => k.id === id);
  if (!c) throw new RangeError(`unknown loss convention "${id}"; known: ${LOSS_CONVENTIONS.map((k) => k.id).join(", ")}`);
  return c;
}

/** The shape the reductions depend on: pixels (numbers) per image and latent dimensions. */
export interface LossShape {
  pixels: number;
  latentDim: number;
}

function checkShape(shape: LossShape): void {
  for (const [name, v] of [["pixels", shape.pixels], ["latentDim", shape.latentDim]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${name} must be a whole number ≥ 1 (got ${v})`);
  }
}

/** What each reduction divides a summed term by: 1 for a sum, the count for a mean. */
function divisors(c: LossConvention, shape: LossShape): { pixelDivisor: number; latentDivisor: number } {
  checkShape(shape);
  return { pixelDivisor: c.pixels === "sum" ? 1 : shape.pixels, latentDivisor: c.latent === "sum" ? 1 : shape.latentDim };
}

/**
 * The loss a convention computes for one image from its summed terms: `reconstruction` is Σ over pixels of
 * the binary cross-entropy or of the squared error, `kl` the KL summed over latent dimensions. (Averaged
 * over a batch, the loss is this averaged over its images.)
 */
export function conventionLoss(c: LossConvention, terms: { reconstruction: number; kl: number }, shape: LossShape): number {
  const { pixelDivisor, latentDivisor } = divisors(c, shape);
  return terms.reconstruction / pixelDivisor + (c.klWeight * terms.kl) / latentDivisor;
}

/** What a number printed under a convention is, in nats per image. */
export interface LossReading {
  /** The KL weight β of the objective the number is a multiple of (for squared error: at `sigma2`). */
  beta: number;
  /** Squared error only: the decoder variance σ² at which the number is a β = 1 negative ELBO. */
  sigma2?: number;
  /**
   * The number as nats per image of that objective: R + β·KL for cross-entropy; for squared error, the
   * Gaussian decoder's −ELBO at `sigma2`, constant (D/2)·log(2πσ²) included.
   */
  nats: number;
  /** Whether that objective is an upper bound on −log p(x) (of binary pixels, or of the Gaussian density). */
  bound: boolean;
  /** One line saying what the number is. */
  note: string;
}

/**
 * Read a number printed under a convention: the objective it is a multiple of, its value in nats per image,
 * and whether it bounds −log p(x). `binaryPixels` says whether the data are binary (default: as the
 * convention's `binaryPixels` say); a cross-entropy on grey levels is no log-likelihood, so no bound.
 */
export function readLossNumber(c: LossConvention, value: number, shape: LossShape, options: { binaryPixels?: boolean } = {}): LossReading {
  if (!Number.isFinite(value)) throw new RangeError(`the loss must be a finite number (got ${value})`);
  const { pixelDivisor, latentDivisor } = divisors(c, shape);
  if (c.reconstruction === "binary-cross-entropy") {
    // loss · pixelDivisor = R + β·KL
    const beta = (c.klWeight * pixelDivisor) / latentDivisor;
    const nats = value * pixelDivisor;
    const binary = options.binaryPixels ?? c.binaryPixels;
    const bound = binary && beta >= 1;
    const what = beta === 1 ? "a negative ELBO (Bernoulli decoder)" : `a β-weighted negative ELBO with β = ${formatBeta(beta)}`;
    const why = !binary ? "; on grey-level pixels the cross-entropy is no log-likelihood, so no bound on −log p(x)" : beta < 1 ? "; with β < 1 it is not a bound on −log p(x)" : "";
    return { beta, nats, bound, note: `${what}: ${round(nats)} nats per image${why}` };
  }
  // loss · latentDivisor / klWeight = R / (2σ²) + KL at σ² = klWeight · pixelDivisor / (2 · latentDivisor)
  const sigma2 = (c.klWeight * pixelDivisor) / (2 * latentDivisor);
  const nats = (value * latentDivisor) / c.klWeight + (shape.pixels / 2) * Math.log(2 * Math.PI * sigma2);
  return {
    beta: 1,
    sigma2,
    nats,
    bound: true,
    note: `a negative ELBO of a Gaussian decoder with σ² = ${round(sigma2, 4)}: ${round(nats)} nats per image (a density over continuous pixels; any other σ² fits with β = ${round(sigma2, 4)}/σ²)`,
  };
}

function round(v: number, digits = 2): string {
  return Number(v.toFixed(digits)).toString();
}

function formatBeta(b: number): string {
  return Number.isInteger(b) ? String(b) : round(b, 4);
}
