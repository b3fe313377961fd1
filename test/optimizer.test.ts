import * as tf from "../src/engine/tf";
import { describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { nativeMatMulStatus } from "../src/engine/native-kernels";
import { nativeExpected, nativeSkipped } from "./harness/native";
import { createAdam } from "../src/engine/optimizer";
import { Rng } from "../src/engine/random";

const run = nativeExpected ? describe : describe.skip;
if (nativeSkipped) console.log(`native Adam tests skipped: ${nativeSkipped}`);

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
 * t counts from `firstStep` (a variable whose first gradient comes at the optimizer's step t₀ is corrected with t₀).
 */
function adamReference(p0: number[], grads: number[][], lr: number | number[], b1 = 0.9, b2 = 0.999, eps = 1e-8, firstStep = 1): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + firstStep;
    for (let i = 0; i < p.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= ((typeof lr === "number" ? lr : lr[s]) * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
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

  it("a learning rate changed after 6 steps (a schedule) applies from the next step, the moments kept", async () => {
    await initBackend(backend);
    const v = tf.tidy(() => tf.variable(tf.tensor1d(p0), true, `adam-lr-${backend}-${Math.random()}`));
    const o = createAdam(0.05);
    grads.forEach((g, s) => {
      if (s === 6) o.setLearningRate(0.005);
      const t = tf.tensor1d(g);
      o.applyGradients({ [v.name]: t }, [v]);
      t.dispose();
    });
    const ref = adamReference(p0, grads, grads.map((_, s) => (s < 6 ? 0.05 : 0.005)));
    Array.from(v.dataSync()).forEach((p, i) => expect(Math.abs(p - ref[i])).toBeLessThan(1e-5));
    expect(() => o.setLearningRate(0)).toThrow(/learning rate must be a finite number > 0 \(got 0\)/);
    o.dispose();
    v.dispose();
  });

  it("a state saved after 5 steps and restored into a new Adam continues as one Adam would: 5 + 7 steps = 12", async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    // Two variables, so that moments are matched to variables by name; `b` gets no gradient in the first part.
    // A name with "/m" inside: the tfjs Adam names a moment `${name}/m` and must strip only that suffix.
    const a = tf.tidy(() => tf.variable(tf.tensor1d(p0), true, `adam/m-resume-a-${backend}-${Math.random()}`));
    const b = tf.tidy(() => tf.variable(tf.tensor1d([1, 2, 3]), true, `adam-resume-b-${backend}-${Math.random()}`));
    const step = (o: ReturnType<typeof createAdam>, s: number) => {
      const gs = { [a.name]: tf.tensor1d(grads[s]), ...(s >= 5 ? { [b.name]: tf.tensor1d([0.5, -1, 2]) } : {}) };
      o.applyGradients(gs, [a, b]);
      tf.dispose(Object.values(gs));
    };
    const first = createAdam(0.05);
    for (let s = 0; s < 5; s++) step(first, s);
    const state = first.getState([a, b]);
    first.dispose();
    expect(state.step).toBe(5);
    expect(state.accBeta1).toBeCloseTo(0.9 ** 6, 6); // β^(t+1): what the next step's bias correction starts from
    expect(state.accBeta2).toBeCloseTo(0.999 ** 6, 6);
    expect(state.m[1]).toBeNull(); // no moments yet for the variable without a gradient
    expect(state.v[1]).toBeNull();
    // 5 steps by the formula: m = Σ 0.1·0.9^(5−s) g_s
    state.m[0]!.forEach((m, i) => expect(m).toBeCloseTo(grads.slice(0, 5).reduce((acc, g) => 0.9 * acc + 0.1 * g[i], 0), 5));
    const second = createAdam(0.05);
    second.setState(state, [a, b]);
    const again = second.getState([a, b]); // before any step: the state just set
    expect(again.step).toBe(5);
    expect(Array.from(again.m[0]!)).toEqual(Array.from(state.m[0]!));
    expect(Array.from(again.v[0]!)).toEqual(Array.from(state.v[0]!));
    const trainable = () => Object.values(tf.engine().registeredVariables).filter((v) => v.trainable).length;
    const trainableBefore = trainable();
    for (let s = 5; s < 12; s++) step(second, s);
    expect(trainable(), "the restored moments are not trainable variables").toBe(trainableBefore);
    const after = second.getState([a, b]);
    expect(after.step).toBe(12);
    // the moments read back after the restore and 7 more steps: m = Σ 0.1·0.9^(12−s) g_s
    after.m[0]!.forEach((m, i) => expect(m).toBeCloseTo(grads.reduce((acc, g) => 0.9 * acc + 0.1 * g[i], 0), 5));
    second.dispose();
    const ref = adamReference(p0, grads, 0.05);
    Array.from(a.dataSync()).forEach((p, i) => expect(Math.abs(p - ref[i])).toBeLessThan(1e-5));
    // b: 7 steps from zero moments, bias-corrected by the optimizer's step count (t = 6 … 12), as tf.train.adam does
    const refB = adamReference([1, 2, 3], Array.from({ length: 7 }, () => [0.5, -1, 2]), 0.05, 0.9, 0.999, 1e-8, 6);
    Array.from(b.dataSync()).forEach((p, i) => expect(Math.abs(p - refB[i])).toBeLessThan(1e-5));
    tf.dispose([a, b]);
    expect(tf.memory().numTensors, "tensors left after dispose").toBe(before);
  });

  it("a state for another model is refused in one line, naming what does not match", async () => {
    await initBackend(backend);
    const a = tf.tidy(() => tf.variable(tf.zeros([4]), true, `adam-check-a-${backend}`));
    const o = createAdam(0.1);
    const state = { step: 1, accBeta1: 0.81, accBeta2: 0.998, m: [new Float32Array(4)], v: [new Float32Array(4)] };
    expect(() => o.setState({ ...state, m: [], v: [] }, [a])).toThrow("optimizer state holds moments for 0 variables, the model has 1");
    expect(() => o.setState({ ...state, m: [] }, [a])).toThrow("optimizer state holds moments for 0 variables, the model has 1");
    expect(() => o.setState({ ...state, v: [] }, [a])).toThrow("optimizer state holds moments for 1 variables, the model has 1");
    expect(() => o.setState({ ...state, m: [new Float32Array(3)] }, [a])).toThrow(`optimizer state: moment 0 has 3 values, variable ${a.name} has 4`);
    expect(() => o.setState({ ...state, v: [new Float32Array(5)] }, [a])).toThrow(`optimizer state: moment 0 has 5 values, variable ${a.name} has 4`);
    o.dispose();
    a.dispose();
  });
});
