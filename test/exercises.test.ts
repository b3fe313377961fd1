/**
 * The numbers the notebooks' exercise solutions state, recomputed from the library: a solution that no
 * longer matches the code it describes fails here.
 */
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { binomialLikelihood, discreteBayes, LinearGaussianModel, pilotMatrix } from "../src/prob/bayes";
import { conditionalMutualInformation, networkJoint, probabilityOf } from "../src/prob/bayes-network";
import { linearCost, quadraticCost } from "../src/prob/costs";
import { fitElbo } from "../src/prob/elbo";
import { studyEstimator } from "../src/prob/estimators";
import { fitGaussianToMixture, klDiagGaussians, klToStandardNormal, linspace } from "../src/prob/kl";
import { mixtureMoments } from "../src/prob/gaussian";
import { Rng } from "../src/engine/random";
import { labelCounts, loadMnist } from "../src/data/mnist";
import { imageMomentsOfEach } from "../src/data/image-moments";
import { bernoulliNll, freeBitsKl, gaussianNll } from "../src/vae/model";
import { ConvVae, convWeightLayout } from "../src/vae/conv";
import { createAdam } from "../src/engine/optimizer";
import { lossConvention, readLossNumber } from "../src/vae/loss-conventions";
import { burdaStage, learningRateAt } from "../src/vae/schedule";
import { betaAt } from "../src/vae/train";

describe("00_setup exercises", () => {
  it("full training set: rarest digit 5 (5421), commonest 1 (6742); mean grey level 0.1307, sd 0.3081", () => {
    const train = loadMnist({ split: "train" });
    const counts = labelCounts(train);
    expect(Math.min(...counts)).toBe(5421);
    expect(counts.indexOf(5421)).toBe(5);
    expect(Math.max(...counts)).toBe(6742);
    expect(counts.indexOf(6742)).toBe(1);
    const others = counts.filter((_, d) => d !== 1 && d !== 5);
    expect([Math.min(...others), Math.max(...others)]).toEqual([5842, 6265]);
    let s = 0;
    let s2 = 0;
    for (const v of train.images) {
      s += v;
      s2 += v * v;
    }
    const mean = s / train.images.length;
    expect(mean).toBeCloseTo(0.1307, 4);
    expect(Math.sqrt(s2 / train.images.length - mean * mean)).toBeCloseTo(0.3081, 4);
  }, 120_000);
});

describe("02_bayes_rule exercises", () => {
  const thetas = linspace(0, 1, 101);
  const uniform = thetas.map(() => 1 / 101);
  it("uniform grid prior: posterior mean 0.6667 after 7/10; log evidence −2.4078 (k = 7) and −2.3534 (k = 0)", () => {
    const post = discreteBayes(uniform, binomialLikelihood(7, 10, thetas));
    expect(post.posterior.reduce((s, p, i) => s + p * thetas[i], 0)).toBeCloseTo(0.6667, 4);
    expect(post.logEvidence).toBeCloseTo(-2.4078, 4);
    expect(post.logEvidence).toBeCloseTo(Math.log(100 / 101) + Math.log(1 / 11), 4);
    expect(discreteBayes(uniform, binomialLikelihood(0, 10, thetas)).logEvidence).toBeCloseTo(-2.3534, 4);
  }, 60_000);

  it("one pilot: sd of tap 0 is √(7/9) = 0.8819 (the pilots chart's first point)", () => {
    const m = new LinearGaussianModel({ A: pilotMatrix(1, 4, new Rng(1)), noiseVar: 0.5 });
    expect(Math.sqrt(m.posterior([0]).cov[0][0])).toBeCloseTo(Math.sqrt(7 / 9), 10);
    expect(Math.sqrt(7 / 9)).toBeCloseTo(0.8819, 4);
  });

  it("Hadamard pilots: every tap's sd is √(σn²/(σn²+n)): 0.2425 for n = 8, 0.06238 for n = 128", () => {
    const H = [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]];
    for (const [n, sd] of [[8, 0.2425], [128, 0.06238]]) {
      const A = Array.from({ length: n }, (_, i) => H[i % 4]);
      const cov = new LinearGaussianModel({ A, noiseVar: 0.5 }).posterior(new Array(n).fill(0)).cov;
      for (let t = 0; t < 4; t++) expect(Math.sqrt(cov[t][t])).toBeCloseTo(Math.sqrt(0.5 / (0.5 + n)), 10);
      expect(Math.sqrt(0.5 / (0.5 + n))).toBeCloseTo(sd, 4);
    }
  });

  it("a chain A → B → C: I(A; C | B) = 0, I(A; C) = 0.1067 nats, p(C = 1 | A = 1) = 0.73 and 0.24 without rain", () => {
    const chain = networkJoint([
      { name: "A", states: 2, parents: [], table: [[0.7, 0.3]] },
      { name: "B", states: 2, parents: ["A"], table: [[0.8, 0.2], [0.1, 0.9]] },
      { name: "C", states: 2, parents: ["B"], table: [[0.9, 0.1], [0.2, 0.8]] },
    ]);
    expect(conditionalMutualInformation(chain, "A", "C", ["B"])).toBeLessThan(1e-14);
    expect(conditionalMutualInformation(chain, "A", "C")).toBeCloseTo(0.1067, 4);
    expect(probabilityOf(chain, { A: 1, C: 1 }) / probabilityOf(chain, { A: 1 })).toBeCloseTo(0.73, 12);
    expect(probabilityOf(chain, { A: 0, C: 1 }) / probabilityOf(chain, { A: 0 })).toBeCloseTo(0.24, 12);
  });
});

describe("03_kl_and_elbo exercises", () => {
  it("KL(N(0,1)‖N(1,1)) = 0.5 and KL(N(0,1)‖N(0,2²)) = 0.3181", () => {
    expect(klDiagGaussians({ mu: [0], sigma: [1] }, { mu: [1], sigma: [1] })).toBeCloseTo(0.5, 10);
    expect(klDiagGaussians({ mu: [0], sigma: [1] }, { mu: [0], sigma: [2] })).toBeCloseTo(0.3181, 4);
  });

  it("forward fit of the notebook's mixture: mean 0.6, variance 9.322, sd 3.0532", () => {
    const m = mixtureMoments({ weights: [0.4, 0.6], means: [-3, 3], sds: [0.7, 0.9] });
    expect(m.mean).toBeCloseTo(0.6, 10);
    expect(m.variance).toBeCloseTo(9.322, 10);
    expect(Math.sqrt(m.variance)).toBeCloseTo(3.0532, 4);
  });

  it("modes at ±1: both starts reach one q, μ = 0.23, σ = 1.24, KL = 0.0347", () => {
    const target = { weights: [0.4, 0.6], means: [-1, 1], sds: [0.7, 0.9] };
    for (const start of [{ mu: [-1], sigma: [1] }, { mu: [1], sigma: [1] }]) {
      const f = fitGaussianToMixture(target, "reverse", undefined, start);
      expect(f.mu[0]).toBeCloseTo(0.23, 2);
      expect(f.sigma[0]).toBeCloseTo(1.24, 2);
      expect(f.kl).toBeCloseTo(0.0347, 4);
    }
  }, 60_000);

  it("A = [[1,1],[1,1]], σn² = 1: the mean-field gap is ½ log(9/5) = 0.2939 whatever y", () => {
    const model = new LinearGaussianModel({ A: [[1, 1], [1, 1]], noiseVar: 1 });
    for (const seed of [1, 2]) {
      const { y } = model.sample(new Rng(seed));
      expect(fitElbo(model, y, { family: "diagonal", steps: 2000 }).history[2000].gap).toBeCloseTo(0.5 * Math.log(9 / 5), 6);
    }
    expect(0.5 * Math.log(9 / 5)).toBeCloseTo(0.2939, 4);
  }, 60_000);
});

describe("04_score_function_gradients exercises", () => {
  const q = { mu: [0.5, -1.0, 1.5], sigma: [0.8, 1.2, 0.5] };
  it("linear cost: variance 27.60 at b = 0, 11.10 at the optimal baseline b* = aᵀμ = 3.25", () => {
    const linear = linearCost([1, -2, 0.5]);
    expect(linear.variances!(q, 0).score.mu[0]).toBeCloseTo(27.6016, 4);
    expect(linear.variances!(q, 3.25).score.mu[0]).toBeCloseTo(11.0977, 4);
    for (const b of [3.0, 3.2, 3.3, 3.5]) expect(linear.variances!(q, b).score.mu[0]).toBeGreaterThan(linear.variances!(q, 3.25).score.mu[0]);
  });

  it("f = ‖z‖²: single-sample variance 104.02 at b = 0 and 25.03 at b* = 7.11, so S ≈ 10 400 and 2 500 for sd 0.1", () => {
    const quadratic = quadraticCost();
    expect(quadratic.variances!(q, 0).score.mu[0]).toBeCloseTo(104.02, 2);
    expect(quadratic.variances!(q, 7.11).score.mu[0]).toBeCloseTo(25.03, 2);
  });
});

describe("05_reparameterization exercises", () => {
  beforeAll(async () => {
    await initBackend();
  });
  const varReparam = (w: number) => w * w * ((1 + Math.exp(-2 * w * w)) / 2 - Math.exp(-w * w));
  const varScore = (w: number) => (1 - (1 - 4 * w * w) * Math.exp(-2 * w * w)) / 2 - w * w * Math.exp(-w * w);

  it("sin(ωz) under N(0, 1): the closed-form variances match Monte Carlo at ω = 0.5 and ω = 5", () => {
    for (const w of [0.5, 5]) {
      const f = (z: tf.Tensor2D) => z.mul(w).sin().sum(1) as tf.Tensor1D;
      const q = { mu: [0], sigma: [1] };
      const score = studyEstimator("score", f, q, { samples: 1, repeats: 100000, seed: 1 }).variance.mu[0];
      const reparam = studyEstimator("reparam", f, q, { samples: 1, repeats: 100000, seed: 2 }).variance.mu[0];
      expect(score / varScore(w)).toBeCloseTo(1, 1);
      expect(reparam / varReparam(w)).toBeCloseTo(1, 1);
    }
    expect(varReparam(5)).toBeCloseTo(12.5, 6);
    expect(varScore(5)).toBeCloseTo(0.5, 6);
    expect(varReparam(0.5)).toBeCloseTo(0.0061, 4);
    expect(varScore(0.5)).toBeCloseTo(0.305, 3);
  }, 120_000);

  it("the score function wins above ω = 1.109", () => {
    let lo = 0.5;
    let hi = 2;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (varReparam(mid) < varScore(mid)) lo = mid;
      else hi = mid;
    }
    expect(lo).toBeCloseTo(1.109, 3);
  });

  it("score-function variance vs D (μ = 0.5, σ = 1) is 1.5625 D² + 8 D + 9; the D² term dominates from D = 7", () => {
    const quadratic = quadraticCost();
    const v = (D: number) => quadratic.variances!({ mu: new Array(D).fill(0.5), sigma: new Array(D).fill(1) }).score.mu[0];
    for (const D of [1, 2, 3, 7, 16, 64]) expect(v(D)).toBeCloseTo(1.5625 * D * D + 8 * D + 9, 8);
    const firstDominant = [1, 2, 3, 4, 5, 6, 7, 8].find((D) => 1.5625 * D * D > 8 * D + 9);
    expect(firstDominant).toBe(7);
  });

  it("reparameterized ∂/∂log σ₀ for ‖z‖²: variance σ₀²·4(μ₀² + 2σ₀²) = 3.9168", () => {
    const q = { mu: [0.5, -1.0, 1.5], sigma: [0.8, 1.2, 0.5] };
    const measured = studyEstimator("reparam", quadraticCost().f, q, { samples: 1, repeats: 100000, seed: 3 }).variance.logSigma[0];
    expect(0.64 * 4 * (0.25 + 1.28)).toBeCloseTo(3.9168, 10);
    expect(measured / 3.9168).toBeCloseTo(1, 1);
  }, 120_000);
});

describe("07_vae_mnist exercises", () => {
  it("exercise 7: stroke measures of the test digits — least ink 1 (60.2), most 0 (135.1); 63.1% slant right, mean 0.094; 9 (−0.023) and 6 (−0.010) lean left", () => {
    const test = loadMnist({ split: "test" });
    const ms = imageMomentsOfEach(test.images, 28, 28);
    const ink = Array.from({ length: 10 }, () => [0, 0]), slant = Array.from({ length: 10 }, () => 0);
    ms.forEach((m, i) => { ink[test.labels[i]][0] += m.ink; ink[test.labels[i]][1]++; slant[test.labels[i]] += m.slant; });
    const meanInk = ink.map(([s, n]) => s / n), meanSlant = slant.map((s, d) => s / ink[d][1]);
    expect(meanInk.indexOf(Math.min(...meanInk))).toBe(1);
    expect(meanInk[1]).toBeCloseTo(60.2, 1);
    expect(meanInk.indexOf(Math.max(...meanInk))).toBe(0);
    expect(meanInk[0]).toBeCloseTo(135.1, 1);
    expect(ms.filter((m) => m.slant > 0).length / ms.length).toBeCloseTo(0.631, 3);
    expect(ms.reduce((s, m) => s + m.slant, 0) / ms.length).toBeCloseTo(0.094, 3);
    expect(meanSlant.map((v, d) => (v < 0 ? d : -1)).filter((d) => d >= 0)).toEqual([6, 9]);
    expect(meanSlant[9]).toBeCloseTo(-0.023, 3);
    expect(meanSlant[6]).toBeCloseTo(-0.01, 3);
  }, 120_000);
});

describe("08_conv_vae exercises", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("kl_weight = 2σ²/D: 5.10e-5 for σ² = 0.02 at D = 784; σ² = 15.36 for kl_weight 0.0025 at D = 64·64·3; 0.98 at D = 784", () => {
    expect((2 * 0.02) / 784).toBeCloseTo(5.102e-5, 8);
    expect((0.0025 * 64 * 64 * 3) / 2).toBeCloseTo(15.36, 10);
    expect((0.0025 * 784) / 2).toBeCloseTo(0.98, 12);
  });

  it("mse_loss/0.0025 + (D/2)·log(2π·0.98) is the Gaussian −log-likelihood with σ² = 0.98 (gaussianNll)", () => {
    const rng = new Rng(8);
    const B = 16;
    const x = tf.tensor2d(Float32Array.from({ length: B * 784 }, () => rng.uniform()), [B, 784]);
    const mean = tf.tensor2d(Float32Array.from({ length: B * 784 }, () => rng.uniform()), [B, 784]);
    const mse = tf.mean(tf.square(tf.sub(x, mean))).dataSync()[0];
    const nll = tf.mean(gaussianNll(mean, x, Math.log(0.98))).dataSync()[0];
    expect(mse / 0.0025 + (784 / 2) * Math.log(2 * Math.PI * 0.98)).toBeCloseTo(nll, 2);
    tf.dispose([x, mean]);
  });

  it("S/(2σ²) + (D/2)·log(2πσ²) is smallest at σ² = S/D, where it is (D/2)(1 + log(2πS/D))", () => {
    const rng = new Rng(9);
    const D = 784;
    const x = tf.tensor2d(Float32Array.from({ length: D }, () => rng.uniform()), [1, D]);
    const mean = tf.tensor2d(Float32Array.from({ length: D }, () => rng.uniform()), [1, D]);
    const S = tf.sum(tf.square(tf.sub(x, mean))).dataSync()[0];
    const at = (v: number) => gaussianNll(mean, x, Math.log(v)).dataSync()[0];
    const best = at(S / D);
    expect(best).toBeCloseTo((D / 2) * (1 + Math.log((2 * Math.PI * S) / D)), 2);
    for (const f of [0.8, 0.95, 1.05, 1.25]) expect(at((f * S) / D)).toBeGreaterThan(best);
    tf.dispose([x, mean]);
  });

  it("parameters: article 004's model at z = 2 has 24 493 (24 321 without the 172 biases before a BatchNorm); the convolutional-VAE tutorial's 69 989", () => {
    const conv = (cin: number, cout: number, bias = true) => 9 * cin * cout + (bias ? cout : 0);
    const bn = (c: number) => 2 * c;
    const linear = (fanIn: number, fanOut: number) => fanIn * fanOut + fanOut;
    const encoder = [[1, 4], [4, 8], [8, 16], [16, 32]].reduce((s, [i, o]) => s + conv(i, o) + bn(o), 0) + 2 * linear(128, 2);
    const block = [[8, 32], [32, 16], [16, 8]].reduce((s, [i, o]) => s + conv(i, o) + bn(o), 0);
    const decoder = linear(2, 392) + 2 * block + conv(8, 1);
    expect([encoder, block, decoder, encoder + decoder]).toEqual([6780, 8232, 17713, 24493]);
    expect(4 + 8 + 16 + 32 + 2 * (32 + 16 + 8)).toBe(172);
    const m = new ConvVae({ latentDim: 2 });
    expect(m.parameterCount()).toBe(69989);
    expect(convWeightLayout(m.config).map((l) => l.shape.reduce((a, b) => a * b, 1))).toEqual([288, 32, 18432, 64, 9216, 4, 3136, 1568, 18432, 64, 18432, 32, 288, 1]);
    m.dispose();
  });

  it("Adam's first step hardly changes when the loss is multiplied by 400: relative change ≈ ε/|g| (ε = 1e-8)", () => {
    const rng = new Rng(10);
    const grad = Float32Array.from({ length: 500 }, () => rng.normal() * 1e-3);
    const step = (scale: number) => {
      const v = tf.variable(tf.zeros([500]), true, `ex08-adam-${scale}`);
      const opt = createAdam(1e-3);
      const g = tf.mul(tf.tensor1d(grad), scale);
      opt.applyGradients({ [v.name]: g }, [v]);
      const moved = Array.from(v.dataSync());
      opt.dispose();
      tf.dispose([v, g]);
      return moved;
    };
    const a = step(1);
    const b = step(400);
    a.forEach((d, i) => {
      const rel = Math.abs(d - b[i]) / Math.abs(b[i]);
      expect(rel).toBeLessThan(1.1e-8 / Math.abs(grad[i]) + 1e-5);
      expect(Math.abs(b[i])).toBeCloseTo(1e-3, 5);
    });
    const typical = a.map((d, i) => Math.abs(d - b[i]) / Math.abs(b[i])).sort((x, y) => x - y)[250];
    expect(typical).toBeLessThan(1e-4);
  });
});

describe("12_reading_a_loss_number exercises", () => {
  it("article 003's mean/mean loss hides β = 39.2 at z = 20; a summed squared error is σ² = ½, 30 → 478.73 nats; PyTorch-VAE's weight is σ² = 1.536 on 64×64×3 and 0.098 on MNIST", () => {
    expect(readLossNumber(lossConvention("article-003"), 1, { pixels: 784, latentDim: 20 }).beta).toBeCloseTo(39.2, 12);
    const sum = readLossNumber(lossConvention("tfjs-fashion-mnist"), 30, { pixels: 784, latentDim: 2 });
    expect(sum.sigma2).toBe(0.5);
    expect(sum.nats).toBeCloseTo(478.73, 2);
    expect(readLossNumber(lossConvention("pytorch-vae"), 1, { pixels: 12288, latentDim: 128 }).sigma2).toBeCloseTo(1.536, 12);
    expect(readLossNumber(lossConvention("pytorch-vae"), 1, { pixels: 784, latentDim: 2 }).sigma2).toBeCloseTo(0.098, 12);
  });
});

describe("13_importance_weighted_bound exercises", () => {
  it("log w = (−100, −101, −104): log of the mean weight −100.77205, normalised weights 0.72140, 0.26539, 0.01321 (tf.logSumExp agrees in float32)", () => {
    const logW = [-100, -101, -104];
    const top = Math.max(...logW);
    const sum = logW.reduce((s, v) => s + Math.exp(v - top), 0);
    expect(top + Math.log(sum) - Math.log(3)).toBeCloseTo(-100.77205, 5);
    expect(sum).toBeCloseTo(1.3862, 5);
    logW.map((v) => Math.exp(v - top) / sum).forEach((w, i) => expect(w).toBeCloseTo([0.7214, 0.26539, 0.01321][i], 5));
    const t = tf.tensor1d(logW);
    const viaTf = tf.logSumExp(t);
    expect((viaTf.arraySync() as number) - Math.log(3)).toBeCloseTo(-100.772, 3);
    tf.dispose([t, viaTf]);
  });

  it("epoch 100 of Burda et al.'s schedule is in stage 4 (epochs 41–121, 81 of them) at 2.683e-4", () => {
    expect(burdaStage(100)).toBe(4);
    expect(burdaStage(41)).toBe(4);
    expect(burdaStage(121)).toBe(4);
    expect(burdaStage(40)).toBe(3);
    expect(burdaStage(122)).toBe(5);
    expect(learningRateAt(100, 1e-3, "burda")).toBeCloseTo(2.683e-4, 7);
  });
});

describe("14_amortisation_gap exercises", () => {
  it("z ~ N(0,1), x|z ~ N(z,1), x = 2, q = N(0.8, 0.5): posterior N(1, 0.5), log p(x) −2.2655, amortisation gap 0.04, ELBO −2.3055", () => {
    const x = 2;
    // Posterior by precisions: 1 (prior) + 1 (likelihood); mean x · 1/2.
    const post = { mu: [x / 2], sigma: [Math.sqrt(1 / 2)] };
    expect(post.mu[0]).toBe(1);
    const logPx = -0.5 * Math.log(2 * Math.PI * 2) - (x * x) / (2 * 2); // x ~ N(0, 2)
    expect(logPx).toBeCloseTo(-2.2655, 4);
    const q = { mu: [0.4 * x], sigma: [Math.sqrt(0.5)] };
    const gap = klDiagGaussians(q, post);
    expect(gap).toBeCloseTo(0.04, 12);
    // The ELBO written out, E_q log N(x; z, 1) − KL(q ‖ N(0, 1)), is log p(x) minus that gap.
    const m = q.mu[0];
    const v = q.sigma[0] ** 2;
    const elbo = -0.5 * Math.log(2 * Math.PI) - 0.5 * ((x - m) ** 2 + v) - 0.5 * (m * m + v - 1 - Math.log(v));
    expect(elbo).toBeCloseTo(-2.3055, 4);
    expect(logPx - elbo).toBeCloseTo(gap, 12);
    // q* = the posterior: its ELBO is log p(x), the approximation gap 0.
    const best = -0.5 * Math.log(2 * Math.PI) - 0.5 * ((x - 1) ** 2 + 0.5) - 0.5 * (1 + 0.5 - 1 - Math.log(0.5));
    expect(best).toBeCloseTo(logPx, 12);
  });
});

describe("15_posterior_collapse exercises", () => {
  it("KLs 2.1, 0.6, 0.12, 0.003: plain 2.823, free bits 3.2 (λ = 0.25) and 5.1 (λ = 1), by vl.freeBitsKl", () => {
    const kls = [2.1, 0.6, 0.12, 0.003];
    expect(kls.reduce((s, v) => s + v, 0)).toBeCloseTo(2.823, 12);
    // A unit with log σ² = 0 and μ = √(2 KL) in every row has that KL.
    const rows = 3;
    const mu = tf.tensor2d(Array.from({ length: rows }, () => kls.map((k) => Math.sqrt(2 * k))));
    const logVar = tf.zeros([rows, kls.length]) as tf.Tensor2D;
    for (const [lambda, want] of [[0.25, 3.2], [1, 5.1]]) {
      const v = freeBitsKl(mu, logVar, lambda);
      expect(v.dataSync()[0]).toBeCloseTo(want, 4);
      v.dispose();
    }
    tf.dispose([mu, logVar]);
  });

  it("warm-up over 4 of 10 epochs: β = 0, 0.25, 0.5, 0.75, then 1", () => {
    expect(Array.from({ length: 10 }, (_, i) => betaAt(i + 1, 1, 4))).toEqual([0, 0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1]);
  });

  it("a unit at N(c, 1) for every image: KL c²/2 (above 0.05 nats once |c| > 0.32), and the aggregate's KL the same, so no information", () => {
    for (const c of [0.33, 1, -2]) {
      const kl = klToStandardNormal({ mu: [c], sigma: [1] });
      expect(kl).toBeCloseTo((c * c) / 2, 12);
      expect(kl).toBeGreaterThan(0.05);
      // q(z) of such a unit is N(c, 1) itself: its KL to the prior, subtracted, leaves 0.
      expect(kl - klDiagGaussians({ mu: [c], sigma: [1] }, { mu: [0], sigma: [1] })).toBeCloseTo(0, 12);
    }
    expect(klToStandardNormal({ mu: [0.32], sigma: [1] })).toBeLessThan(0.0513);
  });
});

describe("16_conditional_vae exercises", () => {
  it("the class takes at most −log p(c) off −log p(x): 2.1760 for a 1, 2.4169 for a 5, H(c) = 2.3008 on average over the test set", () => {
    const test = loadMnist({ split: "test" });
    const counts = labelCounts(test);
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    const p = counts.map((n) => n / test.count);
    expect(-Math.log(p[1])).toBeCloseTo(2.176, 4);
    expect(-Math.log(p[5])).toBeCloseTo(2.4169, 4);
    expect(-p.reduce((s, v) => s + v * Math.log(v), 0)).toBeCloseTo(2.3008, 4);
    expect(Math.log(10)).toBeCloseTo(2.3026, 4);
  });

  it("two completions differing in 40 pixels: the factorised model at ½ there pays 40 log 2 = 27.73 nats for A, the mixture log 2 = 0.69", () => {
    // Bottom halves of 392 pixels: A and B agree except on the first 40 pixels.
    const A = Array.from({ length: 392 }, (_, i) => (i < 40 ? 1 : i % 3 === 0 ? 1 : 0));
    const B = A.map((v, i) => (i < 40 ? 1 - v : v));
    // The cross-entropy minimiser: the conditional mean of each pixel (½ where they differ, 0 or 1 elsewhere, a logit of ±30 here).
    const logits = tf.tensor2d([A.map((v, i) => (i < 40 ? 0 : v === 1 ? 30 : -30))]);
    const [a, b] = [tf.tensor2d([A]), tf.tensor2d([B])];
    const nllA = bernoulliNll(logits, a).dataSync()[0];
    expect(nllA).toBeCloseTo(40 * Math.log(2), 3);
    expect(40 * Math.log(2)).toBeCloseTo(27.73, 2);
    // Its average over A and B is lower than at any other common logit on the 40 pixels.
    for (const l of [-0.5, 0.3, 2]) {
      const shifted = tf.tensor2d([A.map((v, i) => (i < 40 ? l : v === 1 ? 30 : -30))]);
      expect((bernoulliNll(shifted, a).dataSync()[0] + bernoulliNll(shifted, b).dataSync()[0]) / 2).toBeGreaterThan(nllA);
      shifted.dispose();
    }
    // The mixture of a model of A and a model of B, ½ each.
    const modelA = tf.tensor2d([A.map((v) => (v === 1 ? 30 : -30))]);
    const modelB = tf.tensor2d([B.map((v) => (v === 1 ? 30 : -30))]);
    const logPA = [bernoulliNll(modelA, a).dataSync()[0], bernoulliNll(modelB, a).dataSync()[0]].map((n) => -n);
    const mixture = -Math.log(0.5 * Math.exp(logPA[0]) + 0.5 * Math.exp(logPA[1]));
    expect(mixture).toBeCloseTo(Math.log(2), 4);
    tf.dispose([logits, a, b, modelA, modelB]);
  });

  it("KL(N(1, 0.5) ‖ N(0.5, 2)) = ½(log 4 + 0.75/2 − 1) = 0.3806", () => {
    const kl = klDiagGaussians({ mu: [1], sigma: [Math.sqrt(0.5)] }, { mu: [0.5], sigma: [Math.sqrt(2)] });
    expect(kl).toBeCloseTo(0.5 * (Math.log(4) + 0.75 / 2 - 1), 12);
    expect(kl).toBeCloseTo(0.3806, 4);
  });
});
