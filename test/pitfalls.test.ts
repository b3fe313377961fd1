import * as tf from "../src/engine/tf";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { activeUnits } from "../src/vae/evaluate";
import { loadMnist } from "../src/data/mnist";
import {
  addPerPixelToPerImage,
  bernoulliCrossEntropyParts,
  expectedLogQ,
  gaussianCrossEntropyParts,
  hiddenBetaMeanMean,
  klArticle003Torch,
  klAsTrace,
  lgElbo,
  lgElboArticle003,
  lgJointMassOverZ,
  lgLikelihood,
  logDensityArticle003,
  massOnSquare2d,
  minimise1d,
  symmetricEigenvalues2,
  trainTwoLayerXor,
  twoWells,
  twoWellsGrad,
  lgLikelihoodMassOverZ,
  lgLogEvidence,
  lgPosterior,
  lossMeanMean,
  mixtureElbo,
  mixturePosterior,
  bceFloor,
  bceLossesTensor,
  bceSigmoidTwice,
  bceWithLogits,
  fitVariance,
  klCorrect,
  klSigmaAsLogVar,
  klSignError,
  lossMeanOverPixels,
  sigmoidTwiceFloor,
} from "../src/pitfalls";
import { trainVae } from "../src/vae/train";
import { bernoulliNll, klStandardNormalTensor, Vae } from "../src/vae/model";
import { klDiagGaussians } from "../src/prob/kl";
import { logMixture1d, logNormal } from "../src/prob/gaussian";

beforeAll(async () => {
  // The wasm backend with the native kernels: the same results as the pure-JS cpu backend up to float32
  // rounding (the assertions here are statistical), and several times faster.
  await initBackend("wasm");
});

describe("the KL pitfalls", () => {
  it("the library's KL (tensor and float64) is 0 at the prior and positive elsewhere; the buggy ones are not", () => {
    const libKl = (mu: number, sigma: number) => tf.tidy(() => klStandardNormalTensor(tf.tensor2d([[mu]]), tf.tensor2d([[Math.log(sigma * sigma)]])).dataSync()[0]);
    expect(libKl(0, 1)).toBeCloseTo(0, 6);
    expect(klCorrect([0], [1])).toBe(0);
    for (const [m, s] of [[1, 1], [0, 0.3], [2, 2]]) {
      expect(libKl(m, s)).toBeGreaterThan(0);
      expect(libKl(m, s)).toBeCloseTo(klCorrect([m], [s]), 5);
    }
    expect(klSignError([0], [1])).toBe(1); // wrong at the prior
    expect(klSignError([2], [1])).toBe(-1); // negative "KL"
    const rng = [[0.3, 0.7], [-1.5, 1.2], [2.5, 0.4]];
    for (const [m, s] of rng) expect(klSignError([m], [s])).toBeCloseTo(klCorrect([m], [s]) + (1 - m * m), 12);
  });

  it("σ fed in as log σ² nearly removes the KL for small σ", () => {
    expect(klCorrect([0], [0.1])).toBeCloseTo(1.8076, 4);
    expect(klSigmaAsLogVar([0], [0.1])).toBeLessThan(0.003);
    expect(klSigmaAsLogVar([0], [0.1])).toBeCloseTo(-0.5 * (1.1 - Math.exp(0.1)), 12);
  });
});

describe("the likelihood pitfalls", () => {
  it("the library's BCE equals the scalar formula; sigmoid-twice can never go below log 2 for a black pixel", () => {
    const logits = [[-8, 0, 3.5]];
    const x = [[0, 1, 0.4]];
    const lib = tf.tidy(() => bernoulliNll(tf.tensor2d(logits), tf.tensor2d(x)).dataSync()[0]);
    expect(lib).toBeCloseTo(logits[0].reduce((s, l, j) => s + bceWithLogits(l, x[0][j]), 0), 4);
    for (const l of [-50, -10, 0, 10, 50]) expect(bceSigmoidTwice(l, 0)).toBeGreaterThanOrEqual(Math.log(2) - 1e-12);
    expect(bceWithLogits(-50, 0)).toBeLessThan(1e-20);
    const both = bceLossesTensor(tf.tensor2d(logits), tf.tensor2d(x));
    expect(both.correct[0]).toBeCloseTo(lib, 4);
    expect(both.sigmoidTwice[0]).toBeCloseTo(logits[0].reduce((s, l, j) => s + bceSigmoidTwice(l, x[0][j]), 0), 4);
  });

  it("loss floors: binary entropy for the correct loss, far higher under the bug", () => {
    expect(bceFloor([0, 1, 0.5])).toBeCloseTo(Math.log(2), 12);
    const black = new Float32Array(784);
    expect(bceFloor(black)).toBe(0);
    expect(sigmoidTwiceFloor(black)).toBeCloseTo(784 * Math.log(2), 6);
    const t = loadMnist({ dir: path.resolve(__dirname, "../data/mnist-tiny"), split: "test" });
    const img = t.images.subarray(0, 784);
    expect(sigmoidTwiceFloor(img)).toBeGreaterThan(bceFloor(img) + 300);
  });

  it("mean over pixels + summed KL is the β = 784 loss scaled by 1/784", () => {
    expect(lossMeanOverPixels(100, 25, 784) * 784).toBeCloseTo(100 + 784 * 25, 9);
  });
});

describe("variance parameterisation", () => {
  it("a fixed step on v overshoots below 0; on log v it converges", () => {
    const direct = fitVariance(0.01, { parameterisation: "variance", lr: 0.05, steps: 60 });
    const viaLog = fitVariance(0.01, { parameterisation: "logVariance", lr: 0.05, steps: 200 });
    expect(direct.brokeAt).toBe(1);
    expect(Number.isNaN(direct.trace[60])).toBe(true);
    expect(viaLog.brokeAt).toBe(-1);
    expect(viaLog.trace[200]).toBeCloseTo(0.01, 3);
    expect(viaLog.trace.every((v) => v > 0)).toBe(true);
  });
});

describe("posterior collapse", () => {
  it("a large β (the hidden β = 784) leaves no active units; β = 1 keeps some", () => {
    const dir = path.resolve(__dirname, "../data/mnist-tiny");
    const train = loadMnist({ dir });
    const test = loadMnist({ dir, split: "test" });
    const au = (beta: number) => {
      const m = new Vae({ latentDim: 4, hiddenDims: [32], seed: 1 });
      trainVae(m, train, test, { epochs: 20, batchSize: 20, lr: 3e-3, beta, seed: 1 });
      const n = activeUnits(m, test).count;
      m.dispose();
      return n;
    };
    expect(au(1)).toBeGreaterThanOrEqual(2);
    expect(au(784)).toBe(0);
  });
});

describe("article 003: the remaining code bugs", () => {
  it("the PyTorch KL (2σ for 2 log σ, then a mean) is −1 at the prior and finite as σ → 0", () => {
    expect(klArticle003Torch([0], [1])).toBe(-1);
    expect(klArticle003Torch([0, 0], [1, 1])).toBe(-1);
    for (const [m, s] of [[0.5, 0.2], [-2, 1.7], [0, 0.01]]) expect(klArticle003Torch([m], [s])).toBeCloseTo(0.5 * (m * m + (s - 1) ** 2) - 1, 12);
    // σ = 0.01: the true KL is 4.1 nats, the bug sits 0.49 above its own minimum.
    expect(klCorrect([0], [0.01])).toBeCloseTo(4.1052, 4);
    expect(klArticle003Torch([0], [0.01]) - klArticle003Torch([0], [1])).toBeCloseTo(0.49005, 5);
  });

  it("[B, 784] + [B] fails to broadcast unless B is 1 or 784; at 784 it adds image j's KL to pixel j", () => {
    const before = tf.memory().numTensors;
    const try_ = (B: number) => {
      const ce = tf.ones([B, 784]) as tf.Tensor2D;
      const kl = tf.range(0, B) as tf.Tensor1D;
      const r = addPerPixelToPerImage(ce, kl);
      tf.dispose([ce, kl]);
      return r;
    };
    const r128 = try_(128);
    expect(r128.shape).toBeUndefined();
    expect(r128.error).toMatch(/broadcast/i);
    expect(try_(1).shape).toEqual([1, 784]);
    expect(try_(784).shape).toEqual([784, 784]);
    const wrong = tf.tidy(() => tf.add(tf.zeros([784, 784]), tf.range(0, 784)).slice([5, 0], [1, 3]).dataSync());
    expect(Array.from(wrong)).toEqual([0, 1, 2]); // image 5's row carries images 0, 1, 2's KL
    expect(tf.memory().numTensors).toBe(before);
  });

  it("mean over B×784 pixels plus mean over B×D KL terms is recon/784 + KL/D: β = 784/D (392 for D = 2)", () => {
    expect(hiddenBetaMeanMean(784, 2)).toBe(392);
    const B = 16;
    const D = 2;
    const bce = tf.randomUniform([B, 784], 0, 1, "float32", 1);
    const klTerms = tf.randomUniform([B, D], 0, 3, "float32", 2);
    const article = tf.tidy(() => tf.mean(bce).add(tf.mean(klTerms)).dataSync()[0]);
    const recon = tf.tidy(() => tf.mean(tf.sum(bce, 1)).dataSync()[0]);
    const kl = tf.tidy(() => tf.mean(tf.sum(klTerms, 1)).dataSync()[0]);
    expect(article).toBeCloseTo(lossMeanMean(recon, kl, 784, D), 5);
    expect(article * 784).toBeCloseTo(recon + 392 * kl, 2);
    tf.dispose([bce, klTerms]);
  });
});

describe("article 003: the conceptual errors, put to numbers", () => {
  const model = { w: 2, s: 0.5 };
  it("p(x|z) is not a distribution over z: it integrates to 1/|w| over z", () => {
    for (const x of [-1, 0.3, 2]) expect(lgLikelihoodMassOverZ(model, x)).toBeCloseTo(0.5, 8);
    expect(lgLikelihoodMassOverZ({ w: 1, s: 0.5 }, 0.3)).toBeCloseTo(1, 8);
  });

  it("the ELBO at the exact posterior is log p(x); E_q log q is not, and does not even depend on x", () => {
    const xs = [-1, 0, 0.3, 2];
    for (const x of xs) {
      const post = lgPosterior(model, x);
      expect(lgElbo(model, x, post)).toBeCloseTo(lgLogEvidence(model, x), 12);
      expect(lgElbo(model, x, { mean: post.mean + 0.3, sd: post.sd * 2 })).toBeLessThan(lgLogEvidence(model, x) - 0.1);
    }
    const eq = xs.map((x) => expectedLogQ(lgPosterior(model, x)));
    expect(new Set(eq.map((v) => v.toFixed(12))).size).toBe(1);
    // σ_post = 0.2425 for every x: E_q log q = −0.0023, while log p(0) = −1.6424 and log p(2) = −2.1130.
    expect(lgLogEvidence(model, 0)).toBeCloseTo(-1.6424, 4);
    expect(eq[0]).toBeCloseTo(-0.0023, 4);
    expect(lgLogEvidence(model, 2)).toBeCloseTo(-2.113, 4);
  });

  it("the trace alone is not the KL: D at q = p and blind to the means", () => {
    expect(klAsTrace([1, 1], [1, 1])).toBe(2);
    expect(klDiagGaussians({ mu: [0, 0], sigma: [1, 1] }, { mu: [0, 0], sigma: [1, 1] })).toBe(0);
    expect(klAsTrace([1, 1], [1, 1])).toBe(2); // q = N((3, 0), I): the same trace …
    expect(klDiagGaussians({ mu: [3, 0], sigma: [1, 1] }, { mu: [0, 0], sigma: [1, 1] })).toBeCloseTo(4.5, 12); // … a KL of 4.5
  });

  it("a mixture's ELBO at its exact (finite-sum) posterior is log p(x); at q = the weights it is lower", () => {
    const p = { weights: [0.3, 0.7], means: [-2, 1], sds: [0.5, 1] };
    for (const x of [-2.5, 0, 1.7]) {
      const post = mixturePosterior(p, x);
      expect(post[0] + post[1]).toBeCloseTo(1, 12);
      expect(mixtureElbo(p, x, post)).toBeCloseTo(logMixture1d(x, p), 12);
      expect(mixtureElbo(p, x, p.weights)).toBeLessThan(logMixture1d(x, p));
    }
  });

  it("cross-entropy = entropy + KL: above the KL for Bernoullis, below it for a narrow Gaussian", () => {
    const b = bernoulliCrossEntropyParts(0.3, 0.6);
    expect(b.crossEntropy).toBeCloseTo(-(0.3 * Math.log(0.6) + 0.7 * Math.log(0.4)), 12);
    expect(b.entropy).toBeCloseTo(-(0.3 * Math.log(0.3) + 0.7 * Math.log(0.7)), 12);
    expect(b.kl).toBeCloseTo(0.3 * Math.log(0.3 / 0.6) + 0.7 * Math.log(0.7 / 0.4), 12);
    expect(bernoulliCrossEntropyParts(0, 0.2).entropy).toBe(0);
    const g = gaussianCrossEntropyParts({ mean: 0, sd: 0.1 }, { mean: 0, sd: 1 });
    expect(g.entropy).toBeCloseTo(-0.8836, 4);
    expect(g.kl).toBeCloseTo(klDiagGaussians({ mu: [0], sigma: [0.1] }, { mu: [0], sigma: [1] }), 12);
    expect(g.crossEntropy).toBeLessThan(g.kl);
    expect(g.crossEntropy).toBeCloseTo(0.9239, 4);
    expect(g.kl).toBeCloseTo(1.8076, 4);
  });

  it("the article's Gaussian 'log-density' is not log N(x; μ, Σ): it grows away from the mean and its exp does not integrate to 1", () => {
    const cov = [[2, 0.8], [0.8, 1]];
    const mean = [1, 1];
    // At the mean: ½(log|Σ| − 2 log 2π) against −½(log|Σ| + 2 log 2π).
    expect(logDensityArticle003(mean, 1, cov)).toBeCloseTo(0.5 * (Math.log(1.36) - 2 * Math.log(2 * Math.PI)), 12);
    expect(logNormal(mean, mean, cov)).toBeCloseTo(-0.5 * (Math.log(1.36) + 2 * Math.log(2 * Math.PI)), 12);
    expect(logDensityArticle003([3, 1], 1, cov)).toBeGreaterThan(logDensityArticle003(mean, 1, cov));
    expect(logNormal([3, 1], mean, cov)).toBeLessThan(logNormal(mean, mean, cov));
    // No Σ⁻¹: two points at the same Euclidean distance get the same value, whatever Σ's shape.
    expect(logDensityArticle003([3, 1], 1, cov)).toBeCloseTo(logDensityArticle003([1, 3], 1, cov), 12);
    expect(logNormal([3, 1], mean, cov)).not.toBeCloseTo(logNormal([1, 3], mean, cov), 2);
    const trueMass = massOnSquare2d((x) => logNormal(x, mean, cov), mean, 8, 101);
    expect(trueMass).toBeCloseTo(1, 6);
    const m4 = massOnSquare2d((x) => logDensityArticle003(x, 1, cov), mean, 4, 201);
    const m6 = massOnSquare2d((x) => logDensityArticle003(x, 1, cov), mean, 6, 201);
    expect(m4).toBeGreaterThan(1000);
    expect(m6).toBeGreaterThan(1e6 * m4);
  });

  it("∫ p(x, z) dz is p(x), the same for every z, not p(x | z)", () => {
    for (const x of [0, 1, 2]) expect(lgJointMassOverZ(model, x)).toBeCloseTo(Math.exp(lgLogEvidence(model, x)), 10);
    expect(Math.exp(lgLogEvidence(model, 1))).toBeCloseTo(0.17204, 5);
    expect(lgLikelihood(model, 1, 0.5)).toBeCloseTo(0.79788, 5);
    expect(lgLikelihood(model, 1, -1)).toBeLessThan(1e-7);
  });

  it("the article's ELBO is p(x) − 1 for every q: above log p(x), where the true ELBO is below", () => {
    for (const x of [0, 1, 2]) {
      const logPx = lgLogEvidence(model, x);
      const values = [lgPosterior(model, x), { mean: 0, sd: 1 }, { mean: 3, sd: 0.1 }].map((q) => {
        const a = lgElboArticle003(model, x, q);
        expect(a.second).toBeCloseTo(1, 10);
        expect(a.value).toBeCloseTo(Math.exp(logPx) - 1, 10);
        expect(a.value).toBeGreaterThan(logPx);
        expect(lgElbo(model, x, q)).toBeLessThanOrEqual(logPx + 1e-12);
        return a.value;
      });
      expect(Math.max(...values) - Math.min(...values)).toBeLessThan(1e-10);
    }
    expect(lgElbo(model, 1, { mean: 0, sd: 1 })).toBeCloseTo(-10.2258, 4);
  });

  it("log p(x) is negative on this model; the negative log-likelihood is its negation, positive", () => {
    for (const x of [0, 1, 2, 5]) {
      expect(lgLogEvidence(model, x)).toBeLessThan(0);
      expect(-lgLogEvidence(model, x)).toBeGreaterThan(0);
    }
    expect(lgLogEvidence(model, 0)).toBeCloseTo(-0.5 * Math.log(2 * Math.PI * 4.25), 12);
  });

  it("the trace is the sum of the eigenvalues (and the determinant their product)", () => {
    const [l1, l2] = symmetricEigenvalues2([[2, 0.8], [0.8, 1]]);
    expect(l1).toBeCloseTo(2.4434, 4);
    expect(l2).toBeCloseTo(0.5566, 4);
    expect(l1 + l2).toBeCloseTo(3, 12);
    expect(l1 * l2).toBeCloseTo(2 - 0.64, 12);
    expect(symmetricEigenvalues2([[3, 0], [0, 1]])).toEqual([3, 1]);
  });

  it("all-zero initialisation keeps the hidden units identical; a random one breaks the symmetry and fits XOR", () => {
    const zero = trainTwoLayerXor({ init: "zero", steps: 300 });
    expect(zero.unitGap).toBe(0);
    expect(zero.hiddenIn[0][0]).not.toBe(0); // the units moved, together
    expect(zero.lossAfter).toBeGreaterThan(0.24);
    const rand = trainTwoLayerXor({ init: "random", steps: 2000 });
    expect(rand.unitGap).toBeGreaterThan(1);
    expect(rand.lossAfter).toBeLessThan(1e-3);
  });

  it("Adam, like gradient descent, ends in the minimum of the basin it starts in", () => {
    expect(twoWellsGrad(1.5)).toBeCloseTo((twoWells(1.5 + 1e-6) - twoWells(1.5 - 1e-6)) / 2e-6, 5);
    // One step: gradient descent moves by lr · f′(2) = 0.243, Adam by lr (its bias-corrected first step is lr · sign).
    expect(minimise1d(twoWellsGrad, 2, { method: "gd", lr: 0.01, steps: 1 })).toBeCloseTo(2 - 0.01 * 24.3, 12);
    expect(minimise1d(twoWellsGrad, 2, { method: "adam", lr: 0.01, steps: 1 })).toBeCloseTo(1.99, 8);
    for (const method of ["gd", "adam"] as const) {
      const fromRight = minimise1d(twoWellsGrad, 2, { method, lr: 0.01, steps: 2000 });
      const fromLeft = minimise1d(twoWellsGrad, -0.5, { method, lr: 0.01, steps: 2000 });
      expect(fromRight).toBeCloseTo(0.96015, 4);
      expect(fromLeft).toBeCloseTo(-1.03558, 4);
      expect(twoWells(fromRight)).toBeGreaterThan(twoWells(fromLeft) + 0.5);
    }
  });
});
