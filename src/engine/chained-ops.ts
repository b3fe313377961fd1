/**
 * The chained ops (`x.sub(y).square().sum(1)`) on tfjs tensors.
 *
 * tfjs-core's CommonJS build (what Node loads) does not install them: the `@tensorflow/tfjs` umbrella did, from
 * core's `public/chained_ops/*` modules, which ship only as ES modules. vae-lab depends on tfjs-core and
 * tfjs-layers alone (a third of the umbrella's install size), so it installs them here, the same 137 methods
 * with the same argument order: `x.op(...args)` is `tf.op(x, ...args)` for all but the few written out below.
 * Their TypeScript declarations are core's own (the type-only import at the end).
 */
import * as tfc from "@tensorflow/tfjs-core";

type AnyOp = (...args: unknown[]) => unknown;

/** Methods that are `tf.<op>(this, ...args)`; "name:op" where the op has another name. */
const SAME_ARGUMENTS = (
  "abs acos acosh add all any argMax argMin asType:cast asin asinh atan atan2 atanh avgPool batchToSpaceND batchNorm " +
  "broadcastTo cast ceil clipByValue conv1d conv2d conv2dTranspose cos cosh cumprod cumsum depthToSpace depthwiseConv2d " +
  "dilation2d div divNoNan dot elu equal erf euclideanNorm exp expandDims expm1 fft floor floorDiv gather greater " +
  "greaterEqual ifft irfft isFinite isInf isNaN leakyRelu less lessEqual localResponseNormalization log log1p logSigmoid " +
  "logSoftmax logSumExp logicalAnd logicalNot logicalOr logicalXor matMul max maxPool maximum mean min minimum mirrorPad " +
  "mod mul neg norm notEqual oneHot onesLike pad pool pow prelu prod reciprocal relu relu6 reshape reverse rfft round " +
  "rsqrt selu separableConv2d sigmoid sign sin sinh slice softmax softplus spaceToBatchND split sqrt square " +
  "squaredDifference squeeze step stridedSlice sub sum tan tanh tile topk transpose unique unsortedSegmentSum unstack " +
  "zerosLike"
).split(" ");

type Self = tfc.Tensor & { throwIfDisposed(): void };

/** The methods whose body is not `tf.<op>(this, ...args)`, as core writes them. */
const WRITTEN_OUT: Record<string, (this: Self, ...args: never[]) => unknown> = {
  as1D() {
    return tfc.reshape(this, [this.size]);
  },
  as2D(rows: number, columns: number) {
    return tfc.reshape(this, [rows, columns]);
  },
  as3D(rows: number, columns: number, depth: number) {
    return tfc.reshape(this, [rows, columns, depth]);
  },
  as4D(rows: number, columns: number, depth: number, depth2: number) {
    return tfc.reshape(this, [rows, columns, depth, depth2]);
  },
  as5D(rows: number, columns: number, depth: number, depth2: number, depth3: number) {
    return tfc.reshape(this, [rows, columns, depth, depth2, depth3]);
  },
  asScalar() {
    tfc.util.assert(this.size === 1, () => "The array must have only 1 element.");
    return tfc.reshape(this, []);
  },
  concat(x: tfc.Tensor | tfc.Tensor[], axis?: number) {
    return tfc.concat([this, ...(x instanceof tfc.Tensor ? [x] : x)], axis);
  },
  flatten() {
    return tfc.reshape(this, [this.size]);
  },
  reshapeAs(x: tfc.Tensor) {
    return tfc.reshape(this, x.shape);
  },
  resizeBilinear(newShape2D: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean) {
    return tfc.image.resizeBilinear(this as tfc.Tensor3D, newShape2D, alignCorners, halfPixelCenters);
  },
  resizeNearestNeighbor(newShape2D: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean) {
    return tfc.image.resizeNearestNeighbor(this as tfc.Tensor3D, newShape2D, alignCorners, halfPixelCenters);
  },
  stack(x: tfc.Tensor | tfc.Tensor[], axis?: number) {
    return tfc.stack(x instanceof tfc.Tensor ? [this, x] : [this, ...x], axis);
  },
  toBool() {
    return tfc.cast(this, "bool");
  },
  toFloat() {
    return tfc.cast(this, "float32");
  },
  toInt() {
    return tfc.cast(this, "int32");
  },
  where(condition: tfc.Tensor, x: tfc.Tensor) {
    return tfc.where(condition, this, x);
  },
};

/** Every method name installed (core 4.22.0 has 137). */
export const CHAINED_OPS: readonly string[] = [...SAME_ARGUMENTS.map((s) => s.split(":")[0]), ...Object.keys(WRITTEN_OUT)].sort();

const proto = (tfc.Tensor as unknown as { prototype: Record<string, unknown> }).prototype;
for (const entry of SAME_ARGUMENTS) {
  const [name, opName = name] = entry.split(":");
  const op = (tfc as unknown as Record<string, AnyOp>)[opName];
  if (typeof op !== "function") throw new Error(`vae-lab: @tensorflow/tfjs-core has no op ${opName} (a version other than 4.22.0?)`);
  if (typeof proto[name] === "function") continue; // installed already (e.g. by @tensorflow/tfjs, loaded by tfjs-node)
  proto[name] = function (this: Self, ...args: unknown[]) {
    this.throwIfDisposed();
    return op(this, ...args);
  };
}
for (const [name, method] of Object.entries(WRITTEN_OUT)) {
  if (typeof proto[name] === "function") continue;
  proto[name] = function (this: Self, ...args: never[]) {
    this.throwIfDisposed();
    return method.apply(this, args);
  };
}

export type {} from "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";
