/**
 * The native BatchMatMul registered for the wasm backend must keep tfjs's semantics: every result is
 * compared with the cpu backend (the reference) on random shapes, all four transpose combinations, batch
 * broadcasting, the cases it hands back to the original kernel, and gradients. Runs where the addon was
 * built; CI installs OpenBLAS, so there it must have been.
 */
import * as tf from "../src/engine/tf";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { disableNativeMatMul, enableNativeMatMul, loadNativeBlas, nativeBernoulliNll, nativeMatMulStatus } from "../src/engine/native-kernels";
import { nativeExpected, nativeSkipped } from "./harness/native";
import { Rng } from "../src/engine/random";
import { bernoulliNll } from "../src/vae/model";

const run = nativeExpected ? describe : describe.skip;
if (nativeSkipped) console.log(`native matmul tests skipped: ${nativeSkipped}`);

const rng = new Rng(42);
function randomTensorData(shape: number[]) {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, values: Float32Array.from({ length: n }, () => rng.normal()) };
}

/**
 * A · B (each optionally transposed) for 2-D operands, in float64 straight from the definition. Used as the
 * reference for the 2-D cases, the VAE's big ones included: tfjs's cpu backend takes seconds for those, and
 * many times more when the test files share busy cores, while this takes well under a second.
 */
function matMul2d(a: { shape: number[]; values: Float32Array }, b: { shape: number[]; values: Float32Array }, ta: boolean, tb: boolean): number[] {
  const [m, k] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const n = tb ? b.shape[0] : b.shape[1];
  // Row-major m × k and k × n copies (transposing where asked), then the i-p-j loop.
  const A = Float64Array.from({ length: m * k }, (_, e) => (ta ? a.values[(e % k) * m + Math.floor(e / k)] : a.values[e]));
  const B = Float64Array.from({ length: k * n }, (_, e) => (tb ? b.values[(e % n) * k + Math.floor(e / n)] : b.values[e]));
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const aip = A[i * k + p];
      const row = p * n;
      const o = i * n;
      for (let j = 0; j < n; j++) out[o + j] += aip * B[row + j];
    }
  }
  return Array.from(out);
}

/** max_i |got_i − ref_i| / per(ref_i) (per = 1: the largest absolute difference); NaN if the lengths differ. */
function worstError(got: ArrayLike<number>, ref: ArrayLike<number>, per: (r: number) => number = () => 1): number {
  if (got.length !== ref.length) return NaN;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - ref[i]) / per(ref[i]);
    if (!(e <= worst)) worst = e; // a NaN becomes the worst
  }
  return worst;
}

async function on(backend: string, f: () => Float32Array | number[]): Promise<number[]> {
  await tf.setBackend(backend);
  return Array.from(tf.tidy(f));
}

run("native BatchMatMul (wasm + OpenBLAS) against the cpu backend", () => {
  beforeAll(async () => {
    await initBackend("cpu"); // once through initBackend, so the cpu backend's first-use banner stays quiet
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
      // 2-D: the float64 definition; batched and broadcast shapes (all small): tfjs's cpu backend.
      const ref = sa.length === 2 && sb.length === 2 ? matMul2d(A, B, ta, tb) : await on("cpu", f);
      const got = await on("wasm", f);
      expect(got.length).toBe(ref.length);
      const scale = ref.reduce((s, v) => Math.max(s, Math.abs(v)), 1);
      // One assertion on the worst entry: an expect per entry costs more than the product itself.
      expect(worstError(got, ref) / scale).toBeLessThan(1e-5);
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

/** Σ_j softplus(l) − l·x per row, and (σ(l) − x)·scale, in float64 from the definitions (no tfjs). */
function bernoulliReference(l: Float32Array, x: Float32Array, rows: number, cols: number, scale: number) {
  const nll: number[] = [];
  const grad: number[] = [];
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const v = l[r * cols + j];
      const t = x[r * cols + j];
      const softplus = v > 30 ? v + Math.exp(-v) : Math.log(1 + Math.exp(v));
      s += softplus - v * t;
      grad.push((1 / (1 + Math.exp(-v)) - t) * scale);
    }
    nll.push(s);
  }
  return { nll, grad };
}

run("native fused Bernoulli NLL (wasm + libmvec) against a float64 reference", () => {
  beforeAll(async () => {
    await initBackend("wasm");
    expect(nativeMatMulStatus().active).toBe(true);
  });

  // Row widths that are and are not multiples of the vector width; logits from tiny to far in the tails.
  const shapes: [number, number, number][] = [
    [4, 784, 3],
    [3, 37, 0.01],
    [1, 1, 1],
    [5, 17, 40],
    [2, 160, 200],
  ];
  for (const [rows, cols, spread] of shapes) {
    it(`${rows}×${cols}, logits ~ N(0, ${spread}²), targets in [0, 1] and binary`, async () => {
      await tf.setBackend("wasm");
      const l = Float32Array.from({ length: rows * cols }, () => rng.normal() * spread);
      const x = Float32Array.from({ length: rows * cols }, (_, i) => (i % 3 === 0 ? rng.uniform() : i % 3 === 1 ? 1 : 0));
      const ref = bernoulliReference(l, x, rows, cols, 0.25);
      const [nll, grad, nllOnly] = tf.tidy(() => {
        const lt = tf.tensor2d(l, [rows, cols]);
        const xt = tf.tensor2d(x, [rows, cols]);
        const both = nativeBernoulliNll(lt, xt, 0.25)!;
        const fwd = nativeBernoulliNll(lt, xt)!;
        expect(fwd.grad).toBeUndefined();
        return [both.nll.dataSync(), both.grad!.dataSync(), fwd.nll.dataSync()];
      });
      nll.forEach((v, r) => expect(Math.abs(v - ref.nll[r])).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref.nll[r]))));
      expect(Array.from(nllOnly)).toEqual(Array.from(nll));
      expect(worstError(Array.from(grad), ref.grad)).toBeLessThan(1e-6);
    });
  }

  it("refuses a gradient place that overlaps the logits or the targets (it holds e^{-|l|} before the gradient)", () => {
    const blas = loadNativeBlas()!;
    const heap = new Float32Array(64);
    for (const g of [5, 14, 0]) expect(() => blas.bernoulliNll(heap, 0, 10, 40, g, 1, 10, 1)).toThrow("vae-lab native bernoulliNll: the gradient overlaps the logits or the targets");
    expect(() => blas.bernoulliNll(heap, 0, 10, 40, 20, 1, 10, 1)).not.toThrow();
  });

  it("every entry point refuses offsets and sizes that are not whole numbers up to 2⁵³, or whose sum or product would overflow, before touching memory", () => {
    const blas = loadNativeBlas() as unknown as Record<string, (...a: unknown[]) => unknown>;
    // A heap that is a view into a larger array, with a sentinel just before it: an offset that wrapped round
    // (2⁶³ read as INT64_MAX, plus a size, overflowing to a negative number) would reach it.
    const big = new Float32Array(80).fill(7);
    const heap = big.subarray(8);
    const huge = [2 ** 63, 2 ** 64, 2 ** 53 + 2, -(2 ** 63), NaN, Infinity, -Infinity, 1.5, 2 ** 31];
    const conv = [1, 1, 1, 3, 1, 1, 2, 1, 1, 1, 1, 0, 0, 1, 1];
    // The conv VAE's last two layers (transposePair): a 1 × 1 image, 16 channels between them.
    const pair1 = [1, 1, 1, 16, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1];
    const pair2 = [1, 1, 1, 1, 1, 1, 16, 3, 3, 1, 1, 1, 1, 1, 1];
    const calls: [string, (v: number) => unknown[]][] = [
      ["sgemm", (v) => [heap, v, 0, 0, 1, 0, 0, 2, 2, 2, false, false]],
      ["sgemm", (v) => [heap, 0, 0, 0, 1, 0, 0, v, v, 1, false, false]], // m · k overflowing
      ["adam", (v) => [heap, v, 8, 16, 24, 4, 1e-3, 0.9, 0.999, 1e-8, 0.9, 0.999]],
      ["bernoulliNll", (v) => [heap, v, 10, 40, -1, 1, 4, 1]],
      ["bernoulliNll", (v) => [heap, 0, 10, 40, -1, v, v, 1]], // rows · cols overflowing
      ["biasRelu", (v) => [heap, v, 8, 16, 2, 4]],
      ["conv2d", (v) => [heap, 1, 0, 2, v, ...conv]],
      ["conv2d", (v) => [heap, 0, 0, 2, 8, v, v, v, v, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1]], // the image's size overflowing
      ["conv2dTransposeBiasRelu", (v) => [heap, 0, 2, 11, ...conv, v]],
      ["conv2dTransposeBiasRelu", (v) => [heap, 0, 2, v, ...conv, 8]],
      // A stride, dilation or padding of 2³¹ or more (a position times it could overflow int64): refused.
      ["conv2d", (v) => [heap, 0, 0, 2, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, v, v, 0, 0, 1, 1]],
      ["conv2d", (v) => [heap, 0, 0, 2, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, v, 1]],
      ["transposePair", (v) => [heap, 0, 1, 2, 3, 4, v, ...pair1, ...pair2]],
      ["transposePair", (v) => [heap, 0, 1, 2, 3, 4, 5, ...pair1.slice(0, 9), v, v, ...pair1.slice(11), ...pair2]],
      ["transposePairGrad", (v) => [heap, 0, 1, 2, 3, 4, 5, 6, 7, v, ...pair1, ...pair2]],
      ["transposePairGrad", (v) => [heap, 0, 1, 2, 3, 4, 5, 6, 7, 8, ...pair1, ...pair2.slice(0, 13), v, 1]],
    ];
    for (const [name, args] of calls) {
      for (const v of huge) {
        expect(() => blas[name](...args(v)), `${name} with ${v}`).toThrow(RangeError);
      }
    }
    expect(Array.from(big.subarray(0, 8))).toEqual(new Array(8).fill(7));
  });

  it("a NaN logit gives a NaN row and leaves the other rows alone", async () => {
    await tf.setBackend("wasm");
    const out = tf.tidy(() => {
      const l = tf.tensor2d([0.5, NaN, -1, 2, 0, 3], [2, 3]);
      return nativeBernoulliNll(l, tf.tensor2d([1, 0, 1, 0, 1, 0], [2, 3]))!.nll.dataSync();
    });
    expect(Number.isNaN(out[0])).toBe(true);
    expect(out[1]).toBeCloseTo(Math.log(1 + Math.exp(2)) + Math.log(2) + Math.log(1 + Math.exp(3)), 5);
  });

  it("declines what it does not handle (mismatched shapes, int32, not 2-D, switched off): null, so callers use tfjs ops", async () => {
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      expect(nativeBernoulliNll(tf.ones([2, 3]), tf.ones([2, 4]))).toBeNull();
      expect(nativeBernoulliNll(tf.ones([2, 3], "int32") as tf.Tensor2D, tf.ones([2, 3]))).toBeNull();
      expect(nativeBernoulliNll(tf.ones([2, 3, 1]) as unknown as tf.Tensor2D, tf.ones([2, 3, 1]) as unknown as tf.Tensor2D)).toBeNull();
      disableNativeMatMul();
      expect(nativeBernoulliNll(tf.ones([2, 3]), tf.ones([2, 3]))).toBeNull();
      expect(enableNativeMatMul()).toBe(true);
      expect(nativeBernoulliNll(tf.ones([2, 3]), tf.ones([2, 3]))).not.toBeNull();
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("bernoulliNll gives the same values with the native kernel as with tfjs ops", async () => {
    await tf.setBackend("wasm");
    const l = Float32Array.from({ length: 6 * 784 }, () => rng.normal() * 4);
    const x = Float32Array.from({ length: 6 * 784 }, () => rng.uniform());
    const f = () => tf.tidy(() => Array.from(bernoulliNll(tf.tensor2d(l, [6, 784]), tf.tensor2d(x, [6, 784])).dataSync()));
    const nativeValues = f();
    disableNativeMatMul();
    const tfjsValues = f();
    expect(enableNativeMatMul()).toBe(true);
    expect(worstError(nativeValues, tfjsValues, (v) => 1e5 * Math.abs(v))).toBeLessThan(1);
  });
});
