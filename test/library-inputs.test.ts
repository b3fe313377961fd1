/**
 * Issue 24, item 14: the library's public functions check their inputs as the CLI checks flags, with
 * messages naming the argument, instead of returning NaN, throwing from deep inside tfjs, or leaking tensors.
 */
import * as path from "path";
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadMnist, MnistSet } from "../src/data/mnist";
import { Vae } from "../src/vae/model";
import { ConvVae } from "../src/vae/conv";
import { Rng } from "../src/engine/random";
import { trainVae } from "../src/vae/train";
import { iwaeNll } from "../src/vae/evaluate";
import { reparameterizedGradient, scoreFunctionGradient } from "../src/prob/estimators";
import { quadraticCost } from "../src/prob/costs";
import { klDiagGaussians } from "../src/prob/kl";
import { softmax } from "../src/prob/categorical";

const tiny = path.resolve(__dirname, "../data/mnist-tiny");
const empty = (set: MnistSet): MnistSet => ({ ...set, images: new Float32Array(0), labels: new Int32Array(0), count: 0 });

describe("the library refuses what it cannot compute, naming the argument", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("new Vae with a layer too large to allocate throws before allocating anything (no tensor left behind)", () => {
    const before = tf.memory().numTensors;
    expect(() => new Vae({ latentDim: 1e9, hiddenDims: [16] })).toThrow("a 16×1000000000 layer has 16000000000 weights, more than the 67108864 one layer may have (inputDim, hiddenDims, latentDim)");
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a disposed model says so, and a second dispose does nothing", () => {
    const vae = new Vae({ hiddenDims: [4], latentDim: 2 });
    vae.dispose();
    vae.dispose();
    expect(() => vae.encode(tf.zeros([1, 784]))).toThrow("Vae.encode: this model was disposed (its weights are freed); make a new one or load a checkpoint");
    expect(() => vae.decode(tf.zeros([1, 2]))).toThrow("Vae.decode: this model was disposed");
    expect(() => vae.parameterCount()).toThrow("Vae.variables: this model was disposed");
  });

  it("trainVae: an empty training or test set, samples 0, a negative or NaN beta, a warm-up that is not a count", () => {
    const train = loadMnist({ dir: tiny, split: "train", limit: 10 });
    const test = loadMnist({ dir: tiny, split: "test", limit: 10 });
    const vae = new Vae({ hiddenDims: [4], latentDim: 2 });
    const before = tf.memory().numTensors;
    expect(() => trainVae(vae, empty(train), test, { epochs: 1 })).toThrow("the training set is empty");
    expect(() => trainVae(vae, train, empty(test), { epochs: 1 })).toThrow("the test set is empty");
    expect(() => trainVae(vae, train, test, { epochs: 1, samples: 0 })).toThrow("samples must be a positive integer (got 0)");
    expect(() => trainVae(vae, train, test, { epochs: 1, beta: -1 })).toThrow("beta must be a finite number ≥ 0 (got -1)");
    expect(() => trainVae(vae, train, test, { epochs: 1, beta: NaN })).toThrow("beta must be a finite number ≥ 0 (got NaN)");
    expect(() => trainVae(vae, train, test, { epochs: 1, warmupEpochs: 0.5 })).toThrow("warmupEpochs must be an integer ≥ 0 (got 0.5)");
    expect(() => trainVae(vae, train, test, { epochs: 1, lr: Infinity })).toThrow("lr must be a finite number > 0 (got Infinity)");
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
  });

  it("trainVae refusing a conv model's score estimator or a resume state of another model leaves no optimizer variables behind (tfjs Adam)", () => {
    // On the cpu backend the optimizer is tfjs's Adam, which holds variables from its construction.
    const train = loadMnist({ dir: tiny, split: "train", limit: 10 });
    const test = loadMnist({ dir: tiny, split: "test", limit: 10 });
    const conv = new ConvVae({ latentDim: 2, seed: 1 });
    const vae = new Vae({ hiddenDims: [4], latentDim: 2 });
    const before = tf.memory().numTensors;
    expect(() => trainVae(conv, train, test, { epochs: 1, encoderEstimator: "score" })).toThrow("the score estimator is implemented for the MLP VAE only");
    const resume = { epoch: 1, rng: new Rng(1).state(), adam: { step: 1, accBeta1: 0.9, accBeta2: 0.999, m: [null], v: [null] } };
    expect(() => trainVae(vae, train, test, { epochs: 1, resume })).toThrow("optimizer state holds moments for 1 variables, the model has 10");
    expect(tf.memory().numTensors).toBe(before);
    conv.dispose();
    vae.dispose();
  });

  it("iwaeNll: k, limit and chunk must be positive integers, and the set not empty", () => {
    const test = loadMnist({ dir: tiny, split: "test", limit: 5 });
    const vae = new Vae({ hiddenDims: [4], latentDim: 2 });
    for (const k of [0, -1, 1.5]) expect(() => iwaeNll(vae, test, { k })).toThrow(`iwaeNll: k must be a positive integer (got ${k})`);
    expect(() => iwaeNll(vae, test, { limit: 0 })).toThrow("iwaeNll: limit must be a positive integer (got 0)");
    expect(() => iwaeNll(vae, test, { chunk: 0 })).toThrow("iwaeNll: chunk must be a positive integer (got 0)");
    expect(() => iwaeNll(vae, empty(test))).toThrow("iwaeNll: the set is empty");
    expect(Number.isFinite(iwaeNll(vae, test, { k: 3 }))).toBe(true);
    vae.dispose();
  });

  it('loadMnist({ split: "val" }) names the split', () => {
    expect(() => loadMnist({ dir: tiny, split: "val" as "train" })).toThrow('split: expected "train" or "test", got "val"');
  });

  it("the estimators refuse a non-finite mu or sigma", () => {
    const f = quadraticCost().f;
    expect(() => scoreFunctionGradient(f, { mu: [NaN], sigma: [1] }, { samples: 2 })).toThrow("scoreFunctionGradient: every mu must be a finite number");
    expect(() => reparameterizedGradient(f, { mu: [Infinity], sigma: [1] }, { samples: 2 })).toThrow("reparameterizedGradient: every mu must be a finite number");
    expect(() => scoreFunctionGradient(f, { mu: [0], sigma: [Infinity] }, { samples: 2 })).toThrow("scoreFunctionGradient: every sigma must be > 0 and finite");
  });

  it("klDiagGaussians refuses mismatched lengths and bad sigmas instead of returning NaN", () => {
    expect(() => klDiagGaussians({ mu: [0, 0], sigma: [1, 1] }, { mu: [0], sigma: [1] })).toThrow("klDiagGaussians: q and p must have mu and sigma of one length (q.mu has 2, p.mu 1, p.sigma 1)");
    expect(() => klDiagGaussians({ mu: [0], sigma: [0] }, { mu: [0], sigma: [1] })).toThrow("klDiagGaussians: every q.sigma must be > 0 and finite");
    expect(klDiagGaussians({ mu: [1], sigma: [1] }, { mu: [0], sigma: [1] })).toBeCloseTo(0.5, 12);
  });

  it("softmax: +∞ logits take all the mass (shared), NaN and an empty list are refused", () => {
    expect(softmax([Infinity, 0])).toEqual([1, 0]);
    expect(softmax([Infinity, 3, Infinity])).toEqual([0.5, 0, 0.5]);
    expect(softmax([-Infinity, 0])).toEqual([0, 1]);
    expect(() => softmax([NaN, 0])).toThrow("softmax: logits must be a non-empty list of numbers (got [NaN, 0])");
    expect(() => softmax([])).toThrow("softmax: logits must be a non-empty list of numbers (got [])");
  });
});
