/**
 * A layer's bias, and its bias and ReLU together, as differentiable ops whose gradients suit the wasm
 * backend: the convolutional VAE's layers (vae/conv.ts) end in one or the other.
 */
import * as tf from "./tf";
import { columnSums } from "./dense";
import { nativeBiasRelu } from "./native-kernels";
import { nativeConv2dTransposeBiasRelu, nativeConv2dTransposeBiasReluTranspose, TransposeLayer } from "./wasm-conv";

/**
 * x + b over the last (channel) axis, with the bias gradient written out as column sums of dy seen as a
 * [pixels, channels] matrix (one product with a ones row where BLAS runs). tfjs's own gradient of the
 * broadcast add is a Sum over the batch and both image axes, which the wasm backend runs slowly (530 of the
 * 3300 ms of a training step at [128, 28, 28, 32], measured under load).
 */
export const biasAdd = tf.customGrad(((x: tf.Tensor, b: tf.Tensor1D) => ({
  value: tf.add(x, b),
  gradFunc: (dy: tf.Tensor) => [dy, columnSums(dy.reshape([-1, b.shape[0]]) as tf.Tensor2D)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as <T extends tf.Tensor>(x: T, b: tf.Tensor1D) => T;

/**
 * relu(x + b), b over the last axis: one native pass forward and one backward where the native kernels run
 * (nativeBiasRelu: at [128, 28, 28, 32] that replaces seven wasm kernels and two copies of the activations),
 * else tf.relu(biasAdd(x, b)). Both give the same values; the bias gradients agree to float32 rounding.
 */
export function biasRelu<T extends tf.Tensor>(x: T, b: tf.Tensor1D): T {
  return nativeBiasRelu(x, b) ?? (tf.relu(biasAdd(x, b)) as T);
}

/**
 * relu(conv2dTranspose(x, filter, outputShape, strides, pad) + b): a transposed-convolution layer with its
 * bias and ReLU, in one native kernel where it runs (nativeConv2dTransposeBiasRelu), else as
 * biasRelu(tf.conv2dTranspose(…), b). Both give the same values.
 */
export function conv2dTransposeBiasRelu(x: tf.Tensor4D, filter: tf.Tensor4D, b: tf.Tensor1D, outputShape: [number, number, number, number], strides: number | [number, number], pad: "same" | "valid"): tf.Tensor4D {
  return nativeConv2dTransposeBiasRelu(x, filter, b, outputShape, strides, pad) ?? biasRelu(tf.conv2dTranspose(x, filter, outputShape, strides, pad), b);
}

/**
 * conv2dTranspose(conv2dTransposeBiasRelu(x, first.filter, first.bias, first.shape, first.strides, pad),
 * second.filter, second.shape, second.strides, pad): a transposed-convolution layer with its bias and ReLU,
 * then a transposed convolution without them (the convolutional VAE's last two layers, its bias added by the
 * caller). Where the native kernels run and the second goes to one channel with a 3 × 3 filter, its backward
 * pass and the first one's ReLU and bias gradients are one native kernel (nativeConv2dTransposeBiasReluTranspose);
 * the same values either way.
 */
export function conv2dTransposeBiasReluTranspose(x: tf.Tensor4D, first: TransposeLayer & { bias: tf.Tensor1D }, second: TransposeLayer, pad: "same" | "valid"): tf.Tensor4D {
  return (
    nativeConv2dTransposeBiasReluTranspose(x, first, second, pad) ??
    tf.conv2dTranspose(conv2dTransposeBiasRelu(x, first.filter, first.bias, first.shape, first.strides, pad), second.filter, second.shape, second.strides, pad)
  );
}
