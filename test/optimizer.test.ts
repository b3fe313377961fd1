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
