/**
 * An optional native BatchMatMul for the wasm backend: OpenBLAS's sgemm, compiled at `npm install` where
 * OpenBLAS is installed (src/native/build.js), registered in place of the wasm backend's own BatchMatMul.
 *
 * The wasm backend keeps every tensor in the WebAssembly heap; the native function gets a Float32Array over
 * that heap and element offsets, and writes the product straight into the output tensor's memory — no
 * copies. Shapes it does not handle simply (non-float32, empty, or batch broadcasting beyond "equal or 1")
 * go to the original wasm kernel, so the op keeps tfjs's semantics everywhere (tested against the cpu
 * backend). Measured on the MLP VAE: 0.8 ms per 128×784×400 product against 4.5 ms for wasm's own.
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs";

interface NativeBlas {
  sgemm(
    heap: Float32Array,
    aOffset: number,
    bOffset: number,
    cOffset: number,
    batch: number,
    strideA: number,
    strideB: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
  ): void;
  setThreads(n: number): void;
  adam(
    heap: Float32Array,
    pOffset: number,
    gOffset: number,
    mOffset: number,
    vOffset: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    beta1Power: number,
    beta2Power: number,
  ): void;
}

interface WasmBackendInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

let addon: NativeBlas | null | undefined;
let loadError = "";

/** The compiled addon, or null (with the reason in nativeMatMulStatus()) where it was not built. */
export function loadNativeBlas(): NativeBlas | null {
  if (addon !== undefined) return addon;
  if (process.env.VAE_LAB_NATIVE === "0") {
    loadError = "disabled (VAE_LAB_NATIVE=0)";
    return (addon = null);
  }
  try {
    addon = require(path.join(__dirname, "..", "src", "native", "build", "Release", "vae_lab_blas.node")) as NativeBlas;
  } catch (e) {
    loadError = /Cannot find module/.test(String(e)) ? "not built (needs OpenBLAS at install: apt-get install libopenblas-dev, then npm rebuild)" : String(e).split("\n")[0];
    addon = null;
  }
  return addon;
}

let installed = false;
let originalKernel: tf.KernelConfig | undefined;

/** Whether the native matmul is registered, and if not, why. */
export function nativeMatMulStatus(): { active: boolean; reason: string } {
  return { active: installed, reason: installed ? "OpenBLAS sgemm" : loadError || "not requested" };
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Register the native BatchMatMul for the wasm backend (call after the wasm backend is initialised, so the
 * original kernel's setup has run). Returns false, changing nothing, where the addon is not available.
 */
export function enableNativeMatMul(): boolean {
  if (installed) return true;
  const blas = loadNativeBlas();
  if (!blas) return false;
  const original = tf.getKernel("BatchMatMul", "wasm");
  if (!original) {
    loadError = "the wasm backend is not registered";
    return false;
  }
  originalKernel = original;
  const fallback = original.kernelFunc;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length;
    const rb = b.shape.length;
    const useOriginal = () => fallback(args as Parameters<typeof fallback>[0]) as tf.TensorInfo;
    if (a.dtype !== "float32" || b.dtype !== "float32" || ra < 2 || rb < 2) return useOriginal();
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    // Mismatched inner sizes (the original raises tfjs's error), empty tensors, and broadcasting other than
    // "same batch" or "one side has a single matrix" go to the original kernel.
    if (k !== kb || m * n * k === 0) return useOriginal();
    let outBatchShape: number[];
    try {
      outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    } catch {
      return useOriginal();
    }
    const batch = size(outBatchShape);
    if (!((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) return useOriginal();
    if (batchA === 1 && batchB === 1 && batch !== 1) return useOriginal();
    const backend = args.backend as WasmBackendInternals;
    const out = backend.makeOutput([...outBatchShape, m, n], "float32");
    // The heap may have grown while allocating the output: take the buffer afterwards.
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const off = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
    blas.sgemm(heap, off(a), off(b), off(out), batch, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n, m, n, k, !!transposeA, !!transposeB);
    return out;
  };
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  installed = true;
  return true;
}

/** Put the wasm backend's own BatchMatMul back (for comparisons and tests). */
export function disableNativeMatMul(): void {
  if (!installed || !originalKernel) return;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel(originalKernel);
  installed = false;
}
