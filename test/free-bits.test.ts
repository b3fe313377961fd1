/**
 * Free bits (Kingma et al. 2016; src/vae/model.ts freeBitsKl, trainVae's freeBits): the KL term's value
 * against float64 written out here, its gradient (none for a unit below λ), and training with it: no unit
 * left at the prior where plain training leaves several, and the reported loss still the plain −ELBO.
 */
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { Rng } from "../src/engine/random";
import { batchTensor, loadMnist } from "../src/data/mnist";
import { freeBitsKl, negativeElbo, Vae } from "../src/vae/model";
import { trainVae } from "../src/vae/train";
import { tinyMnist } from "./harness/mnist-tiny";

beforeAll(async () => {
  await initBackend("wasm");
});

// Four images, three units: unit 0 far from the prior, unit 1 near it, unit 2 in between.
const MU = [
  [2, 0.05, 0.6],
  [-1.5, -0.02, -0.4],
  [1, 0.01, 0.5],
  [-2.5, 0, -0.7],
];
const LOGVAR = [
  [-3, -0.02, -0.5],
  [-2.5, 0.03, -0.4],
  [-2, -0.01, -0.6],
  [-3.5, 0, -0.3],
];

/** KL of unit j averaged over the rows, in float64. */
const unitKl = (j: number) => MU.reduce((s, m, b) => s + 0.5 * (m[j] ** 2 + Math.exp(LOGVAR[b][j]) - 1 - LOGVAR[b][j]), 0) / MU.length;

describe("free bits", () => {
  it("Σ_j max(λ, KL_j) with KL_j averaged over the batch: equal to the KL for λ = 0, above it otherwise", () => {
    const kls = [0, 1, 2].map(unitKl);
    expect(kls[0]).toBeGreaterThan(1);
    expect(kls[1]).toBeLessThan(0.01);
    const mu = tf.tensor2d(MU);
    const logVar = tf.tensor2d(LOGVAR);
    for (const lambda of [0, 0.1, 0.5, 3]) {
      const v = freeBitsKl(mu, logVar, lambda);
      expect(v.dataSync()[0]).toBeCloseTo(kls.reduce((s, k) => s + Math.max(lambda, k), 0), 4);
      v.dispose();
    }
    expect(() => freeBitsKl(mu, logVar, -0.1)).toThrow(/λ must be a finite number ≥ 0/);
    expect(() => freeBitsKl(mu, logVar, NaN)).toThrow(/λ must be a finite number ≥ 0/);
    tf.dispose([mu, logVar]);
  });

  it("its gradient: the KL's own for a unit above λ (μ/B, (e^logVar − 1)/2B), none for a unit below", () => {
    const mu = tf.tensor2d(MU);
    const logVar = tf.tensor2d(LOGVAR);
    const lambda = 0.5;
    const g = tf.grads((m: tf.Tensor, l: tf.Tensor) => freeBitsKl(m as tf.Tensor2D, l as tf.Tensor2D, lambda))([mu, logVar]);
    const [gm, gl] = g.map((t) => t.arraySync() as number[][]);
    const B = MU.length;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < 3; j++) {
        const above = unitKl(j) > lambda;
        expect(gm[b][j]).toBeCloseTo(above ? MU[b][j] / B : 0, 6);
        expect(gl[b][j]).toBeCloseTo(above ? (Math.exp(LOGVAR[b][j]) - 1) / (2 * B) : 0, 6);
      }
    }
    expect(unitKl(1)).toBeLessThan(lambda); // unit 1 is the one left free
    tf.dispose([mu, logVar, ...g]);
  });

  it("negativeElbo returns the free-bits KL only when asked, from the same q as its KL", () => {
    const m = new Vae({ inputDim: 784, hiddenDims: [16], latentDim: 4, seed: 2 });
    const x = batchTensor(tinyMnist().test, [0, 1, 2, 3, 4, 5], new Rng(1));
    const plain = negativeElbo(m, x, { seed: 3 });
    expect(plain.freeBitsKl).toBeUndefined();
    const t = negativeElbo(m, x, { seed: 3, freeBits: 0 });
    expect(t.freeBitsKl!.dataSync()[0]).toBeCloseTo(t.kl.dataSync()[0], 5);
    const big = negativeElbo(m, x, { seed: 3, freeBits: 10 });
    expect(big.freeBitsKl!.dataSync()[0]).toBeCloseTo(40, 5); // every unit below 10 nats: 4 × 10
    tf.dispose([x, plain.loss, plain.recon, plain.kl, t.loss, t.recon, t.kl, t.freeBitsKl!, big.loss, big.recon, big.kl, big.freeBitsKl!]);
    m.dispose();
  });

  it("training with λ = 0.25 leaves no unit at the prior where plain training leaves several; the loss reported is recon + KL", () => {
    const train = loadMnist({ split: "train", limit: 2000, binarize: "dynamic" });
    const test = loadMnist({ split: "test", limit: 500, binarize: "dynamic" });
    const perUnitKl = (m: Vae) =>
      tf.tidy(() => {
        const q = m.encode(batchTensor(test, Array.from({ length: test.count }, (_, i) => i), new Rng(1)));
        return q.mu.square().add(q.logVar.exp()).sub(q.logVar).sub(1).mul(0.5).mean(0).arraySync() as number[];
      });
    const run = (freeBits: number) => {
      const m = new Vae({ hiddenDims: [200, 200], latentDim: 32, activation: "tanh", seed: 1 });
      const history = trainVae(m, train, test, { epochs: 5, batchSize: 100, lr: 1e-3, seed: 1, freeBits, beta: 1 });
      const kl = perUnitKl(m);
      m.dispose();
      return { history, kl, atPrior: kl.filter((v) => v < 0.05).length };
    };
    const before = tf.memory().numTensors;
    const plain = run(0);
    const free = run(0.25);
    console.log(`units with KL < 0.05 nats on 500 test images: ${plain.atPrior} of 32 plain (smallest ${Math.min(...plain.kl).toFixed(3)}), ${free.atPrior} with free bits (smallest ${Math.min(...free.kl).toFixed(3)})`);
    expect(plain.atPrior).toBeGreaterThanOrEqual(6);
    expect(free.atPrior).toBe(0);
    for (const r of free.history) expect(r.trainLoss).toBeCloseTo(r.trainRecon + r.trainKl, 3);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refused: a negative or infinite λ, with the IWAE objective, with a score-function estimator", () => {
    const { train, test } = tinyMnist();
    const m = new Vae({ inputDim: 784, hiddenDims: [8], latentDim: 2, seed: 1 });
    const go = (o: object) => () => trainVae(m, train, test, { epochs: 1, ...o });
    expect(go({ freeBits: -1 })).toThrow(/freeBits must be a finite number ≥ 0/);
    expect(go({ freeBits: Infinity })).toThrow(/freeBits must be a finite number ≥ 0/);
    expect(go({ freeBits: 0.5, objective: "iwae", samples: 2 })).toThrow(/the IWAE objective has none/);
    expect(go({ freeBits: 0.5, encoderEstimator: "score" })).toThrow(/reparameterized gradient, not score/);
    m.dispose();
  });
});
