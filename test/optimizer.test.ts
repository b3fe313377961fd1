import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadNativeBlas, nativeMatMulStatus } from "../src/engine/native-kernels";
import { createAdam } from "../src/engine/optimizer";
import { Rng } from "../src/engine/random";

const available = loadNativeBlas() !== null;
const run = available || process.env.CI ? describe : describe.skip;

/** Run `steps` Adam steps on a variable with a fixed sequence of gradients; return the parameters. */
function adamSteps(make: (lr: number) => { apply: (g: tf.Tensor, v: tf.Variable) => void; dispose: () => void }, steps: number): number[] {
  const rng = new Rng(1);
  const v = tf.tidy(() => tf.variable(tf.tensor1d(Array.from({ length: 1000 }, () => rng.normal())), true, `adam-test-${Math.random()}`));
  const opt = make(0.01);
  for (let s = 0; s < steps; s++) {
    const g = tf.tensor1d(Array.from({ length: 1000 }, () => rng.normal() * (s % 3 === 0 ? 10 : 0.1)));
    opt.apply(g, v);
    g.dispose();
  }
  const out = Array.from(v.dataSync());
  opt.dispose();
  v.dispose();
  return out;
}

run("fused native Adam (wasm)", () => {
  it("matches tf.train.adam step for step", async () => {
    await initBackend("wasm");
    expect(nativeMatMulStatus().active).toBe(true);
    const before = tf.memory().numTensors;
    const native = adamSteps((lr) => {
      const o = createAdam(lr);
      expect(o.kind).toBe("native");
      return { apply: (g, v) => o.applyGradients({ [v.name]: g }, [v]), dispose: () => o.dispose() };
    }, 25);
    const reference = adamSteps((lr) => {
      const o = tf.train.adam(lr, 0.9, 0.999, 1e-8);
      return { apply: (g, v) => o.applyGradients({ [v.name]: g }), dispose: () => o.dispose() };
    }, 25);
    native.forEach((p, i) => expect(Math.abs(p - reference[i])).toBeLessThan(1e-5));
    expect(tf.memory().numTensors).toBe(before);
  });

  it("never writes into memory another tensor shares", async () => {
    await initBackend("wasm");
    const v = tf.tidy(() => tf.variable(tf.tensor1d([1, 2, 3]), true, "adam-shared"));
    const alias = tf.reshape(v, [3]); // shares v's memory on the wasm backend
    const o = createAdam(0.1);
    const g = tf.tensor1d([1, 1, 1]);
    o.applyGradients({ [v.name]: g }, [v]);
    expect(Array.from(alias.dataSync())).toEqual([1, 2, 3]);
    Array.from(v.dataSync()).forEach((p, i) => expect(p).toBeCloseTo([0.9, 1.9, 2.9][i], 5));
    o.dispose();
    tf.dispose([v, alias, g]);
  });
});

describe("Adam elsewhere", () => {
  it("is tfjs's Adam on the cpu backend", async () => {
    await initBackend("cpu");
    const o = createAdam(0.1);
    expect(o.kind).toBe("tfjs");
    o.dispose();
  });
});

/**
 * Adam from its definition in float64 (Kingma & Ba, Algorithm 1, ε added to √v̂ as in tf.train.adam and
 * torch.optim.Adam): m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε).
 */
function adamReference(p0: number[], grads: number[][], lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
    }
  });
  return p;
}

// Runs on every machine: on cpu createAdam gives the tfjs Adam, on wasm the fused native one where the addon
// was built (else the tfjs one again), so the bias correction is checked whether or not the addon exists.
describe.each(["cpu", "wasm"])("Adam from createAdam on %s against the float64 formula", (backend) => {
  const rng = new Rng(9);
  const p0 = Array.from({ length: 50 }, () => rng.normal());
  const grads = Array.from({ length: 12 }, (_, s) => p0.map(() => rng.normal() * (s % 4 === 0 ? 5 : 0.2)));

  function run(steps: number, lr: number, options = {}): number[] {
    const before = tf.memory().numTensors;
    const v = tf.tidy(() => tf.variable(tf.tensor1d(p0), true, `adam-formula-${backend}-${Math.random()}`));
    const o = createAdam(lr, options);
    for (const g of grads.slice(0, steps)) {
      const t = tf.tensor1d(g);
      o.applyGradients({ [v.name]: t }, [v]);
      t.dispose();
    }
    const out = Array.from(v.dataSync());
    o.dispose();
    v.dispose();
    expect(tf.memory().numTensors, "tensors left after dispose").toBe(before);
    return out;
  }

  it("the first step moves every parameter by lr against the sign of its gradient (bias correction)", async () => {
    await initBackend(backend);
    // t = 1: m̂ = g and v̂ = g², so the step is lr · g / (|g| + ε).
    const p1 = run(1, 0.01);
    p1.forEach((p, i) => expect(p - p0[i]).toBeCloseTo(-0.01 * Math.sign(grads[0][i]), 6));
  });

  it("leaves a variable without a gradient untouched, and updates the others", async () => {
    await initBackend(backend);
    const a = tf.tidy(() => tf.variable(tf.tensor1d([1, 2]), true, `adam-a-${backend}-${Math.random()}`));
    const b = tf.tidy(() => tf.variable(tf.tensor1d([3, 4]), true, `adam-b-${backend}-${Math.random()}`));
    const o = createAdam(0.1);
    const g = tf.tensor1d([1, -1]);
    o.applyGradients({ [b.name]: g }, [a, b]);
    expect(Array.from(a.dataSync())).toEqual([1, 2]);
    Array.from(b.dataSync()).forEach((p, i) => expect(p).toBeCloseTo([2.9, 4.1][i], 5));
    o.dispose();
    tf.dispose([a, b, g]);
  });

  it("twelve steps with changing gradients follow the formula, with the defaults (β₁ 0.9, β₂ 0.999, ε 1e-8) and others", async () => {
    await initBackend(backend);
    const ours = run(12, 0.05);
    const ref = adamReference(p0, grads, 0.05);
    ours.forEach((p, i) => expect(Math.abs(p - ref[i])).toBeLessThan(1e-5));
    const ours2 = run(12, 0.05, { beta1: 0.8, beta2: 0.99, epsilon: 1e-1 });
    const ref2 = adamReference(p0, grads, 0.05, 0.8, 0.99, 1e-1);
    ours2.forEach((p, i) => expect(Math.abs(p - ref2[i])).toBeLessThan(1e-5));
  });
});
