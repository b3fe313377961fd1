/**
 * The native BatchMatMul registered for the wasm backend must keep tfjs's semantics: every result is
 * compared with the cpu backend (the reference) on random shapes, all four transpose combinations, batch
 * broadcasting, the cases it hands back to the original kernel, and gradients. Runs where the addon was
 * built; CI installs OpenBLAS, so there it must have been.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { disableNativeMatMul, enableNativeMatMul, loadNativeBlas, nativeMatMulStatus } from "../src/native-kernels";
import { Rng } from "../src/random";

const available = loadNativeBlas() !== null;
const run = available || process.env.CI ? describe : describe.skip;
if (!available && !process.env.CI) console.log(`native matmul tests skipped: ${nativeMatMulStatus().reason}`);

const rng = new Rng(42);
function randomTensorData(shape: number[]) {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Float32Array.from({ length: n }, () => rng.normal()) };
}

async function on(backend: string, f: () => Float32Array | number[]): Promise<number[]> {
  await tf.setBackend(backend);
  return Array.from(tf.tidy(f));
}

run("native BatchMatMul (wasm + OpenBLAS) against the cpu backend", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    expect(nativeMatMulStatus().active).toBe(true);
  });
  afterAll(async () => {
    await tf.setBackend("wasm");
  });

  const cases: [number[], number[], boolean, boolean][] = [];
  // Random 2-D shapes with every transpose combination.
  for (let i = 0; i < 12; i++) {
    const [m, k, n] = [1 + rng.int(40), 1 + rng.int(40), 1 + rng.int(40)];
    const ta = i % 2 === 1;
    const tb = i % 4 >= 2;
    cases.push([ta ? [k, m] : [m, k], tb ? [n, k] : [k, n], ta, tb]);
  }
  // Batches, broadcasting of a single matrix, rank 4, the VAE's own shapes, and a 1×1.
  cases.push([[3, 5, 7], [3, 7, 2], false, false]);
  cases.push([[3, 7, 5], [3, 2, 7], true, true]);
  cases.push([[1, 5, 7], [4, 7, 2], false, false]);
  cases.push([[4, 5, 7], [7, 2], false, false]);
  cases.push([[2, 3, 4, 6], [2, 3, 6, 5], false, false]);
  cases.push([[128, 784], [784, 400], false, false]);
  cases.push([[784, 128], [128, 400], false, false]);
  cases.push([[1, 1], [1, 1], false, false]);
  // Handed back to the original kernel: broadcasting in both operands, and an empty tensor.
  cases.push([[2, 1, 3, 4], [1, 5, 4, 2], false, false]);
  cases.push([[0, 4], [4, 3], false, false]);

  for (const [sa, sb, ta, tb] of cases) {
    it(`matMul ${JSON.stringify(sa)}${ta ? "ᵀ" : ""} · ${JSON.stringify(sb)}${tb ? "ᵀ" : ""}`, async () => {
      const A = randomTensorData(sa);
      const B = randomTensorData(sb);
      const f = () => tf.matMul(tf.tensor(A.values, A.shape), tf.tensor(B.values, B.shape), ta, tb).dataSync() as Float32Array;
      const ref = await on("cpu", f);
      const got = await on("wasm", f);
      expect(got.length).toBe(ref.length);
      const scale = ref.reduce((s, v) => Math.max(s, Math.abs(v)), 1);
      got.forEach((v, i) => expect(Math.abs(v - ref[i]) / scale).toBeLessThan(1e-5));
    });
  }

  it("keeps tfjs's error for mismatched inner dimensions", async () => {
    await tf.setBackend("wasm");
    expect(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 5]))).toThrow(/inner shapes \(3\) and \(4\)/);
  });

  it("gradients through matMul match the cpu backend", async () => {
    const A = randomTensorData([6, 9]);
    const B = randomTensorData([9, 4]);
    const g = () => {
      const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b).square().sum())([tf.tensor(A.values, A.shape), tf.tensor(B.values, B.shape)]);
      return [...ga.dataSync(), ...gb.dataSync()];
    };
    const ref = await on("cpu", g);
    const got = await on("wasm", g);
    got.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 3));
  });

  it("can be switched off and on again, and the wasm kernel then gives the same products", async () => {
    await tf.setBackend("wasm");
    const A = randomTensorData([20, 30]);
    const B = randomTensorData([30, 10]);
    const f = () => Array.from(tf.tidy(() => tf.matMul(tf.tensor(A.values, A.shape), tf.tensor(B.values, B.shape)).dataSync()));
    const native = f();
    disableNativeMatMul();
    expect(nativeMatMulStatus().active).toBe(false);
    const wasmOwn = f();
    expect(enableNativeMatMul()).toBe(true);
    native.forEach((v, i) => expect(v).toBeCloseTo(wasmOwn[i], 4));
  });

  it("leaks no tensors", async () => {
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    tf.tidy(() => tf.matMul(tf.ones([3, 4, 5]), tf.ones([5, 2])).dataSync());
    expect(tf.memory().numTensors).toBe(before);
  });
});
