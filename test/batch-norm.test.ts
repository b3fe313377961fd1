/**
 * batchNorm (src/engine/batch-norm.ts) against the plain formula: values against tf.moments, the written-out
 * gradients for x, γ and β against tfjs's autodiff of the formula, on NHWC images and [batch, C] rows, with a
 * loss that weights every output differently (a plain sum would hide wrong ∂x, whose sum over a channel is 0).
 */
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { batchNorm } from "../src/engine/batch-norm";
import { Rng } from "../src/engine/random";

function reference(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(tf.max(tf.abs(b)).dataSync()[0], 1e-30));
}

describe("batchNorm (training mode, written gradient)", () => {
  beforeAll(async () => {
    await initBackend();
  });

  for (const shape of [[5, 6, 7, 3], [16, 4, 4, 8], [33, 5]]) {
    it(`matches the formula and its autodiff gradients for x [${shape}]`, () => {
      const before = tf.memory().numTensors;
      const rng = new Rng(shape.length * 100 + shape[0]);
      const C = shape[shape.length - 1];
      const n = shape.reduce((a, b) => a * b, 1);
      tf.tidy(() => {
        // Channels with different offsets and scales, so the statistics matter.
        const x = tf.add(tf.mul(tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape), tf.linspace(0.5, 3, C)), tf.linspace(-2, 4, C));
        const gamma = tf.tensor1d(Array.from({ length: C }, () => 1 + 0.5 * rng.normal()));
        const beta = tf.tensor1d(Array.from({ length: C }, () => rng.normal()));
        const w = tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
        for (const eps of [1e-5, 0.1]) {
          const y = batchNorm(x, gamma, beta, eps);
          const yRef = reference(x, gamma, beta, eps);
          expect(y.shape).toEqual(shape);
          expect(maxRelDiff(y, yRef)).toBeLessThan(1e-5);
          const loss = (f: typeof reference) => (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.square(f(a, g as tf.Tensor1D, b as tf.Tensor1D, eps)), w));
          const got = tf.grads(loss((a, g, b, e) => batchNorm(a, g, b, e)))([x, gamma, beta]);
          const want = tf.grads(loss(reference))([x, gamma, beta]);
          got.forEach((g, i) => expect(maxRelDiff(g, want[i]), `gradient ${["x", "γ", "β"][i]}, eps ${eps}`).toBeLessThan(1e-4));
        }
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("names the mismatch when γ or β have the wrong number of channels", () => {
    const x = tf.zeros([2, 3]);
    expect(() => batchNorm(x, tf.ones([4]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D)).toThrow(/3 channels/);
    tf.dispose(x);
  });
});
