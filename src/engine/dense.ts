/**
 * The products a dense layer's gradient needs — xᵀ·dy, dy·Wᵀ and the column sums 1ᵀ·dy — in the form each
 * backend runs fastest. The wasm backend's own matmul is 5–10× slower with a transposed operand than
 * without (35–39 ms vs 4.5 ms for the 128×784×400 products of the MLP VAE), so there the transpose is done
 * first and the product is a plain one; OpenBLAS (the native matmul, when active) and the other backends
 * take transposed operands at full speed. Used by vae/model.ts's dense layers and by vae/backprop.ts.
 */
import * as tf from "./tf";
import { nativeMatMulStatus } from "./native-kernels";

function transposesAreSlow(): boolean {
  return tf.getBackend() === "wasm" && !nativeMatMulStatus().active;
}

/** op(a)·op(b), op = transpose where asked. */
export function matMulT(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  if (!transposesAreSlow()) return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b);
}

/** Column sums of d, as 1ᵀ·d where BLAS runs (wasm's own sum over axis 0 transposes first: 0.7 ms for 128×400). */
export function columnSums(d: tf.Tensor2D): tf.Tensor1D {
  if (nativeMatMulStatus().active) return tf.matMul(tf.ones([1, d.shape[0]]), d).reshape([d.shape[1]]);
  return tf.sum(d, 0);
}
