/**
 * Identity for the wasm backend as a second reference to the same memory, as the cpu backend has it,
 * instead of a copy.
 *
 * tfjs runs Identity for tf.clone and for every tensor an op keeps for its gradient (the engine clones each
 * one it saves): while training the convolutional VAE that is two copies of each layer's activations per
 * step, 12.8 MB each at [128, 28, 28, 32], about 2 ms apiece. Tensors are immutable in tfjs, so sharing is
 * safe as long as nothing writes into a tensor's memory in place: the wasm backend's kernels never do, and
 * the one writer in vae-lab, the native Adam (optimizer.ts), gives a variable its own copy first whenever
 * its memory is shared (the backend's reference count, which this kernel raises, says so). Every dtype,
 * strings too, is shared the same way. Registered by initBackend("wasm").
 */
import * as tf from "./tf";

interface WasmBackendInternals {
  incRef(dataId: unknown): void;
}

let original: tf.KernelConfig | undefined;

/** Register the shared-memory Identity for the wasm backend (after the backend is initialised). Idempotent. */
export function enableSharedIdentity(): boolean {
  if (original) return true;
  const config = tf.getKernel("Identity", "wasm");
  if (!config) return false;
  original = config;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    (args.backend as WasmBackendInternals).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({ ...config, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return true;
}

/** Put the wasm backend's copying Identity back (for comparisons and tests). */
export function disableSharedIdentity(): void {
  if (!original) return;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel(original);
  original = undefined;
}
