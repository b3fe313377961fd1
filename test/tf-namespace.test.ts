/**
 * The `tf` namespace vae-lab builds from @tensorflow/tfjs-core and @tensorflow/tfjs-layers (engine/tf.ts)
 * instead of the @tensorflow/tfjs umbrella: what the umbrella added to core's CommonJS build — the chained
 * ops (engine/chained-ops.ts) and every op's gradient — is there and behaves as core's own, the layers API
 * and the cpu backend are there, and `tf` from the package's entry point is that namespace.
 */
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "../src/engine/tf";
import { CHAINED_OPS } from "../src/engine/chained-ops";
import { initBackend } from "../src/engine/backend";

const coreDist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-core/package.json")), "dist");

/** The method names core's own chained-op modules (ES modules only, which the umbrella bundled) install. */
function coreChainedOps(): string[] {
  const dir = path.join(coreDist, "public", "chained_ops");
  const names = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".js") && !f.endsWith("_test.js"))
    .flatMap((f) => [...fs.readFileSync(path.join(dir, f), "utf8").matchAll(/prototype\.(\w+)\s*=/g)].map((m) => m[1]));
  return [...new Set(names)].sort();
}

/** The kernels whose gradients core's register_all_gradients (an ES module the umbrella bundled) registers. */
function coreGradientKernels(): string[] {
  const all = fs.readFileSync(path.join(coreDist, "register_all_gradients.js"), "utf8");
  return [...all.matchAll(/from '\.\/gradients\/(\w+)'/g)].map((m) => {
    const src = fs.readFileSync(path.join(coreDist, "gradients", `${m[1]}.js`), "utf8");
    const ident = src.match(/kernelName: (\w+)/)![1];
    return (tf as unknown as Record<string, string>)[ident];
  });
}

/** Values of `a` and `b` (same shape and dtype), as plain arrays. */
function same(a: tf.Tensor, b: tf.Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
}

describe("the tf namespace (tfjs-core + tfjs-layers, without the umbrella)", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("has every chained op core defines, as a method of every tensor", () => {
    const core = coreChainedOps();
    expect(core.length).toBeGreaterThan(100);
    expect([...CHAINED_OPS]).toEqual(core);
    const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
    expect(core.filter((name) => typeof proto[name] !== "function")).toEqual([]);
  });

  it("chained ops compute what the functional ops do, the written-out ones included; a disposed tensor refuses", () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.tensor2d([[1, -2, 3], [4, 5, -6]]);
      const y = tf.tensor2d([[0.5, 1, 2], [3, -1, 1]]);
      same(x.sub(y).square().sum(1), tf.sum(tf.square(tf.sub(x, y)), 1));
      same(x.matMul(y, false, true), tf.matMul(x, y, false, true));
      same(x.mean(0, true), tf.mean(x, 0, true));
      same(tf.tensor1d([0, 2], "int32").oneHot(3), tf.oneHot(tf.tensor1d([0, 2], "int32"), 3, 1, 0));
      same(x.asType("int32"), tf.cast(x, "int32"));
      same(x.concat(y), tf.concat([x, y]));
      same(x.concat([y, x], 1), tf.concat([x, y, x], 1));
      same(x.stack(y), tf.stack([x, y]));
      same(x.stack([y, x], 1), tf.stack([x, y, x], 1));
      same(x.where(tf.tensor2d([[1, 0, 1], [0, 1, 0]], undefined, "bool"), y), tf.where(tf.tensor2d([[1, 0, 1], [0, 1, 0]], undefined, "bool"), x, y));
      same(x.flatten(), tf.reshape(x, [6]));
      same(x.as1D(), tf.reshape(x, [6]));
      same(x.as2D(3, 2), tf.reshape(x, [3, 2]));
      same(x.as3D(1, 3, 2), tf.reshape(x, [1, 3, 2]));
      same(x.reshapeAs(tf.zeros([3, 2])), tf.reshape(x, [3, 2]));
      same(tf.tensor1d([7]).asScalar(), tf.scalar(7));
      expect(() => x.asScalar()).toThrow(/only 1 element/);
      same(x.toInt(), tf.cast(x, "int32"));
      same(x.toBool(), tf.cast(x, "bool"));
      same(x.toInt().toFloat(), tf.cast(tf.cast(x, "int32"), "float32"));
      const img = tf.tensor3d([[[1], [2]], [[3], [4]]]);
      same(img.resizeBilinear([4, 4]), tf.image.resizeBilinear(img, [4, 4]));
      same(img.resizeNearestNeighbor([3, 3], true), tf.image.resizeNearestNeighbor(img, [3, 3], true));
    });
    expect(tf.memory().numTensors).toBe(before);
    const t = tf.tensor1d([1, 2]);
    t.dispose();
    expect(() => t.square()).toThrow(/disposed/);
    expect(() => t.flatten()).toThrow(/disposed/);
  });

  it("every op core has a gradient for has it registered (tfjs-layers registers them), and tf.grad uses them", () => {
    const kernels = coreGradientKernels();
    expect(kernels.length).toBeGreaterThan(90);
    expect(kernels.filter((k) => !tf.getGradient(k))).toEqual([]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.tensor1d([-1, 0.5, 2]);
      const g = tf.grad((v: tf.Tensor) => v.sigmoid().mul(v).sum())(x); // d/dv v·σ(v) = σ + v σ (1 − σ)
      const s = x.sigmoid();
      expect(Array.from(g.dataSync())).toEqual(Array.from(s.add(x.mul(s).mul(tf.scalar(1).sub(s))).dataSync()));
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("has the layers API, tf.io, the optimizers and the cpu backend; tf from the package entry is this namespace", async () => {
    expect(tf.version_core).toBe("4.22.0");
    expect(tf.version_layers).toBe("4.22.0");
    for (const f of [tf.sequential, tf.model, tf.input, tf.loadLayersModel, tf.layers.dense, tf.io.fromMemory, tf.io.withSaveHandler, tf.train.adam, tf.setBackend]) {
      expect(typeof f).toBe("function");
    }
    expect(tf.findBackendFactory("cpu")).toBeDefined();
    const { tf: exported } = await import("../src/index");
    expect(exported.tensor).toBe(tf.tensor);
    expect(exported.layers).toBe(tf.layers);
    expect(exported.loadLayersModel).toBe(tf.loadLayersModel);
    const before = tf.memory().numTensors;
    const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3], kernelInitializer: "ones" })] });
    const out = tf.tidy(() => m.predict(tf.ones([1, 3])) as tf.Tensor);
    expect(Array.from(out.dataSync())).toEqual([3, 3]);
    tf.dispose(out);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
