/**
 * A layer's bias and ReLU in one native pass (src/engine/bias.ts, blas.c's biasRelu and biasReluGrad) and the
 * wasm backend's Identity as a shared reference (src/engine/wasm-identity.ts). biasRelu must give the
 * values of tf.relu(tf.add(x, b)) exactly, its input gradient exactly and its bias gradient as the float64
 * sum of the input gradient; NaN must come through both ways; nothing may leak; the kernels must refuse
 * offsets outside the heap. A clone on wasm must share memory yet stay unchanged when the native Adam
 * updates the variable it was cloned from. A transposed convolution with its bias and ReLU in one native
 * kernel (conv2dTransposeBiasRelu) must give the values and the three gradients of
 * biasRelu(tf.conv2dTranspose(…), b) exactly; such a layer followed by a transposed convolution to one
 * channel, whose backward pass is one kernel (conv2dTransposeBiasReluTranspose), the values and four
 * gradients of the two written one after the other.
 */
import * as tf from "../src/engine/tf";
import { describe, expect, it } from "vitest";
import { biasAdd, biasRelu, conv2dTransposeBiasRelu, conv2dTransposeBiasReluTranspose } from "../src/engine/bias";
import { enableConvKernels, nativeConv2dTransposeBiasRelu, nativeConv2dTransposeBiasReluTranspose } from "../src/engine/wasm-conv";
import { loadNativeBlas, nativeBiasReluActive, setNativeThreads } from "../src/engine/native-kernels";
import { disableSharedIdentity, enableSharedIdentity } from "../src/engine/wasm-identity";
import { createAdam } from "../src/engine/optimizer";
import { Rng } from "../src/engine/random";
import { describeOnNativeWasm } from "./harness/native";

const rng = new Rng(11);

/** A tensor of normal draws, with some exact zeros and values that cancel the bias exactly. */
function input(shape: number[], b: Float32Array): tf.Tensor {
  const n = shape.reduce((a, c) => a * c, 1);
  const C = shape[shape.length - 1];
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.uniform();
    v[i] = r < 0.05 ? 0 : r < 0.1 ? -b[i % C] : rng.normal();
  }
  return tf.tensor(v, shape);
}

/** How many places a and b hold different values at (0 and −0 are one value; NaN equals NaN). */
function differences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = a.length === b.length ? 0 : Math.max(a.length, b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) n++;
  return n;
}

function vector(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Σ over rows of dy where the output is positive, in float64: the bias gradient biasReluGrad must give. */
function exactBiasGradient(dy: Float32Array, y: Float32Array, C: number): number[] {
  const s = new Array<number>(C).fill(0);
  for (let i = 0; i < dy.length; i++) if (y[i] > 0) s[i % C] += dy[i];
  return s;
}

describeOnNativeWasm(
  "biasRelu on the native kernels (wasm)",
  () => {
    expect(nativeBiasReluActive()).toBe(true);
  },
  () => {
    const shapes = [
      [128, 28, 28, 32],
      [128, 1568],
      [3, 5, 7],
      [200, 3],
      [1, 1],
    ];
    // On one thread, and on three (the passes in parts of whole rows where a tensor has 2¹⁶ values or more:
    // the first two shapes, in parts of unequal size).
    for (const [shape, threads] of [...shapes.map((s) => [s, 1] as const), ...shapes.slice(0, 2).map((s) => [s, 3] as const)]) {
      it(`[${shape}]${threads > 1 ? `, ${threads} threads` : ""}: the values and input gradient of tf.relu(tf.add(x, b)) exactly, the bias gradient as the float64 sum`, () => {
        setNativeThreads(threads);
        try {
          const C = shape[shape.length - 1];
          const bv = vector(C);
          const b = tf.tensor1d(bv);
          const x = input(shape, bv);
          const dy = tf.tensor(vector(x.size), shape);
          const before = tf.memory().numTensors;
          tf.tidy(() => {
            const plain = (x: tf.Tensor, b: tf.Tensor) => tf.relu(tf.add(x, b));
            const y = biasRelu(x, b as tf.Tensor1D);
            const yPlain = plain(x, b);
            expect(differences(y.dataSync(), yPlain.dataSync())).toBe(0);
            const [dx, db] = tf.grads((x: tf.Tensor, b: tf.Tensor) => biasRelu(x, b as tf.Tensor1D))([x, b], dy);
            const [dxPlain] = tf.grads(plain)([x, b], dy);
            expect(differences(dx.dataSync(), dxPlain.dataSync())).toBe(0);
            const exact = exactBiasGradient(dy.dataSync() as Float32Array, yPlain.dataSync() as Float32Array, C);
            const got = db.dataSync();
            expect(db.shape).toEqual([C]);
            // float32 rounding of the float64 sum: half an ulp, and a little more for sums near zero
            const worst = Math.max(...exact.map((e, c) => Math.abs(got[c] - e) - Math.abs(e) * 2 ** -24));
            expect(worst).toBeLessThanOrEqual(1e-12);
          });
          expect(tf.memory().numTensors).toBe(before);
          tf.dispose([x, b, dy]);
        } finally {
          setNativeThreads(1);
        }
      });
    }

    it("the bias gradient keeps what float32 running sums lose (2²⁰ rows, one large value first), on one thread and on two", () => {
      // In float32, 2²⁵ + 1 rounds back to 2²⁵: a float32 running sum would give 2²⁵, the float64 sum 2²⁵ + 2²⁰ − 1.
      // On two threads each part sums half the rows in float64 (2²⁵ + 2¹⁹ − 1 and 2¹⁹): the same total.
      const rows = 1 << 20;
      const dyv = new Float32Array(rows).fill(1);
      dyv[0] = 2 ** 25;
      for (const threads of [1, 2]) {
        setNativeThreads(threads);
        try {
          tf.tidy(() => {
            const x = tf.ones([rows, 1]);
            const b = tf.zeros([1]);
            const [, db] = tf.grads((x: tf.Tensor, b: tf.Tensor) => biasRelu(x, b as tf.Tensor1D))([x, b], tf.tensor2d(dyv, [rows, 1]));
            expect(db.dataSync()[0]).toBe(Math.fround(2 ** 25 + rows - 1));
          });
        } finally {
          setNativeThreads(1);
        }
      }
    });

    it("NaN comes through: forward where x + b is NaN, and the gradient where the output is", () => {
      tf.tidy(() => {
        const x = tf.tensor2d([[NaN, 1, -1]]);
        const b = tf.tensor1d([0, 0, 0]);
        const y = biasRelu(x, b);
        const v = y.dataSync();
        expect(Number.isNaN(v[0])).toBe(true);
        expect([v[1], v[2]]).toEqual([1, 0]);
        const [dx, db] = tf.grads((x: tf.Tensor, b: tf.Tensor) => biasRelu(x, b as tf.Tensor1D))([x, b], tf.tensor2d([[1, 2, 3]]));
        const g = dx.dataSync();
        expect(Number.isNaN(g[0])).toBe(true);
        expect([g[1], g[2]]).toEqual([2, 0]);
        expect(Number.isNaN(db.dataSync()[0])).toBe(true);
      });
    });

    it("inputs it does not take go to tfjs's ops (a bias that does not match the last axis is tfjs's error)", () => {
      tf.tidy(() => {
        const x = tf.tensor2d([[1, -2], [3, -4]]);
        expect(() => biasRelu(x, tf.tensor1d([1, 2, 3]))).toThrow();
        const xi = tf.tensor2d([[1, -2]], [1, 2], "int32");
        expect(Array.from(biasRelu(xi, tf.tensor1d([1, 1], "int32") as tf.Tensor1D).dataSync())).toEqual([2, 0]);
      });
    });

    it("the native functions refuse offsets and sizes outside the heap with one line", () => {
      const blas = loadNativeBlas() as unknown as {
        biasRelu(...a: unknown[]): void;
        biasReluGrad(...a: unknown[]): void;
      };
      const heap = new Float32Array(16);
      expect(() => blas.biasRelu(heap, 0, 8, 4, 2, 4)).not.toThrow();
      expect(() => blas.biasRelu(heap, 0, 12, 8, 2, 4)).not.toThrow(); // b and y end where the heap ends
      expect(() => blas.biasRelu(heap, 0, 13, 8, 2, 4)).toThrow(RangeError);
      expect(() => blas.biasRelu(heap, 0, 12, 9, 2, 4)).toThrow(RangeError);
      expect(() => blas.biasRelu(heap, 0, 14, 4, 2, 4)).toThrow(/^vae-lab native biasRelu: bad sizes or offsets$/);
      expect(() => blas.biasRelu(heap, 0, 0, 10, 2, 4)).toThrow(RangeError);
      expect(() => blas.biasRelu(heap, -1, 0, 8, 2, 4)).toThrow(RangeError);
      expect(() => blas.biasRelu(heap, 0, 0, 8, 2, 0)).toThrow(RangeError);
      expect(() => blas.biasRelu(heap, 0, 0, 8, -1, 4)).toThrow(RangeError);
      expect(() => blas.biasRelu(heap, 0, 0, 0, 2 ** 40, 2 ** 24)).toThrow(RangeError);
      expect(() => blas.biasReluGrad(heap, 0, 4, 8, 12, 2, 2)).not.toThrow();
      expect(() => blas.biasReluGrad(heap, 0, 4, 12, 14, 2, 2)).not.toThrow(); // dx and db end where the heap ends
      expect(() => blas.biasReluGrad(heap, 0, 4, 13, 14, 2, 2)).toThrow(RangeError);
      expect(() => blas.biasReluGrad(heap, 0, 4, 8, 15, 1, 2)).toThrow(/^vae-lab native biasReluGrad: bad sizes or offsets$/);
      expect(() => blas.biasReluGrad(heap, 0, 4, 12, 0, 1, 8)).toThrow(RangeError);
      expect(() => blas.biasReluGrad(heap, 0, 4, 8)).toThrow(/expected 7 arguments/);
    });

    // A transposed convolution, its bias and its ReLU in one kernel: the decoder's two layers (stride 2, "same"),
    // one output channel (blas.c's direct loops), "valid" padding, a non-square image and filter.
    const transposed: { x: number[]; w: number[]; out: [number, number, number, number]; stride: number | [number, number]; pad: "same" | "valid" }[] = [
      { x: [6, 7, 7, 32], w: [3, 3, 64, 32], out: [6, 14, 14, 64], stride: 2, pad: "same" },
      { x: [5, 14, 14, 64], w: [3, 3, 32, 64], out: [5, 28, 28, 32], stride: 2, pad: "same" },
      { x: [3, 6, 6, 4], w: [3, 3, 1, 4], out: [3, 6, 6, 1], stride: 1, pad: "same" },
      { x: [2, 4, 5, 3], w: [3, 2, 5, 3], out: [2, 9, 10, 5], stride: [2, 2], pad: "valid" },
    ];
    for (const [c, threads] of [...transposed.map((c) => [c, 1] as const), [transposed[1], 2] as const]) {
      it(`conv2dTransposeBiasRelu ${JSON.stringify(c.x)} → ${JSON.stringify(c.out)}${threads > 1 ? `, ${threads} threads` : ""}: the values and the three gradients of biasRelu(tf.conv2dTranspose(…), b) exactly`, () => {
        setNativeThreads(threads);
        try {
          const C = c.out[3];
          const bv = vector(C);
          const [x, w, b] = [tf.tensor(vector(c.x.reduce((a, n) => a * n, 1)), c.x) as tf.Tensor4D, tf.tensor(vector(c.w.reduce((a, n) => a * n, 1)), c.w) as tf.Tensor4D, tf.tensor1d(bv)];
          const dy = tf.tensor(vector(c.out.reduce((a, n) => a * n, 1)), c.out);
          const before = tf.memory().numTensors;
          tf.tidy(() => {
            const fused = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => nativeConv2dTransposeBiasRelu(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, c.out, c.stride, c.pad)!;
            const plain = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => biasRelu(tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, c.out, c.stride, c.pad), b as tf.Tensor1D);
            const y = fused(x, w, b);
            const yPlain = plain(x, w, b);
            expect(y.shape).toEqual(c.out);
            const yv = y.dataSync();
            expect(differences(yv, yPlain.dataSync())).toBe(0);
            // Some outputs are clamped and some are not: the ReLU is there and both sides of it are tested.
            expect(yv.filter((v) => v === 0).length).toBeGreaterThan(0);
            expect(yv.filter((v) => v > 0).length).toBeGreaterThan(0);
            expect(differences(conv2dTransposeBiasRelu(x, w, b, c.out, c.stride, c.pad).dataSync(), yv)).toBe(0);
            const g = tf.grads(fused)([x, w, b], dy);
            const gPlain = tf.grads(plain)([x, w, b], dy);
            g.forEach((t, i) => {
              expect(t.shape).toEqual(gPlain[i].shape);
              expect(differences(t.dataSync(), gPlain[i].dataSync())).toBe(0);
            });
          });
          expect(tf.memory().numTensors).toBe(before);
          tf.dispose([x, w, b, dy]);
        } finally {
          setNativeThreads(1);
        }
      });
    }

    it("conv2dTransposeBiasRelu: inputs the kernel does not take go to tfjs's ops (null from the native op)", () => {
      tf.tidy(() => {
        const x = tf.ones([1, 2, 2, 2]) as tf.Tensor4D;
        const w = tf.ones([3, 3, 3, 2]) as tf.Tensor4D;
        expect(nativeConv2dTransposeBiasRelu(x, w, tf.tensor1d([1, 2]), [1, 4, 4, 3], 2, "same")).toBeNull(); // b not of the output's channels
        expect(nativeConv2dTransposeBiasRelu(x, w, tf.tensor1d([1, 2, 3], "int32") as tf.Tensor1D, [1, 4, 4, 3], 2, "same")).toBeNull();
        expect(nativeConv2dTransposeBiasRelu(x, tf.ones([3, 3, 3, 4]) as tf.Tensor4D, tf.tensor1d([1, 2, 3]), [1, 4, 4, 3], 2, "same")).toBeNull(); // filter's input channels not x's
        expect(nativeConv2dTransposeBiasRelu(x, w, tf.tensor1d([1, 2, 3]), [1, 4, 4, 2], 2, "same")).toBeNull(); // output channels not b's
        expect(nativeConv2dTransposeBiasRelu(tf.ones([0, 2, 2, 2]) as tf.Tensor4D, w, tf.tensor1d([1, 2, 3]), [0, 4, 4, 3], 2, "same")).toBeNull(); // an empty batch
        expect(nativeConv2dTransposeBiasRelu(x, w, tf.tensor1d([1, 2, 3]), [1, 4, 4, 3], 2, "same")).not.toBeNull();
        // An output shape whose convolution is not x's shape (another batch, other image sizes): tfjs's ops,
        // whose wasm kernel refuses to read past x with one line.
        for (const out of [[3, 4, 4, 3], [1, 8, 8, 3]] as [number, number, number, number][]) {
          expect(nativeConv2dTransposeBiasRelu(x, w, tf.tensor1d([1, 2, 3]), out, 2, "same")).toBeNull();
          expect(() => conv2dTransposeBiasRelu(x, w, tf.tensor1d([1, 2, 3]), out, 2, "same")).toThrow(/^Conv2DBackpropInput on the wasm backend: dy has shape \[1,2,2,2\], but the convolution's output is \[\d+,\d+,\d+,2\]$/);
        }
        expect(() => conv2dTransposeBiasRelu(x, w, tf.tensor1d([1, 2]), [1, 4, 4, 3], 2, "same")).toThrow();
        expect(Array.from(conv2dTransposeBiasRelu(x, w, tf.tensor1d([-100, 0, 1]), [1, 4, 4, 3], 2, "same").dataSync()).filter((_, i) => i % 3 === 0)).toEqual(new Array(16).fill(0));
      });
    });

    it("the native conv2dTransposeBiasRelu refuses offsets and sizes outside the heap with one line", () => {
      const blas = loadNativeBlas() as unknown as { conv2dTransposeBiasRelu(...a: unknown[]): void };
      // dy [1, 1, 1, 2] at 0, W [1, 1, 3, 2] at 2, b (3 values) at 8, y [1, 1, 1, 3] at 11: 14 floats.
      const g = [1, 1, 1, 3, 1, 1, 2, 1, 1, 1, 1, 0, 0, 1, 1];
      const heap = new Float32Array(14);
      heap.set([1, 2, 1, 0, 0, 1, -1, -1, 0, 0.5, 5]);
      expect(() => blas.conv2dTransposeBiasRelu(heap, 0, 2, 11, ...g, 8)).not.toThrow();
      // y = relu(W · dy + b): W · dy = (1, 2, −3); + b = (1, 2.5, 2)
      expect(Array.from(heap.subarray(11))).toEqual([1, 2.5, 2]);
      expect(() => blas.conv2dTransposeBiasRelu(heap, 0, 2, 11, ...g, 12)).toThrow(/^vae-lab native conv2dTransposeBiasRelu: operands outside the heap$/);
      expect(() => blas.conv2dTransposeBiasRelu(heap, 0, 2, 12, ...g, 8)).toThrow(RangeError);
      expect(() => blas.conv2dTransposeBiasRelu(heap, 0, 2, 11, ...g, -1)).toThrow(/^vae-lab native conv2dTransposeBiasRelu: bad sizes or offsets$/);
      expect(() => blas.conv2dTransposeBiasRelu(heap, 0, 2, 11, ...g.slice(1), 8)).toThrow(/expected 20 arguments/);
    });

    // A ReLU transposed-convolution layer, then a transposed convolution to one channel (3 × 3): the decoder's
    // last two layers, a smaller one, a stride of 2 in the second, "valid" padding.
    const pairs: { x: number[]; w1: number[]; s1: [number, number, number, number]; st1: number; w2: number[]; s2: [number, number, number, number]; st2: number; pad: "same" | "valid" }[] = [
      { x: [5, 14, 14, 64], w1: [3, 3, 32, 64], s1: [5, 28, 28, 32], st1: 2, w2: [3, 3, 1, 32], s2: [5, 28, 28, 1], st2: 1, pad: "same" },
      { x: [3, 4, 5, 8], w1: [3, 3, 16, 8], s1: [3, 8, 10, 16], st1: 2, w2: [3, 3, 1, 16], s2: [3, 8, 10, 1], st2: 1, pad: "same" },
      { x: [2, 4, 4, 8], w1: [3, 3, 16, 8], s1: [2, 4, 4, 16], st1: 1, w2: [3, 3, 1, 16], s2: [2, 8, 8, 1], st2: 2, pad: "same" },
      { x: [2, 3, 3, 8], w1: [3, 3, 16, 8], s1: [2, 7, 7, 16], st1: 2, w2: [3, 3, 1, 16], s2: [2, 9, 9, 1], st2: 1, pad: "valid" },
    ];
    for (const [c, threads] of [...pairs.map((c) => [c, 1] as const), [pairs[0], 2] as const, [pairs[1], 3] as const]) {
      it(`conv2dTransposeBiasReluTranspose ${JSON.stringify(c.x)} → ${JSON.stringify(c.s1)} → ${JSON.stringify(c.s2)}${threads > 1 ? `, ${threads} threads` : ""}: the values and four gradients of the two layers one after the other${threads > 1 ? " (the bias gradient to float32 rounding)" : " exactly"}`, () => {
        setNativeThreads(threads);
        try {
          const size = (s: number[]) => s.reduce((a, n) => a * n, 1);
          const [x, w1, b1, w2] = [tf.tensor(vector(size(c.x)), c.x), tf.tensor(vector(size(c.w1)), c.w1), tf.tensor1d(vector(c.s1[3])), tf.tensor(vector(size(c.w2)), c.w2)];
          const dy = tf.tensor(vector(size(c.s2)), c.s2);
          const before = tf.memory().numTensors;
          tf.tidy(() => {
            const fused = (x: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor) =>
              nativeConv2dTransposeBiasReluTranspose(x as tf.Tensor4D, { filter: w1 as tf.Tensor4D, bias: b1 as tf.Tensor1D, shape: c.s1, strides: c.st1 }, { filter: w2 as tf.Tensor4D, shape: c.s2, strides: c.st2 }, c.pad)!;
            const plain = (x: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor) =>
              tf.conv2dTranspose(nativeConv2dTransposeBiasRelu(x as tf.Tensor4D, w1 as tf.Tensor4D, b1 as tf.Tensor1D, c.s1, c.st1, c.pad)!, w2 as tf.Tensor4D, c.s2, c.st2, c.pad);
            const y = fused(x, w1, b1, w2);
            expect(y.shape).toEqual(c.s2);
            expect(differences(y.dataSync(), plain(x, w1, b1, w2).dataSync())).toBe(0);
            const layers = [{ filter: w1 as tf.Tensor4D, bias: b1 as tf.Tensor1D, shape: c.s1, strides: c.st1 }, { filter: w2 as tf.Tensor4D, shape: c.s2, strides: c.st2 }] as const;
            expect(differences(conv2dTransposeBiasReluTranspose(x as tf.Tensor4D, layers[0], layers[1], c.pad).dataSync(), y.dataSync())).toBe(0);
            const g = tf.grads(fused)([x, w1, b1, w2], dy);
            const gPlain = tf.grads(plain)([x, w1, b1, w2], dy);
            g.forEach((t, i) => {
              expect(t.shape).toEqual(gPlain[i].shape);
              if (threads > 1 && i === 2) {
                const want = gPlain[i].dataSync();
                t.dataSync().forEach((v, j) => expect(Math.abs(v - want[j])).toBeLessThanOrEqual(1e-6 * Math.abs(want[j]) + 1e-30));
              } else expect(differences(t.dataSync(), gPlain[i].dataSync()), `gradient ${i}`).toBe(0);
            });
            // The ReLU is there: some of the first layer's outputs are clamped, so some of its gradient is 0.
            const pre = tf.conv2dTranspose(x as tf.Tensor4D, w1 as tf.Tensor4D, c.s1, c.st1, c.pad).add(b1).dataSync();
            expect(pre.filter((v) => v < 0).length).toBeGreaterThan(0);
            expect(pre.filter((v) => v > 0).length).toBeGreaterThan(0);
          });
          expect(tf.memory().numTensors).toBe(before);
          tf.dispose([x, w1, b1, w2, dy]);
        } finally {
          setNativeThreads(1);
        }
      });
    }

    it("conv2dTransposeBiasReluTranspose: what the one-channel kernel does not take goes to the two layers' own ops (null from the native op)", () => {
      tf.tidy(() => {
        const x = tf.ones([2, 4, 4, 8]) as tf.Tensor4D;
        const w1 = tf.ones([3, 3, 16, 8]) as tf.Tensor4D;
        const b1 = tf.zeros([16]) as tf.Tensor1D;
        const s1: [number, number, number, number] = [2, 8, 8, 16];
        const run = (w2: number[], s2: [number, number, number, number], first: { w1?: tf.Tensor4D; b1?: tf.Tensor1D } = {}) =>
          nativeConv2dTransposeBiasReluTranspose(x, { filter: first.w1 ?? w1, bias: first.b1 ?? b1, shape: s1, strides: 2 }, { filter: tf.ones(w2) as tf.Tensor4D, shape: s2, strides: 1 }, "same");
        expect(run([3, 3, 1, 16], [2, 8, 8, 1])).not.toBeNull();
        expect(run([3, 3, 3, 16], [2, 8, 8, 3])).toBeNull(); // three channels out (a colour image)
        expect(run([5, 5, 1, 16], [2, 8, 8, 1])).toBeNull(); // not 3 × 3
        expect(run([3, 3, 1, 16], [2, 10, 10, 1])).toBeNull(); // its convolution is not the first layer's output
        expect(run([3, 3, 1, 16], [3, 8, 8, 1])).toBeNull(); // another batch
        expect(run([3, 3, 1, 16], [2, 8, 8, 1], { b1: tf.zeros([8]) as tf.Tensor1D })).toBeNull(); // the first layer refused
        // Eight channels between the layers: not a multiple of 16.
        const x8 = tf.ones([2, 4, 4, 4]) as tf.Tensor4D;
        expect(nativeConv2dTransposeBiasReluTranspose(x8, { filter: tf.ones([3, 3, 8, 4]) as tf.Tensor4D, bias: tf.zeros([8]) as tf.Tensor1D, shape: [2, 8, 8, 8], strides: 2 }, { filter: tf.ones([3, 3, 1, 8]) as tf.Tensor4D, shape: [2, 8, 8, 1], strides: 1 }, "same")).toBeNull();
        // Where it is null, the composition: three channels out give tfjs's values.
        const w2 = tf.ones([3, 3, 3, 16]) as tf.Tensor4D;
        const want = tf.conv2dTranspose(conv2dTransposeBiasRelu(x, w1, b1, s1, 2, "same"), w2, [2, 8, 8, 3], 1, "same").dataSync();
        expect(differences(conv2dTransposeBiasReluTranspose(x, { filter: w1, bias: b1, shape: s1, strides: 2 }, { filter: w2, shape: [2, 8, 8, 3], strides: 1 }, "same").dataSync(), want)).toBe(0);
      });
    });

    it("conv2dTransposeBiasReluTranspose: a gradient whose kernels were switched after its forward pass is the same gradient", async () => {
      const { ConvVae } = await import("../src/vae/conv");
      const { negativeElbo } = await import("../src/vae/model");
      const vae = new ConvVae({ seed: 5 });
      const x = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([3, 784], 0, 1, "float32", 2), 0.5), "float32") as tf.Tensor2D);
      const grads = (switchKernels: boolean) => {
        const { value, grads } = tf.variableGrads(() => {
          const loss = negativeElbo(vae, x, { seed: 4 }).loss as tf.Scalar;
          if (switchKernels) enableConvKernels({ native: false }); // the one-channel kernel is gone before the gradient
          return loss;
        }, vae.variables());
        const out = Object.fromEntries(Object.entries(grads).map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
        tf.dispose([value, ...Object.values(grads)]);
        return out;
      };
      const before = tf.memory().numTensors;
      try {
        const want = grads(false);
        const got = grads(true);
        for (const k of Object.keys(want)) {
          const scale = Math.max(...want[k].map(Math.abs));
          want[k].forEach((v, i) => expect(Math.abs(got[k][i] - v), k).toBeLessThanOrEqual(1e-4 * scale));
        }
      } finally {
        enableConvKernels();
      }
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      vae.dispose();
    });

    it("the native transposePair and transposePairGrad compute a hand-worked case and refuse sizes, offsets and geometries they do not take with one line", () => {
      const blas = loadNativeBlas() as unknown as { transposePair(...a: unknown[]): void; transposePairGrad(...a: unknown[]): void };
      // One 2 × 2 image. First layer: x [1, 2, 2, 1] → a [1, 2, 2, 16] through a 1 × 1 filter of ones, bias 0 but
      // −2 in channel 1, ReLU; second: a → y [1, 2, 2, 1] through a 3 × 3 filter of ones ("same", stride 1).
      const g1 = [1, 2, 2, 16, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1, 1];
      const g2 = [1, 2, 2, 1, 2, 2, 16, 3, 3, 1, 1, 1, 1, 1, 1];
      // x (4 floats) at 0, W1 (16) at 4, b (16) at 20, W2 (144) at 36, a (64) at 180, y (4) at 244; then dy (4) at
      // 248, dx (4) at 252, dW1 (16) at 256, db (16) at 272, dW2 (144) at 288: 432 floats.
      const heap = new Float32Array(432);
      heap.set([1, 0, 0, 0]); // x: one pixel
      heap.fill(1, 4, 20); // W1
      heap[21] = -2; // b
      heap.fill(1, 36, 180); // W2
      heap.set([1, 0, 0, 0], 248); // dy: one pixel
      const forward = [0, 4, 20, 36, 180, 244];
      expect(() => blas.transposePair(heap, ...forward, ...g1, ...g2)).not.toThrow();
      // a is 1 in the first pixel's channels but channel 1 (clamped), 0 elsewhere; every pixel of y sums the whole
      // image (the 3 × 3 window covers it): 15.
      expect(Array.from(heap.subarray(180, 196))).toEqual([1, 0, ...new Array(14).fill(1)]);
      expect(Array.from(heap.subarray(196, 244)).every((v) => v === 0)).toBe(true);
      expect(Array.from(heap.subarray(244, 248))).toEqual([15, 15, 15, 15]);
      const backward = [248, 36, 180, 0, 4, 252, 256, 272, 288];
      expect(() => blas.transposePairGrad(heap, ...backward, ...g1, ...g2)).not.toThrow();
      // The gradient of a before the ReLU is 1 everywhere (every window holds dy's pixel); the mask keeps the
      // first pixel's channels but 1. So db and dW1 are 1 there but in channel 1, dx is 15 in the first pixel,
      // and W2's gradient is a's first pixel at the window's centre tap (the only one that reads dy's pixel).
      const ones = [1, 0, ...new Array(14).fill(1)];
      expect(Array.from(heap.subarray(252, 256))).toEqual([15, 0, 0, 0]);
      expect(Array.from(heap.subarray(256, 272))).toEqual(ones);
      expect(Array.from(heap.subarray(272, 288))).toEqual(ones);
      expect(Array.from(heap.subarray(288 + 4 * 16, 288 + 5 * 16))).toEqual(ones);
      expect(Array.from(heap.subarray(288, 432)).reduce((s, v) => s + v, 0)).toBe(15);
      // Offsets outside the heap, negative, and geometries that are not this pair.
      expect(() => blas.transposePair(heap, 0, 4, 20, 36, 180, 429, ...g1, ...g2)).toThrow(/^vae-lab native transposePair: operands outside the heap$/);
      expect(() => blas.transposePairGrad(heap, 248, 36, 180, 0, 4, 252, 256, 272, 289, ...g1, ...g2)).toThrow(/^vae-lab native transposePairGrad: operands outside the heap$/);
      expect(() => blas.transposePair(heap, 0, 4, 20, 36, -1, 244, ...g1, ...g2)).toThrow(/^vae-lab native transposePair: bad sizes or offsets/);
      for (const [which, i, v] of [[2, 3, 2], [2, 7, 5], [2, 6, 8], [1, 3, 32], [1, 1, 3], [1, 0, 2]]) {
        const bad1 = g1.slice(), bad2 = g2.slice();
        (which === 1 ? bad1 : bad2)[i] = v; // second layer: two channels, 5 tall, 8 channels; first: 32 channels, 3 tall, batch 2
        expect(() => blas.transposePair(heap, ...forward, ...bad1, ...bad2)).toThrow(/^vae-lab native transposePair: bad sizes or offsets/);
        expect(() => blas.transposePairGrad(heap, ...backward, ...bad1, ...bad2)).toThrow(/^vae-lab native transposePairGrad: bad sizes or offsets/);
      }
      expect(() => blas.transposePair(heap, ...forward, ...g1, ...g2.slice(1))).toThrow(/expected 37 arguments/);
      expect(() => blas.transposePairGrad(heap, ...backward, ...g1.slice(1), ...g2)).toThrow(/expected 40 arguments/);
    });

    it("the pair's tfjs kernels refuse a bias of the wrong size and tensors that are not float32, in one line", () => {
      tf.tidy(() => {
        const attrs = { strides1: 2, strides2: 1, shape1: [2, 8, 8, 16], shape2: [2, 8, 8, 1], pad: "same" } as unknown as tf.NamedAttrMap;
        const x = tf.ones([2, 4, 4, 8]);
        const w1 = tf.ones([3, 3, 16, 8]);
        const w2 = tf.ones([3, 3, 1, 16]);
        const run = (b: tf.Tensor) => tf.engine().runKernel("VaeLabTransposeBiasReluTranspose", { x, w1, b, w2 }, attrs);
        expect(() => run(tf.zeros([16]))).not.toThrow();
        expect(() => run(tf.zeros([8]))).toThrow(/^VaeLabTransposeBiasReluTranspose on the wasm backend: the bias has shape \[8\], not \[16\]$/);
        expect(() => run(tf.zeros([16], "int32"))).toThrow(/^VaeLabTransposeBiasReluTranspose on the wasm backend: float32 tensors only$/);
        const grad = (dy: tf.Tensor) => tf.engine().runKernel("VaeLabTransposeBiasReluTransposeGrad", { dy, w2, a: tf.ones([2, 8, 8, 16]), x, w1 }, attrs);
        expect(() => grad(tf.ones([2, 8, 8, 1]))).not.toThrow();
        expect(() => grad(tf.ones([2, 8, 8, 1], "int32"))).toThrow(/float32 tensors only$/);
        expect(() => grad(tf.ones([2, 8, 9, 1]))).toThrow(/^VaeLabTransposeBiasReluTransposeGrad on the wasm backend: dy has shape \[2,8,9,1\], not \[2,8,8,1\]$/);
      });
    });

    it("the convolutional VAE's layers use them: no Relu or Step kernel in a training step", async () => {
      const { ConvVae } = await import("../src/vae/conv");
      const { negativeElbo } = await import("../src/vae/model");
      const vae = new ConvVae({ seed: 3 });
      const x = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([4, 784], 0, 1, "float32", 1), 0.5), "float32") as tf.Tensor2D);
      const info = await tf.profile(() => {
        tf.tidy(() => {
          tf.variableGrads(() => negativeElbo(vae, x, { seed: 2 }).loss as tf.Scalar, vae.variables());
        });
      });
      const names = info.kernels.map((k) => `${k.name} ${JSON.stringify(k.inputShapes[0])}`);
      // Forward: the encoder's two convolutions and the decoder's first dense layer; the decoder's two ReLU
      // transposed convolutions have theirs inside their kernel. Backward: all five.
      expect(names.filter((n) => n.startsWith("VaeLabBiasRelu ")).length).toBe(3);
      // The last two layers are one kernel forward and one backward.
      expect(names.filter((n) => n.startsWith("VaeLabConv2DTransposeBiasRelu ")).length).toBe(1);
      expect(names.filter((n) => n.startsWith("VaeLabTransposeBiasReluTranspose ")).length).toBe(1);
      expect(names.filter((n) => n.startsWith("Conv2DBackpropInput ")).length).toBe(1); // the second convolution's input gradient
      // Backward: the last two layers' in one kernel (with the ReLU between them); the other four ReLU layers' own.
      expect(names.filter((n) => n.startsWith("VaeLabTransposeBiasReluTransposeGrad ")).length).toBe(1);
      expect(names.filter((n) => n.startsWith("VaeLabBiasReluGrad ")).length).toBe(4);
      expect(names.filter((n) => /^(Relu|Step) /.test(n))).toEqual([]);
      x.dispose();
      vae.dispose();
    });
  },
);

describeOnNativeWasm(
  "Identity on wasm: a shared reference",
  () => {
    expect(enableSharedIdentity()).toBe(true);
  },
  () => {
    it("tf.clone allocates nothing and outlives its original", () => {
      const x = tf.tensor2d([[1, 2], [3, 4]]);
      const buffers = tf.memory().numDataBuffers;
      const c = tf.clone(x);
      expect(tf.memory().numDataBuffers).toBe(buffers);
      x.dispose();
      expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
      c.dispose();
      expect(tf.memory().numDataBuffers).toBe(buffers - 1);
    });

    it("a clone of a variable keeps its values when the native Adam updates the variable in place", () => {
      const v = tf.variable(tf.tensor1d([1, 2, 3]), true, "bias-test/v");
      const snapshot = tf.clone(v);
      const adam = createAdam(0.1);
      expect(adam.kind).toBe("native");
      adam.applyGradients({ [v.name]: tf.tensor1d([1, 1, 1]) }, [v]);
      expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
      expect(Array.from(v.dataSync()).every((p, i) => p < [1, 2, 3][i])).toBe(true);
      tf.dispose([v, snapshot]);
    });

    it("strings are shared too, and outlive their original", () => {
      const x = tf.tensor(["a", "bc"]);
      const buffers = tf.memory().numDataBuffers;
      const c = tf.clone(x);
      expect(tf.memory().numDataBuffers).toBe(buffers);
      x.dispose();
      expect(c.dataSync()).toEqual(["a", "bc"]);
      c.dispose();
    });

    it("without a wasm Identity to replace, nothing is registered and false is returned", () => {
      disableSharedIdentity();
      const copying = tf.getKernel("Identity", "wasm") as tf.KernelConfig;
      tf.unregisterKernel("Identity", "wasm");
      try {
        expect(enableSharedIdentity()).toBe(false);
        expect(tf.getKernel("Identity", "wasm")).toBeUndefined();
      } finally {
        tf.registerKernel(copying);
      }
      expect(enableSharedIdentity()).toBe(true);
    });

    it("the copying kernel comes back and goes again", () => {
      disableSharedIdentity();
      const x = tf.tensor1d([5]);
      const buffers = tf.memory().numDataBuffers;
      const c = tf.clone(x);
      expect(tf.memory().numDataBuffers).toBe(buffers + 1);
      expect(enableSharedIdentity()).toBe(true);
      tf.dispose([x, c]);
    });
  },
);

describe("biasRelu without the native kernels (cpu backend)", () => {
  it("is tf.relu(biasAdd(x, b)), with the same gradients", () => {
    tf.tidy(() => {
      const x = tf.tensor2d([[1, -2, 0.5], [-1, 3, -0.25]]);
      const b = tf.tensor1d([0.5, 1, -1]);
      expect(nativeBiasReluActive()).toBe(false);
      expect(Array.from(biasRelu(x, b).dataSync())).toEqual([1.5, 0, 0, 0, 4, 0]);
      const dy = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
      const [dx, db] = tf.grads((x: tf.Tensor, b: tf.Tensor) => biasRelu(x, b as tf.Tensor1D))([x, b], dy);
      expect(Array.from(dx.dataSync())).toEqual([1, 0, 0, 0, 5, 0]);
      expect(Array.from(db.dataSync())).toEqual([1, 5, 0]);
      const [, dbAdd] = tf.grads((x: tf.Tensor, b: tf.Tensor) => biasAdd(x, b as tf.Tensor1D))([x, b], dy);
      expect(Array.from(dbAdd.dataSync())).toEqual([5, 7, 9]);
    });
  });
});
