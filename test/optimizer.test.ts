import * as tf from "../src/engine/tf";
import { describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { ADAM_ALL_MAX_VARIABLES, loadNativeBlas, nativeMatMulStatus, nativeThreadCount, setNativeThreads } from "../src/engine/native-kernels";
import { nativeExpected, nativeSkipped } from "./harness/native";
import { createAdam, NATIVE_ADAM_MIN_EPSILON } from "../src/engine/optimizer";
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

run("Adam's moments never sit among the subnormal floats", () => {
  const FLT_MIN = 1.1754943508222875e-38;
  it("a moment below the smallest normal float is stored as 0, and the weights move as tf.train.adam's", async () => {
    await initBackend("wasm");
    const start = [0.5, -0.25, 1, 2];
    const v = tf.variable(tf.tensor1d(start), true, "adam-tiny-n");
    const r = tf.variable(tf.tensor1d(start), true, "adam-tiny-r");
    const o = createAdam(0.01);
    const ref = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    // One step of gradients (one of them so small that its square is subnormal), then 900 steps of 0:
    // m shrinks by 0.9 a step, to 0.1·0.9^899 ≈ 8e-43 in exact arithmetic, a subnormal float.
    const steps = [[1, 1e-20, 0, -1], ...Array.from({ length: 900 }, () => [0, 0, 0, 0])];
    for (const g of steps) {
      const t = tf.tensor1d(g);
      o.applyGradients({ [v.name]: t }, [v]);
      ref.applyGradients({ [r.name]: t });
      t.dispose();
    }
    const { m, v: second } = o.getState([v]);
    expect(Array.from(m[0]!)).toEqual([0, 0, 0, 0]);
    for (const x of [...m[0]!, ...second[0]!]) expect(x === 0 || Math.abs(x) >= FLT_MIN, `moment ${x}`).toBe(true);
    expect(second[0]![1]).toBe(0); // (1 − β2)·(10⁻²⁰)² is below FLT_MIN
    expect(second[0]![0]).toBeGreaterThan(1e-4); // a normal v stays
    const [a, b] = [v.dataSync(), r.dataSync()];
    for (let i = 0; i < 4; i++) expect(Math.abs(a[i] - b[i]), `weight ${i}`).toBeLessThan(1e-6);
    expect(a[0]).not.toBe(start[0]);
    o.dispose();
    ref.dispose();
    tf.dispose([v, r]);
  });

  it("the CPU is left as it was: arithmetic after an Adam step still makes subnormal numbers", async () => {
    await initBackend("wasm");
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, "adam-csr");
    const o = createAdam(0.1);
    const g = tf.tensor1d([1e-30, 1, 0]);
    o.applyGradients({ [v.name]: g }, [v]);
    // A subnormal float64 result in this thread's JavaScript and a subnormal float32 one in wasm.
    const d = new Float64Array([2.5e-308, 4]);
    expect(d[0] / d[1]).toBe(6.25e-309);
    const small = tf.tensor1d([FLT_MIN]);
    const half = tf.div(small, 4);
    expect(half.dataSync()[0]).toBeCloseTo(FLT_MIN / 4, 50);
    expect(half.dataSync()[0]).toBeGreaterThan(0);
    o.dispose();
    tf.dispose([v, g, small, half]);
  });
});

run("adamAll: every variable in one native call", () => {
  /** A heap of random p, g, m ≥ ... and v ≥ 0 for variables of `sizes`, and their (p, g, m, v, n) rows. */
  function model(sizes: number[], seed: number) {
    const rng = new Rng(seed);
    const total = sizes.reduce((a, b) => a + b, 0);
    const heap = new Float32Array(4 * total + 16);
    for (let i = 0; i < heap.length; i++) heap[i] = rng.normal();
    const rows: number[] = [];
    let at = 7; // offsets that are not a multiple of anything in particular
    for (const n of sizes) {
      rows.push(at, at + total, at + 2 * total, at + 3 * total, n);
      for (let i = 0; i < n; i++) heap[at + 3 * total + i] = Math.abs(heap[at + 3 * total + i]) * 0.01;
      at += n;
    }
    return { heap, rows };
  }
  const hyper = [0.003, 0.9, 0.999, 1e-8, 0.9 ** 7, 0.999 ** 7] as const;

  it("is one `adam` call per variable, to the bit, on 1, 2 and 3 threads (large and small variables, runs split inside one, an empty one)", async () => {
    await initBackend("wasm");
    const blas = loadNativeBlas()!;
    // 70 000 + 3 + 0 + 40 000 + 1 values: over 2^16 in all, so the calls split them between threads.
    const { heap, rows } = model([70_000, 3, 0, 40_000, 1], 11);
    const expected = heap.slice();
    for (let i = 0; i < rows.length; i += 5) blas.adam(expected, rows[i], rows[i + 1], rows[i + 2], rows[i + 3], rows[i + 4], ...hyper);
    expect(expected).not.toEqual(heap);
    const before = nativeThreadCount();
    try {
      for (const threads of [1, 2, 3]) {
        setNativeThreads(threads);
        const got = heap.slice();
        blas.adamAll!(got, Float64Array.from(rows), ...hyper);
        expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer)), `${threads} threads`).toBe(true);
      }
    } finally {
      setNativeThreads(before);
    }
  });

  it("refuses a table that is not (p, g, m, v, n) rows on the heap, or longer than its limit", async () => {
    await initBackend("wasm");
    const blas = loadNativeBlas()!;
    const { heap, rows } = model([5, 6], 12);
    const untouched = heap.slice();
    const bad = (table: unknown) => () => blas.adamAll!(heap, table as Float64Array, ...hyper);
    expect(bad(Float64Array.from(rows.slice(0, 7)))).toThrow(/\(p, g, m, v, n\) rows/);
    expect(bad(Float32Array.from(rows))).toThrow(/\(p, g, m, v, n\) rows/);
    expect(bad(new Float64Array(5 * (ADAM_ALL_MAX_VARIABLES + 1)))).toThrow(/at most 256/);
    expect(bad(Float64Array.from([...rows.slice(0, 5), -1, 0, 0, 0, 1]))).toThrow(/bad sizes or offsets/);
    expect(bad(Float64Array.from([...rows.slice(0, 5), 0.5, 0, 0, 0, 1]))).toThrow(/bad sizes or offsets/);
    expect(bad(Float64Array.from([...rows.slice(0, 5), heap.length - 2, 0, 0, 0, 3]))).toThrow(/outside the heap/);
    expect(bad(Float64Array.from([...rows.slice(0, 5), 0, 0, 0, 0, 2 ** 62]))).toThrow(/bad sizes or offsets/);
    for (const x of [NaN, Infinity]) expect(bad(Float64Array.from([...rows.slice(0, 5), x, 0, 0, 0, 1]))).toThrow(/bad sizes or offsets/);
    expect(() => blas.adamAll!(heap, Float64Array.from(rows), "0.1" as unknown as number, 0.9, 0.999, 1e-8, 0.9, 0.999)).toThrow(/adamAll: lr, the betas, epsilon and the beta powers must be numbers/);
    expect(() => blas.adam(heap, 0, 1, 2, 3, 1, 0.1, 0.9, 0.999, null as unknown as number, 0.9, 0.999)).toThrow(/adam: lr, the betas, epsilon and the beta powers must be numbers/);
    // A refused table changes nothing, not even the rows before the bad one.
    expect(Buffer.from(heap.buffer).equals(Buffer.from(untouched.buffer))).toBe(true);
    // At the limit, 256 rows (of 0 values) are taken.
    blas.adamAll!(heap, new Float64Array(5 * ADAM_ALL_MAX_VARIABLES), ...hyper);
    expect(Buffer.from(heap.buffer).equals(Buffer.from(untouched.buffer))).toBe(true);
  });

  // 300 variables: a full call and one of 44; 512: two full calls and no empty third; 7 with an addon built
  // before adamAll: one adam call per variable.
  it.each([
    [ADAM_ALL_MAX_VARIABLES + 44, true],
    [2 * ADAM_ALL_MAX_VARIABLES, true],
    [7, false],
  ])("the optimizer updates a model of %i variables (adamAll: %s) as tf.train.adam does, every one of them", async (count, withAll) => {
    await initBackend("wasm");
    const blas = loadNativeBlas()!;
    const adamAll = blas.adamAll;
    if (!withAll) blas.adamAll = undefined;
    try {
      updatesEveryVariable(count);
    } finally {
      blas.adamAll = adamAll;
    }
  });

  function updatesEveryVariable(count: number): void {
    const rng = new Rng(13);
    const start = Array.from({ length: count }, () => [rng.normal(), rng.normal()]);
    const native = start.map((x, i) => tf.variable(tf.tensor1d(x), true, `adam-many-n-${i}`));
    const reference = start.map((x, i) => tf.variable(tf.tensor1d(x), true, `adam-many-r-${i}`));
    const before = tf.memory().numTensors;
    const o = createAdam(0.05);
    expect(o.kind).toBe("native");
    const r = tf.train.adam(0.05, 0.9, 0.999, 1e-8);
    for (let step = 0; step < 3; step++) {
      const g = native.map(() => tf.tensor1d([rng.normal(), rng.normal()]));
      o.applyGradients(Object.fromEntries(native.map((v, i) => [v.name, g[i]])), native);
      r.applyGradients(Object.fromEntries(reference.map((v, i) => [v.name, g[i]])));
      tf.dispose(g);
    }
    native.forEach((v, i) => {
      const [a, b] = [v.dataSync(), reference[i].dataSync()];
      for (let j = 0; j < 2; j++) {
        expect(Math.abs(a[j] - b[j])).toBeLessThan(1e-5);
        expect(Math.abs(a[j] - start[i][j])).toBeGreaterThan(1e-4); // not left out of the calls
      }
    });
    o.dispose();
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...native, ...reference]);
  }
});

run("Adam with a tiny ε", () => {
  it(`is tfjs's (which keeps subnormal moments) below ε = ${NATIVE_ADAM_MIN_EPSILON}, the native one from there up`, async () => {
    await initBackend("wasm");
    const kinds = [1e-20, NATIVE_ADAM_MIN_EPSILON / 2, NATIVE_ADAM_MIN_EPSILON, 1e-8].map((epsilon) => {
      const o = createAdam(0.01, { epsilon });
      const kind = o.kind;
      o.dispose();
      return kind;
    });
    expect(kinds).toEqual(["tfjs", "tfjs", "native", "native"]);
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
