/**
 * The negative ELBO written in plain tfjs ops, so that tf.variableGrads traces every derivative (none
 * hand-written), and the model configurations the written-out and the fused native gradients are checked on
 * (test/vae-backprop.test.ts, test/vae-fused-gradients.test.ts).
 */
import * as tf from "../../src/engine/tf";
import { expect } from "vitest";
import type { MnistSet } from "../../src/data/mnist";
import { activate, Activation, Vae, VaeConfig } from "../../src/vae/model";
import { trainVae, TrainOptions } from "../../src/vae/train";

/** The negative ELBO in plain tfjs ops with the same ε as negativeElbo (seeded randomNormal, sample-major rows). */
export function tracedLoss(vae: Vae, x: tf.Tensor2D, beta: number, samples: number, seed: number): tf.Scalar {
  const act: Activation = vae.config.activation;
  const lin = (h: tf.Tensor, l: { W: tf.Tensor; b: tf.Tensor }) => tf.add(tf.matMul(h, l.W), l.b);
  const B = x.shape[0];
  const D = vae.config.latentDim;
  let h: tf.Tensor = x;
  for (const l of vae.encoder) h = activate(lin(h, l), act);
  const mu = lin(h, vae.encMu);
  const logVar = lin(h, vae.encLogVar);
  const eps = tf.randomNormal([samples * B, D], 0, 1, "float32", seed);
  let d: tf.Tensor = tf.tile(mu, [samples, 1]).add(tf.tile(tf.exp(logVar.mul(0.5)), [samples, 1]).mul(eps));
  for (const l of vae.decoder) d = activate(lin(d, l), act);
  const logits = lin(d, vae.decOut);
  const xL = tf.tile(x, [samples, 1]);
  const bce = tf.relu(logits).sub(logits.mul(xL)).add(tf.log1p(tf.exp(tf.neg(tf.abs(logits))))).sum(1);
  const kl = tf.scalar(-0.5).mul(tf.scalar(1).add(logVar).sub(mu.square()).sub(tf.exp(logVar))).sum(1);
  return bce.mean().add(kl.mean().mul(beta)) as tf.Scalar;
}

export interface Case {
  name: string;
  config: Partial<VaeConfig>;
  beta: number;
  samples: number;
}

export const cases: Case[] = [
  { name: "the reference shape (ReLU, one hidden layer)", config: { hiddenDims: [32], latentDim: 4 }, beta: 1, samples: 1 },
  { name: "ReLU with β = 0.4 and L = 3 samples", config: { hiddenDims: [32], latentDim: 4 }, beta: 0.4, samples: 3 },
  { name: "tanh, two hidden layers", config: { activation: "tanh", hiddenDims: [24, 12], latentDim: 3 }, beta: 2.5, samples: 1 },
  { name: "sigmoid, no hidden layer", config: { activation: "sigmoid", hiddenDims: [], latentDim: 3 }, beta: 1, samples: 2 },
  // A hidden layer, so the sigmoid's derivative h(1 − h) is on the backward path.
  { name: "sigmoid, one hidden layer", config: { activation: "sigmoid", hiddenDims: [16], latentDim: 3 }, beta: 1, samples: 1 },
  { name: "ELU, two hidden layers", config: { activation: "elu", hiddenDims: [20, 10], latentDim: 2 }, beta: 1, samples: 1 },
  { name: "leaky ReLU", config: { activation: "leakyRelu", hiddenDims: [16], latentDim: 2 }, beta: 0.7, samples: 1 },
  { name: "softplus", config: { activation: "softplus", hiddenDims: [16], latentDim: 5 }, beta: 1, samples: 2 },
];


/**
 * Train the same small VAE (784-48-3, seed 2) for three epochs with two ways of computing the gradient; every
 * epoch's train and test loss must agree within `relative`, neither run may leak a tensor, and the loss must fall.
 */
export function expectTrainingAgrees(train: MnistSet, test: MnistSet, a: TrainOptions["backprop"], b: TrainOptions["backprop"], options: Partial<TrainOptions>, relative: number): void {
  const run = (backprop: TrainOptions["backprop"]) => {
    const vae = new Vae({ hiddenDims: [48], latentDim: 3, seed: 2 });
    const before = tf.memory().numTensors;
    const h = trainVae(vae, train, test, { epochs: 3, batchSize: 20, lr: 3e-3, seed: 4, ...options, backprop });
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
    return h;
  };
  const first = run(a);
  const second = run(b);
  for (let i = 0; i < 3; i++) {
    expect(Math.abs(first[i].trainLoss - second[i].trainLoss)).toBeLessThan(relative * second[i].trainLoss);
    expect(Math.abs(first[i].testLoss - second[i].testLoss)).toBeLessThan(relative * second[i].testLoss);
  }
  expect(first[2].trainLoss).toBeLessThan(first[0].trainLoss);
}
