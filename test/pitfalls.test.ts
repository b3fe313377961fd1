import * as tf from "@tensorflow/tfjs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { activeUnits } from "../src/vae/evaluate";
import { loadMnist } from "../src/data/mnist";
import {
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

beforeAll(async () => {
  await initBackend("cpu");
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
