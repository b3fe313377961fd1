/**
 * The wasm backend's Tile, replaced by block copies (src/wasm-tile.ts), must keep tfjs's semantics: every
 * result is compared with the cpu backend on random shapes of rank 1–4 and random repetitions, for float32
 * and int32, with the cases it hands back to the original kernel (bool, zero repetitions) and gradients.
 */
import * as tf from "../src/engine/tf";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { Rng } from "../src/engine/random";
import { disableFastTile, enableFastTile } from "../src/engine/wasm-tile";

const rng = new Rng(7);

async function on(backend: "cpu" | "wasm", f: () => tf.Tensor): Promise<{ shape: number[]; values: number[] }> {
  await initBackend(backend);
  return tf.tidy(() => {
    const t = f();
    return { shape: t.shape, values: Array.from(t.dataSync() as ArrayLike<number>) };
  });
}

describe("block-copy Tile on wasm against the cpu backend", () => {
  beforeAll(async () => {
    await initBackend("cpu");
    await initBackend("wasm");
    expect(enableFastTile()).toBe(true);
  });

  const cases: [number[], number[], "float32" | "int32"][] = [
    [[32, 784], [64, 1], "float32"],
    [[1, 784], [1000, 1], "float32"],
    [[5], [3], "int32"],
    [[3, 4], [1, 1], "float32"],
    [[2, 3, 4], [2, 1, 3], "float32"],
    [[2, 1, 3, 2], [1, 4, 1, 2], "int32"],
  ];
  for (let i = 0; i < 10; i++) {
    const rank = 1 + rng.int(4);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(5));
    const reps = Array.from({ length: rank }, () => 1 + rng.int(4));
    cases.push([shape, reps, i % 3 === 0 ? "int32" : "float32"]);
  }
  for (const [shape, reps, dtype] of cases) {
    it(`tile ${dtype} ${JSON.stringify(shape)} by ${JSON.stringify(reps)}`, async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, () => (dtype === "int32" ? rng.int(1000) - 500 : rng.normal()));
      const f = () => tf.tile(tf.tensor(values, shape, dtype), reps);
      const ref = await on("cpu", f);
      const got = await on("wasm", f);
      expect(got.shape).toEqual(ref.shape);
      expect(got.values).toEqual(ref.values);
    });
  }

  it("hands bool tensors and zero repetitions to the original kernel", async () => {
    for (const f of [() => tf.tile(tf.tensor([true, false, true], [3], "bool"), [2]), () => tf.tile(tf.ones([2, 3]), [0, 2])]) {
      const ref = await on("cpu", f);
      const got = await on("wasm", f);
      expect(got).toEqual(ref);
    }
  });

  it("gradients through tile match the cpu backend, and no tensor leaks", async () => {
    const x = Array.from({ length: 12 }, () => rng.normal());
    const g = () => tf.grad((t: tf.Tensor) => tf.tile(t, [3, 2]).square().sum())(tf.tensor(x, [4, 3]));
    const ref = await on("cpu", g);
    const before = tf.memory().numTensors;
    const got = await on("wasm", g);
    expect(tf.memory().numTensors).toBe(before);
    got.values.forEach((v, i) => expect(v).toBeCloseTo(ref.values[i], 5));
  });

  it("can be switched off and on again, giving the same result as the original kernel", async () => {
    await initBackend("wasm");
    const x = tf.randomNormal([3, 5], 0, 1, "float32", 3);
    const tiled = () => tf.tidy(() => Array.from(tf.tile(x, [4, 2]).dataSync()));
    const fast = tiled();
    disableFastTile();
    const own = tiled();
    expect(enableFastTile()).toBe(true);
    expect(fast).toEqual(own);
    x.dispose();
  });
});
