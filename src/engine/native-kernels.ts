/**
 * Optional native kernels for the wasm backend, compiled at `npm install` where OpenBLAS is installed
 * (src/native/build.js): a BatchMatMul through OpenBLAS's sgemm, registered in place of the wasm backend's
 * own; a fused Bernoulli negative log-likelihood with its gradient (nativeBernoulliNll, used by vae/model.ts and
 * vae/backprop.ts); and a fused Adam update (optimizer.ts).
 *
 * The wasm backend keeps every tensor in the WebAssembly heap; the native function gets a Float32Array over
 * that heap and element offsets, and writes the product straight into the output tensor's memory — no
 * copies. Shapes it does not handle simply (non-float32, empty, or batch broadcasting beyond "equal or 1")
 * go to the original wasm kernel, so the op keeps tfjs's semantics everywhere (tested against the cpu
 * backend). Measured on the MLP VAE: 0.8 ms per 128×784×400 product against 4.5 ms for wasm's own.
 */
import * as path from "path";
import * as tf from "./tf";
import { BlasCoreChoice, prepareBlasCore, SELF_CHECK_TOLERANCE, sgemmSelfCheck } from "./blas-core";

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
  /** The OpenBLAS kernel set in use ("SkylakeX", "Haswell", "Prescott", ...). */
  coreName?(): string;
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
  /** 2-D convolution products (mode 0 forward, 1 input gradient, 2 filter gradient): see blas.c and wasm-conv.ts. */
  conv2d(heap: Float32Array, mode: number, aOffset: number, bOffset: number, cOffset: number, ...geometry: [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number]): void;
  /** The im2col scratch budget of conv2d, in floats (default 2²², about 16 MB). */
  setConvScratch(floats: number): void;
  bernoulliNll(heap: Float32Array, lOffset: number, xOffset: number, nllOffset: number, gradOffset: number, rows: number, cols: number, scale: number): void;
}

interface WasmBackendInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

let addon: NativeBlas | null | undefined;
let loadError = "";
let core: { name: string; choice: BlasCoreChoice } | undefined;

/** Where build.js puts the compiled addon (the same path from src/ under a test runner and from dist/). */
export const NATIVE_ADDON_PATH = path.join(__dirname, "..", "..", "src", "engine", "native", "build", "Release", "vae_lab_blas.node");

/**
 * How to get the native kernels where they are not built (one line for `vae-lab info` and `train`): the
 * same words as build.js's at install, with the rebuild command for where this copy of vae-lab is (a
 * checkout: `npm rebuild`; a dependency: `npm rebuild vae-lab`).
 */
export function nativeHowto(): string {
  const howto = require(path.join(__dirname, "..", "..", "src", "engine", "native", "howto.js")) as { nativeHowto: () => string };
  return `for faster training ${howto.nativeHowto()}`;
}

/**
 * The compiled addon, or null (with the reason in nativeMatMulStatus()) where it was not built or its
 * matrix product fails the numeric self-check. The first call picks OpenBLAS's kernel set (blas-core.ts).
 */
export function loadNativeBlas(): NativeBlas | null {
  if (addon !== undefined) return addon;
  if (process.env.VAE_LAB_NATIVE === "0") {
    loadError = "disabled (VAE_LAB_NATIVE=0)";
    return (addon = null);
  }
  try {
    const choice = prepareBlasCore(NATIVE_ADDON_PATH);
    const loaded = require(NATIVE_ADDON_PATH) as NativeBlas;
    const name = typeof loaded.coreName === "function" ? loaded.coreName() : "unknown";
    const error = sgemmSelfCheck(loaded.sgemm);
    if (!(error <= SELF_CHECK_TOLERANCE)) {
      loadError = `off: OpenBLAS core ${name} failed the sgemm self-check (relative error ${error.toExponential(1)})`;
      return (addon = null);
    }
    core = { name, choice };
    addon = loaded;
  } catch (e) {
    loadError = /Cannot find module/.test(String(e)) ? "not built" : String(e).split("\n")[0];
    addon = null;
  }
  return addon;
}

/** The OpenBLAS kernel set the native kernels run on, and how it was chosen (undefined before loading or without the addon). */
export function nativeBlasCore(): { name: string; source: BlasCoreChoice["source"]; defaultCore?: string; note: string } | undefined {
  return core && { name: core.name, source: core.choice.source, defaultCore: core.choice.defaultCore, note: core.choice.note };
}

let installed = false;
let originalKernel: tf.KernelConfig | undefined;

/** vae-lab's own kernel (not a tfjs op): the fused Bernoulli negative log-likelihood; see nativeBernoulliNll. */
const BERNOULLI_KERNEL = "VaeLabBernoulliNll";

/** Whether the native matmul is registered, and if not, why. */
export function nativeMatMulStatus(): { active: boolean; reason: string } {
  return { active: installed, reason: installed ? `OpenBLAS sgemm, core ${core?.name ?? "unknown"}${core?.choice.note ? ` (${core.choice.note})` : ""}` : loadError || "not requested" };
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
  if (typeof blas.bernoulliNll === "function" && !tf.getKernel(BERNOULLI_KERNEL, "wasm")) {
    const bernoulli = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] => {
      const { logits, x } = args.inputs as { logits: tf.TensorInfo; x: tf.TensorInfo };
      const gradScale = (args.attrs ?? {}).gradScale as number | null;
      const [rows, cols] = logits.shape;
      const backend = args.backend as WasmBackendInternals;
      const nll = backend.makeOutput([rows], "float32");
      const grad = gradScale === null ? null : backend.makeOutput([rows, cols], "float32");
      const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
      const off = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
      blas.bernoulliNll(heap, off(logits), off(x), off(nll), grad ? off(grad) : -1, rows, cols, gradScale ?? 0);
      return grad ? [nll, grad] : [nll];
    };
    tf.registerKernel({ kernelName: BERNOULLI_KERNEL, backendName: "wasm", kernelFunc: bernoulli as unknown as tf.KernelFunc });
  }
  installed = true;
  return true;
}

/**
 * The Bernoulli negative log-likelihood of targets `x` under logits `l`, per row, Σ_j softplus(l) − l·x, and
 * with `gradScale` also its derivative (σ(l) − x) · gradScale, in one native pass (glibc's vectorised exp and
 * log1p) instead of about ten wasm kernels. Null where the native kernels are not active or the inputs are
 * not two float32 matrices of one shape (callers then use tfjs ops). Not differentiable by tfjs: use it where
 * the gradient is written out.
 */
export function nativeBernoulliNll(logits: tf.Tensor2D, x: tf.Tensor2D, gradScale?: number): { nll: tf.Tensor1D; grad?: tf.Tensor2D } | null {
  if (!installed || tf.getBackend() !== "wasm" || !tf.getKernel(BERNOULLI_KERNEL, "wasm")) return null;
  if (logits.dtype !== "float32" || x.dtype !== "float32" || logits.rank !== 2 || x.rank !== 2) return null;
  if (logits.shape[0] !== x.shape[0] || logits.shape[1] !== x.shape[1] || logits.size === 0) return null;
  const attrs = { gradScale: gradScale === undefined ? null : gradScale } as unknown as tf.NamedAttrMap;
  const out = tf.engine().runKernel(BERNOULLI_KERNEL, { logits, x }, attrs) as unknown as tf.Tensor[];
  return { nll: out[0] as tf.Tensor1D, grad: out[1] as tf.Tensor2D | undefined };
}

/** Put the wasm backend's own BatchMatMul back (for comparisons and tests). */
export function disableNativeMatMul(): void {
  if (!installed || !originalKernel) return;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel(originalKernel);
  installed = false;
}
