/**
 * 2-D convolutions that train on the wasm backend.
 *
 * tfjs-backend-wasm 4.22 has Conv2D (XNNPACK) and Conv2DBackpropInput (a direct loop) but no
 * Conv2DBackpropFilter, so the gradient of any convolution's filter — and of a transposed convolution's
 * (tf.conv2dTranspose runs Conv2DBackpropInput, whose filter gradient is again Conv2DBackpropFilter) — has no
 * kernel and training stops with "kernel not registered". This module registers:
 *
 * - with the native addon (src/engine/native/blas.c, built where OpenBLAS is installed): all three
 *   (Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter) as im2col + OpenBLAS sgemm on the wasm heap in place
 *   (with one input channel, as direct loops);
 * - without it: Conv2DBackpropFilter in JavaScript over the heap (the other two stay wasm's own).
 *
 * wasm's own Conv2D (XNNPACK) returns zeros or wrong values for "same" padding with a stride of 2 and a
 * non-square filter (e.g. a 4×4 image, a 3×1 filter: 40 of 738 small cases); given the same padding as
 * explicit numbers it is right. So wherever wasm's Conv2D still runs, "same" is passed to it as explicit
 * padding (tested on those cases).
 *
 * Layout NHWC, filters [fh, fw, inC, outC], float32; anything else (NCHW, other dtypes, empty tensors) goes to
 * the original kernel where there is one and raises a one-line error where there is not. Tested against the
 * cpu backend (test/wasm-conv.test.ts) on random shapes, strides, paddings, dilations and batch sizes, and
 * through autodiff.
 */
import * as tf from "./tf";
import { loadNativeBlas, nativeBiasReluActive, nativeBiasReluGradient } from "./native-kernels";

interface WasmBackendInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** Which implementation each convolution kernel of the wasm backend runs. */
export interface ConvKernelStatus {
  conv2d: "native" | "wasm";
  backpropInput: "native" | "wasm";
  backpropFilter: "native" | "js" | "missing";
}

const KERNELS = ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"] as const;
type KernelName = (typeof KERNELS)[number];
const originals = new Map<KernelName, tf.KernelConfig | undefined>();
let status: ConvKernelStatus | undefined;

const MODE = { Conv2D: 0, Conv2DBackpropInput: 1, Conv2DBackpropFilter: 2 } as const;

/** The 15 geometry numbers blas.c's conv2d takes, from tfjs's own convolution bookkeeping. */
type Geometry = [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
function geometry(c: ConvInfo): number[] {
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
    c.dilationHeight,
    c.dilationWidth,
  ];
}

/** The convolution's geometry for `kernel`, from its inputs and attributes (as tfjs's own kernels compute it). */
function convInfoOf(kernel: KernelName, inputs: Record<string, tf.TensorInfo>, attrs: tf.NamedAttrMap): ConvInfo {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
    strides: number | [number, number];
    pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat ?? "NHWC");
  const shape4 = (s: number[]) => s as [number, number, number, number];
  if (kernel === "Conv2D") {
    const dilations = ((attrs as { dilations?: number | [number, number] }).dilations ?? 1) as number | [number, number];
    return tf.backend_util.computeConv2DInfo(shape4(inputs.x.shape), shape4(inputs.filter.shape), strides, dilations, pad, dimRoundingMode, false, format);
  }
  if (kernel === "Conv2DBackpropInput") {
    const inputShape = (attrs as unknown as { inputShape: number[] }).inputShape;
    return tf.backend_util.computeConv2DInfo(shape4(inputShape), shape4(inputs.filter.shape), strides, 1, pad, dimRoundingMode, false, format);
  }
  const filterShape = (attrs as unknown as { filterShape: number[] }).filterShape;
  return tf.backend_util.computeConv2DInfo(shape4(inputs.x.shape), shape4(filterShape), strides, 1, pad, dimRoundingMode, false, format);
}

/** Whether the fast paths apply: NHWC, float32 inputs, nothing empty. */
function handled(info: ConvInfo, inputs: tf.TensorInfo[]): boolean {
  if (info.dataFormat !== "channelsLast") return false;
  if (inputs.some((t) => t.dtype !== "float32")) return false;
  return [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels].every((n) => n > 0);
}

function outputShape(kernel: KernelName, info: ConvInfo): number[] {
  if (kernel === "Conv2D") return info.outShape;
  if (kernel === "Conv2DBackpropInput") return info.inShape;
  return [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
}

/**
 * dW[fy, fx, c, o] = Σ_{b, oy, ox} x[b, oy·sh − padTop + fy·dh, ox·sw − padLeft + fx·dw, c] · dy[b, oy, ox, o]
 * (zero outside the image), written into `heap` at `out`: the filter gradient in plain JavaScript.
 */
export function conv2dBackpropFilterJs(heap: Float32Array, x: number, dy: number, out: number, g: number[]): void {
  const [batch, ih, iw, ci, oh, ow, co, fh, fw, sh, sw, pt, pl, dh, dw] = g;
  const acc = new Float32Array(fh * fw * ci * co);
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const dyRow = dy + ((b * oh + oy) * ow + ox) * co;
        for (let fy = 0; fy < fh; fy++) {
          const iy = oy * sh - pt + fy * dh;
          if (iy < 0 || iy >= ih) continue;
          for (let fx = 0; fx < fw; fx++) {
            const ix = ox * sw - pl + fx * dw;
            if (ix < 0 || ix >= iw) continue;
            const xRow = x + ((b * ih + iy) * iw + ix) * ci;
            const wBase = (fy * fw + fx) * ci * co;
            for (let c = 0; c < ci; c++) {
              const xv = heap[xRow + c];
              if (xv === 0) continue;
              const base = wBase + c * co;
              for (let o = 0; o < co; o++) acc[base + o] += xv * heap[dyRow + o];
            }
          }
        }
      }
    }
  }
  heap.set(acc, out);
}

/**
 * wasm's own Conv2D with "same" padding given as the explicit padding tfjs computes for it (see the top of
 * this file for why); other paddings unchanged.
 */
function conv2dWithExplicitSame(original: tf.KernelFunc): tf.KernelFunc {
  return ((args: KernelArgs) => {
    const attrs = args.attrs ?? {};
    if (attrs.pad !== "same") return original(args as Parameters<tf.KernelFunc>[0]);
    const info = convInfoOf("Conv2D", args.inputs as Record<string, tf.TensorInfo>, attrs);
    const { top, bottom, left, right } = info.padInfo;
    const pad = info.dataFormat === "channelsLast" ? [[0, 0], [top, bottom], [left, right], [0, 0]] : [[0, 0], [0, 0], [top, bottom], [left, right]];
    return original({ ...args, attrs: { ...attrs, pad, dimRoundingMode: undefined } } as unknown as Parameters<tf.KernelFunc>[0]);
  }) as unknown as tf.KernelFunc;
}

function makeKernel(kernel: KernelName, impl: "native" | "js", fallback: tf.KernelFunc | undefined) {
  const blas = impl === "native" ? loadNativeBlas() : null;
  const [first, second] = kernel === "Conv2D" ? ["x", "filter"] : kernel === "Conv2DBackpropInput" ? ["dy", "filter"] : ["x", "dy"];
  return (args: KernelArgs): tf.TensorInfo => {
    const inputs = args.inputs as Record<string, tf.TensorInfo>;
    const a = inputs[first];
    const b = inputs[second];
    const info = convInfoOf(kernel, inputs, args.attrs ?? {});
    if (!handled(info, [a, b])) {
      if (fallback) return fallback(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
      throw new Error(`${kernel} on the wasm backend: only float32 NHWC tensors are supported (got ${a.dtype}/${b.dtype}, ${info.dataFormat})`);
    }
    // tfjs checks the channels of a gradient's dy, not its batch or image size: a dy that is not the
    // convolution's output would be read past its end.
    if (kernel !== "Conv2D") checkDy(kernel, kernel === "Conv2DBackpropInput" ? a : b, info);
    const backend = args.backend as WasmBackendInternals;
    const out = backend.makeOutput(outputShape(kernel, info), "float32");
    // The heap may have grown while allocating the output: take the buffer afterwards.
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const off = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
    const g = geometry(info);
    if (blas) blas.conv2d(heap, MODE[kernel], off(a), off(b), off(out), ...(g as Geometry));
    else conv2dBackpropFilterJs(heap, off(a), off(b), off(out), g);
    return out;
  };
}

function checkDy(kernel: string, dy: tf.TensorInfo, info: ConvInfo): void {
  if (dy.shape.length !== 4 || dy.shape.some((n, i) => n !== info.outShape[i])) {
    throw new Error(`${kernel} on the wasm backend: dy has shape [${dy.shape}], but the convolution's output is [${info.outShape}]`);
  }
}

function register(kernel: KernelName, kernelFunc: (args: KernelArgs) => tf.TensorInfo): void {
  const original = originals.get(kernel);
  if (original) tf.unregisterKernel(kernel, "wasm");
  tf.registerKernel({ ...(original ?? {}), kernelName: kernel, backendName: "wasm", kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

/**
 * Register the convolution kernels for the wasm backend (after it is initialised): native where the addon is
 * built (and `options.native` is not false), else the JavaScript filter gradient. Idempotent; returns what runs.
 */
export function enableConvKernels(options: { native?: boolean } = {}): ConvKernelStatus {
  const blas = options.native === false ? null : loadNativeBlas();
  const wantNative = !!blas && typeof blas.conv2d === "function";
  if (status && (status.conv2d === "native") === wantNative) return status;
  if (status) disableConvKernels();
  if (!tf.findBackend("wasm")) return { conv2d: "wasm", backpropInput: "wasm", backpropFilter: "missing" };
  for (const k of KERNELS) originals.set(k, tf.getKernel(k, "wasm"));
  const wasmConv = originals.get("Conv2D");
  const conv2dFallback = wasmConv ? conv2dWithExplicitSame(wasmConv.kernelFunc) : undefined;
  if (wantNative) {
    register("Conv2D", makeKernel("Conv2D", "native", conv2dFallback));
    for (const k of ["Conv2DBackpropInput", "Conv2DBackpropFilter"] as const) register(k, makeKernel(k, "native", originals.get(k)?.kernelFunc));
    if (typeof blas.conv2dTransposeBiasRelu === "function" && !tf.getKernel(TRANSPOSE_BIAS_RELU_KERNEL, "wasm")) {
      tf.registerKernel({ kernelName: TRANSPOSE_BIAS_RELU_KERNEL, backendName: "wasm", kernelFunc: transposeBiasReluKernel(blas.conv2dTransposeBiasRelu.bind(blas)) as unknown as tf.KernelFunc });
    }
    if (typeof blas.transposePair === "function" && typeof blas.transposePairGrad === "function" && !tf.getKernel(PAIR_KERNEL, "wasm")) {
      tf.registerKernel({ kernelName: PAIR_KERNEL, backendName: "wasm", kernelFunc: transposePairKernel(blas.transposePair.bind(blas)) as unknown as tf.KernelFunc });
      tf.registerKernel({ kernelName: PAIR_GRAD_KERNEL, backendName: "wasm", kernelFunc: transposePairGradKernel(blas.transposePairGrad.bind(blas)) as unknown as tf.KernelFunc });
    }
    status = { conv2d: "native", backpropInput: "native", backpropFilter: "native" };
  } else {
    if (conv2dFallback) register("Conv2D", conv2dFallback as unknown as (args: KernelArgs) => tf.TensorInfo);
    register("Conv2DBackpropFilter", makeKernel("Conv2DBackpropFilter", "js", originals.get("Conv2DBackpropFilter")?.kernelFunc));
    status = { conv2d: "wasm", backpropInput: "wasm", backpropFilter: "js" };
  }
  return status;
}

/** Put the wasm backend's own convolution kernels back (Conv2DBackpropFilter: none), for comparisons and tests. */
export function disableConvKernels(): void {
  if (!status) return;
  for (const k of [TRANSPOSE_BIAS_RELU_KERNEL, PAIR_KERNEL, PAIR_GRAD_KERNEL]) if (tf.getKernel(k, "wasm")) tf.unregisterKernel(k, "wasm");
  for (const k of KERNELS) {
    if (tf.getKernel(k, "wasm")) tf.unregisterKernel(k, "wasm");
    const original = originals.get(k);
    if (original) tf.registerKernel(original);
  }
  originals.clear();
  status = undefined;
}

/** What the wasm backend's convolution kernels run now. */
export function convKernelStatus(): ConvKernelStatus {
  return status ?? { conv2d: "wasm", backpropInput: "wasm", backpropFilter: tf.getKernel("Conv2DBackpropFilter", "wasm") ? "js" : "missing" };
}

/** vae-lab's own kernel (not a tfjs op): a transposed convolution, its bias and its ReLU; see nativeConv2dTransposeBiasRelu. */
const TRANSPOSE_BIAS_RELU_KERNEL = "VaeLabConv2DTransposeBiasRelu";
/** vae-lab's own kernels: a ReLU transposed-convolution layer and a one-channel transposed convolution after it, forward and backward; see nativeConv2dTransposeBiasReluTranspose. */
const PAIR_KERNEL = "VaeLabTransposeBiasReluTranspose";
const PAIR_GRAD_KERNEL = "VaeLabTransposeBiasReluTransposeGrad";

type TransposeBiasRelu = NonNullable<NonNullable<ReturnType<typeof loadNativeBlas>>["conv2dTransposeBiasRelu"]>;

function transposeBiasReluKernel(run: TransposeBiasRelu) {
  return (args: KernelArgs): tf.TensorInfo => {
    const { dy, filter, b } = args.inputs as Record<string, tf.TensorInfo>;
    const info = convInfoOf("Conv2DBackpropInput", { dy, filter }, args.attrs ?? {});
    checkDy(TRANSPOSE_BIAS_RELU_KERNEL, dy, info);
    const backend = args.backend as WasmBackendInternals;
    const out = backend.makeOutput(info.inShape, "float32");
    // The heap may have grown while allocating the output: take the buffer afterwards.
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const off = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
    run(heap, off(dy), off(filter), off(out), ...([...geometry(info), off(b)] as Parameters<TransposeBiasRelu> extends [unknown, unknown, unknown, unknown, ...infer G] ? G : never));
    return out;
  };
}

/**
 * The filter gradient of conv2dTranspose(x, filter, …) given the gradient dy of its output, as tfjs computes it
 * (Conv2DBackpropFilter with the output's gradient in the convolution's input place).
 */
function transposeFilterGradient(dy: tf.Tensor4D, x: tf.Tensor4D, filterShape: number[], strides: number | [number, number], pad: "same" | "valid"): tf.Tensor4D {
  return tf.engine().runKernel("Conv2DBackpropFilter", { x: dy, dy: x }, { strides, pad, dataFormat: "NHWC", dimRoundingMode: undefined, filterShape } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor4D;
}

/** Whether nativeConv2dTransposeBiasRelu runs for these arguments. */
function nativeConv2dTransposeBiasReluApplies(x: tf.Tensor4D, filter: tf.Tensor4D, b: tf.Tensor1D, outputShape: [number, number, number, number], strides: number | [number, number], pad: "same" | "valid"): boolean {
  if (tf.getBackend() !== "wasm" || !tf.getKernel(TRANSPOSE_BIAS_RELU_KERNEL, "wasm") || !nativeBiasReluActive()) return false;
  if ([x, filter, b].some((t) => t.dtype !== "float32") || b.rank !== 1 || b.shape[0] !== filter.shape[2] || filter.shape[3] !== x.shape[3] || outputShape[3] !== b.shape[0]) return false;
  if (x.size === 0 || outputShape.some((n) => !(n > 0))) return false;
  // x must be what a convolution of outputShape-sized images gives (tfjs's ops do not check the batch or the
  // image size): otherwise tfjs's own ops and their errors.
  const conv = tf.backend_util.computeConv2DInfo(outputShape, filter.shape, strides, 1, pad);
  return x.shape.every((n, i) => n === conv.outShape[i]);
}

/**
 * relu(conv2dTranspose(x, filter, outputShape, strides, pad) + b) in one native kernel where the native
 * convolutions and bias kernels run (the bias and ReLU applied to each image of the output as soon as it is
 * complete, while it is in the cache, instead of one more pass over the whole output), differentiable: its
 * gradient is the bias-and-ReLU gradient (one native pass from the output) followed by the transposed
 * convolution's own two gradients, as tfjs computes them. The same floats as
 * biasRelu(tf.conv2dTranspose(…), b). Null where it does not run (another backend, no addon, inputs that are
 * not float32 NHWC with b of the output's channels): callers then use those ops.
 */
export function nativeConv2dTransposeBiasRelu(x: tf.Tensor4D, filter: tf.Tensor4D, b: tf.Tensor1D, outputShape: [number, number, number, number], strides: number | [number, number], pad: "same" | "valid"): tf.Tensor4D | null {
  if (!nativeConv2dTransposeBiasReluApplies(x, filter, b, outputShape, strides, pad)) return null;
  const attrs = { strides, pad, dataFormat: "NHWC", dimRoundingMode: undefined, inputShape: outputShape } as unknown as tf.NamedAttrMap;
  const op = tf.customGrad(((xIn: tf.Tensor4D, w: tf.Tensor4D, bias: tf.Tensor1D, save: (ts: tf.Tensor[]) => void) => {
    const y = tf.engine().runKernel(TRANSPOSE_BIAS_RELU_KERNEL, { dy: xIn, filter: w, b: bias }, attrs) as unknown as tf.Tensor4D;
    save([xIn, w, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws, ys] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const [dpre, db] = nativeBiasReluGradient(dy, ys)!;
        const dx = tf.conv2d(dpre as tf.Tensor4D, ws, strides, pad);
        const dw = transposeFilterGradient(dpre as tf.Tensor4D, xs, ws.shape, strides, pad);
        return [dx, dw, db];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor4D;
  return op(x, filter, b);
}

type TransposePair = NonNullable<NonNullable<ReturnType<typeof loadNativeBlas>>["transposePair"]>;
type TransposePairGrad = NonNullable<NonNullable<ReturnType<typeof loadNativeBlas>>["transposePairGrad"]>;

/** The pair kernels' attributes: the two layers' strides, their outputs' shapes and the padding. */
interface PairAttrs {
  strides1: number | [number, number];
  strides2: number | [number, number];
  shape1: [number, number, number, number];
  shape2: [number, number, number, number];
  pad: "same" | "valid";
}

/** The two layers' convolutions (the first from its output a to its input x, the second from y to a), checked against the tensors given. */
function pairInfo(kernel: string, attrs: PairAttrs, x: tf.TensorInfo, w1: tf.TensorInfo, w2: tf.TensorInfo, others: tf.TensorInfo[]): [ConvInfo, ConvInfo] {
  if ([x, w1, w2, ...others].some((t) => t.dtype !== "float32")) throw new Error(`${kernel} on the wasm backend: float32 tensors only`);
  const shape4 = (s: number[]) => s as [number, number, number, number];
  const info1 = tf.backend_util.computeConv2DInfo(attrs.shape1, shape4(w1.shape), attrs.strides1, 1, attrs.pad);
  const info2 = tf.backend_util.computeConv2DInfo(attrs.shape2, shape4(w2.shape), attrs.strides2, 1, attrs.pad);
  checkDy(kernel, x, info1);
  if (info2.outShape.some((n, i) => n !== attrs.shape1[i])) {
    throw new Error(`${kernel} on the wasm backend: the second layer's input [${attrs.shape1}] is not what its convolution gives, [${info2.outShape}]`);
  }
  return [info1, info2];
}

function transposePairKernel(run: TransposePair) {
  return (args: KernelArgs): tf.TensorInfo[] => {
    const { x, w1, b, w2 } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as PairAttrs;
    const [info1, info2] = pairInfo(PAIR_KERNEL, attrs, x, w1, w2, [b]);
    if (b.shape.length !== 1 || b.shape[0] !== attrs.shape1[3]) throw new Error(`${PAIR_KERNEL} on the wasm backend: the bias has shape [${b.shape}], not [${attrs.shape1[3]}]`);
    const backend = args.backend as WasmBackendInternals;
    const a = backend.makeOutput(attrs.shape1, "float32");
    const y = backend.makeOutput(attrs.shape2, "float32");
    // The heap may have grown while allocating the outputs: take the buffer afterwards.
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const off = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
    run(heap, off(x), off(w1), off(b), off(w2), off(a), off(y), ...geometry(info1), ...geometry(info2));
    return [a, y];
  };
}

function transposePairGradKernel(run: TransposePairGrad) {
  return (args: KernelArgs): tf.TensorInfo[] => {
    const { dy, w2, a, x, w1 } = args.inputs as Record<string, tf.TensorInfo>;
    const attrs = args.attrs as unknown as PairAttrs;
    const [info1, info2] = pairInfo(PAIR_GRAD_KERNEL, attrs, x, w1, w2, [dy, a]);
    for (const [name, t, shape] of [["dy", dy, attrs.shape2], ["a", a, attrs.shape1]] as const) {
      if (t.shape.length !== 4 || t.shape.some((n, i) => n !== shape[i])) throw new Error(`${PAIR_GRAD_KERNEL} on the wasm backend: ${name} has shape [${t.shape}], not [${shape}]`);
    }
    const backend = args.backend as WasmBackendInternals;
    const dx = backend.makeOutput(x.shape, "float32");
    const dw1 = backend.makeOutput(w1.shape, "float32");
    const db = backend.makeOutput([attrs.shape1[3]], "float32");
    const dw2 = backend.makeOutput(w2.shape, "float32");
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const off = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4;
    run(heap, off(dy), off(w2), off(a), off(x), off(w1), off(dx), off(dw1), off(db), off(dw2), ...geometry(info1), ...geometry(info2));
    return [dx, dw1, db, dw2];
  };
}

/** A transposed-convolution layer of conv2dTransposeBiasReluTranspose: its filter, output shape and strides (and bias). */
export interface TransposeLayer {
  filter: tf.Tensor4D;
  bias?: tf.Tensor1D;
  shape: [number, number, number, number];
  strides: number | [number, number];
}

/** dy where y > 0 and its sums over every axis but the last, in tfjs ops (where the native bias/ReLU gradient is not registered). */
function reluGradientOps(dy: tf.Tensor4D, y: tf.Tensor4D): [tf.Tensor4D, tf.Tensor1D] {
  const dx = tf.mul(dy, tf.step(y)) as tf.Tensor4D;
  return [dx, tf.sum(dx, [0, 1, 2]) as tf.Tensor1D];
}

/**
 * The second layer's part of what the pair's gradient kernel computes, in the ops it replaces: for a gradient
 * whose forward pass ran with the kernels registered and whose kernels were switched since
 * (enableConvKernels({ native: false })).
 */
function oneChannelReluGradOps(dy: tf.Tensor4D, w: tf.Tensor4D, a: tf.Tensor4D, strides: number | [number, number], pad: "same" | "valid"): [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D] {
  const pre = tf.conv2d(dy, w, strides, pad);
  const [gx, db] = (nativeBiasReluGradient(pre, a) as [tf.Tensor4D, tf.Tensor1D] | null) ?? reluGradientOps(pre, a);
  return [gx, transposeFilterGradient(dy, a, w.shape, strides, pad), db];
}

/**
 * conv2dTranspose(relu(conv2dTranspose(x, first.filter, first.shape, first.strides, pad) + first.bias),
 * second.filter, second.shape, second.strides, pad) — a transposed-convolution layer with its bias and ReLU, then
 * a transposed convolution to one channel (the conv VAE's last two layers, the last one's bias left to the
 * caller) — differentiable, forward and backward each one native kernel (transposePair, transposePairGrad) that
 * goes through the batch a chunk of images at a time, so that the activation between the layers, and its
 * gradient, are read while they are in the cache instead of in several passes over the whole batch. The same
 * floats, forward and gradients, as the two layers written with nativeConv2dTransposeBiasRelu and
 * tf.conv2dTranspose on one thread (the same routines in the same order), and to float32 rounding on more.
 * Null where it does not run (another backend, no addon, the second filter not [3, 3, 1, a multiple of 16],
 * or anything nativeConv2dTransposeBiasRelu refuses): callers then compose those two.
 */
export function nativeConv2dTransposeBiasReluTranspose(x: tf.Tensor4D, first: TransposeLayer & { bias: tf.Tensor1D }, second: TransposeLayer, pad: "same" | "valid"): tf.Tensor4D | null {
  const { filter: filter1, bias: b1, shape: shape1, strides: strides1 } = first;
  const { filter: filter2, shape: shape2, strides: strides2 } = second;
  if (!tf.getKernel(PAIR_KERNEL, "wasm") || filter2.dtype !== "float32") return null;
  const [fh, fw, outC, inC] = filter2.shape;
  if (fh !== 3 || fw !== 3 || outC !== 1 || inC !== shape1[3] || inC % 16 !== 0 || shape2[3] !== 1 || shape2[0] !== shape1[0]) return null;
  if (shape2.some((n) => !(n > 0))) return null;
  // The second layer's input must be what a convolution of shape2-sized images gives: otherwise tfjs's ops.
  const conv2 = tf.backend_util.computeConv2DInfo(shape2, filter2.shape, strides2, 1, pad);
  if (shape1.some((n, i) => n !== conv2.outShape[i])) return null;
  // The first layer: nativeConv2dTransposeBiasRelu's own conditions (null there means null here).
  if (!nativeConv2dTransposeBiasReluApplies(x, filter1, b1, shape1, strides1, pad)) return null;
  const attrs = { strides1, strides2, shape1, shape2, pad } as unknown as tf.NamedAttrMap;
  const op = tf.customGrad(((xIn: tf.Tensor4D, w1: tf.Tensor4D, bias: tf.Tensor1D, w2: tf.Tensor4D, save: (ts: tf.Tensor[]) => void) => {
    const [a, y] = tf.engine().runKernel(PAIR_KERNEL, { x: xIn, w1, b: bias, w2 }, attrs) as unknown as [tf.Tensor4D, tf.Tensor4D];
    save([xIn, w1, w2, a]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, w1s, w2s, as] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        if (tf.getKernel(PAIR_GRAD_KERNEL, "wasm")) {
          const [dx, dw1, db1, dw2] = tf.engine().runKernel(PAIR_GRAD_KERNEL, { dy, w2: w2s, a: as, x: xs, w1: w1s }, attrs) as unknown as tf.Tensor[];
          return [dx, dw1, db1, dw2];
        }
        // The kernels were switched since the forward pass: the same gradient in the ops the kernel replaces.
        const [gx, dw2, db1] = oneChannelReluGradOps(dy, w2s, as, strides2, pad);
        return [tf.conv2d(gx, w1s, strides1, pad), transposeFilterGradient(gx, xs, w1s.shape, strides1, pad), db1, dw2];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D, w1: tf.Tensor4D, b: tf.Tensor1D, w2: tf.Tensor4D) => tf.Tensor4D;
  return op(x, filter1, b1, filter2);
}
