import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "../src/engine/tf";
import { initBackend } from "../src/engine/backend";
import { negativeElbo, Vae } from "../src/vae/model";
import { conventionLoss, LOSS_CONVENTIONS, lossConvention, readLossNumber } from "../src/vae/loss-conventions";

beforeAll(async () => {
  await initBackend("cpu");
});

const mnist = { pixels: 784, latentDim: 2 };

describe("what a loss number implies", () => {
  it("article 004's mse_loss + 0.0025·KL is a Gaussian decoder with σ² = 0.98; PyTorch-VAE's kld_weight 0.00025 on 64×64×3 is σ² = 1.536", () => {
    expect(readLossNumber(lossConvention("article-004"), 0.05, mnist).sigma2).toBeCloseTo(0.98, 12);
    expect(readLossNumber(lossConvention("pytorch-vae"), 0.05, { pixels: 64 * 64 * 3, latentDim: 128 }).sigma2).toBeCloseTo(1.536, 12);
  });

  it("tfjs-examples' 784 · mean squared error + KL is σ² = ½, and its number is 392 · log π ≈ 448.8 nats below the −ELBO", () => {
    const r = readLossNumber(lossConvention("tfjs-fashion-mnist"), 45, mnist);
    expect(r.sigma2).toBe(0.5);
    expect(r.beta).toBe(1);
    expect(r.nats - 45).toBeCloseTo(392 * Math.log(Math.PI), 10);
    expect(r.nats).toBeCloseTo(493.73, 2);
    // At another decoder variance the same loss is R/(2σ²) + (½/σ²)·KL: σ² = 1 weights the KL by ½, not 2.
    expect(r.note).toMatch(/any other σ² fits with β = 0\.5\/σ²/);
  });

  it("article 003's mean over pixels plus mean over latent dimensions hides β = pixels / latent dimensions (392 at z = 2, 39.2 at z = 20)", () => {
    const c = lossConvention("article-003");
    expect(readLossNumber(c, 0.2, mnist).beta).toBe(392);
    expect(readLossNumber(c, 0.2, { pixels: 784, latentDim: 20 }).beta).toBeCloseTo(39.2, 12);
    expect(readLossNumber(c, 0.2, mnist).nats).toBeCloseTo(0.2 * 784, 10);
  });

  it("a summed cross-entropy is read as it stands; a bound on −log p(x) only on binary pixels (the TF tutorial), not on grey levels (pytorch/examples, Keras)", () => {
    for (const id of ["pytorch-examples", "keras-vae", "tf-cvae"]) {
      const r = readLossNumber(lossConvention(id), 146.95, mnist);
      expect([r.beta, r.nats], id).toEqual([1, 146.95]);
      expect(r.bound, id).toBe(id === "tf-cvae");
    }
    expect(readLossNumber(lossConvention("pytorch-examples"), 100, mnist, { binaryPixels: true }).bound).toBe(true);
    expect(readLossNumber(lossConvention("article-003"), 0.2, mnist, { binaryPixels: true }).bound).toBe(true); // β = 392 ≥ 1: a looser bound
    expect(readLossNumber(lossConvention("pytorch-examples"), 146.95, mnist).note).toMatch(/no log-likelihood/);
    // A KL weighted below 1 (KL annealing's early steps) is no bound, even on binary pixels.
    const annealed = readLossNumber({ ...lossConvention("tf-cvae"), klWeight: 0.5 }, 100, mnist);
    expect([annealed.beta, annealed.bound]).toEqual([0.5, false]);
    expect(annealed.note).toMatch(/with β < 1 it is not a bound/);
  });

  it("every convention round-trips: the loss it computes from R and KL reads back as pixel-sum R + β·KL (or the Gaussian −ELBO)", () => {
    // The seven, and each with its reductions turned the other way (a squared error averaged over the latent
    // dimensions too, which none of them is), so that each divisor is tested at a value other than 1.
    const flip = (r: "sum" | "mean") => (r === "sum" ? "mean" : "sum");
    const variants = LOSS_CONVENTIONS.flatMap((c) => [c, { ...c, latent: flip(c.latent) }, { ...c, pixels: flip(c.pixels) }]);
    for (const c of variants) {
      const terms = { reconstruction: 31.7, kl: 4.2 };
      const value = conventionLoss(c, terms, mnist);
      const r = readLossNumber(c, value, mnist);
      if (c.reconstruction === "binary-cross-entropy") expect(r.nats, c.id).toBeCloseTo(terms.reconstruction + r.beta * terms.kl, 10);
      else expect(r.nats, c.id).toBeCloseTo(terms.reconstruction / (2 * r.sigma2!) + 392 * Math.log(2 * Math.PI * r.sigma2!) + terms.kl, 10);
    }
  });

  it("a squared error averaged over the latent dimensions divides its σ² by them: σ² = w·P / (2·L), whatever the pixel count", () => {
    const c = { ...lossConvention("article-004"), latent: "mean" as const };
    const r = readLossNumber(c, 0.05, { pixels: 784, latentDim: 4 });
    expect(r.sigma2).toBeCloseTo((0.0025 * 784) / (2 * 4), 12);
    expect(r.nats).toBeCloseTo((0.05 * 4) / 0.0025 + 392 * Math.log(2 * Math.PI * r.sigma2!), 9);
  });

  it("says in one line what each number is: a −ELBO, a β-weighted one with its β, or a Gaussian decoder's, and whether it bounds −log p(x)", () => {
    expect(readLossNumber(lossConvention("tf-cvae"), 156, mnist).note).toBe("a negative ELBO (Bernoulli decoder): 156 nats per image");
    expect(readLossNumber(lossConvention("article-003"), 0.2, mnist).note).toBe(
      "a β-weighted negative ELBO with β = 392: 156.8 nats per image; on grey-level pixels the cross-entropy is no log-likelihood, so no bound on −log p(x)",
    );
    expect(readLossNumber(lossConvention("article-003"), 0.2, { pixels: 784, latentDim: 20 }, { binaryPixels: true }).note).toBe("a β-weighted negative ELBO with β = 39.2: 156.8 nats per image");
    const gaussian = readLossNumber(lossConvention("tfjs-fashion-mnist"), 45, mnist);
    expect(gaussian.bound).toBe(true); // a bound on −log of the Gaussian density over continuous pixels
    expect(gaussian.note).toMatch(/^a negative ELBO of a Gaussian decoder with σ² = 0\.5: 493\.73 nats per image/);
    // One latent dimension is a shape like any other.
    expect(readLossNumber(lossConvention("article-003"), 0.2, { pixels: 784, latentDim: 1 }).beta).toBe(784);
  });

  it("names for each convention its source file, the data its published number is about, and what it prints; only the TF tutorial's pixels are binary", () => {
    const where: Record<string, [RegExp, RegExp]> = {
      "pytorch-examples": [/^pytorch\/examples vae\/main\.py: /, /^MNIST grey levels .*60 000 training and 10 000 test/],
      "keras-vae": [/^keras-io examples\/generative\/vae\.py: /, /^MNIST grey levels, training and test images concatenated \(70 000\)/],
      "tf-cvae": [/^tensorflow\/docs cvae\.ipynb: /, /^MNIST binarised at 0\.5/],
      "tfjs-fashion-mnist": [/^tfjs-examples fashion-mnist-vae\/model\.js: /, /^Fashion-MNIST grey levels/],
      "pytorch-vae": [/^AntixK\/PyTorch-VAE models\/vanilla_vae\.py: /, /^CelebA 64×64 colour/],
      "article-004": [/^article 004: /, /^MNIST grey levels$/],
      "article-003": [/^article 003: /, /^MNIST$/],
    };
    expect(LOSS_CONVENTIONS.map((c) => c.id)).toEqual(Object.keys(where));
    for (const c of LOSS_CONVENTIONS) {
      expect(c.source, c.id).toMatch(where[c.id][0]);
      expect(c.data, c.id).toMatch(where[c.id][1]);
      expect(c.printed.length, c.id).toBeGreaterThan(15);
    }
    expect(new Set(LOSS_CONVENTIONS.map((c) => c.printed)).size).toBe(6); // article 004's and 003's: "the loss of a batch"
    expect(LOSS_CONVENTIONS.filter((c) => c.binaryPixels).map((c) => c.id)).toEqual(["tf-cvae"]);
  });

  it("refuses an unknown convention, a shape that is not whole numbers, and a loss that is not a finite number, each in one line", () => {
    expect(() => lossConvention("mine")).toThrow(/^unknown loss convention "mine"; known: pytorch-examples, keras-vae/);
    expect(() => readLossNumber(lossConvention("keras-vae"), 1, { pixels: 0, latentDim: 2 })).toThrow("pixels must be a whole number ≥ 1 (got 0)");
    expect(() => conventionLoss(lossConvention("keras-vae"), { reconstruction: 1, kl: 1 }, { pixels: 784, latentDim: 1.5 })).toThrow("latentDim must be a whole number ≥ 1 (got 1.5)");
    expect(() => readLossNumber(lossConvention("keras-vae"), NaN, mnist)).toThrow("the loss must be a finite number (got NaN)");
  });
});

describe("against the VAE's own negative ELBO (src/vae/model.ts), on the same model, images and noise", () => {
  const B = 6;
  const D = 12;
  const Z = 3;
  const shape = { pixels: D, latentDim: Z };
  const images = () => tf.randomUniform([B, D], 0, 1, "float32", 4) as tf.Tensor2D;
  const noise = () => tf.randomNormal([B, Z], 0, 1, "float32", 5) as tf.Tensor2D;

  /** Per image: Σ over pixels of the convention's reconstruction term at z = μ + σ ε, and the KL; averaged over the batch. */
  function batchTerms(vae: Vae, x: tf.Tensor2D, eps: tf.Tensor2D, kind: "binary-cross-entropy" | "squared-error") {
    return tf.tidy(() => {
      const { mu, logVar } = vae.encode(x);
      const z = mu.add(tf.exp(logVar.mul(0.5)).mul(eps)) as tf.Tensor2D;
      const p = tf.sigmoid(vae.decode(z));
      const perPixel = kind === "squared-error" ? x.sub(p).square() : x.mul(p.log()).add(tf.sub(1, x).mul(tf.sub(1, p).log())).neg();
      const kl = mu.square().add(tf.exp(logVar)).sub(1).sub(logVar).mul(0.5).sum(1);
      return { reconstruction: perPixel.sum(1).mean().arraySync() as number, kl: kl.mean().arraySync() as number };
    });
  }

  it.each(LOSS_CONVENTIONS.filter((c) => c.reconstruction === "squared-error").map((c) => [c.id]))("%s: the reading equals a Gaussian VAE's −ELBO at the implied σ²", (id) => {
    const c = lossConvention(id);
    const sigma2 = readLossNumber(c, 1, shape).sigma2!;
    const vae = new Vae({ inputDim: D, hiddenDims: [5], latentDim: Z, likelihood: "gaussian", gaussianVariance: sigma2, seed: 2 });
    const [x, eps] = [images(), noise()];
    const value = conventionLoss(c, batchTerms(vae, x, eps, "squared-error"), shape);
    const own = negativeElbo(vae, x, { eps });
    expect(readLossNumber(c, value, shape).nats).toBeCloseTo(own.loss.arraySync() as number, 3);
    tf.dispose([x, eps, own.loss, own.recon, own.kl]);
    vae.dispose();
  });

  it.each(LOSS_CONVENTIONS.filter((c) => c.reconstruction === "binary-cross-entropy").map((c) => [c.id]))("%s: the reading equals a Bernoulli VAE's β-weighted −ELBO at the implied β", (id) => {
    const c = lossConvention(id);
    const beta = readLossNumber(c, 1, shape).beta;
    const vae = new Vae({ inputDim: D, hiddenDims: [5], latentDim: Z, likelihood: "bernoulli", seed: 3 });
    const [x, eps] = [images(), noise()];
    const value = conventionLoss(c, batchTerms(vae, x, eps, "binary-cross-entropy"), shape);
    const own = negativeElbo(vae, x, { eps, beta });
    expect(readLossNumber(c, value, shape).nats).toBeCloseTo(own.loss.arraySync() as number, 3);
    tf.dispose([x, eps, own.loss, own.recon, own.kl]);
    vae.dispose();
  });
});
