/**
 * Batch normalisation in training mode (batch statistics), over every axis but the last (channels):
 *
 *   μ_c = mean of x[..., c],  v_c = mean of (x[..., c] − μ_c)²  (biased, as PyTorch normalises),
 *   x̂ = (x − μ) / √(v + eps),  y = γ ⊙ x̂ + β.
 *
 * The gradient is written out, with N the number of values per channel and r = 1/√(v + eps):
 *
 *   ∂β = Σ dy,  ∂γ = Σ dy ⊙ x̂,  ∂x = γ r (dy − ∂β/N − x̂ ⊙ ∂γ/N).
 *
 * Why not autodiff: tfjs differentiates the broadcasts of μ, v, γ and β into Sum reductions over the batch
 * and image axes, which the wasm backend runs slowly (they took about a third of a training step of a small
 * convolutional decoder at [128, 28, 28, 32]). Here every per-channel sum is a product with a row of ones
 * (columnSums, BLAS where built). Running averages for evaluation are not kept: callers that want PyTorch's
 * eval mode must keep them.
 */
import * as tf from "./tf";
import { columnSums } from "./dense";

function batchNormOp(eps: number) {
  return tf.customGrad(((x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, save: (t: tf.Tensor[]) => void) => {
    const C = x.shape[x.shape.length - 1];
    const x2 = x.reshape([-1, C]) as tf.Tensor2D;
    const N = x2.shape[0];
    const mean = tf.div(columnSums(x2), N);
    const centred = tf.sub(x2, mean);
    const r = tf.rsqrt(tf.add(tf.div(columnSums(tf.square(centred) as tf.Tensor2D), N), eps));
    const xHat = tf.mul(centred, r);
    save([xHat, r, gamma]);
    return {
      value: tf.add(tf.mul(xHat, gamma), beta).reshape(x.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, g] = saved;
        const dy2 = dy.reshape([-1, C]) as tf.Tensor2D;
        const dBeta = columnSums(dy2);
        const dGamma = columnSums(tf.mul(dy2, xh) as tf.Tensor2D);
        const dx = tf.mul(tf.mul(g, rs), tf.sub(tf.sub(dy2, tf.div(dBeta, N)), tf.mul(xh, tf.div(dGamma, N))));
        return [dx.reshape(dy.shape), dGamma, dBeta];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as <T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D) => T;
}

const ops = new Map<number, ReturnType<typeof batchNormOp>>();

/**
 * y = γ ⊙ (x − μ)/√(v + eps) + β with the batch's per-channel mean μ and biased variance v (training mode);
 * x is [..., C] (NHWC images or [batch, C] rows), γ and β are [C]. eps defaults to PyTorch's 1e-5.
 */
export function batchNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): T {
  const C = x.shape[x.shape.length - 1];
  if (gamma.shape[0] !== C || beta.shape[0] !== C) throw new Error(`batchNorm: γ and β must have the ${C} channels of x (got ${gamma.shape[0]} and ${beta.shape[0]})`);
  if (!(eps > 0)) throw new Error(`batchNorm: eps must be > 0 (got ${eps})`);
  let op = ops.get(eps);
  if (!op) ops.set(eps, (op = batchNormOp(eps)));
  return op(x, gamma, beta);
}
