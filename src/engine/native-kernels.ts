/**
 * Optional native kernels for the wasm backend, compiled at `npm install` where OpenBLAS is installed
 * (src/native/build.js): a BatchMatMul through OpenBLAS's sgemm, registered in place of the wasm backend's
 * own; a fused Bernoulli negative log-likelihood with its gradient (nativeBernoulliNll, used by vae/model.ts and
 * vae/backprop.ts); a fused Adam update (optimizer.ts); and the MLP VAE's whole gradient in one call
 * (nativeMlpGradients, used by vae/fused-gradients.ts). setNativeThreads sets their threads.
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
import { MAX_NATIVE_THREADS } from "./backend-choice";

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
  /**
   * Adam on many variables in one call: `table` holds a row (p, g, m, v, n) of heap offsets (in floats) and a
   * size per variable, at most ADAM_ALL_MAX_VARIABLES rows; the same update as `adam` on each (see blas.c).
   */
  adamAll?(heap: Float32Array, table: Float64Array, lr: number, beta1: number, beta2: number, epsilon: number, beta1Power: number, beta2Power: number): void;
  /** 2-D convolution products (mode 0 forward, 1 input gradient, 2 filter gradient): see blas.c and wasm-conv.ts. */
  conv2d(heap: Float32Array, mode: number, aOffset: number, bOffset: number, cOffset: number, ...geometry: [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number]): void;
  /** conv2d's mode 1 (a transposed convolution) with the layer's bias and ReLU applied image by image: see blas.c and wasm-conv.ts. */
  conv2dTransposeBiasRelu?(heap: Float32Array, dyOffset: number, wOffset: number, yOffset: number, ...geometryThenBias: [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number]): void;
  /**
   * A transposed-convolution layer with its bias and ReLU (a = relu(conv2dTranspose(x, W1) + b)) and then a
   * 3 × 3 transposed convolution to one channel (y = conv2dTranspose(a, W2)), a chunk of images at a time; the
   * geometries are the two layers' convolutions' (see blas.c and wasm-conv.ts).
   */
  transposePair?(heap: Float32Array, xOffset: number, w1Offset: number, bOffset: number, w2Offset: number, aOffset: number, yOffset: number, ...geometries: number[]): void;
  /** Their backward pass from dy (y's gradient): dx, dW1, db and dW2, a chunk of images at a time (see blas.c). */
  transposePairGrad?(heap: Float32Array, dyOffset: number, w2Offset: number, aOffset: number, xOffset: number, w1Offset: number, dxOffset: number, dw1Offset: number, dbOffset: number, dw2Offset: number, ...geometries: number[]): void;
  /** Sets the im2col scratch budget of conv2d, in floats (default 2¹⁷, 512 KB), and returns the one it replaces. */
  setConvScratch(floats: number): number;
  bernoulliNll(heap: Float32Array, lOffset: number, xOffset: number, nllOffset: number, gradOffset: number, rows: number, cols: number, scale: number): void;
  /** y = max(x + b, 0) over rows of `channels` values: see blas.c and nativeBiasRelu. */
  biasRelu?(heap: Float32Array, xOffset: number, bOffset: number, yOffset: number, rows: number, channels: number): void;
  /** Its gradient from y: dx = dy where y > 0, db = Σ_rows dx (see blas.c). */
  biasReluGrad?(heap: Float32Array, dyOffset: number, yOffset: number, dxOffset: number, dbOffset: number, rows: number, channels: number): void;
  /** The MLP VAE's negative ELBO and every weight's gradient in one call: see blas.c and nativeMlpGradients. */
  mlpGradients?(heap: Float32Array, plan: Float64Array, result: Float64Array): void;
}

/** The most variables one adamAll call takes (blas.c's ADAM_MAX_VARS). */
export const ADAM_ALL_MAX_VARIABLES = 256;

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
/** vae-lab's own kernel: the MLP VAE's whole gradient; see nativeMlpGradients. */
const MLP_KERNEL = "VaeLabMlpGradients";
/** vae-lab's own kernels: a layer's bias and ReLU in one pass, and its gradient; see nativeBiasRelu. */
const BIAS_RELU_KERNEL = "VaeLabBiasRelu";
const BIAS_RELU_GRAD_KERNEL = "VaeLabBiasReluGrad";
/** The activations of the MLP kernel, by its code (blas.c's ACT_*). */
const MLP_ACTIVATIONS = ["relu", "tanh", "sigmoid", "leakyRelu", "elu", "softplus"] as const;

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
  if (typeof blas.mlpGradients === "function" && !tf.getKernel(MLP_KERNEL, "wasm")) {
    const mlpGradients = blas.mlpGradients.bind(blas);
    const result = new Float64Array(2);
    const kernel = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] => {
      const inputs = args.inputs as Record<string, tf.TensorInfo>;
      const { samples, activation, beta, encoderLayers, decoderLayers } = (args.attrs ?? {}) as unknown as MlpAttrs;
      const backend = args.backend as WasmBackendInternals;
      const count = encoderLayers + decoderLayers + 3;
      const outputs: tf.TensorInfo[] = [];
      for (let i = 0; i < count; i++) outputs.push(backend.makeOutput(inputs[`W${i}`].shape, "float32"), backend.makeOutput(inputs[`b${i}`].shape, "float32"));
      const recon = backend.makeOutput([], "float32");
      const kl = backend.makeOutput([], "float32");
      const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
      const off = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
      const plan = [inputs.x.shape[0], samples, MLP_ACTIVATIONS.indexOf(activation), beta, off(inputs.x), off(inputs.eps), encoderLayers, decoderLayers];
      for (let i = 0; i < count; i++) {
        const [rows, cols] = inputs[`W${i}`].shape;
        plan.push(rows, cols, off(inputs[`W${i}`]), off(inputs[`b${i}`]), off(outputs[2 * i]), off(outputs[2 * i + 1]));
      }
      try {
        mlpGradients(heap, Float64Array.from(plan), result);
      } catch (e) {
        for (const t of [...outputs, recon, kl]) (backend as unknown as { disposeData(id: unknown): void }).disposeData(t.dataId);
        throw e;
      }
      heap[off(recon)] = result[0];
      heap[off(kl)] = result[1];
      return [...outputs, recon, kl];
    };
    tf.registerKernel({ kernelName: MLP_KERNEL, backendName: "wasm", kernelFunc: kernel as unknown as tf.KernelFunc });
  }
  if (typeof blas.biasRelu === "function" && typeof blas.biasReluGrad === "function" && !tf.getKernel(BIAS_RELU_KERNEL, "wasm")) {
    registerBiasRelu(blas.biasRelu.bind(blas), blas.biasReluGrad.bind(blas));
  }
  installed = true;
  return true;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/**
 * The kernels of nativeBiasRelu and the gradient that ties them together: the forward kernel keeps its
 * output, from which the gradient kernel computes dx and db in one pass.
 */
function registerBiasRelu(biasRelu: NonNullable<NativeBlas["biasRelu"]>, biasReluGrad: NonNullable<NativeBlas["biasReluGrad"]>): void {
  const off = (backend: WasmBackendInternals, t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
  const forward = (args: KernelArgs): tf.TensorInfo => {
    const { x, b } = args.inputs as { x: tf.TensorInfo; b: tf.TensorInfo };
    const backend = args.backend as WasmBackendInternals;
    const y = backend.makeOutput(x.shape, "float32");
    const channels = b.shape[0];
    biasRelu(new Float32Array(backend.wasm.HEAPU8.buffer), off(backend, x), off(backend, b), off(backend, y), size(x.shape) / channels, channels);
    return y;
  };
  const backward = (args: KernelArgs): tf.TensorInfo[] => {
    const { dy, y } = args.inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
    const channels = y.shape[y.shape.length - 1];
    const backend = args.backend as WasmBackendInternals;
    const dx = backend.makeOutput(y.shape, "float32");
    const db = backend.makeOutput([channels], "float32");
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    biasReluGrad(heap, off(backend, dy), off(backend, y), off(backend, dx), off(backend, db), size(y.shape) / channels, channels);
    return [dx, db];
  };
  tf.registerKernel({ kernelName: BIAS_RELU_KERNEL, backendName: "wasm", kernelFunc: forward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: BIAS_RELU_GRAD_KERNEL, backendName: "wasm", kernelFunc: backward as unknown as tf.KernelFunc });
  if (!tf.getGradient(BIAS_RELU_KERNEL)) {
    tf.registerGradient({
      kernelName: BIAS_RELU_KERNEL,
      outputsToSave: [true],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [dx, db] = tf.engine().runKernel(BIAS_RELU_GRAD_KERNEL, { dy: dy as tf.Tensor, y: saved[0] }) as unknown as tf.Tensor[];
        return { x: () => dx, b: () => db };
      },
    });
  }
}

/**
 * The gradient of y = relu(x + b) from y and dy in one native pass: [dx, db] (as nativeBiasRelu's gradient
 * computes them), or null where nativeBiasRelu does not run. For ops that end in a bias and ReLU of their own
 * (wasm-conv.ts's transposed convolution).
 */
export function nativeBiasReluGradient(dy: tf.Tensor, y: tf.Tensor): [tf.Tensor, tf.Tensor1D] | null {
  if (!nativeBiasReluActive() || dy.dtype !== "float32" || y.dtype !== "float32" || y.rank < 1 || y.size === 0) return null;
  return tf.engine().runKernel(BIAS_RELU_GRAD_KERNEL, { dy, y }) as unknown as [tf.Tensor, tf.Tensor1D];
}

/** Whether nativeBiasRelu runs now (the wasm backend with the native kernels, built with it). */
export function nativeBiasReluActive(): boolean {
  return installed && tf.getBackend() === "wasm" && !!tf.getKernel(BIAS_RELU_KERNEL, "wasm");
}

/**
 * max(x + b, 0) with b added along x's last axis, in one native pass, differentiable: its gradient is one
 * more pass that gives both dx (dy where the output is positive) and db (dx summed over every other axis,
 * in float64), where tfjs would run Add, Relu, Step, Cast, Multiply and a sum. The same values as
 * tf.relu(tf.add(x, b)) (the same float32 sum, then the same clamp; NaN stays NaN); db to float32 rounding
 * of the exact sum. Null where the native kernels are not active or the inputs are not float32 with b's
 * length equal to x's last axis (callers then use tfjs ops).
 */
export function nativeBiasRelu<T extends tf.Tensor>(x: T, b: tf.Tensor1D): T | null {
  if (!nativeBiasReluActive()) return null;
  if (x.dtype !== "float32" || b.dtype !== "float32" || b.rank !== 1 || x.rank < 1 || x.size === 0) return null;
  if (x.shape[x.rank - 1] !== b.shape[0]) return null;
  return tf.engine().runKernel(BIAS_RELU_KERNEL, { x, b }) as unknown as T;
}

interface MlpAttrs {
  samples: number;
  activation: (typeof MLP_ACTIVATIONS)[number];
  beta: number;
  encoderLayers: number;
  decoderLayers: number;
}

/** One dense layer's weights for nativeMlpGradients. */
export interface MlpLayerWeights {
  W: tf.Tensor2D;
  b: tf.Tensor1D;
}

/** What nativeMlpGradients returns: each layer's weight gradients (in the order given) and the two loss terms. */
export interface MlpGradients {
  layers: { W: tf.Tensor2D; b: tf.Tensor1D }[];
  /** Σ rows' Bernoulli NLL / (L·B). */
  recon: tf.Scalar;
  /** Σ images' KL(q(z|x) ‖ N(0, I)) / B. */
  kl: tf.Scalar;
}

/** Whether nativeMlpGradients can run now (the wasm backend with the native kernels, built with it). */
export function nativeMlpGradientsActive(): boolean {
  return installed && tf.getBackend() === "wasm" && !!tf.getKernel(MLP_KERNEL, "wasm");
}

/**
 * The negative ELBO of an MLP VAE with a Bernoulli likelihood and its gradient for every weight, in one
 * native call: the forward pass, the reparameterised z = μ + σ ⊙ ε (ε: L·B rows, sample-major), the loss
 * and the backward pass of vae/backprop.ts, with the same products through OpenBLAS and the elementwise
 * steps fused. `layers` are the encoder's, the μ and log σ² heads, the decoder's and the output layer, in
 * that order (`encoderLayers` and `decoderLayers` say how many of each). Null where the native kernels are
 * not active, the addon predates this kernel, or an input is not what it handles (callers then use tfjs ops).
 */
export function nativeMlpGradients(
  x: tf.Tensor2D,
  eps: tf.Tensor2D,
  layers: MlpLayerWeights[],
  options: { samples: number; beta: number; activation: string; encoderLayers: number; decoderLayers: number },
): MlpGradients | null {
  if (!nativeMlpGradientsActive()) return null;
  const activation = MLP_ACTIVATIONS.find((a) => a === options.activation);
  if (activation === undefined || layers.length !== options.encoderLayers + options.decoderLayers + 3) return null;
  const tensors = [x, eps, ...layers.flatMap((l) => [l.W, l.b])];
  if (tensors.some((t) => t.dtype !== "float32" || t.size === 0) || x.rank !== 2 || eps.rank !== 2) return null;
  if (!(Number.isInteger(options.samples) && options.samples >= 1 && Number.isFinite(options.beta) && options.beta >= 0)) return null;
  if (layers.some((l) => l.W.rank !== 2 || l.b.rank !== 1 || l.b.shape[0] !== l.W.shape[1])) return null;
  // The layers chain from x's columns back to them: encoder…, the two heads (both from the encoder's top), decoder…, output.
  const n = layers.length;
  const { encoderLayers: e } = options;
  const into = (i: number) => layers[i].W.shape[0];
  const outOf = (i: number) => layers[i].W.shape[1];
  const latent = outOf(e);
  const chains = layers.every((_, i) => {
    if (i === 0) return into(0) === x.shape[1];
    if (i <= e) return into(i) === outOf(i - 1);
    if (i === e + 1) return into(i) === into(e) && outOf(i) === latent;
    if (i === e + 2) return into(i) === latent;
    return into(i) === outOf(i - 1);
  });
  if (!chains || outOf(n - 1) !== x.shape[1] || eps.shape[0] !== options.samples * x.shape[0] || eps.shape[1] !== latent) return null;
  const inputs: Record<string, tf.Tensor> = { x, eps };
  layers.forEach((l, i) => {
    inputs[`W${i}`] = l.W;
    inputs[`b${i}`] = l.b;
  });
  const attrs = { samples: options.samples, activation, beta: options.beta, encoderLayers: options.encoderLayers, decoderLayers: options.decoderLayers } as unknown as tf.NamedAttrMap;
  const out = tf.engine().runKernel(MLP_KERNEL, inputs as unknown as tf.NamedTensorMap, attrs) as unknown as tf.Tensor[];
  return {
    layers: layers.map((_, i) => ({ W: out[2 * i] as tf.Tensor2D, b: out[2 * i + 1] as tf.Tensor1D })),
    recon: out[2 * n] as tf.Scalar,
    kl: out[2 * n + 1] as tf.Scalar,
  };
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

let nativeThreads = 1;

/**
 * How many threads the native kernels use: OpenBLAS's products, and the kernels that split their own work
 * (the MLP gradient and the convolutions over parts of the batch, the bias/ReLU passes over parts of their
 * rows, Adam over slices of a large variable). 1 (the default) gives the same bits run after run on any
 * machine of one CPU kind; more threads are faster on several cores and give results that differ from one
 * thread's in float32 rounding (the same again for the same count).
 * Returns the count in effect (1 where the native kernels are not loaded).
 */
export function setNativeThreads(n: number): number {
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_NATIVE_THREADS)) throw new Error(`threads must be an integer from 1 to ${MAX_NATIVE_THREADS} (got ${n})`);
  const blas = loadNativeBlas();
  if (!blas) return 1;
  blas.setThreads(n);
  nativeThreads = n;
  return n;
}

/** The native kernels' thread count (setNativeThreads). */
export function nativeThreadCount(): number {
  return nativeThreads;
}

/** Put the wasm backend's own BatchMatMul back (for comparisons and tests). */
export function disableNativeMatMul(): void {
  if (!installed || !originalKernel) return;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel(originalKernel);
  installed = false;
}
